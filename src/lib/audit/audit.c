/* The audit chain (include/riskd/audit.h; the byte recipe in docs/governance.md, "The audit
 * chain").
 *
 * Invariants:
 *   - an entry is written only by rd_audit_append, inside a store transaction that also reads
 *     the last seq and hash, so two writers (BEGIN IMMEDIATE serialises them) never give the
 *     same seq nor fork the chain;
 *   - what is stored is exactly what was hashed: the detail is kept in its canonical form, the
 *     shas as given ("" or 64 lowercase hex), the time as unix ms whose RFC 3339 text is hashed;
 *   - verification trusts nothing stored: it recomputes every hash, walks in seq order in
 *     constant memory (one arena reset per entry) and stops at the first entry that fails.
 *
 * The classification of a failure (docs/governance.md, "What verify reports") looks one entry
 * back (the two previous stored hashes) and tries the entry's content at seq +-1, which is
 * enough to tell a deletion or an insertion followed by renumbering from an edit. */
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "riskd/audit.h"
#include "riskd/clock.h"
#include "riskd/json.h"

#define DETAIL_MAX_BYTES (64u << 10) /* what an entry may carry: a summary, never a payload */
#define FIELD_MAX_BYTES  4096u       /* actor, action, object */
#define PROGRESS_EVERY   1024u
#define STOP_WALK        1 /* a scan callback's "found the first bad entry" */

static const char zero_hash[RD_SHA256_HEX] =
    "0000000000000000000000000000000000000000000000000000000000000000";

/* ------------------------------------------------------------------ checks */

static bool is_sha_hex(const char *s)
{
    size_t n = 0;
    for (; s[n]; n++)
        if (!((s[n] >= '0' && s[n] <= '9') || (s[n] >= 'a' && s[n] <= 'f')))
            return false;
    return n == RD_SHA256_HEX - 1;
}

/* Length of the valid UTF-8 sequence at s (n bytes left), 0 when invalid: the strings of an
 * entry are hashed as JSON strings, which must be UTF-8 for the canonical form to exist. */
static size_t utf8_len(const unsigned char *s, size_t n)
{
    unsigned c = s[0];
    size_t k = c < 0x80                 ? 1
               : c >= 0xC2 && c <= 0xDF ? 2
               : c >= 0xE0 && c <= 0xEF ? 3
               : c >= 0xF0 && c <= 0xF4 ? 4
                                        : 0;
    if (!k || k > n)
        return 0;
    for (size_t i = 1; i < k; i++)
        if ((s[i] & 0xC0) != 0x80)
            return 0;
    if ((c == 0xE0 && s[1] < 0xA0) || (c == 0xED && s[1] > 0x9F) || (c == 0xF0 && s[1] < 0x90) ||
        (c == 0xF4 && s[1] > 0x8F))
        return 0; /* overlong, surrogate, above U+10FFFF */
    return k;
}

static int check_field(const char *name, const char *v, rd_err *err)
{
    if (!v || !*v)
        return rd_err_set(err, RD_EINVAL, "an audit entry needs its %s", name);
    size_t n = strlen(v);
    if (n > FIELD_MAX_BYTES)
        return rd_err_set(err, RD_EINVAL, "audit %s: %zu bytes, at most %u", name, n, FIELD_MAX_BYTES);
    for (size_t i = 0, k; i < n; i += k)
        if (!(k = utf8_len((const unsigned char *)v + i, n - i)))
            return rd_err_set(err, RD_EINVAL, "audit %s: not UTF-8 at byte %zu", name, i);
    return RD_OK;
}

static int check_sha(const char *name, const char *v, rd_err *err)
{
    if (!v || !*v || is_sha_hex(v))
        return RD_OK;
    return rd_err_set(err, RD_EINVAL, "audit %s: \"%.80s\" is not 64 lowercase hex digits (or empty)", name,
                      v);
}

/* A token is "rdk_" + 12 hex digits + "_" + its secret (auth.h). The callers keep tokens out
 * of details; this is the last line of defence, since an audit entry can never be removed. */
