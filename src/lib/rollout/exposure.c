/* Exposure caps: the purse on the scoring path and the node's ledger (include/riskd/exposure.h,
 * include/riskd/rollout.h; docs/plans/guardrails.md §3.1).
 *
 * Invariants kept here:
 * - x->cur is the purse of the stage instance in force (NULL: none). Only the ledger thread
 *   (the rollout's) stores it; a purse it replaces is retired, never freed before
 *   rd_exposure_free, because a scoring thread may still hold a pointer to it.
 * - A purse's amount_left/count_left only go down through a compare-and-swap that leaves them
 *   >= 0, and only go up through a grant the store has committed (or the memory ledger made) or
 *   the refund of a charge made on that purse while it is still in force.
 * - Retiring a purse takes what is left with atomic_exchange(left, 0): whatever a scoring thread
 *   spends from it afterwards must have come from a refund, so
 *   Σ charged − Σ refunded + left = held − returned for every purse, at every quiet moment.
 * - A purse's scoring-path fields (stage, unit, field, has_*) never change once published; the
 *   caps and the held/returned figures belong to the ledger thread alone.
 * - When the same stage instance is re-opened (a lowered cap), the purses share the node's slice
 *   row in the store: the new purse carries the old one's spent and capped as a base, so that
 *   the slice's reported figures never go back. */
#include <inttypes.h>
#include <math.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "riskd/exposure.h"
#include "riskd/hash.h"
#include "riskd/json.h"
#include "riskd/rollout.h"
#include "rollout_int.h"

#define UNIT_DEFAULT    0.01
#define SLICE_DEFAULT   0.05
#define RETRY_MS        1000  /* after a zero grant or an error, before asking the store again */
#define BACKOFF_MAX_MS  10000 /* pending returns: 1 s doubling up to this */
#define REPORT_EVERY_MS 1000
#define TOTALS_EVERY_MS 1000
#define MAX_UNITS       9007199254740992.0 /* 2^53 */
#define ROOT_CONTEXT    0
#define ROOT_FEATURES   1

struct rd_purse {
    /* the stage instance, and how an amount is read: fixed once published */
    char stage[64];
    int64_t stage_started_ms;
    bool has_amount, has_count;
    double unit;
    int root; /* ROOT_CONTEXT or ROOT_FEATURES */
    char path[128];
    char field[128];
    /* the scoring path's */
    _Atomic int64_t amount_left, count_left;   /* unspent: only a CAS never going below 0 lowers them */
    _Atomic int64_t amount_spent, count_spent; /* charged − refunded since opened */
    _Atomic uint64_t capped, closed;           /* would-be approvals answered by control; closed peeks */
    _Atomic int64_t need_amount, need_count;   /* the largest refused since the last refill */
    atomic_bool ran_out;                       /* an approval was refused for want of what is left */
    /* the ledger thread's */
    int64_t cap_amount, cap_count; /* units, approvals */
    int64_t amount_held, count_held, amount_returned, count_returned;
    int64_t base_spent_amount, base_spent_count; /* the slice's, from earlier purses of the instance */
    uint64_t base_capped;
    int64_t base_reserved_amount, base_reserved_count; /* memory: what those purses kept */
    int64_t rep_amount, rep_count;                     /* the largest reported (the store keeps the max) */
    uint64_t rep_capped;
    int64_t pend_amount, pend_count; /* retired: to give back */
    bool pending, retired, in_store;
    int64_t next_reserve_ms;
    rd_purse *next; /* the retired list */
};

struct rd_exposure {
    _Atomic(rd_purse *) cur;
    char flag[256], cand[128], cand_var[128], ctrl[128], ctrl_var[128]; /* fixed after new */
    /* the ledger thread's */
    rd_purse *retired;
    double unit, slice;
    char field[128], path[128];
    int root;
    bool field_ok;
    char plan_sha[RD_SHA256_HEX];
    rd_store *store;
    char node[256], boot[33];
    bool orphans_done;
    int64_t ret_next_ms, ret_backoff_ms, rep_next_ms, tot_next_ms;
    bool have_tot;
    rd_exposure_stage_row tot_row;
    rd_exposure_totals tot;
};

/* ------------------------------------------------------------------ amounts */

int64_t rd_exposure_cap_units(double max, double unit)
{
    if (!(max > 0) || !(unit > 0) || !isfinite(max) || !isfinite(unit))
        return -1;
    double q = max / unit, r = nearbyint(q);
    double u = fabs(q - r) <= 1e-9 * r ? r : floor(q);
    return u > MAX_UNITS ? -1 : (int64_t)u;
}

int64_t rd_exposure_amount_units(double v, double unit)
{
    if (!isfinite(v) || v < 0 || !(unit > 0) || !isfinite(unit))
        return -1;
    double q = ceil(v / unit);
    if (q > MAX_UNITS)
        return -1;
    int64_t u = (int64_t)q;
    if ((double)u * unit < v) /* v / unit rounded down below the true quotient */
        u++;
    else if (u > 0 && (double)(u - 1) * unit >= v) /* ... or up past it: 0.07 / 0.01 = 7.000000000000001 */
        u--;
    return u;
}

