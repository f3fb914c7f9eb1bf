/* The decider: slots, the serving snapshot and its checks, and one decision.
 *
 * Invariants: a decider is never modified once built; every bundle its routing flag can
 * name, its default bundle, every bundle its shadow flag lists and every fault's bundle is
 * one of its slots. A decision reads the decider and the request only; the breakers are the
 * one shared state it writes, under their own locks. */
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "decide_int.h"
#include "riskd/clock.h"
#include "riskd/text.h"

/* ------------------------------------------------------------------ slots */

int rd_slot_new(rd_bundle *b, const rd_breaker_opts *bo, void *user, void (*user_free)(void *), rd_slot **out,
                rd_err *err)
{
    rd_slot *s = rd_calloc(1, sizeof *s);
    rd_breaker_opts def;
    if (!bo) {
        rd_breaker_opts_default(&def);
        bo = &def;
    }
    if (s && !(s->breaker = rd_breaker_new(bo, rd_bundle_name(b)))) {
        rd_free(s);
        s = NULL;
    }
    if (!s)
        return rd_err_set(err, RD_ENOMEM, "out of memory");
    atomic_init(&s->refs, 1);
    s->bundle = b;
    s->user = user;
    s->user_free = user_free;
    *out = s;
    return RD_OK;
}

rd_slot *rd_slot_ref(rd_slot *s)
{
    if (s)
        atomic_fetch_add(&s->refs, 1);
    return s;
}

void rd_slot_unref(rd_slot *s)
{
    if (!s || atomic_fetch_sub(&s->refs, 1) != 1)
        return;
    rd_bundle_free(s->bundle);
    rd_breaker_free(s->breaker);
    if (s->user_free)
        s->user_free(s->user);
    rd_free(s);
}

const rd_bundle *rd_slot_bundle(const rd_slot *s) { return s->bundle; }
const char *rd_slot_name(const rd_slot *s) { return rd_bundle_name(s->bundle); }
void *rd_slot_user(const rd_slot *s) { return s->user; }
rd_breaker *rd_slot_breaker(const rd_slot *s) { return s->breaker; }

/* ------------------------------------------------------------------ the decider */

rd_decider *rd_decider_ref(rd_decider *d)
{
    if (d)
        atomic_fetch_add(&d->refs, 1);
    return d;
}

void rd_decider_unref(rd_decider *d)
{
    if (!d || atomic_fetch_sub(&d->refs, 1) != 1)
        return;
    if (d->flags)
        rd_flagset_unref(d->flags);
    for (size_t i = 0; i < d->n; i++)
        rd_slot_unref(d->slots[i]);
    rd_free(d->slots);
    rd_free(d->route_flag);
    rd_free(d->shadow_flag);
    rd_free(d->flags_sha);
    rd_fallback_unref(d->fallback);
    rd_free(d->faults);
    rd_free(d->slot_fault);
    rd_free(d);
}

rd_flagset *rd_decider_flags(const rd_decider *d) { return d->flags; }
size_t rd_decider_count(const rd_decider *d) { return d->n; }
rd_slot *rd_decider_slot(const rd_decider *d, size_t i) { return i < d->n ? d->slots[i] : NULL; }
rd_slot *rd_decider_default(const rd_decider *d) { return d->dflt; }
long rd_decider_route_index(const rd_decider *d) { return d->route_index; }
long rd_decider_shadow_index(const rd_decider *d) { return d->shadow_index; }
bool rd_decider_can_pick(const rd_decider *d) { return d->route_index >= 0 || d->dflt; }
const rd_fallback *rd_decider_fallback(const rd_decider *d) { return d->fallback; }
const rd_fault *rd_decider_faults(const rd_decider *d, size_t *n)
{
    *n = d->nfaults;
    return d->faults;
}

const char *rd_decider_route_flag(const rd_decider *d) { return d->route_flag; }
const char *rd_decider_shadow_flag(const rd_decider *d) { return d->shadow_flag; }
const char *rd_decider_flags_sha256(const rd_decider *d) { return d->flags_sha; }

