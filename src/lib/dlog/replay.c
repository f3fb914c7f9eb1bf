/* Replay: a logged decision re-run from what was kept, and compared bit for bit.
 *
 * A primary decision: the routing flag is evaluated again on the kept flag set with the
 * logged context at the logged evaluation time (same variant, same bundle); a model answer
 * is decided again by the kept bundle, pinned, through rd_decide (the serving code); a
 * fallback answer is re-derived from the kept rules (the model's timing is not replayed: the
 * result says so). A shadow score is re-scored by its bundle on its primary's features. A
 * decision whose inputs were redacted (log_redact) is not re-run, and the result says so.
 * Kept bundles are laid out again under work_dir/<digest>/ once, and loaded once. */
#include <errno.h>
#include <stdarg.h>
#include <math.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "riskd/dlog.h"
#include "riskd/json.h"

#define CACHE 64

typedef struct kept_bundle {
    char digest[RD_SHA256_HEX];
    rd_slot *slot;
    rd_decider *dec; /* the bundle alone, pinned requests, no deadline, no breaker */
} kept_bundle;

typedef struct kept_text {
    char sha[RD_SHA256_HEX];
    bool lenient;
    rd_flagset *flags;
    rd_fallback *rules;
} kept_text;

struct rd_replay {
    rd_store *store;
    char work[1024];
    kept_bundle bundles[CACHE];
    size_t nbundles;
    kept_text texts[CACHE];
    size_t ntexts;
    rd_arena arena;   /* one record's parse and decision, reset per record */
    rd_arena primary; /* a shadow's primary record */
};

int rd_replay_new(rd_store *s, const char *work_dir, rd_replay **out, rd_err *err)
{
    rd_replay *r = rd_calloc(1, sizeof *r);
    if (!r)
        return rd_err_set(err, RD_ENOMEM, "out of memory");
    r->store = s;
    snprintf(r->work, sizeof r->work, "%s", work_dir);
    if (mkdir(work_dir, 0755) < 0 && errno != EEXIST) {
        rd_free(r);
        return rd_err_set(err, RD_EIO, "%s: %s", work_dir, strerror(errno));
    }
    rd_arena_init(&r->arena, 0);
    rd_arena_init(&r->primary, 0);
    *out = r;
    return RD_OK;
}

void rd_replay_free(rd_replay *r)
{
    if (!r)
        return;
    for (size_t i = 0; i < r->nbundles; i++) {
        rd_decider_unref(r->bundles[i].dec);
        rd_slot_unref(r->bundles[i].slot);
    }
    for (size_t i = 0; i < r->ntexts; i++) {
        if (r->texts[i].flags)
            rd_flagset_unref(r->texts[i].flags);
        rd_fallback_unref(r->texts[i].rules);
    }
    rd_arena_deinit(&r->arena);
    rd_arena_deinit(&r->primary);
    rd_free(r);
}

/* ------------------------------------------------------------------ what was kept */

static const rd_value *get(const rd_value *o, const char *k)
{
    return o && o->type == RD_VOBJECT ? rd_value_get(o, k, strlen(k)) : NULL;
}

static const char *get_str(const rd_value *o, const char *k)
{
    const rd_value *v = get(o, k);
    return v && v->type == RD_VSTRING ? v->u.s : NULL;
}

/* Lay the kept bundle out as a directory again (rd_dlog_lay_out_bundle), unless a layout
 * before this one is there (its manifest, written last) and again is false. */
static int lay_out(rd_replay *r, const char *digest, const char *dir, bool again, rd_err *err)
{
    char path[2100];
    snprintf(path, sizeof path, "%s/manifest.json", dir);
    if (!again && access(path, F_OK) == 0)
        return RD_OK;
    int rc = mkdir(dir, 0755) < 0 && errno != EEXIST
                 ? rd_err_set(err, RD_EIO, "%s: %s", dir, strerror(errno))
                 : rd_dlog_lay_out_bundle(r->store, digest, NULL, dir, err);
    if (rc)
        rd_err_prefix(err, "bundle %.16s...", digest);
    return rc;
}