/* "features.Amount" -> root and "Amount"; false when it names neither root or has an empty step. */
static bool parse_field(const char *field, int *root, char *path, size_t cap)
{
    const char *rest;
    if (!strncmp(field, "context.", 8)) {
        *root = ROOT_CONTEXT;
        rest = field + 8;
    } else if (!strncmp(field, "features.", 9)) {
        *root = ROOT_FEATURES;
        rest = field + 9;
    } else {
        return false;
    }
    size_t n = strlen(rest);
    if (!n || n >= cap || rest[0] == '.' || rest[n - 1] == '.' || strstr(rest, ".."))
        return false;
    memcpy(path, rest, n + 1);
    return true;
}

/* The request's amount: a number, or a string holding exactly one; NaN when missing or neither. */
static double read_amount(const rd_purse *p, const rd_value *ctx, const rd_value *features)
{
    const rd_value *v = p->root == ROOT_CONTEXT ? ctx : features;
    for (const char *s = p->path; v && *s;) {
        const char *dot = strchr(s, '.');
        size_t n = dot ? (size_t)(dot - s) : strlen(s);
        v = rd_value_get(v, s, n);
        s += n + (dot ? 1 : 0);
    }
    if (!v)
        return (double)NAN;
    if (v->type == RD_VNUMBER)
        return v->u.n;
    if (v->type == RD_VSTRING && v->len > 0 && v->len < 64) {
        char buf[64], *end;
        memcpy(buf, v->u.s, v->len);
        buf[v->len] = '\0';
        double x = strtod(buf, &end);
        return *end || end == buf ? (double)NAN : x;
    }
    return (double)NAN;
}

/* units × unit in the field's currency, with as many decimals as the unit has. */
static const char *money(char *buf, size_t cap, int64_t units, double unit)
{
    int dec = unit >= 1 ? 0 : (int)ceil(-log10(unit) - 1e-9);
    snprintf(buf, cap, "%.*f", dec > 9 ? 9 : dec, (double)units * unit);
    return buf;
}

/* ------------------------------------------------------------------ the scoring path */

const char *rd_exposure_state_name(rd_exposure_state s)
{
    static const char *const names[] = {"none", "open", "closed", "charged", "capped"};
    return (unsigned)s < sizeof names / sizeof *names ? names[s] : "none";
}

bool rd_exposure_covers(const rd_exposure *x, const char *route_flag)
{
    return x && route_flag && !strcmp(x->flag, route_flag);
}

const char *rd_exposure_candidate(const rd_exposure *x, const char **variant)
{
    if (variant)
        *variant = x ? x->cand_var : NULL;
    return x ? x->cand : NULL;
}

const char *rd_exposure_control(const rd_exposure *x, const char **variant)
{
    if (variant)
        *variant = x ? x->ctrl_var : NULL;
    return x ? x->ctrl : NULL;
}

/* Take n from *left unless that would leave it below 0. */
static bool take(_Atomic int64_t *left, int64_t n)
{
    if (n <= 0)
        return true;
    int64_t l = atomic_load_explicit(left, memory_order_relaxed);
    do {
        if (l < n)
            return false;
    } while (
        !atomic_compare_exchange_weak_explicit(left, &l, l - n, memory_order_acq_rel, memory_order_relaxed));
    return true;
}

static void fetch_max(_Atomic int64_t *a, int64_t v)
{
    int64_t cur = atomic_load_explicit(a, memory_order_relaxed);
    while (cur < v &&
           !atomic_compare_exchange_weak_explicit(a, &cur, v, memory_order_relaxed, memory_order_relaxed))
        ;
}

/* The purse in force and the ticket's stage, or NULL (the ticket says NONE). */
static rd_purse *ticket_open(rd_exposure *x, rd_exposure_ticket *t)
{
    memset(t, 0, sizeof *t);
    t->amount = (double)NAN;
    rd_purse *p = x ? atomic_load_explicit(&x->cur, memory_order_acquire) : NULL;
    if (p) {
        memcpy(t->stage, p->stage, sizeof t->stage);
        t->stage_started_ms = p->stage_started_ms;
        t->field = p->has_amount ? p->field : NULL;
    }
    return p;
}

/* The units the request costs (amount -1: not countable), filling the ticket's. */
static int64_t ticket_need(rd_purse *p, const rd_value *ctx, const rd_value *features, rd_exposure_ticket *t)
{
    int64_t na = 0;
    if (p->has_amount) {
        t->amount = read_amount(p, ctx, features);
        na = isnan(t->amount) ? -1 : rd_exposure_amount_units(t->amount, p->unit);
        if (na < 0)
            snprintf(t->why, sizeof t->why, "amount missing, not a number or out of range");
    }
    t->amount_units = na < 0 ? 0 : na;
    t->count_units = p->has_count ? 1 : 0;
    return na;
}

static void why_short(rd_purse *p, rd_exposure_ticket *t, bool amount, int64_t left)
{
    char m[48];
    if (amount)
        snprintf(t->why, sizeof t->why, "amount does not fit the %s left on this node",
                 money(m, sizeof m, left, p->unit));
    else
        snprintf(t->why, sizeof t->why, "no approval left on this node");
}