static bool holds_token(const char *s, size_t n)
{
    for (const char *p = s; (p = memmem(p, n - (size_t)(p - s), "rdk_", 4)) != NULL; p += 4) {
        size_t left = n - (size_t)(p - s), i = 4;
        while (i < left && i < 16 &&
               ((p[i] >= '0' && p[i] <= '9') || ((p[i] | 0x20) >= 'a' && (p[i] | 0x20) <= 'f')))
            i++;
        if (i == 16 && i < left && p[i] == '_')
            return true;
    }
    return false;
}

/* ------------------------------------------------------------------ the recipe */

/* Parse text as a JSON object and append its canonical form to b. Returns RD_OK, RD_EINVAL
 * (with why in err) or RD_ENOMEM. */
static int canonical_object(const char *text, size_t len, size_t max_bytes, rd_arena *a, rd_buf *b,
                            rd_err *err)
{
    rd_json_limits lim = {.max_bytes = max_bytes};
    rd_value v;
    int rc = rd_json_parse(text, len, &lim, a, &v, err);
    if (rc == RD_ENOMEM)
        return rc;
    if (rc) {
        char why[sizeof err->msg];
        snprintf(why, sizeof why, "%s", err ? err->msg : "");
        return rd_err_set(err, RD_EINVAL, "the detail is not JSON: %s", why);
    }
    if (v.type != RD_VOBJECT)
        return rd_err_set(err, RD_EINVAL, "the detail is a JSON %s, not an object", rd_vtype_name(v.type));
    rc = rd_json_write_canonical(b, &v);
    return rc == RD_EINVAL ? rd_err_set(err, rc, "the detail holds a number JSON cannot") : rc;
}

/* What the hash covers, the detail already canonical. */
typedef struct preimage {
    int64_t seq;
    const char *time, *actor, *action, *object, *before, *after;
    const char *detail; /* canonical */
    size_t detail_len;
    const char *prev_hash;
} preimage;

static void put_member(rd_buf *b, const char *key, const char *s)
{
    rd_buf_printf(b, "\"%s\":", key);
    rd_json_write_string(b, s ? s : "", s ? strlen(s) : 0);
    rd_buf_putc(b, ',');
}

/* SHA-256 of prev_hash || {"action","actor","after_sha256","before_sha256","detail","object",
 * "seq","time"} written canonically: the keys are ASCII, so this fixed order is the sorted
 * one, and seq is an integer (written in decimal, as JCS writes an integral double). b is
 * scratch. */
static int hash_preimage(const preimage *p, rd_buf *b, char hash[RD_SHA256_HEX])
{
    rd_buf_reset(b);
    rd_buf_puts(b, p->prev_hash);
    rd_buf_putc(b, '{');
    put_member(b, "action", p->action);
    put_member(b, "actor", p->actor);
    put_member(b, "after_sha256", p->after);
    put_member(b, "before_sha256", p->before);
    rd_buf_puts(b, "\"detail\":");
    rd_buf_append(b, p->detail, p->detail_len);
    rd_buf_putc(b, ',');
    put_member(b, "object", p->object);
    rd_buf_printf(b, "\"seq\":%lld,\"time\":", (long long)p->seq);
    rd_json_write_string(b, p->time, strlen(p->time));
    rd_buf_putc(b, '}');
    if (b->oom)
        return RD_ENOMEM;
    rd_sha256_hex(b->data, b->len, hash);
    return RD_OK;
}