static kept_bundle *bundle_for(rd_replay *r, const char *digest, rd_err *err)
{
    for (size_t i = 0; i < r->nbundles; i++)
        if (!strcmp(r->bundles[i].digest, digest))
            return &r->bundles[i];
    if (strlen(digest) != 64 || strspn(digest, "0123456789abcdef") != 64) {
        rd_err_set(err, RD_EINVAL, "bundle digest \"%.70s\" is not a SHA-256", digest);
        return NULL;
    }
    if (r->nbundles == CACHE) { /* forget the oldest */
        rd_decider_unref(r->bundles[0].dec);
        rd_slot_unref(r->bundles[0].slot);
        memmove(r->bundles, r->bundles + 1, (CACHE - 1) * sizeof *r->bundles);
        r->nbundles--;
    }
    char dir[1200];
    snprintf(dir, sizeof dir, "%s/%s", r->work, digest);
    rd_bundle *b = NULL;
    int rc = lay_out(r, digest, dir, false, err);
    if (!rc)
        rc = rd_bundle_load(dir, &b, err);
    /* a directory laid out by an older riskd (a manifest without its digest, say) is laid
     * out again from the store, which holds the bytes that decided */
    if (rc && rc != RD_ENOMEM && (rc = lay_out(r, digest, dir, true, err)) == RD_OK)
        rc = rd_bundle_load(dir, &b, err);
    /* The store is addressed by content: what was laid out is what was kept under digest (for
     * a log written before manifests carried digests, digest is the manifest file's SHA-256,
     * and the bundle's digest now differs from it: both name the same bytes). */
    kept_bundle *k = &r->bundles[r->nbundles];
    rd_breaker_opts bo;
    rd_breaker_opts_default(&bo);
    bo.mode = RD_BREAKER_OFF;
    if (!rc && (rc = rd_slot_new(b, &bo, NULL, NULL, &k->slot, err)) != RD_OK)
        rd_bundle_free(b);
    rd_decide_opts o = {0};
    if (!rc && (rc = rd_decider_new(&o, NULL, &k->slot, 1, &k->dec, err)) != RD_OK)
        rd_slot_unref(k->slot);
    if (rc) {
        if (b && !k->slot)
            rd_bundle_free(b);
        return NULL;
    }
    memcpy(k->digest, digest, RD_SHA256_HEX);
    r->nbundles++;
    return k;
}

int rd_replay_bundle(rd_replay *r, const char *digest, const rd_bundle **out, rd_err *err)
{
    rd_err e = {0};
    kept_bundle *k = bundle_for(r, digest, &e);
    if (!k) {
        if (err)
            *err = e;
        return e.code ? e.code : RD_EINVAL;
    }
    *out = rd_slot_bundle(k->slot);
    return RD_OK;
}

/* The kept flag set (rules false) or fallback rules (rules true) with that SHA-256. */
static kept_text *text_for(rd_replay *r, const char *sha, bool rules, bool lenient, rd_err *err)
{
    for (size_t i = 0; i < r->ntexts; i++)
        if (!strcmp(r->texts[i].sha, sha) &&
            (rules ? r->texts[i].rules != NULL : r->texts[i].flags != NULL) &&
            (rules || r->texts[i].lenient == lenient))
            return &r->texts[i];
    if (r->ntexts == CACHE) {
        if (r->texts[0].flags)
            rd_flagset_unref(r->texts[0].flags);
        rd_fallback_unref(r->texts[0].rules);
        memmove(r->texts, r->texts + 1, (CACHE - 1) * sizeof *r->texts);
        r->ntexts--;
    }
    char *text;
    size_t len;
    int rc = rd_store_blob_get(r->store, sha, &text, &len, err);
    if (rc) {
        rd_err_prefix(err, "%s", rules ? "fallback rules" : "flag set");
        return NULL;
    }
    kept_text *k = &r->texts[r->ntexts];
    *k = (kept_text){.lenient = lenient};
    rd_flagset_opts fo = {.lenient = lenient};
    rc = rules ? rd_fallback_parse(text, len, &k->rules, err)
               : rd_flagset_parse(text, len, &fo, &k->flags, err);
    rd_free(text);
    if (rc)
        return NULL;
    memcpy(k->sha, sha, RD_SHA256_HEX);
    r->ntexts++;
    return k;
}

/* ------------------------------------------------------------------ comparing */

typedef struct cmp {
    rd_replay_result *out;
    size_t len;
} cmp;