void rd_exposure_peek(rd_exposure *x, const rd_value *ctx, const rd_value *features, rd_exposure_ticket *t)
{
    rd_purse *p = ticket_open(x, t);
    if (!p)
        return;
    int64_t na = ticket_need(p, ctx, features, t);
    int64_t la = atomic_load_explicit(&p->amount_left, memory_order_relaxed);
    int64_t lc = atomic_load_explicit(&p->count_left, memory_order_relaxed);
    t->state = RD_EXPOSURE_OPEN;
    if (na < 0 || la < na || lc < t->count_units) {
        if (na >= 0)
            why_short(p, t, la < na, la);
        t->state = RD_EXPOSURE_CLOSED;
        atomic_fetch_add_explicit(&p->closed, 1, memory_order_relaxed);
    }
}

void rd_exposure_charge(rd_exposure *x, const rd_value *ctx, const rd_value *features, rd_exposure_ticket *t)
{
    rd_purse *p = ticket_open(x, t);
    if (!p)
        return;
    int64_t na = ticket_need(p, ctx, features, t), nc = t->count_units;
    bool ok = na >= 0;
    if (ok && !take(&p->amount_left, na)) {
        why_short(p, t, true, atomic_load_explicit(&p->amount_left, memory_order_relaxed));
        fetch_max(&p->need_amount, na);
        ok = false;
    } else if (ok && !take(&p->count_left, nc)) {
        atomic_fetch_add_explicit(&p->amount_left, na, memory_order_acq_rel); /* undo: nothing spent */
        why_short(p, t, false, 0);
        fetch_max(&p->need_count, nc);
        ok = false;
    } else if (ok) {
        atomic_fetch_add_explicit(&p->amount_spent, na, memory_order_relaxed);
        atomic_fetch_add_explicit(&p->count_spent, nc, memory_order_relaxed);
        t->state = RD_EXPOSURE_CHARGED;
        t->purse = p;
        return;
    }
    if (na >= 0)
        atomic_store_explicit(&p->ran_out, true, memory_order_relaxed);
    atomic_fetch_add_explicit(&p->capped, 1, memory_order_relaxed);
    t->state = RD_EXPOSURE_CAPPED;
}

void rd_exposure_refund(rd_exposure *x, rd_exposure_ticket *t)
{
    if (!x || !t || t->state != RD_EXPOSURE_CHARGED || !t->purse)
        return;
    rd_purse *p = t->purse;
    t->purse = NULL; /* a second refund gives nothing back */
    /* To a retired purse the refund is dropped: what it held was given back already, so this
       charge stays spent (the safe side). */
    if (p != atomic_load_explicit(&x->cur, memory_order_acquire))
        return;
    atomic_fetch_add_explicit(&p->amount_left, t->amount_units, memory_order_acq_rel);
    atomic_fetch_add_explicit(&p->count_left, t->count_units, memory_order_acq_rel);
    atomic_fetch_sub_explicit(&p->amount_spent, t->amount_units, memory_order_relaxed);
    atomic_fetch_sub_explicit(&p->count_spent, t->count_units, memory_order_relaxed);
}

/* ------------------------------------------------------------------ management (ledger thread) */

static int64_t ld(_Atomic int64_t *a) { return atomic_load_explicit(a, memory_order_relaxed); }

/* The slice's figures as the store should see them: this purse's plus its base. */
static int64_t slice_spent_amount(rd_purse *p) { return p->base_spent_amount + ld(&p->amount_spent); }
static int64_t slice_spent_count(rd_purse *p) { return p->base_spent_count + ld(&p->count_spent); }
static uint64_t slice_capped(rd_purse *p)
{
    return p->base_capped + atomic_load_explicit(&p->capped, memory_order_relaxed);
}

/* Set x's amount field, unit and slice from plan. */
static void take_plan(rd_exposure *x, const rd_plan *plan)
{
    const rd_plan_exposure *e = &plan->exposure;
    x->unit = e->unit > 0 && isfinite(e->unit) ? e->unit : UNIT_DEFAULT;
    x->slice = e->slice > 0 && e->slice <= 1 ? e->slice : SLICE_DEFAULT;
    snprintf(x->field, sizeof x->field, "%s", e->amount_field);
    x->field_ok = parse_field(x->field, &x->root, x->path, sizeof x->path);
    memcpy(x->plan_sha, plan->sha256, sizeof x->plan_sha);
}

static bool stage_capped(const rd_stage *s) { return s->caps.has_amount || s->caps.has_count; }