int rd_audit_hash(int64_t seq, int64_t ts_ms, const char *actor, const char *action, const char *object,
                  const char *before_sha256, const char *after_sha256, const char *detail_json,
                  const char *prev_hash, char hash[RD_SHA256_HEX], rd_err *err)
{
    char time[32];
    if (seq < 1)
        return rd_err_set(err, RD_EINVAL, "audit seq %lld: seqs count from 1", (long long)seq);
    if (!rd_time_text(ts_ms, time))
        return rd_err_set(err, RD_EINVAL, "audit time %lld: outside 1970..9999", (long long)ts_ms);
    if (!prev_hash || !is_sha_hex(prev_hash))
        return rd_err_set(err, RD_EINVAL, "audit prev_hash: not 64 lowercase hex digits");
    rd_arena a;
    rd_arena_init(&a, 0);
    rd_buf detail, scratch;
    rd_buf_init(&detail);
    rd_buf_init(&scratch);
    const char *d = detail_json ? detail_json : "{}";
    int rc = canonical_object(d, strlen(d), 0, &a, &detail, err);
    if (!rc) {
        preimage p = {seq,           time,         actor,       action,     object,
                      before_sha256, after_sha256, detail.data, detail.len, prev_hash};
        rc = hash_preimage(&p, &scratch, hash);
    }
    if (rc == RD_ENOMEM)
        rd_err_set(err, rc, "out of memory");
    rd_buf_deinit(&scratch);
    rd_buf_deinit(&detail);
    rd_arena_deinit(&a);
    return rc;
}

/* ------------------------------------------------------------------ append */

static int check_entry(const rd_audit_entry *e, rd_err *err)
{
    int rc;
    if ((rc = check_field("actor", e->actor, err)) || (rc = check_field("action", e->action, err)) ||
        (rc = check_field("object", e->object, err)) ||
        (rc = check_sha("before_sha256", e->before_sha256, err)) ||
        (rc = check_sha("after_sha256", e->after_sha256, err)))
        return rc;
    if (e->ts_ms < 0 || e->ts_ms > RD_TIME_MAX_MS)
        return rd_err_set(err, RD_EINVAL, "audit time %lld: outside 1970..9999", (long long)e->ts_ms);
    size_t n = e->detail_json ? strlen(e->detail_json) : 0;
    if (n > DETAIL_MAX_BYTES)
        return rd_err_set(err, RD_EINVAL, "an audit detail is %zu bytes, at most %u", n, DETAIL_MAX_BYTES);
    return RD_OK;
}

/* Read the head, hash and insert: the caller holds the transaction. */
static int append_locked(rd_store *s, const rd_audit_entry *e, int64_t ts_ms, const rd_buf *detail,
                         int64_t *seq, rd_err *err)
{
    int64_t last;
    char prev[RD_SHA256_HEX], hash[RD_SHA256_HEX], time[32];
    int rc = rd_store_audit_last(s, &last, prev, err);
    if (rc)
        return rc;
    if (last == 0)
        memcpy(prev, zero_hash, sizeof prev);
    rd_time_text(ts_ms, time);
    preimage p = {last + 1,        time,         e->actor,    e->action, e->object, e->before_sha256,
                  e->after_sha256, detail->data, detail->len, prev};
    rd_buf scratch;
    rd_buf_init(&scratch);
    rc = hash_preimage(&p, &scratch, hash);
    rd_buf_deinit(&scratch);
    if (rc)
        return rd_err_set(err, rc, "out of memory");
    rd_audit_row row = {
        .seq = last + 1,
        .ts_ms = ts_ms,
        .actor = e->actor,
        .action = e->action,
        .object = e->object,
        .before_sha256 = e->before_sha256 ? e->before_sha256 : "",
        .after_sha256 = e->after_sha256 ? e->after_sha256 : "",
        .detail = detail->data,
        .prev_hash = prev,
        .hash = hash,
    };
    if ((rc = rd_store_audit_insert(s, &row, err)) == RD_OK)
        *seq = last + 1;
    return rc;
}

