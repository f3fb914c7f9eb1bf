/* Outcome batches: labels that arrive late, read from a parsed JSON body (POST /v1/outcomes)
 * or a CSV file (riskd outcomes import) into rd_outcome items for rd_store_outcomes_put.
 *
 * Invariants: a batch is checked whole before anything is returned, and refused whole at its
 * first fault, named by item index (JSON) or line (CSV) and field: a batch half recorded
 * would leave the caller unsure which labels to send again. Every item returned has a
 * request id of 1..RD_OUTCOME_ID_MAX bytes without surrounding spaces, an outcome name of
 * [a-z0-9_-], a label of 0 or 1, and an observation time that is 0 (not given) or a unix
 * ms from 1973 to 9999. The server and the CLI only translate what these functions say. */
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "riskd/csv.h"
#include "riskd/dlog.h"
#include "riskd/json.h"
#include "riskd/text.h"

/* Unix ms below this are taken for seconds (1e11 ms is March 1973), above it for year 10000. */
#define MIN_MS 100000000000.0
#define MAX_MS 253402300799999.0

static const char *const keys[] = {"request_id", "label", "outcome", "observed_at"};
#define NKEYS (sizeof keys / sizeof *keys)

/* ------------------------------------------------------------------ fields */

/* where: "[3]" or "line 7"; the messages read "[3].label: ..." and "line 7: label: ...". */
typedef struct at {
    char where[48];
    const char *sep; /* between where and the field: "." or ": " */
} at;

static int bad(const at *p, const char *field, int code, rd_err *err, const char *fmt, ...) RD_PRINTF(5, 6);
static int bad(const at *p, const char *field, int code, rd_err *err, const char *fmt, ...)
{
    char msg[300];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    return rd_err_set(err, code, "%s%s%s: %s", p->where, p->sep, field, msg);
}

static int check_id(const at *p, const char *s, size_t len, rd_err *err)
{
    if (len == 0)
        return bad(p, "request_id", RD_EINVAL, err, "empty");
    if (len > RD_OUTCOME_ID_MAX)
        return bad(p, "request_id", RD_EINVAL, err, "longer than %d bytes", RD_OUTCOME_ID_MAX);
    if (memchr(s, '\0', len))
        return bad(p, "request_id", RD_EINVAL, err, "holds a NUL character");
    if (s[0] == ' ' || s[0] == '\t' || s[len - 1] == ' ' || s[len - 1] == '\t')
        return bad(p, "request_id", RD_EINVAL, err,
                   "\"%.64s\" has leading or trailing spaces (it would match no decision)", s);
    return RD_OK;
}

static int check_name(const at *p, const char *s, size_t len, rd_err *err)
{
    if (len == 0)
        return bad(p, "outcome", RD_EINVAL, err, "empty (the outcome's definition: fpd, dpd30, ...)");
    if (len > RD_OUTCOME_NAME_MAX)
        return bad(p, "outcome", RD_EINVAL, err, "longer than %d bytes", RD_OUTCOME_NAME_MAX);
    for (size_t i = 0; i < len; i++) {
        char c = s[i];
        if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || c == '-'))
            return bad(p, "outcome", RD_EINVAL, err,
                       "\"%.64s\" is not a name of lower-case letters, digits, _ and -", s);
    }
    return RD_OK;
}

/* n digits at s, as a number; -1 when one is not a digit. */
static int digits(const char *s, int n)
{
    int v = 0;
    for (int i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9')
            return -1;
        v = v * 10 + (s[i] - '0');
    }
    return v;
}

/* Days from 1970-01-01 to y-m-d in the proleptic Gregorian calendar (H. Hinnant's algorithm). */
static int64_t days_from_civil(int64_t y, int m, int d)
{
    y -= m <= 2;
    int64_t era = (y >= 0 ? y : y - 399) / 400;
    int64_t yoe = y - era * 400;
    int64_t doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
    int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + doe - 719468;
}