int rd_exposure_new(const rd_plan *plan, const rd_exposure_env *env, int64_t now_ms, rd_exposure **out,
                    rd_err *err)
{
    (void)now_ms;
    rd_exposure *x = rd_calloc(1, sizeof *x);
    if (!x)
        return rd_err_set(err, RD_ENOMEM, "exposure: out of memory");
    take_plan(x, plan);
    for (size_t i = 0; i < plan->nstages; i++)
        if (plan->stages[i].caps.has_amount && !x->field_ok) {
            rd_free(x);
            return rd_err_set(err, RD_EINVAL,
                              "exposure: stage %s caps the amount but amount_field \"%s\" is not "
                              "context.<path> or features.<path>",
                              plan->stages[i].name, plan->exposure.amount_field);
        }
    snprintf(x->flag, sizeof x->flag, "%s", plan->route_flag);
    snprintf(x->cand, sizeof x->cand, "%s", plan->candidate);
    snprintf(x->cand_var, sizeof x->cand_var, "%s", plan->candidate_variant);
    snprintf(x->ctrl, sizeof x->ctrl, "%s", plan->control);
    snprintf(x->ctrl_var, sizeof x->ctrl_var, "%s", plan->control_variant);
    x->store = env ? env->store : NULL;
    snprintf(x->node, sizeof x->node, "%s", env && env->node && *env->node ? env->node : "local");
    unsigned char r[16];
    int rc = rd_random_bytes(r, sizeof r, err);
    if (rc) {
        rd_free(x);
        return rc;
    }
    for (size_t i = 0; i < sizeof r; i++)
        snprintf(x->boot + 2 * i, 3, "%02x", r[i]);
    atomic_init(&x->cur, NULL);
    *out = x;
    return RD_OK;
}

/* The caps of stage s in units (an amount cap that cannot be expressed allows nothing). */
static void caps_units(const rd_exposure *x, const rd_stage *s, int64_t *amount, int64_t *count)
{
    *amount = 0;
    if (s->caps.has_amount) {
        *amount = s->caps.max_amount_units > 0 ? s->caps.max_amount_units
                                               : rd_exposure_cap_units(s->caps.max_amount, x->unit);
        if (*amount < 0)
            *amount = 0;
    }
    *count = s->caps.has_count && s->caps.max_count > 0 ? s->caps.max_count : 0;
}

/* Memory ledger: the purse holds the whole cap, less what earlier purses of the instance kept. */
static void mem_fill(rd_exposure *x, rd_purse *p)
{
    if (!p || x->store)
        return;
    int64_t ga =
        p->has_amount ? p->cap_amount - p->base_reserved_amount - (p->amount_held - p->amount_returned) : 0;
    int64_t gc =
        p->has_count ? p->cap_count - p->base_reserved_count - (p->count_held - p->count_returned) : 0;
    if (ga > 0) {
        atomic_fetch_add_explicit(&p->amount_left, ga, memory_order_acq_rel);
        p->amount_held += ga;
    }
    if (gc > 0) {
        atomic_fetch_add_explicit(&p->count_left, gc, memory_order_acq_rel);
        p->count_held += gc;
    }
}

/* Take what p holds unspent into its pending return (x->cur no longer points to it). */
static void retire(rd_exposure *x, rd_purse *p)
{
    if (!p)
        return;
    p->pend_amount += atomic_exchange_explicit(&p->amount_left, 0, memory_order_acq_rel);
    p->pend_count += atomic_exchange_explicit(&p->count_left, 0, memory_order_acq_rel);
    p->pending = true;
    if (!p->retired) {
        p->retired = true;
        p->next = x->retired;
        x->retired = p;
    }
    if (!x->store) { /* the memory ledger takes it back at once */
        p->amount_returned += p->pend_amount;
        p->count_returned += p->pend_count;
        p->pend_amount = p->pend_count = 0;
        p->pending = false;
    }
}

/* The newest retired purse of the same stage instance as p, or NULL. */
static rd_purse *earlier(rd_exposure *x, const rd_purse *p)
{
    for (rd_purse *r = x->retired; r; r = r->next)
        if (r != p && r->stage_started_ms == p->stage_started_ms && !strcmp(r->stage, p->stage))
            return r;
    return NULL;
}

/* Carry the slice's figures over from the instance's earlier purse (see the header comment). */
static void inherit(rd_purse *p, const rd_purse *old)
{
    int64_t sa = old->base_spent_amount + atomic_load_explicit(&old->amount_spent, memory_order_relaxed);
    int64_t sc = old->base_spent_count + atomic_load_explicit(&old->count_spent, memory_order_relaxed);
    p->base_spent_amount = sa > old->rep_amount ? sa : old->rep_amount;
    p->base_spent_count = sc > old->rep_count ? sc : old->rep_count;
    p->base_capped = old->base_capped + atomic_load_explicit(&old->capped, memory_order_relaxed);
    if (old->rep_capped > p->base_capped)
        p->base_capped = old->rep_capped;
    p->rep_amount = p->base_spent_amount;
    p->rep_count = p->base_spent_count;
    p->rep_capped = p->base_capped;
    p->in_store = old->in_store;
    p->base_reserved_amount = old->base_reserved_amount + old->amount_held - old->amount_returned;
    p->base_reserved_count = old->base_reserved_count + old->count_held - old->count_returned;
}