int rd_audit_append(rd_store *s, const rd_audit_entry *e, int64_t *seq, rd_err *err)
{
    int rc = check_entry(e, err);
    if (rc)
        return rc;
    int64_t ts_ms = e->ts_ms ? e->ts_ms : rd_clock_unix_ms(), got = 0;
    rd_arena a;
    rd_arena_init(&a, 0);
    rd_buf detail;
    rd_buf_init(&detail);
    const char *d = e->detail_json ? e->detail_json : "{}";
    rc = canonical_object(d, strlen(d), DETAIL_MAX_BYTES, &a, &detail, err);
    if (rc == RD_ENOMEM)
        rd_err_set(err, rc, "out of memory");
    else if (rc)
        rd_err_prefix(err, "audit detail");
    else if (holds_token(detail.data, detail.len))
        rc = rd_err_set(err, RD_EINVAL, "an audit detail must not hold a token");
    if (!rc && !(rc = rd_store_begin(s, err))) {
        rc = append_locked(s, e, ts_ms, &detail, &got, err);
        if (rc)
            rd_store_rollback(s);
        else
            rc = rd_store_commit(s, err);
    }
    if (!rc && seq)
        *seq = got;
    rd_buf_deinit(&detail);
    rd_arena_deinit(&a);
    return rc;
}

int rd_audit_head(rd_store *s, int64_t *seq, char hash[RD_SHA256_HEX], rd_err *err)
{
    int64_t last;
    char h[RD_SHA256_HEX];
    int rc = rd_store_audit_last(s, &last, h, err);
    if (rc)
        return rc;
    *seq = last;
    memcpy(hash, last ? h : zero_hash, RD_SHA256_HEX);
    return RD_OK;
}

/* ------------------------------------------------------------------ an entry as JSON */

/* Scratch shared by the walks: an arena reset per entry and two buffers. */
typedef struct scratch {
    rd_arena a;
    rd_buf canon, out;
} scratch;

static void scratch_init(scratch *x)
{
    rd_arena_init(&x->a, 0);
    rd_buf_init(&x->canon);
    rd_buf_init(&x->out);
}

static void scratch_deinit(scratch *x)
{
    rd_buf_deinit(&x->out);
    rd_buf_deinit(&x->canon);
    rd_arena_deinit(&x->a);
}

/* r with "" for a NULL column: the table declares every column NOT NULL, but verification
 * must not crash on a database someone rebuilt without that. */
static rd_audit_row no_nulls(const rd_audit_row *r)
{
    rd_audit_row c = *r;
    const char **f[] = {&c.actor,        &c.action, &c.object,    &c.before_sha256,
                        &c.after_sha256, &c.detail, &c.prev_hash, &c.hash};
    for (size_t i = 0; i < sizeof f / sizeof *f; i++)
        if (!*f[i])
            *f[i] = "";
    return c;
}

/* The stored detail's canonical form into x->canon: RD_OK when the stored text is a JSON object
 * already in that form (what rd_audit_append writes), RD_EINVAL otherwise (why in err), or
 * RD_ENOMEM. The limit is the parser's default, not the append limit: a detail that is too
 * large is still hashed, so riskd and an outside verifier agree on every stored text. */
static int stored_detail(scratch *x, const rd_audit_row *r, rd_err *err)
{
    rd_arena_reset(&x->a);
    rd_buf_reset(&x->canon);
    size_t len = strlen(r->detail);
    int rc = canonical_object(r->detail, len, 0, &x->a, &x->canon, err);
    if (rc)
        return rc;
    if (x->canon.len != len || memcmp(x->canon.data, r->detail, len) != 0)
        return rd_err_set(err, RD_EINVAL, "its detail is not in the canonical form riskd writes");
    return RD_OK;
}

/* The ten members, keys sorted: a canonical object whenever the stored detail is canonical.
 * A detail that is not (only a hand on the database makes one) is written as a JSON string of
 * the stored text, so the line stays one valid JSON object and the damage shows. */
static int entry_json(scratch *x, const rd_audit_row *r)
{
    rd_err err;
    int rc = stored_detail(x, r, &err);
    if (rc == RD_ENOMEM)
        return rc;
    char time[32];
    rd_time_text(r->ts_ms, time);
    rd_buf *b = &x->out;
    rd_buf_reset(b);
    rd_buf_putc(b, '{');
    put_member(b, "action", r->action);
    put_member(b, "actor", r->actor);
    put_member(b, "after_sha256", r->after_sha256);
    put_member(b, "before_sha256", r->before_sha256);
    rd_buf_puts(b, "\"detail\":");
    if (rc == RD_OK)
        rd_buf_append(b, r->detail, strlen(r->detail));
    else
        rd_json_write_string(b, r->detail, strlen(r->detail));
    rd_buf_putc(b, ',');
    put_member(b, "hash", r->hash);
    put_member(b, "object", r->object);
    put_member(b, "prev_hash", r->prev_hash);
    rd_buf_printf(b, "\"seq\":%lld,\"time\":", (long long)r->seq);
    rd_json_write_string(b, time, strlen(time));
    rd_buf_putc(b, '}');
    return b->oom ? RD_ENOMEM : RD_OK;
}