static void differs(cmp *c, const char *fmt, ...) RD_PRINTF(2, 3);
static void differs(cmp *c, const char *fmt, ...)
{
    c->out->identical = false;
    if (c->len + 2 >= sizeof c->out->diff)
        return;
    if (c->len)
        c->len += (size_t)snprintf(c->out->diff + c->len, sizeof c->out->diff - c->len, "; ");
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(c->out->diff + c->len, sizeof c->out->diff - c->len, fmt, ap);
    va_end(ap);
    c->len += n > 0 ? (size_t)n : 0;
    if (c->len >= sizeof c->out->diff)
        c->len = sizeof c->out->diff - 1;
}

static void same_str(cmp *c, const char *what, const char *logged, const char *now)
{
    if (!(logged == now || (logged && now && !strcmp(logged, now))))
        differs(c, "%s: logged %s%s%s, replayed %s%s%s", what, logged ? "\"" : "", logged ? logged : "null",
                logged ? "\"" : "", now ? "\"" : "", now ? now : "null", now ? "\"" : "");
}

/* Numbers compared as bits: the logged text reads back to the very double decided. */
static void same_num(cmp *c, const char *what, const rd_value *logged, bool has, double now)
{
    bool lhas = logged && logged->type == RD_VNUMBER;
    if (!lhas && !has)
        return;
    if (lhas != has) {
        differs(c, "%s: logged %s, replayed %s", what, lhas ? "a number" : "null", has ? "a number" : "null");
        return;
    }
    uint64_t lb, nb;
    memcpy(&lb, &logged->u.n, sizeof lb);
    memcpy(&nb, &now, sizeof nb);
    if (has && lb != nb)
        differs(c, "%s: logged %.17g, replayed %.17g", what, logged->u.n, now);
}

static void same_reasons(cmp *c, const rd_value *logged, const rd_bundle *b, const rd_score *sc)
{
    if (!logged || logged->type != RD_VARRAY || logged->len != sc->nreasons) {
        differs(c, "reasons: logged %u, replayed %zu", logged && logged->type == RD_VARRAY ? logged->len : 0,
                sc->nreasons);
        return;
    }
    for (uint32_t i = 0; i < logged->len; i++) {
        const rd_value *l = &logged->u.items[i];
        char what[48];
        snprintf(what, sizeof what, "reasons[%u].feature", i);
        same_str(c, what, get_str(l, "feature"), rd_bundle_reason_name(b, sc->reasons[i].index));
        snprintf(what, sizeof what, "reasons[%u].impact", i);
        same_num(c, what, get(l, "impact"), true, sc->reasons[i].impact);
    }
}

/* ------------------------------------------------------------------ replaying */

/* A record whose inputs were redacted (log_redact) cannot be decided again: the values are not
 * there. Any redacted input counts, whatever read it (the pipeline, the routing flag's rules,
 * the fallback rules): which of them a value reached is not in the record. */
static bool redacted(const rd_value *rec, rd_replay_result *out)
{
    const rd_value *r = get(rec, "redacted");
    if (!r || r->type != RD_VOBJECT || !r->len)
        return false;
    size_t at = (size_t)snprintf(out->not_replayable, sizeof out->not_replayable, "inputs redacted: ");
    for (uint32_t i = 0; i < r->len && at < sizeof out->not_replayable; i++) {
        int w = snprintf(out->not_replayable + at, sizeof out->not_replayable - at, "%s%s", i ? ", " : "",
                         r->u.members[i].key);
        at += w > 0 ? (size_t)w : 0;
    }
    out->identical = false;
    return true;
}

static int replay_routing(rd_replay *r, const rd_value *rec, cmp *c, rd_err *err)
{
    const rd_value *flags = get(rec, "flags"), *t = get(rec, "eval_time"), *lenient = get(flags, "lenient");
    const char *sha = get_str(flags, "sha256"), *key = get_str(flags, "route_flag");
    const rd_value *routed = get(rec, "routed");
    if (!routed || routed->type != RD_VBOOL || !routed->u.b)
        return RD_OK;
    if (!sha || !key || !t || t->type != RD_VNUMBER)
        return rd_err_set(err, RD_EINVAL, "a routed decision without its flag set, routing flag or time");
    kept_text *k = text_for(r, sha, false, lenient && lenient->type == RD_VBOOL && lenient->u.b, err);
    if (!k)
        return err->code;
    const rd_value *ctx = get(rec, "context");
    rd_resolution res;
    rd_flag_eval(k->flags, key, strlen(key), RD_FLAG_STRING, ctx && ctx->type == RD_VOBJECT ? ctx : NULL,
                 (int64_t)t->u.n, &r->arena, &res);
    same_str(c, "variant", get_str(rec, "variant"), res.variant);
    /* a capped approval answered by the control: the flag named the candidate */
    const rd_value *ctl = get(rec, "control");
    const char *name = ctl && ctl->type == RD_VOBJECT ? get_str(get(ctl, "candidate"), "name")
                                                      : get_str(get(rec, "bundle"), "name");
    if (res.has_value && res.value.len && name && strcmp(res.value.u.s, name) != 0)
        differs(c, "routing: the flag now names \"%s\", the decision was made by \"%s\"", res.value.u.s,
                name);
    return RD_OK;
}