static rd_purse *purse_new(const rd_exposure *x, const rd_stage *s, int64_t started_ms)
{
    rd_purse *p = rd_calloc(1, sizeof *p);
    if (!p)
        return NULL;
    snprintf(p->stage, sizeof p->stage, "%s", s->name);
    p->stage_started_ms = started_ms;
    p->has_amount = s->caps.has_amount;
    p->has_count = s->caps.has_count;
    p->unit = x->unit;
    p->root = x->root;
    memcpy(p->path, x->path, sizeof p->path);
    memcpy(p->field, x->field, sizeof p->field);
    caps_units(x, s, &p->cap_amount, &p->cap_count);
    atomic_init(&p->amount_left, 0);
    atomic_init(&p->count_left, 0);
    atomic_init(&p->amount_spent, 0);
    atomic_init(&p->count_spent, 0);
    atomic_init(&p->capped, 0);
    atomic_init(&p->closed, 0);
    atomic_init(&p->need_amount, 0);
    atomic_init(&p->need_count, 0);
    atomic_init(&p->ran_out, false);
    return p;
}

/* Whether p serves stage s of the instance started_ms as it stands (caps aside). */
static bool same_key(const rd_exposure *x, const rd_purse *p, const rd_stage *s, int64_t started_ms)
{
    return p->stage_started_ms == started_ms && !strcmp(p->stage, s->name) &&
           p->has_amount == s->caps.has_amount && p->has_count == s->caps.has_count && p->unit == x->unit &&
           !strcmp(p->field, x->field);
}

void rd_exposure_follow(rd_exposure *x, const rd_plan *plan, const rd_rollout_row *row)
{
    if (!x || !plan)
        return;
    take_plan(x, plan);
    rd_purse *old = atomic_load_explicit(&x->cur, memory_order_relaxed);
    const rd_stage *s = NULL;
    if (row &&
        (row->state == RD_ROLLOUT_RUNNING || row->state == RD_ROLLOUT_HOLDING ||
         row->state == RD_ROLLOUT_PAUSED) &&
        row->stage >= 0 && (size_t)row->stage < plan->nstages &&
        (!row->flag[0] || !strcmp(row->flag, x->flag)))
        s = &plan->stages[row->stage];
    if (s && (!stage_capped(s) || (s->caps.has_amount && !x->field_ok)))
        s = NULL;
    if (!s) {
        atomic_store_explicit(&x->cur, NULL, memory_order_release);
        retire(x, old);
        return;
    }
    if (old && same_key(x, old, s, row->stage_started_ms)) {
        int64_t ca, cc;
        caps_units(x, s, &ca, &cc);
        if ((!old->has_amount || ca >= old->cap_amount) && (!old->has_count || cc >= old->cap_count)) {
            old->cap_amount = ca; /* raised (or unchanged): the next reservation uses it */
            old->cap_count = cc;
            mem_fill(x, old);
            return;
        }
    }
    rd_purse *p = purse_new(x, s, row->stage_started_ms);
    if (!p) /* no memory: the old purse stays in force, which a cap lowered by a plan edit tolerates */
        return;
    /* Never through NULL: a scoring thread that found no purse would approve uncharged. The new
       purse is empty until filled below (memory) or by the next sync (store). */
    atomic_store_explicit(&x->cur, p, memory_order_release);
    retire(x, old);
    const rd_purse *e = earlier(x, p);
    if (e)
        inherit(p, e);
    mem_fill(x, p);
}

static bool retryable(int rc)
{
    return rc == RD_ESTORE || rc == RD_EIO || rc == RD_ETIMEOUT || rc == RD_ENOMEM;
}

static int report(rd_exposure *x, rd_purse *p, int64_t now_ms, rd_err *err)
{
    int64_t sa = slice_spent_amount(p), sc = slice_spent_count(p);
    uint64_t cp = slice_capped(p);
    if (!p->in_store || (sa <= p->rep_amount && sc <= p->rep_count && cp <= p->rep_capped))
        return RD_OK;
    sa = sa > p->rep_amount ? sa : p->rep_amount;
    sc = sc > p->rep_count ? sc : p->rep_count;
    cp = cp > p->rep_capped ? cp : p->rep_capped;
    int rc = rd_store_exposure_report(x->store, x->flag, p->stage, p->stage_started_ms, x->node, x->boot, sa,
                                      sc, cp, now_ms, err);
    if (!rc) {
        p->rep_amount = sa;
        p->rep_count = sc;
        p->rep_capped = cp;
    }
    return rc;
}

/* Give back one retired purse's pending units, closing its slice. Never more than the slice's
 * reserved − returned − reported spent allows (a refund after a report keeps its units spent). */
static int give_back(rd_exposure *x, rd_purse *p, int64_t now_ms, rd_err *err)
{
    p->pend_amount += atomic_exchange_explicit(&p->amount_left, 0, memory_order_acq_rel); /* late refunds */
    p->pend_count += atomic_exchange_explicit(&p->count_left, 0, memory_order_acq_rel);
    if (!p->in_store) {
        p->pending = false;
        return RD_OK;
    }
    int rc = report(x, p, now_ms, err);
    if (rc && retryable(rc))
        return rc;
    int64_t ma = p->amount_held - p->amount_returned - (p->rep_amount - p->base_spent_amount);
    int64_t mc = p->count_held - p->count_returned - (p->rep_count - p->base_spent_count);
    int64_t a = p->pend_amount < ma ? p->pend_amount : (ma > 0 ? ma : 0);
    int64_t c = p->pend_count < mc ? p->pend_count : (mc > 0 ? mc : 0);
    rc = rd_store_exposure_return(x->store, x->flag, p->stage, p->stage_started_ms, x->node, x->boot, a, c,
                                  true, now_ms, err);
    if (rc && retryable(rc))
        return rc;
    if (!rc) {
        p->amount_returned += a;
        p->count_returned += c;
    }
    p->pend_amount = p->pend_count = 0; /* given back, or refused for good: it stays held (the safe side) */
    p->pending = false;
    return rc;
}