typedef struct each_ctx {
    scratch x;
    int (*fn)(void *, const char *, size_t);
    void *ud;
} each_ctx;

static int each_row(void *ud, const rd_audit_row *stored)
{
    each_ctx *c = ud;
    rd_audit_row r = no_nulls(stored);
    int rc = entry_json(&c->x, &r);
    return rc ? rc : c->fn(c->ud, c->x.out.data, c->x.out.len);
}

static int walk_json(rd_store *s, int64_t from_seq, size_t limit, bool desc,
                     int (*fn)(void *, const char *, size_t), void *ud, rd_err *err)
{
    each_ctx c = {.fn = fn, .ud = ud};
    scratch_init(&c.x);
    int rc = rd_store_audit_scan(s, from_seq, limit, desc, each_row, &c, err);
    if (rc == RD_ENOMEM)
        rd_err_set(err, rc, "out of memory");
    scratch_deinit(&c.x);
    return rc;
}

int rd_audit_each(rd_store *s, int64_t from_seq, size_t limit,
                  int (*fn)(void *ud, const char *json, size_t len), void *ud, rd_err *err)
{
    /* 0 means all, and all includes a seq below 1 that only tampering makes */
    return walk_json(s, from_seq ? from_seq : INT64_MIN, limit, false, fn, ud, err);
}

int rd_audit_latest(rd_store *s, size_t limit, int (*fn)(void *ud, const char *json, size_t len), void *ud,
                    rd_err *err)
{
    return walk_json(s, INT64_MIN, limit, true, fn, ud, err);
}

/* ------------------------------------------------------------------ verify */

typedef struct walker {
    scratch x;
    int64_t expect;                                  /* the seq the next entry must have */
    char prev1[RD_SHA256_HEX], prev2[RD_SHA256_HEX]; /* stored hashes of the last two entries */
    int64_t anchor_seq;
    const char *anchor_hash;
    uint64_t total;
    void (*progress)(void *, uint64_t, uint64_t);
    void *ud;
    rd_audit_verify_result *out;
    int oom;
    /* seq `moved` holds the entry hashed as seq moved+1: the next entry tells a swap (it is
     * the entry this one was chained to) from a deletion followed by renumbering */
    int64_t moved;
    char moved_prev[RD_SHA256_HEX];
} walker;

static void stored_hash(char dst[RD_SHA256_HEX], const char *s) { snprintf(dst, RD_SHA256_HEX, "%s", s); }

/* Whether r's content hashed as seq gives r's stored hash (x->canon holds its detail). */
static bool hashes_as(walker *w, const rd_audit_row *r, int64_t seq, const char *time)
{
    preimage p = {seq,
                  time,
                  r->actor,
                  r->action,
                  r->object,
                  r->before_sha256,
                  r->after_sha256,
                  w->x.canon.data,
                  w->x.canon.len,
                  r->prev_hash};
    char h[RD_SHA256_HEX];
    if (hash_preimage(&p, &w->x.out, h)) {
        w->oom = 1;
        return false;
    }
    return !strcmp(h, r->hash);
}

static int bad(walker *w, int64_t first_bad, const char *fmt, ...) RD_PRINTF(3, 4);
static int bad(walker *w, int64_t first_bad, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(w->out->problem, sizeof w->out->problem, fmt, ap);
    va_end(ap);
    w->out->first_bad = first_bad;
    return STOP_WALK;
}