static int replay_model(rd_replay *r, const rd_value *rec, const rd_value *features, const rd_value *ctx,
                        cmp *c, rd_err *err)
{
    const char *digest = get_str(get(rec, "bundle"), "digest");
    const rd_value *k = get(rec, "k");
    if (!digest)
        return rd_err_set(err, RD_EINVAL, "a model decision without its bundle digest");
    kept_bundle *kb = bundle_for(r, digest, err);
    if (!kb)
        return err->code;
    const char *name = rd_slot_name(kb->slot);
    rd_decide_req q = {.features = features,
                       .context = ctx,
                       .bundle = name,
                       .bundle_len = strlen(name),
                       .reasons = k && k->type == RD_VNUMBER ? (int)k->u.n : -1,
                       /* it was decided once: the names it carried are listed, never refused */
                       .unknown_inputs = RD_UNKNOWN_WARN};
    rd_decision d;
    int rc = rd_decide(kb->dec, &q, &r->arena, &d, err);
    if (rc) {
        differs(c, "the decision now fails: %s", err->msg);
        return RD_OK;
    }
    same_str(c, "source", "model", d.source == RD_SOURCE_MODEL ? "model" : "fallback");
    if (d.source != RD_SOURCE_MODEL)
        return RD_OK;
    same_num(c, "score", get(rec, "score"), true, d.score.score);
    same_num(c, "probability", get(rec, "probability"), rd_bundle_has_probability(rd_slot_bundle(kb->slot)),
             d.score.probability);
    same_str(c, "risk_level", get_str(rec, "risk_level"), d.score.risk_level);
    same_str(c, "decision", get_str(rec, "decision"), d.score.decision);
    same_reasons(c, get(rec, "reasons"), rd_slot_bundle(kb->slot), &d.score);
    return RD_OK;
}

static int replay_fallback(rd_replay *r, const rd_value *rec, const rd_value *features, const rd_value *ctx,
                           cmp *c, rd_err *err)
{
    const rd_value *fb = get(rec, "fallback");
    const char *whose = get_str(fb, "rules"), *sha = get_str(fb, "sha256");
    const rd_fallback *rules = NULL;
    if (!whose || !sha)
        return rd_err_set(err, RD_EINVAL, "a fallback decision without its rules' SHA-256");
    if (!strcmp(whose, "bundle")) {
        kept_bundle *kb = bundle_for(
            r, get_str(get(rec, "bundle"), "digest") ? get_str(get(rec, "bundle"), "digest") : "", err);
        if (!kb)
            return err->code;
        rules = rd_bundle_fallback(rd_slot_bundle(kb->slot));
    } else {
        kept_text *k = text_for(r, sha, true, false, err);
        if (!k)
            return err->code;
        rules = k->rules;
    }
    if (!rules || strcmp(rd_fallback_sha256(rules), sha) != 0)
        return rd_err_set(err, RD_ENOTFOUND, "the fallback rules %.16s... were not kept", sha);
    rd_fallback_result res;
    rd_fallback_eval(rules, features, ctx, &r->arena, &res);
    same_str(c, "fallback_rule", get_str(fb, "rule"), res.name);
    same_str(c, "risk_level", get_str(rec, "risk_level"), res.risk_level);
    same_str(c, "decision", get_str(rec, "decision"), res.decision);
    const rd_value *reasons = get(rec, "reasons");
    same_str(c, "reason",
             reasons && reasons->type == RD_VARRAY && reasons->len ? get_str(&reasons->u.items[0], "code")
                                                                   : NULL,
             res.reason);
    same_num(c, "score", get(rec, "score"), res.has_score, res.score);
    c->out->fallback = true;
    return RD_OK;
}

/* The primary record of a shadow score: its text, copied into r->primary. */
typedef struct found {
    rd_replay *r;
    char *text;
    size_t len;
} found;