static int returns(rd_exposure *x, int64_t now_ms, bool force, rd_err *err)
{
    if (!force && now_ms < x->ret_next_ms)
        return RD_OK;
    int first = RD_OK;
    for (rd_purse *p = x->retired; p; p = p->next) {
        if (!p->pending)
            continue;
        int rc = give_back(x, p, now_ms, err);
        if (rc && retryable(rc)) {
            x->ret_backoff_ms = x->ret_backoff_ms ? x->ret_backoff_ms * 2 : RETRY_MS;
            if (x->ret_backoff_ms > BACKOFF_MAX_MS)
                x->ret_backoff_ms = BACKOFF_MAX_MS;
            x->ret_next_ms = now_ms + x->ret_backoff_ms;
            return rc;
        }
        if (rc && !first)
            first = rc;
    }
    x->ret_backoff_ms = 0;
    return first;
}

static rd_exposure_stage_row stage_row(const rd_exposure *x, const rd_purse *p)
{
    rd_exposure_stage_row r;
    memset(&r, 0, sizeof r);
    snprintf(r.flag, sizeof r.flag, "%s", x->flag);
    memcpy(r.stage, p->stage, sizeof r.stage);
    r.stage_started_ms = p->stage_started_ms;
    memcpy(r.plan_sha, x->plan_sha, sizeof r.plan_sha);
    memcpy(r.field, p->field, sizeof r.field);
    r.unit = p->unit;
    r.has_amount = p->has_amount;
    r.has_count = p->has_count;
    r.cap_amount = p->cap_amount;
    r.cap_count = p->cap_count;
    return r;
}

static int64_t slice_of(int64_t cap, double share)
{
    double u = ceil((double)cap * share);
    return u < 1 ? 1 : (int64_t)u;
}

/* What the purse should ask for: up to a slice (or the refused need) when below half a slice. */
static int64_t want_of(bool has, int64_t cap, double share, int64_t left, int64_t need)
{
    if (!has)
        return 0;
    int64_t su = slice_of(cap, share);
    if (left * 2 >= su && need <= left)
        return 0;
    int64_t w = (su > need ? su : need) - left;
    return w > 0 ? w : 0;
}

static int refill(rd_exposure *x, rd_purse *p, int64_t now_ms, rd_err *err)
{
    if (now_ms < p->next_reserve_ms)
        return RD_OK;
    int64_t la = ld(&p->amount_left), lc = ld(&p->count_left);
    int64_t na = atomic_exchange_explicit(&p->need_amount, 0, memory_order_relaxed);
    int64_t nc = atomic_exchange_explicit(&p->need_count, 0, memory_order_relaxed);
    int64_t wa = want_of(p->has_amount, p->cap_amount, x->slice, la, na);
    int64_t wc = want_of(p->has_count, p->cap_count, x->slice, lc, nc);
    if (!wa && !wc)
        return RD_OK;
    rd_exposure_stage_row r = stage_row(x, p);
    int64_t ga = 0, gc = 0;
    int rc = rd_store_exposure_reserve(x->store, &r, x->node, x->boot, wa, wc, na > la || nc > lc, now_ms,
                                       &ga, &gc, err);
    if (rc) {
        fetch_max(&p->need_amount, na);
        fetch_max(&p->need_count, nc);
        p->next_reserve_ms = now_ms + RETRY_MS;
        return rc;
    }
    p->in_store = true;
    if (ga > 0) { /* after the commit, never before */
        atomic_fetch_add_explicit(&p->amount_left, ga, memory_order_acq_rel);
        p->amount_held += ga;
    }
    if (gc > 0) {
        atomic_fetch_add_explicit(&p->count_left, gc, memory_order_acq_rel);
        p->count_held += gc;
    }
    if ((wa && !ga) || (wc && !gc)) {
        fetch_max(&p->need_amount, na);
        fetch_max(&p->need_count, nc);
        p->next_reserve_ms = now_ms + RETRY_MS;
    }
    return RD_OK;
}

typedef struct tot_find {
    rd_exposure *x;
    const rd_purse *p;
} tot_find;

static int tot_one(void *ud, const rd_exposure_stage_row *st, const rd_exposure_totals *t)
{
    tot_find *f = ud;
    if (st->stage_started_ms == f->p->stage_started_ms && !strcmp(st->stage, f->p->stage)) {
        f->x->tot_row = *st;
        f->x->tot = *t;
        f->x->have_tot = true;
    }
    return 0;
}