/* A gap: the entries expect..r->seq-1 are not there, unless r is one of them renumbered. */
static int diagnose_gap(walker *w, const rd_audit_row *r, bool content_ok, const char *time)
{
    int64_t e = w->expect;
    if (content_ok && !strcmp(r->prev_hash, w->prev1) && hashes_as(w, r, e, time))
        return bad(w, e, "seq %lld: renumbered to seq %lld (edited)", (long long)e, (long long)r->seq);
    char missing[64], from[48];
    if (r->seq == e + 1)
        snprintf(missing, sizeof missing, "seq %lld is", (long long)e);
    else
        snprintf(missing, sizeof missing, "seqs %lld to %lld are", (long long)e, (long long)(r->seq - 1));
    if (e == 1)
        snprintf(from, sizeof from, "starts at");
    else
        snprintf(from, sizeof from, "goes from seq %lld to", (long long)(e - 1));
    return bad(w, e, "%s missing (deleted): the chain %s seq %lld", missing, from, (long long)r->seq);
}

/* r has the expected seq but its stored hash is not the hash of its content there. */
static int diagnose_content(walker *w, const rd_audit_row *r, const char *time)
{
    int64_t e = w->expect;
    if (hashes_as(w, r, e + 1, time)) {
        w->moved = e;
        stored_hash(w->moved_prev, r->prev_hash);
        return RD_OK; /* decided by the next entry (moved_verdict) */
    }
    if (e > 1 && !strcmp(r->hash, w->prev1))
        return bad(w, e, "seq %lld is a copy of seq %lld (inserted)", (long long)e, (long long)(e - 1));
    if (e > 1 && hashes_as(w, r, e - 1, time)) {
        if (!strcmp(r->prev_hash, w->prev2))
            return bad(
                w, e - 1,
                "seq %lld was inserted: seq %lld holds the entry hashed as seq %lld, which was chained "
                "to seq %lld (inserted)",
                (long long)(e - 1), (long long)e, (long long)(e - 1), (long long)(e - 2));
        return bad(w, e - 1, "seq %lld holds the entry hashed as seq %lld (reordered)", (long long)e,
                   (long long)(e - 1));
    }
    return bad(w, e, "seq %lld: its hash does not match its content (edited)", (long long)e);
}

/* r is intact in itself but does not name the previous entry's hash: that entry was put
 * there (inserted, or reordered) or rewritten with a recomputed hash. */
static int diagnose_link(walker *w, const rd_audit_row *r)
{
    int64_t e = w->expect;
    if (e == 1)
        return bad(w, 1, "seq 1: its prev_hash is not 64 zeros: entries before it are gone (deleted)");
    if (e > 2 && !strcmp(r->prev_hash, w->prev2))
        return bad(w, e - 1,
                   "seq %lld is chained to seq %lld, over seq %lld: seq %lld was inserted (inserted)",
                   (long long)e, (long long)(e - 2), (long long)(e - 1), (long long)(e - 1));
    return bad(w, e - 1,
               "seq %lld: its prev_hash is not the hash of seq %lld: seq %lld was inserted, reordered or "
               "rewritten with a recomputed hash",
               (long long)e, (long long)(e - 1), (long long)(e - 1));
}

/* The verdict on seq w->moved, given the entry after it (NULL: there is none). */
static int moved_verdict(walker *w, const rd_audit_row *next)
{
    long long e = (long long)w->moved;
    if (next && !strcmp(next->hash, w->moved_prev))
        return bad(w, w->moved, "seqs %lld and %lld are swapped (reordered)", e, e + 1);
    return bad(w, w->moved, "seq %lld is missing (deleted): the later entries were renumbered down", e);
}

static void advance(walker *w, const rd_audit_row *r)
{
    memcpy(w->prev2, w->prev1, RD_SHA256_HEX);
    stored_hash(w->prev1, r->hash);
    w->expect = r->seq + 1;
    w->out->head_seq = r->seq;
    memcpy(w->out->head_hash, w->prev1, RD_SHA256_HEX);
}