rd_slot *rd_decider_find(const rd_decider *d, const char *name, size_t len)
{
    size_t lo = 0, hi = d->n;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        const char *m = rd_slot_name(d->slots[mid]);
        size_t ml = strlen(m);
        int c = memcmp(m, name, ml < len ? ml : len);
        if (!c)
            c = ml < len ? -1 : ml > len;
        if (!c)
            return d->slots[mid];
        if (c < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return NULL;
}

static int cmp_slot(const void *a, const void *b)
{
    return strcmp(rd_slot_name(*(rd_slot *const *)a), rd_slot_name(*(rd_slot *const *)b));
}

static char *dup_or_empty(const char *s) { return rd_strndup(s ? s : "", s ? strlen(s) : 0); }

/* Every value of the routing flag names a loaded bundle ("" means none). */
static int check_route(const rd_decider *d, rd_err *err)
{
    rd_value variants;
    if (d->route_index < 0 || rd_flagset_variants(d->flags, (size_t)d->route_index, &variants))
        return RD_OK;
    for (uint32_t v = 0; v < variants.len; v++) {
        const rd_member *m = &variants.u.members[v];
        if (m->val.type != RD_VSTRING)
            return rd_err_set(
                err, RD_EINVAL,
                "flags.%s.variants.%s: a routing flag's values name bundles, so must be strings",
                d->route_flag, m->key);
        if (m->val.len && !rd_decider_find(d, m->val.u.s, m->val.len))
            return rd_err_set(err, RD_EINVAL,
                              "flags.%s.variants.%s routes to \"%s\", which is not a loaded bundle",
                              d->route_flag, m->key, m->val.u.s);
    }
    return RD_OK;
}

/* Every value of the shadow flag is {"bundles": [names of loaded bundles]}. */
static int check_shadow(const rd_decider *d, rd_err *err)
{
    if (!d->shadow_flag[0])
        return RD_OK;
    if (d->shadow_index < 0)
        return rd_err_set(err, RD_EINVAL, "shadow_flag \"%s\" is not in the flag set", d->shadow_flag);
    rd_value variants;
    if (rd_flagset_variants(d->flags, (size_t)d->shadow_index, &variants))
        return RD_OK;
    for (uint32_t v = 0; v < variants.len; v++) {
        const rd_member *m = &variants.u.members[v];
        const rd_value *val = &m->val, *list = NULL;
        if (val->type == RD_VOBJECT && val->len == 1 && !strcmp(val->u.members[0].key, "bundles"))
            list = &val->u.members[0].val;
        if (!list || list->type != RD_VARRAY)
            return rd_err_set(err, RD_EINVAL,
                              "flags.%s.variants.%s: a shadow flag's values must be {\"bundles\": [names of "
                              "bundles]}",
                              d->shadow_flag, m->key);
        if (list->len > RD_DECIDE_MAX_SHADOWS)
            return rd_err_set(err, RD_EINVAL, "flags.%s.variants.%s: at most %d shadow bundles",
                              d->shadow_flag, m->key, RD_DECIDE_MAX_SHADOWS);
        for (uint32_t i = 0; i < list->len; i++) {
            const rd_value *b = &list->u.items[i];
            if (b->type != RD_VSTRING)
                return rd_err_set(err, RD_EINVAL, "flags.%s.variants.%s.bundles[%u]: must be a bundle name",
                                  d->shadow_flag, m->key, i);
            if (!rd_decider_find(d, b->u.s, b->len))
                return rd_err_set(err, RD_EINVAL,
                                  "flags.%s.variants.%s.bundles[%u]: \"%s\" is not a loaded bundle",
                                  d->shadow_flag, m->key, i, b->u.s);
        }
    }
    return RD_OK;
}

/* The service-wide fallback rules answer for every bundle: a name they read must be an input
 * of at least one loaded bundle's pipeline. */
static int check_rules(const rd_decider *d, rd_err *err)
{
    if (!d->fallback || d->n == 0)
        return RD_OK;
    const rd_pipeline *stack[16], **p = d->n <= 16 ? stack : rd_malloc(d->n * sizeof *p); // NOLINT
    if (!p)
        return rd_err_set(err, RD_ENOMEM, "out of memory");
    for (size_t i = 0; i < d->n; i++)
        p[i] = rd_bundle_pipeline(d->slots[i]->bundle);
    int rc = rd_bundle_check_rules(d->fallback, p, d->n, err);
    if (p != stack)
        rd_free(p);
    if (rc)
        rd_err_prefix(err, "fallback rules %s", rd_fallback_version(d->fallback));
    return rc;
}

static int check_faults(rd_decider *d, rd_err *err)
{
    if (!(d->slot_fault = rd_calloc(d->n ? d->n : 1, sizeof(const rd_fault *))))
        return rd_err_set(err, RD_ENOMEM, "out of memory");
    for (size_t i = 0; i < d->nfaults; i++) {
        const rd_fault *f = &d->faults[i];
        size_t j = 0;
        while (j < d->n && strcmp(rd_slot_name(d->slots[j]), f->bundle) != 0)
            j++;
        if (j == d->n)
            return rd_err_set(err, RD_EINVAL, "fault: \"%s\" is not a loaded bundle", f->bundle);
        if (f->has_score && rd_bundle_score_is_probability(d->slots[j]->bundle) &&
            !(f->score >= 0 && f->score <= 1))
            return rd_err_set(err, RD_EINVAL, "fault: %s: score=%g is not a probability (0 to 1)", f->bundle,
                              f->score);
        if (f->has_score && fabs(f->score) > 1e30)
            return rd_err_set(err, RD_EINVAL, "fault: %s: score=%g is out of range", f->bundle, f->score);
        const rd_pipeline *pl = rd_bundle_pipeline(d->slots[j]->bundle);
        if (f->decline > 0 && !rd_bundle_score_is_probability(d->slots[j]->bundle))
            return rd_err_set(err, RD_EINVAL, "fault: %s: decline needs a bundle that scores a probability",
                              f->bundle);
        long in =
            f->decline > 0 ? rd_pipeline_find_input(pl, f->decline_feature, strlen(f->decline_feature)) : 0;
        if (in < 0 || (f->decline > 0 && !rd_pipeline_input_is_number(pl, (size_t)in)))
            return rd_err_set(err, RD_EINVAL,
                              "fault: %s: decline reads \"%s\", which is not a numeric input of its pipeline",
                              f->bundle, f->decline_feature);
        d->slot_fault[j] = f;
    }
    return RD_OK;
}

/* A routing flag named in the configuration but absent from the flag set: without this the
 * default bundle would take every request, the split the flag was meant to make never made. */
static int missing_route(const rd_decider *d, rd_err *err)
{
    for (size_t i = 0; i < rd_flagset_count(d->flags); i++)
        if (rd_near_miss(d->route_flag, rd_flagset_key(d->flags, i)))
            return rd_err_set(err, RD_EINVAL,
                              "route_flag \"%s\" is not in the flag set (did you mean \"%s\"?)",
                              d->route_flag, rd_flagset_key(d->flags, i));
    return rd_err_set(err, RD_EINVAL, "route_flag \"%s\" is not in the flag set", d->route_flag);
}

static int build(rd_decider *d, const rd_decide_opts *o, rd_err *err)
{
    qsort(d->slots, d->n, sizeof(rd_slot *), cmp_slot);
    for (size_t i = 1; i < d->n; i++)
        if (!strcmp(rd_slot_name(d->slots[i - 1]), rd_slot_name(d->slots[i])))
            return rd_err_set(err, RD_EINVAL, "bundle \"%s\" is loaded twice", rd_slot_name(d->slots[i]));
    d->route_index =
        d->flags && d->route_flag[0] ? rd_flagset_find(d->flags, d->route_flag, strlen(d->route_flag)) : -1;
    d->shadow_index = d->flags && d->shadow_flag[0]
                          ? rd_flagset_find(d->flags, d->shadow_flag, strlen(d->shadow_flag))
                          : -1;
    if (o->default_bundle && o->default_bundle[0]) {
        if (!(d->dflt = rd_decider_find(d, o->default_bundle, strlen(o->default_bundle))))
            return rd_err_set(err, RD_EINVAL, "default_bundle \"%s\" is not among the loaded bundles",
                              o->default_bundle);
    } else if (d->n == 1) {
        d->dflt = d->slots[0];
    }
    if (o->route_required && d->flags && d->route_index < 0 && !o->flags_only)
        return missing_route(d, err);
    int rc = o->flags_only ? RD_OK : check_route(d, err);
    if (!rc)
        rc = check_shadow(d, err);
    if (!rc)
        rc = check_faults(d, err);
    if (!rc)
        rc = check_rules(d, err);
    return rc;
}

int rd_decider_new(const rd_decide_opts *o, rd_flagset *flags, rd_slot *const *slots, size_t n,
                   rd_decider **out, rd_err *err)
{
    rd_decider *d = rd_calloc(1, sizeof *d);
    if (!d)
        return rd_err_set(err, RD_ENOMEM, "out of memory");
    atomic_init(&d->refs, 1);
    d->flags = flags ? rd_flagset_ref(flags) : NULL;
    d->slots = rd_calloc(n ? n : 1, sizeof(rd_slot *));
    d->route_flag = dup_or_empty(o->route_flag);
    d->shadow_flag = dup_or_empty(o->shadow_flag);
    d->flags_sha = dup_or_empty(o->flags_sha256);
    d->faults = rd_calloc(o->nfaults ? o->nfaults : 1, sizeof *d->faults);
    if (!d->slots || !d->route_flag || !d->shadow_flag || !d->flags_sha || !d->faults) {
        rd_decider_unref(d);
        return rd_err_set(err, RD_ENOMEM, "out of memory");
    }
    for (size_t i = 0; i < n; i++)
        d->slots[d->n++] = rd_slot_ref(slots[i]);
    if (o->nfaults)
        memcpy(d->faults, o->faults, o->nfaults * sizeof *d->faults);
    d->nfaults = o->nfaults;
    d->deadline_ms = o->deadline_ms;
    d->fixed_time = o->fixed_time;
    d->fallback = rd_fallback_ref(o->fallback);
    int rc = build(d, o, err);
    if (rc) {
        rd_decider_unref(d);
        return rc;
    }
    *out = d;
    return RD_OK;
}

/* ------------------------------------------------------------------ one decision */

const char *rd_fallback_reason_name(rd_fallback_reason r)
{
    static const char *const names[] = {"none", "timeout", "error", "breaker_open", "unavailable"};
    return r <= RD_FB_UNAVAILABLE ? names[r] : "none";
}

/* A uniform draw in [0, 1) per thread (xorshift64*): fault injection only. */
static double draw(void)
{
    static _Thread_local uint64_t x;
    if (!x)
        x = (uint64_t)rd_clock_ns() ^ (uint64_t)(uintptr_t)&x ^ 0x9e3779b97f4a7c15u;
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    return (double)((x * 0x2545f4914f6cdd1dULL) >> 11) * (1.0 / 9007199254740992.0);
}

int rd__run_model(const rd_decider *d, const rd_slot *s, const double *x, size_t k, int64_t deadline,
                  rd_score *out, rd_err *err)
{
    const rd_fault *f = rd__slot_fault(d, s);
    if (f && !rd_fault_active(f, rd_clock_ns()))
        f = NULL; /* a for_ms drill that has ended */
    if (f && f->delay_ms) {
        /* the injected delay is cut off by the deadline, as a slow model is */
        int64_t until = rd_clock_ns() + (int64_t)f->delay_ms * 1000000;
        rd_sleep_until_ns(deadline && deadline < until ? deadline : until);
        if (deadline && rd_clock_ns() >= deadline)
            return rd_err_set(err, RD_ETIMEOUT, "%s: the deadline passed (injected delay of %d ms)",
                              rd_slot_name(s), f->delay_ms);
    }
    if (f && f->error_rate > 0 && draw() < f->error_rate)
        return rd_err_set(err, RD_EINTERNAL, "%s: injected error (fault error_rate=%g)", rd_slot_name(s),
                          f->error_rate);
    int rc = rd_bundle_score_prepared(s->bundle, x, k, deadline, out, err);
    if (rc == RD_OK && f && f->has_score) {
        out->score = f->score;
        if (rd_bundle_score_is_probability(s->bundle))
            out->probability = f->score;
        rd_bundle_band(s->bundle, out->score, &out->risk_level, &out->decision);
    }
    return rc;
}

/* A decline fault (a drill): the model's answer replaced by a decline for the share of the
 * matching requests the fault names, picked by the request id (a random draw without one). */
static void decline_fault(const rd_decider *d, const rd_decide_req *q, rd_decision *out)
{
    const rd_fault *f = rd__slot_fault(d, out->slot);
    if (!f || f->decline <= 0 || !rd_fault_active(f, rd_clock_ns()))
        return;
    char num[RD_NUM_BUF];
    const char *id = NULL;
    size_t n = 0;
    if (q->request_id && q->request_id->type == RD_VSTRING) {
        id = q->request_id->u.s;
        n = q->request_id->len;
    } else if (q->request_id && q->request_id->type == RD_VNUMBER) {
        n = rd_num_format(q->request_id->u.n, num);
        id = num;
    }
    if (!rd__fault_meets(f, q->features) || (id ? rd__fault_id_draw(id, n) : draw()) >= f->decline)
        return;
    out->score.score = out->score.probability = 0.99;
    rd_bundle_band(out->slot->bundle, out->score.score, &out->score.risk_level, &out->score.decision);
}

/* Answer with fallback rules: the bundle's, else the service's. Without any, the error that
 * made the fallback necessary. */
static int fall_back(const rd_decider *d, const rd_decide_req *q, rd_fallback_reason why, int code,
                     rd_arena *scratch, rd_decision *out, rd_err *err)
{
    const rd_fallback *rules = out->slot ? rd_bundle_fallback(out->slot->bundle) : NULL;
    out->fallback_from_bundle = rules != NULL;
    if (!rules)
        rules = d->fallback;
    if (!rules) {
        if (why == RD_FB_UNAVAILABLE && !out->routed) /* the configuration's fault, /ready says so */
            return rd_err_set(err, RD_EUNAVAILABLE, "%s", out->fallback_detail);
        return rd_err_set(err, code == RD_ETIMEOUT ? RD_ETIMEOUT : RD_EUNAVAILABLE,
                          "%s; no fallback rules are configured", out->fallback_detail);
    }
    out->source = RD_SOURCE_FALLBACK;
    out->fallback_reason = why;
    out->fallback_rules = rules;
    out->nshadows = 0; /* nothing to compare a rule's answer with */
    rd_fallback_eval(rules, q->features, q->context, scratch, &out->fallback);
    return RD_OK;
}

static void detail(rd_decision *out, const char *fmt, ...) RD_PRINTF(2, 3);
static void detail(rd_decision *out, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(out->fallback_detail, sizeof out->fallback_detail, fmt, ap);
    va_end(ap);
}

/* Route: the pinned bundle, the routing flag's, or the default. */
static int route(const rd_decider *d, const rd_decide_req *q, rd_arena *scratch, rd_decision *out,
                 rd_err *err)
{
    if (q->bundle) {
        if (!(out->slot = rd_decider_find(d, q->bundle, q->bundle_len)))
            return rd_err_set(err, RD_ENOBUNDLE, "bundle \"%.*s\" is not loaded", (int)q->bundle_len,
                              q->bundle);
        return RD_OK;
    }
    if (d->route_index >= 0) {
        rd_resolution res;
        rd_flag_eval(d->flags, d->route_flag, strlen(d->route_flag), RD_FLAG_STRING, q->context,
                     out->eval_time, scratch, &res);
        out->routed = true;
        out->route_reason = res.reason;
        if (res.has_value && res.value.len) {
            out->variant = res.variant;
            if ((out->slot = rd_decider_find(d, res.value.u.s, res.value.len)))
                return RD_OK;
            snprintf(out->fallback_detail, sizeof out->fallback_detail,
                     "the routing flag names \"%.*s\", which is not loaded", (int)res.value.len,
                     res.value.u.s);
            return RD_EUNAVAILABLE;
        }
        if (!d->dflt) {
            snprintf(out->fallback_detail, sizeof out->fallback_detail,
                     "the routing flag %.64s gave no bundle (%s%s%s) and there is no default_bundle",
                     d->route_flag, rd_reason_name(res.reason), res.error ? " " : "",
                     res.error ? rd_flag_error_name(res.error) : "");
            return RD_EUNAVAILABLE;
        }
    }
    if (!(out->slot = d->dflt)) {
        detail(out, "%s",
               d->n ? "several bundles are loaded and neither a routing flag nor default_bundle picks one"
                    : "no bundle is loaded");
        return RD_EUNAVAILABLE;
    }
    return RD_OK;
}

/* The shadow flag's bundles for this request, the primary left out. */
static void shadows(const rd_decider *d, const rd_decide_req *q, rd_arena *scratch, rd_decision *out)
{
    if (d->shadow_index < 0 || q->bundle)
        return; /* a pinned request (a replay, a test) is not compared */
    rd_resolution res;
    rd_flag_eval(d->flags, d->shadow_flag, strlen(d->shadow_flag), RD_FLAG_OBJECT, q->context, out->eval_time,
                 scratch, &res);
    out->shadowed = true;
    out->shadow_reason = res.reason;
    if (!res.has_value || res.value.type != RD_VOBJECT)
        return;
    const rd_value *list = rd_value_get(&res.value, "bundles", 7);
    for (uint32_t i = 0; list && list->type == RD_VARRAY && i < list->len; i++) {
        const rd_value *b = &list->u.items[i];
        const rd_slot *s = b->type == RD_VSTRING ? rd_decider_find(d, b->u.s, b->len) : NULL;
        bool dup = !s || s == out->slot;
        for (size_t j = 0; j < out->nshadows && !dup; j++)
            dup = out->shadows[j] == s;
        if (!dup && out->nshadows < RD_DECIDE_MAX_SHADOWS)
            out->shadows[out->nshadows++] = s;
    }
}

/* A request id for a request that sent none: unique across restarts (the process's start time
 * in ms, then a counter), so the decision log never holds two decisions under one id. */
static const rd_value *make_id(rd_arena *a)
{
    static atomic_uint_fast64_t seq;
    static int64_t boot;
    int64_t b = __atomic_load_n(&boot, __ATOMIC_RELAXED);
    if (!b) {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        int64_t now = (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000, zero = 0;
        __atomic_compare_exchange_n(&boot, &zero, now, false, __ATOMIC_RELAXED, __ATOMIC_RELAXED);
        b = __atomic_load_n(&boot, __ATOMIC_RELAXED);
    }
    char buf[64];
    int n = snprintf(buf, sizeof buf, "riskd-%llx-%llu", (unsigned long long)b,
                     (unsigned long long)atomic_fetch_add(&seq, 1) + 1);
    rd_value *v = rd_arena_alloc(a, sizeof *v);
    char *s = v ? rd_arena_strndup(a, buf, (size_t)n) : NULL;
    if (!s)
        return NULL;
    *v = rd_value_string(s, (uint32_t)n);
    return v;
}

/* One decision, its deadline counted from start (rd_decide's, so that a re-decision by the
 * control spends what is left of the same budget). */
static int decide_once(const rd_decider *d, const rd_decide_req *q, int64_t start, rd_arena *scratch,
                       rd_decision *out, rd_err *err)
{
    memset(out, 0, sizeof *out);
    out->exposure.amount = (double)NAN;
    out->candidate_score = (double)NAN;
    out->request_id = q->request_id ? q->request_id : make_id(scratch);
    out->t0_ns = q->t0_ns ? q->t0_ns : start;
    out->eval_time = d->fixed_time ? d->fixed_time : (int64_t)time(NULL); /* one time for every flag */
    int rc = route(d, q, scratch, out, err);
    if (rc == RD_EUNAVAILABLE)
        return fall_back(d, q, RD_FB_UNAVAILABLE, rc, scratch, out, err);
    if (rc)
        return rc;
    const rd_bundle *b = out->slot->bundle;
    out->float32 = rd_model_is_float32(rd_bundle_model(b)) && !rd_bundle_score_is_points(b);
    out->points = rd_bundle_score_is_points(b);
    out->k = q->reasons < 0 ? rd_bundle_num_reasons(b) : (size_t)q->reasons;
    size_t nf = rd_bundle_num_features(b);
    double *x = rd_arena_alloc(scratch, (nf ? nf : 1) * sizeof(double));
    if (!x)
        return rd_err_set(err, RD_ENOMEM, "out of memory");
    /* A record the pipeline cannot decide soundly (no input, names it does not know, required
     * inputs missing) is refused: the caller's to fix, not a fallback's to hide. */
    rd_pipeline_report checked;
    if ((rc = rd_pipeline_check(rd_bundle_pipeline(b), q->features, q->unknown_inputs, &checked, err)))
        return rc;
    if ((rc = rd_bundle_prepare(b, q->features, x, &out->score.report, err)))
        return rc;
    out->score.report.nunrecognised = checked.nunrecognised;
    memcpy(out->score.report.unrecognised, checked.unrecognised, sizeof checked.unrecognised);
    out->x = x;
    out->prepared = true;
    shadows(d, q, scratch, out);
    /* The deadline counts from the decision's start (the request complete), not from the
     * first byte: a client that uploads slowly must not spend the model's budget, nor open
     * its breaker. A deadline already gone is the caller's, and takes no breaker ticket. */
    int ms = rd_bundle_deadline_ms(b) ? rd_bundle_deadline_ms(b) : d->deadline_ms;
    int64_t deadline = ms ? start + (int64_t)ms * 1000000 : 0;
    if (deadline && rd_clock_ns() > deadline) {
        detail(out, "the deadline of %d ms passed before %s could run", ms, rd_slot_name(out->slot));
        return fall_back(d, q, RD_FB_TIMEOUT, RD_ETIMEOUT, scratch, out, err);
    }
    rd_breaker *br = out->slot->breaker;
    int ticket = rd_breaker_allow(br, rd_clock_ns());
    if (!ticket) {
        detail(out, "the circuit breaker of %s is open", rd_slot_name(out->slot));
        return fall_back(d, q, RD_FB_BREAKER_OPEN, RD_EUNAVAILABLE, scratch, out, err);
    }
    rd_err e;
    rc = rd__run_model(d, out->slot, x, out->k, deadline, &out->score, &e);
    /* The model checks the clock between blocks of trees: an answer that still came late is
     * an overrun, a failure for the breaker, and not served. */
    if (rc == RD_OK && deadline && rd_clock_ns() > deadline)
        rc = rd_err_set(&e, RD_ETIMEOUT, "%s: answered after its deadline of %d ms", rd_slot_name(out->slot),
                        ms);
    /* a non-finite output (RD_EINVAL) comes from the record's values: the model is sound */
    rd_breaker_record(br, ticket, rc == RD_OK || rc == RD_EINVAL, rd_clock_ns());
    if (rc == RD_EINVAL) {
        *err = e;
        return rc;
    }
    if (rc) {
        detail(out, "%s", e.msg);
        return fall_back(d, q, rc == RD_ETIMEOUT ? RD_FB_TIMEOUT : RD_FB_ERROR, rc, scratch, out, err);
    }
    decline_fault(d, q, out);
    out->source = RD_SOURCE_MODEL;
    return RD_OK;
}

const char *rd_control_reason_name(rd_control_reason r)
{
    return r == RD_CONTROL_EXPOSURE_CAP ? "exposure_cap" : "";
}

static const char *decision_of(const rd_decision *o)
{
    return o->source == RD_SOURCE_MODEL ? o->score.decision : o->fallback.decision;
}

/* A candidate approval the cap refused: the request re-decided by the control, pinned, within
 * what is left of the deadline (its own breaker ticket). If the control cannot decide the
 * record, its fallback rules answer (else the service's); without rules, the error: the
 * candidate's approval is never served. The answer keeps the candidate's routing, since a cap
 * changes who answers, not the applicant's arm. */
static int answer_by_control(const rd_decider *d, const rd_decide_req *q, int64_t start, rd_arena *scratch,
                             rd_decision *out, rd_err *err)
{
    rd_decision cand = *out;
    const char *ctrl = rd_exposure_control(q->exposure, NULL);
    rd_decide_req cq = *q;
    cq.request_id = cand.request_id;
    cq.t0_ns = cand.t0_ns;
    cq.bundle = ctrl;
    cq.bundle_len = strlen(ctrl);
    cq.exposure = NULL;
    rd_err e;
    int rc = decide_once(d, &cq, start, scratch, out, &e);
    if (rc == RD_EINVAL || rc == RD_ETYPE || rc == RD_ENOBUNDLE) {
        memset(out, 0, sizeof *out);
        out->request_id = cand.request_id;
        out->t0_ns = cand.t0_ns;
        out->slot = rd_decider_find(d, ctrl, strlen(ctrl));
        detail(out, "the control cannot decide this record: %s", e.msg);
        rc = fall_back(d, &cq, RD_FB_ERROR, rc, scratch, out, &e);
    }
    if (rc) {
        *err = e;
        return rc;
    }
    out->eval_time = cand.eval_time;
    out->variant = cand.variant;
    out->route_reason = cand.route_reason;
    out->routed = cand.routed;
    out->shadowed = cand.shadowed;
    out->shadow_reason = cand.shadow_reason;
    out->nshadows = 0; /* not compared: the candidate's answer was not served */
    out->control_reason = RD_CONTROL_EXPOSURE_CAP;
    out->candidate = cand.slot;
    out->candidate_source = cand.source;
    out->candidate_score = cand.source == RD_SOURCE_MODEL ? cand.score.score
                           : cand.fallback.has_score      ? cand.fallback.score
                                                          : (double)NAN;
    out->exposure = cand.exposure;
    return RD_OK;
}

/* Whether o was routed to the arm (bundle name, flag variant). */
static bool is_arm(const rd_decision *o, const char *bundle, const char *variant)
{
    return bundle && variant && o->variant && !strcmp(o->variant, variant) &&
           !strcmp(rd_slot_name(o->slot), bundle);
}

int rd_decide(const rd_decider *d, const rd_decide_req *q, rd_arena *scratch, rd_decision *out, rd_err *err)
{
    int64_t start = rd_clock_ns();
    int rc = decide_once(d, q, start, scratch, out, err);
    /* a pinned request (a replay, a test) is never capped */
    if (rc || !q->exposure || q->bundle || !out->routed || !out->slot ||
        !rd_exposure_covers(q->exposure, d->route_flag))
        return rc;
    const char *cv, *ctv;
    const char *cand = rd_exposure_candidate(q->exposure, &cv),
               *ctrl = rd_exposure_control(q->exposure, &ctv);
    bool is_cand = is_arm(out, cand, cv), is_ctrl = is_arm(out, ctrl, ctv);
    const char *dec = decision_of(out);
    if (is_cand && dec && !strcmp(dec, "approve")) { /* the model's or its bundle's rules' approval */
        rd_exposure_charge(q->exposure, q->context, q->features, &out->exposure);
        if (out->exposure.state == RD_EXPOSURE_CAPPED)
            return answer_by_control(d, q, start, scratch, out, err);
        return RD_OK;
    }
    /* both arms censored alike: a decision whose amount would not fit now is left out of both
     * arms' gate metrics (guardrails.md §5) */
    if (is_cand || is_ctrl)
        rd_exposure_peek(q->exposure, q->context, q->features, &out->exposure);
    return RD_OK;
}