static int totals(rd_exposure *x, rd_purse *p, int64_t now_ms, rd_err *err)
{
    if (now_ms < x->tot_next_ms)
        return RD_OK;
    x->tot_next_ms = now_ms + TOTALS_EVERY_MS;
    x->have_tot = false;
    tot_find f = {x, p};
    return rd_store_exposure_list(x->store, x->flag, tot_one, &f, err);
}

int rd_exposure_sync(rd_exposure *x, int64_t now_ms, rd_err *err)
{
    if (!x)
        return RD_OK;
    rd_purse *p = atomic_load_explicit(&x->cur, memory_order_relaxed);
    if (!x->store) {
        mem_fill(x, p);
        return RD_OK;
    }
    rd_err e1;
    rd_err_clear(&e1);
    int first = RD_OK, rc;
    if (!x->orphans_done) {
        rd_err e = {0};
        rc = rd_store_exposure_orphans(x->store, x->node, x->boot, now_ms, &e);
        if (!rc)
            x->orphans_done = true;
        else {
            first = rc;
            e1 = e;
        }
    }
    {
        rd_err e = {0};
        if ((rc = returns(x, now_ms, false, &e)) && !first) {
            first = rc;
            e1 = e;
        }
    }
    if (p) {
        rd_err e = {0};
        if ((rc = refill(x, p, now_ms, &e)) && !first) {
            first = rc;
            e1 = e;
        }
        if (now_ms >= x->rep_next_ms) {
            x->rep_next_ms = now_ms + REPORT_EVERY_MS;
            if ((rc = report(x, p, now_ms, &e)) && !first) {
                first = rc;
                e1 = e;
            }
        }
        if ((rc = totals(x, p, now_ms, &e)) && !first) {
            first = rc;
            e1 = e;
        }
    }
    if (first && err)
        *err = e1;
    return first;
}

void rd_exposure_close(rd_exposure *x, int64_t now_ms)
{
    if (!x)
        return;
    rd_purse *p = atomic_exchange_explicit(&x->cur, NULL, memory_order_acq_rel);
    retire(x, p);
    if (x->store)
        (void)returns(x, now_ms, true, NULL);
}

void rd_exposure_free(rd_exposure *x)
{
    if (!x)
        return;
    rd_purse *p = atomic_load_explicit(&x->cur, memory_order_relaxed);
    bool listed = false;
    for (rd_purse *r = x->retired, *n; r; r = n) {
        n = r->next;
        listed |= r == p;
        rd_free(r);
    }
    if (!listed)
        rd_free(p);
    rd_free(x);
}

/* The store's figures of p's stage instance, when the last read found them. */
static const rd_exposure_totals *tot_of(const rd_exposure *x, const rd_purse *p)
{
    return x->have_tot && x->tot_row.stage_started_ms == p->stage_started_ms &&
                   !strcmp(x->tot_row.stage, p->stage)
               ? &x->tot
               : NULL;
}

bool rd_exposure_reached(rd_exposure *x, char *detail, size_t cap)
{
    rd_purse *p = x ? atomic_load_explicit(&x->cur, memory_order_relaxed) : NULL;
    if (!p)
        return false;
    const rd_exposure_totals *t = tot_of(x, p);
    bool reached = x->store ? t && x->tot_row.exhausted_ms > 0 : atomic_load(&p->ran_out);
    if (!reached || !detail || !cap)
        return reached;
    int64_t res_a = t ? x->tot_row.reserved_amount : p->amount_held - p->amount_returned;
    int64_t res_c = t ? x->tot_row.reserved_count : p->count_held - p->count_returned;
    int64_t used_a = t ? t->spent_amount : slice_spent_amount(p);
    int64_t used_c = t ? t->spent_count : slice_spent_count(p);
    uint64_t capped = t && t->capped > slice_capped(p) ? t->capped : slice_capped(p);
    char a[48], b[48], c[48];
    if (p->has_amount)
        snprintf(detail, cap,
                 "exposure cap reached in %s: %s of %s %s reserved, %s approved, %" PRIu64
                 " would-be approvals answered by the control; the stage waits for its gates",
                 p->stage, money(a, sizeof a, res_a, p->unit), money(b, sizeof b, p->cap_amount, p->unit),
                 p->field, money(c, sizeof c, used_a, p->unit), capped);
    else
        snprintf(detail, cap,
                 "exposure cap reached in %s: %" PRId64 " of %" PRId64 " approvals reserved, %" PRId64
                 " approved, %" PRIu64
                 " would-be approvals answered by the control; the stage waits for its gates",
                 p->stage, res_c, p->cap_count, used_c, capped);
    return true;
}

static void put_money(rd_buf *b, const char *key, bool has, int64_t units, double unit)
{
    char n[RD_NUM_BUF];
    if (has) {
        rd_num_format((double)units * unit, n);
        rd_buf_printf(b, "\"%s\":%s", key, n);
    } else {
        rd_buf_printf(b, "\"%s\":null", key);
    }
}

static void put_count(rd_buf *b, const char *key, bool has, int64_t n)
{
    if (has)
        rd_buf_printf(b, "\"%s\":%" PRId64, key, n);
    else
        rd_buf_printf(b, "\"%s\":null", key);
}