static int find_primary(void *ud, const rd_log_row *row)
{
    found *f = ud;
    f->text = rd_arena_strndup(&f->r->primary, row->record, row->record_len);
    f->len = row->record_len;
    return f->text ? 1 : RD_ENOMEM;
}

static int replay_shadow(rd_replay *r, const rd_log_row *row, const rd_value *rec, cmp *c, rd_err *err)
{
    const char *digest = get_str(get(rec, "bundle"), "digest");
    if (!get_str(rec, "source"))
        return RD_OK; /* a shadow that failed: nothing to compare */
    if (!digest)
        return rd_err_set(err, RD_EINVAL, "a shadow score without its bundle digest");
    rd_arena_reset(&r->primary);
    found f = {r, NULL, 0};
    rd_log_filter flt = {.request_id = row->request_id, .kind = "primary"};
    int rc = rd_store_log_scan(r->store, &flt, find_primary, &f, err);
    if (rc < 0)
        return rc == RD_ENOMEM ? rd_err_set(err, rc, "out of memory") : rc;
    if (!f.text)
        return rd_err_set(err, RD_ENOTFOUND, "the primary decision of this shadow score is not in the log");
    rd_value p;
    if ((rc = rd_json_parse(f.text, f.len, NULL, &r->primary, &p, err)))
        return rc;
    if (redacted(&p, c->out))
        return RD_OK;
    kept_bundle *kb = bundle_for(r, digest, err);
    if (!kb)
        return err->code;
    const rd_value *features = get(&p, "features");
    rd_score sc;
    rd_err e;
    rc = rd_bundle_score(rd_slot_bundle(kb->slot), features, 0, &sc, &e);
    if (rc) {
        differs(c, "the shadow score now fails: %s", e.msg);
        return RD_OK;
    }
    same_num(c, "score", get(rec, "score"), true, sc.score);
    same_num(c, "probability", get(rec, "probability"), rd_bundle_has_probability(rd_slot_bundle(kb->slot)),
             sc.probability);
    same_str(c, "risk_level", get_str(rec, "risk_level"), sc.risk_level);
    same_str(c, "decision", get_str(rec, "decision"), sc.decision);
    return RD_OK;
}

int rd_replay_one(rd_replay *r, const rd_log_row *row, rd_replay_result *out, rd_err *err)
{
    memset(out, 0, sizeof *out);
    out->identical = true;
    cmp c = {out, 0};
    rd_arena_reset(&r->arena);
    rd_value rec;
    char *text = rd_arena_strndup(&r->arena, row->record, row->record_len);
    if (!text)
        return rd_err_set(err, RD_ENOMEM, "out of memory");
    int rc = rd_json_parse(text, row->record_len, NULL, &r->arena, &rec, err);
    if (rc) {
        rd_err_prefix(err, "decision %lld: the record", (long long)row->id);
        return rc;
    }
    const rd_value *v = get(&rec, "v");
    const char *kind = get_str(&rec, "kind");
    if (!v || v->type != RD_VNUMBER || v->u.n != 1 || !kind)
        return rd_err_set(err, RD_EINVAL, "decision %lld: not a riskd decision record (version 1)",
                          (long long)row->id);
    if (!strcmp(kind, "shadow")) {
        rc = replay_shadow(r, row, &rec, &c, err);
    } else if (redacted(&rec, out)) {
        rc = RD_OK;
    } else {
        const rd_value *ctx = get(&rec, "context"), *features = get(&rec, "features");
        const char *source = get_str(&rec, "source");
        if (ctx && ctx->type != RD_VOBJECT)
            ctx = NULL;
        rc = replay_routing(r, &rec, &c, err);
        /* "control": the control bundle's model answer (a capped candidate approval): the
         * record's bundle is the control, so a pinned re-run of it is the same check. The cap
         * itself is not replayed (it depended on what the node held at the time). */
        if (!rc && source && (!strcmp(source, "model") || !strcmp(source, "control")))
            rc = replay_model(r, &rec, features, ctx, &c, err);
        else if (!rc && source && !strcmp(source, "fallback"))
            rc = replay_fallback(r, &rec, features, ctx, &c, err);
        else if (!rc)
            rc = rd_err_set(err, RD_EINVAL, "no source");
    }
    if (rc)
        rd_err_prefix(err, "decision %lld (%s)", (long long)row->id, row->request_id);
    return rc;
}