static int days_in_month(int y, int m)
{
    static const int dm[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    bool leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    return m == 2 && leap ? 29 : dm[m - 1];
}

/* An RFC 3339 date-time: YYYY-MM-DDTHH:MM:SS[.frac](Z|+HH:MM|-HH:MM), T and Z in either case;
 * the fraction is truncated to milliseconds, a leap second (:60) counts as the next second.
 * 0 with *ms set, or -1. */
static int rfc3339(const char *s, size_t len, int64_t *ms)
{
    if (len < 20 || s[4] != '-' || s[7] != '-' || (s[10] != 'T' && s[10] != 't') || s[13] != ':' ||
        s[16] != ':')
        return -1;
    int y = digits(s, 4), mo = digits(s + 5, 2), d = digits(s + 8, 2), h = digits(s + 11, 2),
        mi = digits(s + 14, 2), sec = digits(s + 17, 2);
    if (y < 0 || mo < 1 || mo > 12 || d < 1 || d > days_in_month(y, mo) || h < 0 || h > 23 || mi < 0 ||
        mi > 59 || sec < 0 || sec > 60)
        return -1;
    size_t i = 19;
    int frac = 0;
    if (s[i] == '.') {
        size_t start = ++i;
        for (; i < len && s[i] >= '0' && s[i] <= '9'; i++)
            if (i - start < 3)
                frac = frac * 10 + (s[i] - '0');
        if (i == start)
            return -1;
        for (size_t k = i - start; k < 3; k++)
            frac *= 10;
    }
    int64_t off = 0;
    if (i + 1 == len && (s[i] == 'Z' || s[i] == 'z')) {
        off = 0;
    } else if (i + 6 == len && (s[i] == '+' || s[i] == '-') && s[i + 3] == ':') {
        int oh = digits(s + i + 1, 2), om = digits(s + i + 4, 2);
        if (oh < 0 || oh > 23 || om < 0 || om > 59)
            return -1;
        off = (s[i] == '-' ? -1 : 1) * (int64_t)(oh * 60 + om);
    } else {
        return -1;
    }
    int64_t secs = days_from_civil(y, mo, d) * 86400 + (int64_t)h * 3600 + (int64_t)mi * 60 + sec - off * 60;
    *ms = secs * 1000 + frac;
    return 0;
}

static int check_ms(const at *p, double x, int64_t *ms, rd_err *err)
{
    char num[RD_NUM_BUF];
    rd_num_format(x, num);
    if (x != floor(x) || x > MAX_MS)
        return bad(p, "observed_at", RD_EINVAL, err, "%s is not a time in unix milliseconds", num);
    if (x < MIN_MS)
        return bad(p, "observed_at", RD_EINVAL, err,
                   "%s is before 1973 as unix milliseconds (seconds? multiply by 1000)", num);
    *ms = (int64_t)x;
    return RD_OK;
}

static int time_text(const at *p, const char *s, size_t len, bool digits_ok, int64_t *ms, rd_err *err)
{
    if (digits_ok && len && len <= 15 && strspn(s, "0123456789") == len)
        return check_ms(p, strtod(s, NULL), ms, err);
    if (rfc3339(s, len, ms) != 0)
        return bad(p, "observed_at", RD_EINVAL, err,
                   "\"%.64s\" is not an RFC 3339 time like 2026-03-01T08:30:00Z%s", s,
                   digits_ok ? ", nor unix milliseconds" : " (or send unix milliseconds as a number)");
    if ((double)*ms < MIN_MS)
        return bad(p, "observed_at", RD_EINVAL, err, "\"%.64s\" is before 1973: not an observation time", s);
    return RD_OK;
}

/* An unknown key: named, with the key it probably meant. */
static int unknown_key(const at *p, const char *k, rd_err *err)
{
    for (size_t j = 0; j < NKEYS; j++)
        if (rd_near_miss(k, keys[j]))
            return rd_err_set(err, RD_EINVAL, "%s%s%.64s: not a field of an outcome (did you mean \"%s\"?)",
                              p->where, p->sep, k, keys[j]);
    return rd_err_set(err, RD_EINVAL,
                      "%s%s%.64s: not a field of an outcome (request_id, label, outcome, observed_at)",
                      p->where, p->sep, k);
}

/* ------------------------------------------------------------------ JSON */

static int json_id(const at *p, const rd_value *v, rd_arena *a, const char **out, rd_err *err)
{
    if (v->type == RD_VNUMBER) {
        double x = v->u.n;
        if (x != floor(x) || fabs(x) > RD_MAX_SAFE_INTEGER)
            return bad(p, "request_id", RD_EINVAL, err, "a number must be an integer of at most 2^53");
        char num[RD_NUM_BUF];
        size_t n = rd_num_format(x, num); /* as the decision log writes a numeric id */
        return (*out = rd_arena_strndup(a, num, n)) ? RD_OK : rd_err_set(err, RD_ENOMEM, "out of memory");
    }
    if (v->type != RD_VSTRING)
        return bad(p, "request_id", RD_ETYPE, err, "expected a string or an integer, got %s",
                   rd_vtype_name(v->type));
    int rc = check_id(p, v->u.s, v->len, err);
    if (!rc)
        *out = v->u.s; /* the value's strings live in the caller's arena already */
    return rc;
}

static int json_item(const at *p, const rd_value *v, rd_arena *a, rd_outcome *o, rd_err *err)
{
    if (v->type != RD_VOBJECT)
        return rd_err_set(err, RD_ETYPE, "%s: an outcome must be an object, not %s", p->where,
                          rd_vtype_name(v->type));
    const rd_value *f[NKEYS] = {0};
    for (uint32_t m = 0; m < v->len; m++) {
        const rd_member *mb = &v->u.members[m];
        size_t k = 0;
        while (k < NKEYS && (strcmp(mb->key, keys[k]) != 0 || mb->key_len != strlen(keys[k])))
            k++;
        if (k == NKEYS)
            return unknown_key(p, mb->key, err);
        if (f[k])
            return bad(p, keys[k], RD_EINVAL, err, "given twice");
        f[k] = &mb->val;
    }
    for (size_t k = 0; k < 3; k++)
        if (!f[k])
            return bad(p, keys[k], RD_EINVAL, err, "required");
    *o = (rd_outcome){0};
    int rc = json_id(p, f[0], a, &o->request_id, err);
    if (rc)
        return rc;
    if (f[1]->type != RD_VNUMBER || (f[1]->u.n != 0 && f[1]->u.n != 1)) {
        char got[RD_NUM_BUF + 16];
        if (f[1]->type == RD_VNUMBER)
            rd_num_format(f[1]->u.n, got);
        else if (f[1]->type == RD_VSTRING)
            snprintf(got, sizeof got, "the string \"%.12s\"", f[1]->u.s);
        else
            snprintf(got, sizeof got, "%s", rd_vtype_name(f[1]->type));
        return bad(p, "label", f[1]->type == RD_VNUMBER ? RD_EINVAL : RD_ETYPE, err,
                   "expected the number 0 (good) or 1 (bad), got %s", got);
    }
    o->label = (int)f[1]->u.n;
    if (f[2]->type != RD_VSTRING)
        return bad(p, "outcome", RD_ETYPE, err, "expected a string, got %s", rd_vtype_name(f[2]->type));
    if ((rc = check_name(p, f[2]->u.s, f[2]->len, err)))
        return rc;
    o->outcome = f[2]->u.s;
    const rd_value *t = f[3];
    if (!t || t->type == RD_VNULL)
        return RD_OK;
    if (t->type == RD_VNUMBER)
        return check_ms(p, t->u.n, &o->observed_ms, err);
    if (t->type == RD_VSTRING)
        return time_text(p, t->u.s, t->len, false, &o->observed_ms, err);
    return bad(p, "observed_at", RD_ETYPE, err, "expected an RFC 3339 time or unix milliseconds, got %s",
               rd_vtype_name(t->type));
}

int rd_outcomes_from_value(const rd_value *v, size_t max_items, rd_arena *arena, rd_outcome **out, size_t *n,
                           rd_err *err)
{
    if (v->type != RD_VARRAY)
        return rd_err_set(err, RD_ETYPE,
                          "an outcome batch is an array of {request_id, label, outcome, observed_at}, not %s",
                          rd_vtype_name(v->type));
    if (max_items && v->len > max_items)
        return rd_err_set(err, RD_ELIMIT, "a batch holds at most %zu outcomes, this one %u", max_items,
                          v->len);
    rd_outcome *items = rd_arena_alloc(arena, (v->len ? v->len : 1) * sizeof *items);
    if (!items)
        return rd_err_set(err, RD_ENOMEM, "out of memory");
    for (uint32_t i = 0; i < v->len; i++) {
        at p = {.sep = "."};
        snprintf(p.where, sizeof p.where, "[%u]", i);
        int rc = json_item(&p, &v->u.items[i], arena, &items[i], err);
        if (rc)
            return rc;
    }
    *out = items;
    *n = v->len;
    return RD_OK;
}

/* ------------------------------------------------------------------ CSV */

typedef struct columns {
    int id, label, outcome, observed; /* -1: absent (observed_at only) */
} columns;

static int header(rd_csv *c, columns *col, rd_err *err)
{
    int *slot[NKEYS] = {&col->id, &col->label, &col->outcome, &col->observed};
    for (size_t k = 0; k < NKEYS; k++)
        *slot[k] = rd_csv_find(c, keys[k]);
    at p = {.where = "line 1", .sep = ": column "};
    for (size_t i = 0; i < rd_csv_num_columns(c); i++) {
        const char *name = rd_csv_column(c, i);
        bool known = false;
        for (size_t k = 0; k < NKEYS; k++)
            known |= !strcmp(name, keys[k]);
        if (!known)
            return unknown_key(&p, name, err);
    }
    for (size_t k = 0; k < 3; k++)
        if (*slot[k] < 0)
            return rd_err_set(err, RD_EINVAL,
                              "line 1: no column %s (the header is request_id,label,outcome[,observed_at])",
                              keys[k]);
    return RD_OK;
}

static int csv_record(const at *p, char **f, const columns *col, rd_arena *a, rd_outcome *o, rd_err *err)
{
    *o = (rd_outcome){0};
    const char *id = f[col->id], *label = f[col->label], *name = f[col->outcome];
    int rc = check_id(p, id, strlen(id), err);
    if (!rc)
        rc = check_name(p, name, strlen(name), err);
    if (rc)
        return rc;
    if (strcmp(label, "0") != 0 && strcmp(label, "1") != 0)
        return bad(p, "label", RD_EINVAL, err, "expected 0 (good) or 1 (bad), got \"%.32s\"", label);
    o->label = label[0] - '0';
    if (col->observed >= 0 && f[col->observed][0]) {
        const char *t = f[col->observed];
        if ((rc = time_text(p, t, strlen(t), true, &o->observed_ms, err)))
            return rc;
    }
    if (!(o->request_id = rd_arena_strndup(a, id, strlen(id))) ||
        !(o->outcome = rd_arena_strndup(a, name, strlen(name))))
        return rd_err_set(err, RD_ENOMEM, "out of memory");
    return RD_OK;
}

/* The records into a growing array (then copied into the arena, so the caller frees one thing). */
typedef struct grow {
    rd_outcome *v;
    size_t n, cap;
} grow;

static int read_records(rd_csv *c, const columns *col, rd_arena *a,
                        void (*progress)(void *, uint64_t, uint64_t), void *ud, grow *g, rd_err *err)
{
    for (;;) {
        char **f;
        int rc = rd_csv_next(c, &f, err);
        if (rc == 0)
            return RD_OK;
        at p = {.sep = ": "};
        snprintf(p.where, sizeof p.where, "line %zu", rd_csv_line(c));
        if (rc < 0) {
            rd_err_prefix(err, "%s", p.where);
            return rc;
        }
        if (g->n == g->cap) {
            size_t cap = g->cap ? 2 * g->cap : 4096;
            rd_outcome *v = rd_realloc(g->v, cap * sizeof *v);
            if (!v)
                return rd_err_set(err, RD_ENOMEM, "out of memory");
            g->v = v;
            g->cap = cap;
        }
        if ((rc = csv_record(&p, f, col, a, &g->v[g->n], err)))
            return rc;
        if (++g->n % 4096 == 0 && progress)
            progress(ud, rd_csv_offset(c), rd_csv_size(c));
    }
}

int rd_outcomes_from_csv(const char *path, rd_arena *arena,
                         void (*progress)(void *ud, uint64_t done, uint64_t total), void *ud,
                         rd_outcome **out, size_t *n, rd_err *err)
{
    rd_csv *c;
    int rc = rd_csv_open(path, &c, err);
    if (rc)
        return rc;
    columns col;
    grow g = {0};
    rc = header(c, &col, err);
    if (!rc)
        rc = read_records(c, &col, arena, progress, ud, &g, err);
    rd_outcome *items = rc ? NULL : rd_arena_alloc(arena, (g.n ? g.n : 1) * sizeof *items);
    if (!rc && !items) {
        rc = RD_ENOMEM;
        rd_err_set(err, rc, "out of memory");
    }
    if (!rc && items) {
        if (g.n)
            memcpy(items, g.v, g.n * sizeof *items);
        if (progress)
            progress(ud, rd_csv_offset(c), rd_csv_size(c));
        *out = items;
        *n = g.n;
    } else if (rc != RD_ENOMEM) {
        rd_err_prefix(err, "%s", strcmp(path, "-") ? path : "stdin");
    }
    rd_free(g.v);
    rd_csv_close(c);
    return rc;
}

/* ------------------------------------------------------------------ statistics as JSON */

void rd_outcome_ks_note(const rd_outcome_stats *st, uint64_t min_bads, char *buf, size_t cap)
{
    if (!isnan(st->ks))
        buf[0] = '\0';
    else if (st->bads < min_bads || st->bads == 0)
        snprintf(buf, cap, "needs %llu bads, has %llu", (unsigned long long)(min_bads ? min_bads : 1),
                 (unsigned long long)st->bads);
    else
        snprintf(buf, cap,
                 "needs %llu bads and some goods among the decisions a model scored (fallback "
                 "answers have no model score)",
                 (unsigned long long)min_bads);
}

static void json_num(rd_buf *b, double x)
{
    if (isnan(x)) {
        rd_buf_puts(b, "null");
        return;
    }
    char s[RD_NUM_BUF];
    rd_num_format(x, s);
    rd_buf_puts(b, s);
}

void rd_outcome_stats_json(rd_buf *b, const char *outcome, const rd_outcome_stats *st, uint64_t min_bads)
{
    rd_buf_puts(b, "{\"outcome\":");
    rd_json_write_string(b, outcome, strlen(outcome));
    rd_buf_printf(
        b, ",\"labelled\":%llu,\"bads\":%llu,\"approved\":%llu,\"approved_bads\":%llu,\"bad_rate_approved\":",
        (unsigned long long)st->labelled, (unsigned long long)st->bads, (unsigned long long)st->approved,
        (unsigned long long)st->approved_bads);
    json_num(b, st->bad_rate_approved);
    rd_buf_puts(b, ",\"ks\":");
    json_num(b, st->ks);
    char note[200];
    rd_outcome_ks_note(st, min_bads, note, sizeof note);
    rd_buf_puts(b, ",\"ks_note\":");
    if (note[0])
        rd_json_write_string(b, note, strlen(note));
    else
        rd_buf_puts(b, "null");
    rd_buf_putc(b, '}');
}