static int verify_row(void *ud, const rd_audit_row *stored)
{
    walker *w = ud;
    rd_audit_row row = no_nulls(stored), *r = &row;
    w->out->entries++;
    if (w->progress && w->out->entries % PROGRESS_EVERY == 0)
        w->progress(w->ud, w->out->entries, w->total);
    if (w->moved)
        return moved_verdict(w, r);
    if (r->seq < w->expect) /* only a first seq below 1: the scan is ordered and seq unique */
        return bad(w, 1, "seq %lld comes before seq 1 (inserted): seqs count from 1", (long long)r->seq);
    rd_err why;
    char time[32];
    int rc = stored_detail(&w->x, r, &why);
    if (rc == RD_ENOMEM)
        return rc;
    bool time_ok = rd_time_text(r->ts_ms, time);
    bool content_ok = rc == RD_OK && time_ok && strlen(r->hash) == RD_SHA256_HEX - 1;
    bool hash_ok = content_ok && hashes_as(w, r, r->seq, time);
    if (w->oom)
        return RD_ENOMEM;
    if (r->seq > w->expect)
        return diagnose_gap(w, r, content_ok, time);
    if (!content_ok)
        return bad(w, r->seq, "seq %lld: %s (edited)", (long long)r->seq,
                   rc         ? why.msg
                   : !time_ok ? "its time is outside 1970..9999"
                              : "its hash is malformed");
    if (!hash_ok)
        return diagnose_content(w, r, time);
    if (strcmp(r->prev_hash, w->prev1) != 0)
        return diagnose_link(w, r);
    if (w->anchor_hash && r->seq == w->anchor_seq && strcmp(r->hash, w->anchor_hash) != 0)
        return bad(w, r->seq,
                   "seq %lld: its hash differs from the anchor's (the chain up to seq %lld was rewritten)",
                   (long long)r->seq, (long long)r->seq);
    advance(w, r);
    return RD_OK;
}

static int check_anchor(int64_t seq, const char *hash, rd_err *err)
{
    if (!hash)
        return RD_OK;
    if (seq < 0 || !is_sha_hex(hash))
        return rd_err_set(err, RD_EINVAL, "an anchor is a seq from 0 and 64 lowercase hex digits");
    if (seq == 0 && strcmp(hash, zero_hash) != 0)
        return rd_err_set(err, RD_EINVAL, "the anchor of seq 0 (an empty chain) is 64 zeros");
    return RD_OK;
}

int rd_audit_verify(rd_store *s, int64_t anchor_seq, const char *anchor_hash,
                    void (*progress)(void *ud, uint64_t done, uint64_t total), void *ud,
                    rd_audit_verify_result *out, rd_err *err)
{
    int rc = check_anchor(anchor_seq, anchor_hash, err);
    if (rc)
        return rc;
    rd_audit_verify_result res = {0};
    memcpy(res.head_hash, zero_hash, RD_SHA256_HEX);
    walker w = {.expect = 1,
                .anchor_seq = anchor_seq,
                .anchor_hash = anchor_hash,
                .progress = progress,
                .ud = ud,
                .out = &res};
    memcpy(w.prev1, zero_hash, RD_SHA256_HEX);
    memcpy(w.prev2, zero_hash, RD_SHA256_HEX);
    if ((rc = rd_store_audit_count(s, &w.total, err)))
        return rc;
    scratch_init(&w.x);
    rc = rd_store_audit_scan(s, INT64_MIN, 0, false, verify_row, &w, err);
    scratch_deinit(&w.x);
    if (rc == RD_ENOMEM)
        return rd_err_set(err, rc, "out of memory");
    if (rc < 0)
        return rc;
    if (w.moved && !res.first_bad)
        moved_verdict(&w, NULL);
    if (!res.first_bad && anchor_hash && anchor_seq > res.head_seq) {
        res.first_bad = res.head_seq + 1;
        snprintf(res.problem, sizeof res.problem,
                 "truncated: the anchor's seq %lld is missing (the chain ends at seq %lld)",
                 (long long)anchor_seq, (long long)res.head_seq);
    }
    if (progress)
        progress(ud, res.entries, w.total);
    *out = res;
    return RD_OK;
}