void rd_exposure_status_json(rd_exposure *x, rd_buf *b)
{
    rd_purse *p = x ? atomic_load_explicit(&x->cur, memory_order_relaxed) : NULL;
    if (!p) {
        rd_buf_puts(b, "null");
        return;
    }
    const rd_exposure_totals *t = tot_of(x, p);
    bool ha = p->has_amount, hc = p->has_count, mem = !x->store;
    char n[RD_NUM_BUF];
    rd_buf_puts(b, "{\"field\":");
    rd_json_write_string(b, p->field, strlen(p->field));
    rd_num_format(p->unit, n);
    rd_buf_printf(b, ",\"unit\":%s,\"stage\":", n);
    rd_json_write_string(b, p->stage, strlen(p->stage));
    rd_buf_printf(b, ",\"stage_started_ms\":%" PRId64 ",", p->stage_started_ms);
    put_money(b, "cap_amount", ha, p->cap_amount, p->unit);
    rd_buf_putc(b, ',');
    put_count(b, "cap_count", hc, p->cap_count);
    rd_buf_putc(b, ',');
    if (mem || t) {
        put_money(b, "used_amount", ha, mem ? slice_spent_amount(p) : t->spent_amount, p->unit);
        rd_buf_putc(b, ',');
        put_count(b, "used_count", hc, mem ? slice_spent_count(p) : t->spent_count);
        rd_buf_putc(b, ',');
        put_money(b, "reserved_amount", ha,
                  mem ? p->base_reserved_amount + p->amount_held - p->amount_returned
                      : x->tot_row.reserved_amount,
                  p->unit);
        rd_buf_putc(b, ',');
        put_count(b, "reserved_count", hc,
                  mem ? p->base_reserved_count + p->count_held - p->count_returned
                      : x->tot_row.reserved_count);
        rd_buf_putc(b, ',');
        put_money(b, "held_amount", ha, mem ? ld(&p->amount_left) : t->held_amount, p->unit);
        rd_buf_putc(b, ',');
        put_money(b, "lost_amount", ha, mem ? 0 : t->lost_amount, p->unit);
        rd_buf_printf(b, ",\"capped\":%" PRIu64 ",\"reached_ms\":%" PRId64, mem ? slice_capped(p) : t->capped,
                      mem ? 0 : x->tot_row.exhausted_ms);
    } else { /* not read from the store yet */
        rd_buf_puts(
            b, "\"used_amount\":null,\"used_count\":null,\"reserved_amount\":null,\"reserved_count\":null,"
               "\"held_amount\":null,\"lost_amount\":null,\"capped\":null,\"reached_ms\":null");
    }
    rd_buf_puts(b, ",\"node\":{\"name\":");
    rd_json_write_string(b, x->node, strlen(x->node));
    rd_buf_putc(b, ',');
    put_money(b, "left_amount", ha, ld(&p->amount_left), p->unit);
    rd_buf_putc(b, ',');
    put_count(b, "left_count", hc, ld(&p->count_left));
    rd_buf_putc(b, ',');
    put_money(b, "spent_amount", ha, slice_spent_amount(p), p->unit);
    rd_buf_putc(b, ',');
    put_count(b, "spent_count", hc, slice_spent_count(p));
    rd_buf_printf(b, ",\"capped\":%" PRIu64 ",\"closed\":%" PRIu64 "}}", slice_capped(p),
                  atomic_load_explicit(&p->closed, memory_order_relaxed));
}

/* ------------------------------------------------------------------ for the unit tests */

void rd__exposure_ledger(rd_exposure *x, rd_purse *p, rd__purse_ledger *out)
{
    memset(out, 0, sizeof *out);
    if (!p)
        p = atomic_load_explicit(&x->cur, memory_order_relaxed);
    if (!p)
        return;
    out->amount_left = ld(&p->amount_left);
    out->count_left = ld(&p->count_left);
    out->amount_spent = ld(&p->amount_spent);
    out->count_spent = ld(&p->count_spent);
    out->amount_held = p->amount_held;
    out->count_held = p->count_held;
    out->amount_returned = p->amount_returned;
    out->count_returned = p->count_returned;
    out->capped = atomic_load(&p->capped);
    out->closed = atomic_load(&p->closed);
    out->purse = p;
}

void rd__exposure_grant(rd_exposure *x, int64_t amount, int64_t count)
{
    rd_purse *p = atomic_load_explicit(&x->cur, memory_order_relaxed);
    if (!p)
        return;
    atomic_fetch_add_explicit(&p->amount_left, amount, memory_order_acq_rel);
    atomic_fetch_add_explicit(&p->count_left, count, memory_order_acq_rel);
    p->amount_held += amount;
    p->count_held += count;
}

int64_t rd__exposure_left(rd_exposure *x, int64_t *count_left)
{
    rd_purse *p = atomic_load_explicit(&x->cur, memory_order_acquire);
    *count_left = p ? ld(&p->count_left) : 0;
    return p ? ld(&p->amount_left) : 0;
}

const char *rd__exposure_boot(const rd_exposure *x) { return x->boot; }
