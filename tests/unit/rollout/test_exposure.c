/* Exposure caps (src/lib/rollout/exposure.c): amounts to units; charge, peek and refund on one
 * purse; many threads charging while a ledger grants, with the books exact and what is left
 * never below zero; a purse retired under load; two nodes sharing a cap through one store; a
 * restart leaving the dead boot's slice lost; follow re-opening on a lowered cap. The figures
 * expected are worked out by hand from the caps and amounts, not read back from the code. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <math.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "riskd/exposure.h"
#include "riskd/json.h"
#include "riskd/rollout.h"
#include "rollout/rollout_int.h"

#define FLAG "credit-model-route"

/* ------------------------------------------------------------------ fixtures */

/* A two-stage plan built by hand: "5%" caps the amount (max_amount, in currency) and the count
 * (max_count; 0: no count cap), "100%" has no cap. */
static rd_plan *plan_new(double max_amount, int64_t max_count, const char *field)
{
    rd_plan *p = calloc(1, sizeof *p);
    strcpy(p->name, "capped");
    strcpy(p->route_flag, FLAG);
    strcpy(p->control, "credit_xgb_v1.0");
    strcpy(p->candidate, "credit_xgb_v1.1");
    strcpy(p->control_variant, "champion");
    strcpy(p->candidate_variant, "challenger");
    p->nstages = 2;
    strcpy(p->stages[0].name, "5%");
    p->stages[0].candidate = 5000;
    strcpy(p->stages[1].name, "100%");
    p->stages[1].candidate = 100000;
    p->exposure.on = true;
    snprintf(p->exposure.amount_field, sizeof p->exposure.amount_field, "%s", field);
    p->exposure.unit = 0.01;
    p->exposure.slice = 0.05;
    rd_stage_caps *c = &p->stages[0].caps;
    if (max_amount > 0) {
        c->has_amount = true;
        c->max_amount = max_amount;
        c->max_amount_units = rd_exposure_cap_units(max_amount, 0.01);
    }
    if (max_count > 0) {
        c->has_count = true;
        c->max_count = max_count;
    }
    memset(p->sha256, 'a', 64);
    return p;
}

static rd_rollout_row row_at(int stage, int64_t started_ms, rd_rollout_state state)
{
    rd_rollout_row r;
    memset(&r, 0, sizeof r);
    strcpy(r.flag, FLAG);
    r.stage = stage;
    r.state = state;
    r.stage_started_ms = started_ms;
    return r;
}

static rd_exposure *exposure_new(const rd_plan *p, rd_store *s, const char *node)
{
    rd_exposure_env env = {s, node};
    rd_exposure *x = NULL;
    rd_err err;
    int rc = rd_exposure_new(p, &env, 1000, &x, &err);
    if (rc)
        print_error("%s\n", err.msg);
    assert_int_equal(rc, RD_OK);
    return x;
}

/* features {"Amount": <json>} parsed into arena. */
static rd_value features(rd_arena *a, const char *json)
{
    rd_value v;
    rd_err err;
    assert_int_equal(rd_json_parse(json, strlen(json), NULL, a, &v, &err), RD_OK);
    return v;
}

/* ------------------------------------------------------------------ units */

static void units(void **state)
{
    (void)state;
    /* caps: an exact decimal stays exact, anything else rounds down */
    assert_int_equal(rd_exposure_cap_units(150000, 0.01), 15000000);
    assert_int_equal(rd_exposure_cap_units(0.29, 0.01), 29);     /* 0.29/0.01 = 28.999999999999996 */
    assert_int_equal(rd_exposure_cap_units(10.005, 0.01), 1000); /* not a whole number of cents */
    assert_int_equal(rd_exposure_cap_units(2000000, 1), 2000000);
    assert_int_equal(rd_exposure_cap_units(0, 0.01), -1);
    assert_int_equal(rd_exposure_cap_units(1e300, 0.01), -1);
    /* amounts: rounded up, and never worth less than the amount */
    assert_int_equal(rd_exposure_amount_units(40, 0.01), 4000);
    assert_int_equal(rd_exposure_amount_units(0.3, 0.1), 3);   /* 0.3/0.1 = 2.9999999999999996 */
    assert_int_equal(rd_exposure_amount_units(0.07, 0.01), 7); /* 0.07/0.01 = 7.000000000000001 */
    assert_int_equal(rd_exposure_amount_units(1200.001, 0.01), 120001);
    assert_int_equal(rd_exposure_amount_units(0, 0.01), 0);
    assert_int_equal(rd_exposure_amount_units(-1, 0.01), -1);
    assert_int_equal(rd_exposure_amount_units((double)NAN, 0.01), -1);
    assert_int_equal(rd_exposure_amount_units((double)INFINITY, 0.01), -1);
    /* every units x unit covers its amount, over a sweep of cents and odd fractions */
    for (int i = 0; i < 100000; i++) {
        double v = i * 0.01 + (i % 7) * 1e-7;
        int64_t u = rd_exposure_amount_units(v, 0.01);
        assert_true((double)u * 0.01 >= v);
        assert_true((double)(u - 1) * 0.01 < v || u == 0);
    }
    for (int c = 0; c < 1000000; c++) /* whole cents cost exactly their number (ceil alone: 3.3% one more) */
        assert_int_equal(rd_exposure_amount_units(c / 100.0, 0.01), c);
    assert_string_equal(rd_exposure_state_name(RD_EXPOSURE_CAPPED), "capped");
    assert_string_equal(rd_exposure_state_name(RD_EXPOSURE_CLOSED), "closed");
}

#define PLAN_FMT                                                                                             \
    "{\"name\":\"p\",\"route_flag\":\"" FLAG "\","                                                           \
    "\"control\":{\"bundle\":\"a\",\"variant\":\"champion\"},"                                               \
    "\"candidate\":{\"bundle\":\"b\",\"variant\":\"challenger\"},%s"                                         \
    "\"stages\":[{\"name\":\"5%%\",\"candidate_weight\":5000,\"hold\":\"1s\"%s},"                            \
    "{\"name\":\"100%%\",\"candidate_weight\":100000,\"hold\":\"1s\"}]}"

/* The plan format takes the exposure keys (test_plan.c has every refusal): a plan without them
 * has no exposure and no caps; with them, the caps reach rd_exposure in units. */
static void parser_accepts(void **state)
{
    (void)state;
    char text[1024];
    rd_plan *p = NULL;
    rd_err err;
    snprintf(text, sizeof text, PLAN_FMT, "", "");
    assert_int_equal(rd_plan_parse(text, strlen(text), &p, &err), RD_OK);
    assert_false(p->exposure.on);
    assert_true(p->exposure.unit == 0 && p->exposure.amount_field[0] == '\0');
    assert_false(p->stages[0].caps.has_amount || p->stages[0].caps.has_count);
    assert_int_equal(p->stages[0].caps.max_amount_units, 0);
    rd_plan_free(p);
    snprintf(text, sizeof text, PLAN_FMT, "\"exposure\":{\"amount_field\":\"features.Amount\"},",
             ",\"max_approved_amount\":150000,\"max_approved_count\":5");
    int rc = rd_plan_parse(text, strlen(text), &p, &err);
    if (rc)
        fail_msg("%s", err.msg);
    assert_true(p->exposure.on);
    assert_string_equal(p->exposure.amount_field, "features.Amount");
    assert_true(p->exposure.unit == 0.01 && p->exposure.slice == 0.05);
    const rd_stage_caps *c = &p->stages[0].caps;
    assert_true(c->has_amount && c->has_count);
    assert_int_equal(c->max_amount_units, 15000000); /* 150000 / 0.01 */
    assert_int_equal(c->max_count, 5);
    assert_false(p->stages[1].caps.has_amount || p->stages[1].caps.has_count);
    /* what the plan parsed is what a ledger takes */
    rd_exposure *x = exposure_new(p, NULL, "n1");
    rd_exposure_free(x);
    rd_plan_free(p);
    /* a count cap alone needs no exposure block */
    snprintf(text, sizeof text, PLAN_FMT, "", ",\"max_approved_count\":5");
    assert_int_equal(rd_plan_parse(text, strlen(text), &p, &err), RD_OK);
    assert_true(p->exposure.on && p->stages[0].caps.has_count && !p->stages[0].caps.has_amount);
    rd_plan_free(p);
    /* an amount cap without the field is still refused */
    snprintf(text, sizeof text, PLAN_FMT, "", ",\"max_approved_amount\":5");
    assert_int_equal(rd_plan_parse(text, strlen(text), &p, &err), RD_EINVAL);
    assert_non_null(strstr(err.msg, "exposure.amount_field"));
}

/* ------------------------------------------------------------------ one purse, in memory */

static void charge_peek_refund(void **state)
{
    (void)state;
    rd_plan *p = plan_new(100, 3, "features.Amount"); /* 10000 units, 3 approvals */
    rd_exposure *x = exposure_new(p, NULL, NULL);
    rd_arena a;
    rd_arena_init(&a, 1 << 20);
    rd_exposure_ticket t;
    rd_value f = features(&a, "{\"Amount\":40}");

    assert_true(rd_exposure_covers(x, FLAG));
    assert_false(rd_exposure_covers(x, "other"));
    const char *var;
    assert_string_equal(rd_exposure_candidate(x, &var), "credit_xgb_v1.1");
    assert_string_equal(var, "challenger");
    assert_string_equal(rd_exposure_control(x, &var), "credit_xgb_v1.0");
    assert_string_equal(var, "champion");

    rd_exposure_charge(x, NULL, &f, &t); /* nothing followed yet: no cap in force */
    assert_int_equal(t.state, RD_EXPOSURE_NONE);
    rd_rollout_row r = row_at(0, 5000, RD_ROLLOUT_RUNNING);
    rd_exposure_follow(x, p, &r);

    rd_exposure_charge(x, NULL, &f, &t);
    assert_int_equal(t.state, RD_EXPOSURE_CHARGED);
    assert_int_equal(t.amount_units, 4000);
    assert_int_equal(t.count_units, 1);
    assert_true(t.amount == 40);
    assert_string_equal(t.stage, "5%");
    assert_int_equal(t.stage_started_ms, 5000);
    assert_non_null(t.purse);

    f = features(&a, "{\"Amount\":\"30.5\"}"); /* an exact numeric string */
    rd_exposure_charge(x, NULL, &f, &t);
    assert_int_equal(t.state, RD_EXPOSURE_CHARGED);
    assert_int_equal(t.amount_units, 3050);

    const char *bad[] = {
        "{\"Amount\":\"abc\"}", "{\"Amount\":\"12 \"}", "{\"Amount\":\"\"}", "{\"Amount\":-1}",
        "{\"Amount\":null}",    "{\"Amount\":true}",    "{\"amount\":5}",    "{}"};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        f = features(&a, bad[i]);
        rd_exposure_charge(x, NULL, &f, &t);
        assert_int_equal(t.state, RD_EXPOSURE_CAPPED);
        assert_null(t.purse);
        assert_string_equal(t.why, "amount missing, not a number or out of range");
        rd_exposure_peek(x, NULL, &f, &t);
        assert_int_equal(t.state, RD_EXPOSURE_CLOSED);
    }
    rd_exposure_charge(x, NULL, NULL, &t); /* no features at all */
    assert_int_equal(t.state, RD_EXPOSURE_CAPPED);

    /* 10000 - 4000 - 3050 = 2950 units left */
    f = features(&a, "{\"Amount\":29.51}");
    rd_exposure_peek(x, NULL, &f, &t);
    assert_int_equal(t.state, RD_EXPOSURE_CLOSED);
    rd_exposure_charge(x, NULL, &f, &t);
    assert_int_equal(t.state, RD_EXPOSURE_CAPPED);
    assert_int_equal(t.amount_units, 2951);
    assert_string_equal(t.why, "amount does not fit the 29.50 left on this node");
    f = features(&a, "{\"Amount\":\"29.50\"}");
    rd_exposure_peek(x, NULL, &f, &t);
    assert_int_equal(t.state, RD_EXPOSURE_OPEN);
    rd_exposure_charge(x, NULL, &f, &t);
    assert_int_equal(t.state, RD_EXPOSURE_CHARGED);
    rd_exposure_ticket last = t;

    /* three approvals spent: the count is what is short now, even for 0 */
    f = features(&a, "{\"Amount\":0}");
    rd_exposure_peek(x, NULL, &f, &t);
    assert_int_equal(t.state, RD_EXPOSURE_CLOSED);
    rd_exposure_charge(x, NULL, &f, &t);
    assert_int_equal(t.state, RD_EXPOSURE_CAPPED);
    assert_string_equal(t.why, "no approval left on this node");

    rd__purse_ledger l;
    rd__exposure_ledger(x, NULL, &l);
    assert_int_equal(l.amount_left, 0);
    assert_int_equal(l.count_left, 0);
    assert_int_equal(l.amount_spent, 10000);
    assert_int_equal(l.count_spent, 3);
    assert_int_equal(l.amount_held, 10000); /* memory: the whole cap at once */
    assert_int_equal(l.count_held, 3);
    assert_int_equal(l.capped, 11);
    assert_int_equal(l.closed, 10);

    char detail[300];
    assert_true(rd_exposure_reached(x, detail, sizeof detail));
    assert_string_equal(detail,
                        "exposure cap reached in 5%: 100.00 of 100.00 features.Amount reserved, 100.00 "
                        "approved, 11 would-be approvals answered by the control; the stage waits for "
                        "its gates");

    /* a refund goes back to the purse in force, once */
    rd_exposure_refund(x, &last);
    rd_exposure_refund(x, &last);
    rd__exposure_ledger(x, NULL, &l);
    assert_int_equal(l.amount_left, 2950);
    assert_int_equal(l.count_left, 1);
    assert_int_equal(l.amount_spent, 7050);

    rd_buf b;
    rd_buf_init(&b);
    rd_exposure_status_json(x, &b);
    rd_value st;
    rd_err err;
    assert_int_equal(rd_json_parse(rd_buf_cstr(&b), b.len, NULL, &a, &st, &err), RD_OK);
    assert_true(rd_value_get(&st, "cap_amount", 10)->u.n == 10000 * 0.01);
    assert_true(rd_value_get(&st, "used_amount", 11)->u.n == 7050 * 0.01);
    assert_true(rd_value_get(&st, "cap_count", 9)->u.n == 3);
    const rd_value *node = rd_value_get(&st, "node", 4);
    assert_true(rd_value_get(node, "left_amount", 11)->u.n == 2950 * 0.01);
    assert_true(rd_value_get(node, "closed", 6)->u.n == 10);

    /* the next stage has no cap; promoted: nothing in force */
    r = row_at(1, 9000, RD_ROLLOUT_RUNNING);
    rd_exposure_follow(x, p, &r);
    rd_exposure_charge(x, NULL, &f, &t);
    assert_int_equal(t.state, RD_EXPOSURE_NONE);
    rd_buf_reset(&b);
    rd_exposure_status_json(x, &b);
    assert_string_equal(rd_buf_cstr(&b), "null");
    assert_false(rd_exposure_reached(x, NULL, 0));

    rd_buf_deinit(&b);
    rd_arena_deinit(&a);
    rd_exposure_free(x);
    free(p);
}

/* The amount read from the context, down nested objects. */
static void context_path(void **state)
{
    (void)state;
    rd_plan *p = plan_new(1000, 0, "context.loan.amount");
    rd_exposure *x = exposure_new(p, NULL, "n1");
    rd_rollout_row r = row_at(0, 1, RD_ROLLOUT_HOLDING);
    rd_exposure_follow(x, p, &r);
    rd_arena a;
    rd_arena_init(&a, 1 << 16);
    rd_value ctx = features(&a, "{\"loan\":{\"amount\":\"1e2\"}}"), f = features(&a, "{\"Amount\":5}");
    rd_exposure_ticket t;
    rd_exposure_charge(x, &ctx, &f, &t);
    assert_int_equal(t.state, RD_EXPOSURE_CHARGED);
    assert_int_equal(t.amount_units, 10000);
    assert_int_equal(t.count_units, 0);
    rd_exposure_charge(x, &f, &ctx, &t); /* swapped: the context has no loan */
    assert_int_equal(t.state, RD_EXPOSURE_CAPPED);
    ctx = features(&a, "{\"loan\":5}");
    rd_exposure_charge(x, &ctx, NULL, &t);
    assert_int_equal(t.state, RD_EXPOSURE_CAPPED);
    r = row_at(0, 1, RD_ROLLOUT_ROLLED_BACK);
    rd_exposure_follow(x, p, &r);
    rd_exposure_charge(x, &ctx, NULL, &t);
    assert_int_equal(t.state, RD_EXPOSURE_NONE);
    rd_arena_deinit(&a);
    rd_exposure_free(x);

    /* an amount cap with no usable field is refused */
    strcpy(p->exposure.amount_field, "Amount");
    rd_exposure_env env = {NULL, NULL};
    rd_err err;
    assert_int_equal(rd_exposure_new(p, &env, 0, &x, &err), RD_EINVAL);
    strcpy(p->exposure.amount_field, "features.");
    assert_int_equal(rd_exposure_new(p, &env, 0, &x, &err), RD_EINVAL);
    free(p);
}

/* ------------------------------------------------------------------ threads */

#define NTHREADS 8
#define NCHARGES 20000
#define NGRANTS  2000
#define GRANT    100

typedef struct worker {
    rd_exposure *x;
    rd_purse *watch; /* count the charges made on this purse apart (NULL: none) */
    unsigned seed;
    atomic_bool *stop;
    int min; /* charges at least, then until *stop */
    int64_t charged, refunded, charged_watch, refunded_watch;
    int64_t ncharged, ncapped;
    bool negative;
} worker;

static void *charge_loop(void *arg)
{
    worker *w = arg;
    char text[64];
    rd_arena a;
    rd_arena_init(&a, 1 << 16);
    for (int i = 0; i < w->min || (w->stop && !atomic_load(w->stop)); i++) {
        rd_arena_reset(&a);
        int cents = (int)(rand_r(&w->seed) % 5000);
        snprintf(text, sizeof text, "{\"Amount\":%d.%02d}", cents / 100, cents % 100);
        rd_value f;
        rd_err err;
        if (rd_json_parse(text, strlen(text), NULL, &a, &f, &err))
            abort();
        rd_exposure_ticket t;
        rd_exposure_charge(w->x, NULL, &f, &t);
        if (t.state == RD_EXPOSURE_CHARGED) {
            w->ncharged++;
            bool watched = t.purse == w->watch;
            if (t.amount_units != cents)
                abort();
            w->charged += cents;
            w->charged_watch += watched ? cents : 0;
            if (rand_r(&w->seed) % 10 == 0) { /* the answer was refused after the charge */
                rd_exposure_refund(w->x, &t);
                w->refunded += cents;
                w->refunded_watch += watched ? cents : 0;
            }
        } else {
            w->ncapped++;
        }
        int64_t lc, la = rd__exposure_left(w->x, &lc);
        if (la < 0 || lc < 0)
            w->negative = true;
    }
    rd_arena_deinit(&a);
    return NULL;
}

typedef struct granter {
    rd_exposure *x;
    int64_t granted;
} granter;

static void *grant_loop(void *arg)
{
    granter *g = arg;
    for (int i = 0; i < NGRANTS; i++) {
        rd__exposure_grant(g->x, GRANT, 0);
        g->granted += GRANT;
        if (i % 16 == 0)
            sched_yield();
    }
    return NULL;
}

/* 8 threads charging random amounts (refunding one in ten) against one purse while a ledger
 * thread grants: charged − refunded + left = held exactly, and left was never seen below 0. */
static void threads_exact(void **state)
{
    (void)state;
    rd_plan *p = plan_new(10, 0, "features.Amount"); /* 1000 units to start with */
    rd_exposure *x = exposure_new(p, NULL, NULL);
    rd_rollout_row r = row_at(0, 1, RD_ROLLOUT_RUNNING);
    rd_exposure_follow(x, p, &r);
    pthread_t th[NTHREADS + 1];
    worker w[NTHREADS];
    granter g = {x, 0};
    for (int i = 0; i < NTHREADS; i++) {
        w[i] = (worker){.x = x, .seed = 1234u + (unsigned)i, .min = NCHARGES};
        assert_int_equal(pthread_create(&th[i], NULL, charge_loop, &w[i]), 0);
    }
    assert_int_equal(pthread_create(&th[NTHREADS], NULL, grant_loop, &g), 0);
    for (int i = 0; i <= NTHREADS; i++)
        pthread_join(th[i], NULL);
    int64_t charged = 0, refunded = 0, n = 0, capped = 0;
    for (int i = 0; i < NTHREADS; i++) {
        assert_false(w[i].negative);
        charged += w[i].charged;
        refunded += w[i].refunded;
        n += w[i].ncharged;
        capped += w[i].ncapped;
    }
    rd__purse_ledger l;
    rd__exposure_ledger(x, NULL, &l);
    assert_int_equal(g.granted, NGRANTS * GRANT);
    assert_int_equal(l.amount_held, 1000 + g.granted);
    assert_int_equal(charged - refunded + l.amount_left, l.amount_held);
    assert_int_equal(charged - refunded, l.amount_spent);
    assert_true(l.amount_left >= 0);
    assert_int_equal((int64_t)l.capped, capped);
    assert_true(n > 0 && capped > 0); /* both happened: the purse ran dry and was refilled */
    rd_exposure_free(x);
    free(p);
}

/* A purse retired (the stage changed) while 8 threads charge and refund: what was taken out
 * equals what it held less what was spent; later refunds to it are dropped, so what it spent
 * is never more than what was charged on it nor less than that less the refunds. */
static void retire_under_load(void **state)
{
    (void)state;
    rd_plan *p = plan_new(1e9, 0, "features.Amount");
    rd_exposure *x = exposure_new(p, NULL, NULL);
    rd_rollout_row r = row_at(0, 1, RD_ROLLOUT_RUNNING);
    rd_exposure_follow(x, p, &r);
    rd__purse_ledger old;
    rd__exposure_ledger(x, NULL, &old);
    atomic_bool stop = false;
    pthread_t th[NTHREADS];
    worker w[NTHREADS];
    for (int i = 0; i < NTHREADS; i++) {
        w[i] = (worker){.x = x, .watch = old.purse, .seed = 99u + (unsigned)i, .stop = &stop};
        assert_int_equal(pthread_create(&th[i], NULL, charge_loop, &w[i]), 0);
    }
    usleep(20000);
    r = row_at(0, 2, RD_ROLLOUT_RUNNING); /* a new instance of the stage (resume after rollback) */
    rd_exposure_follow(x, p, &r);
    usleep(20000);
    atomic_store(&stop, true);
    for (int i = 0; i < NTHREADS; i++)
        pthread_join(th[i], NULL);
    int64_t charged = 0, refunded = 0, all = 0, all_refunded = 0;
    for (int i = 0; i < NTHREADS; i++) {
        assert_false(w[i].negative);
        charged += w[i].charged_watch;
        refunded += w[i].refunded_watch;
        all += w[i].charged;
        all_refunded += w[i].refunded;
    }
    rd__purse_ledger o, n;
    rd__exposure_ledger(x, old.purse, &o);
    rd__exposure_ledger(x, NULL, &n);
    assert_ptr_not_equal(n.purse, old.purse);
    assert_int_equal(o.amount_held, 100000000000);
    /* the books of the old purse: spent + taken back + what late refunds put back = held */
    assert_int_equal(o.amount_spent + o.amount_returned + o.amount_left, o.amount_held);
    assert_true(o.amount_spent <= charged && o.amount_spent >= charged - refunded);
    assert_true(o.amount_left <= refunded); /* only a refund can put anything back after */
    assert_true(charged > 0 && all - charged > 0);
    assert_int_equal(n.amount_spent, (all - charged) - (all_refunded - refunded));
    assert_int_equal(n.amount_left + n.amount_spent, n.amount_held);
    rd_exposure_free(x);
    free(p);
}

/* ------------------------------------------------------------------ with a store */

typedef struct fixture {
    char url[512], dir[128];
    rd_store *s1, *s2, *s3; /* node a's, node b's, and an observer's */
} fixture;

static int open_handles(fixture *f)
{
    rd_err err;
    int rc = rd_store_open(f->url, NULL, &f->s1, &err);
    if (!rc)
        rc = rd_store_open(f->url, NULL, &f->s2, &err);
    if (!rc)
        rc = rd_store_open(f->url, NULL, &f->s3, &err);
    if (rc)
        print_error("%s\n", err.msg);
    assert_int_equal(rc, RD_OK);
    return 0;
}

static int setup_sqlite(void **state)
{
    fixture *f = calloc(1, sizeof *f);
    snprintf(f->dir, sizeof f->dir, "/tmp/riskd-purse-XXXXXX");
    assert_non_null(mkdtemp(f->dir));
    snprintf(f->url, sizeof f->url, "sqlite:%s", f->dir);
    *state = f;
    return open_handles(f);
}

static int setup_pg(void **state)
{
    const char *pgdir = getenv("RISKD_PG_DIR");
    if (!pgdir || !*pgdir)
        return 0; /* the test itself skips */
    static int n;
    fixture *f = calloc(1, sizeof *f);
    char cmd[600];
    snprintf(cmd, sizeof cmd, "scripts/pg-cluster.sh createdb '%s' purse_%d_%d", pgdir, (int)getpid(), ++n);
    FILE *p = popen(cmd, "r");
    assert_non_null(p);
    assert_non_null(fgets(f->url, sizeof f->url, p));
    assert_int_equal(pclose(p), 0);
    f->url[strcspn(f->url, "\n")] = '\0';
    snprintf(f->dir, sizeof f->dir, "/tmp/riskd-purse-XXXXXX");
    assert_non_null(mkdtemp(f->dir));
    *state = f;
    return open_handles(f);
}

static int teardown(void **state)
{
    fixture *f = *state;
    if (!f)
        return 0;
    rd_store_close(f->s1);
    rd_store_close(f->s2);
    rd_store_close(f->s3);
    char cmd[200];
    snprintf(cmd, sizeof cmd, "rm -rf %s", f->dir);
    assert_int_equal(system(cmd), 0);
    free(f);
    return 0;
}

typedef struct found {
    int n;
    rd_exposure_stage_row st;
    rd_exposure_totals t;
} found;

static int find_stage(void *ud, const rd_exposure_stage_row *st, const rd_exposure_totals *t)
{
    found *f = ud;
    if (!strcmp(st->stage, "5%")) {
        f->n++;
        f->st = *st;
        f->t = *t;
    }
    return 0;
}

static found stage_now(rd_store *s, int64_t started_ms)
{
    found f = {0};
    rd_err err;
    assert_int_equal(rd_store_exposure_list(s, FLAG, find_stage, &f, &err), RD_OK);
    assert_true(f.n >= 1);
    assert_int_equal(f.st.stage_started_ms, started_ms);
    return f;
}

static void sync_ok(rd_exposure *x, int64_t now)
{
    rd_err err;
    int rc = rd_exposure_sync(x, now, &err);
    if (rc)
        print_error("%s\n", err.msg);
    assert_int_equal(rc, RD_OK);
}

/* Two nodes (two handles) charging until the cap: the store never grants past it, what both
 * charged never passes it, and once both are closed the stage holds exactly what was spent. */
static void two_nodes(void **state)
{
    fixture *f = *state;
    if (!f)
        skip();
    rd_plan *p = plan_new(1000, 400, "features.Amount"); /* 100000 units, 400 approvals */
    rd_exposure *xa = exposure_new(p, f->s1, "a"), *xb = exposure_new(p, f->s2, "b");
    rd_rollout_row r = row_at(0, 7000, RD_ROLLOUT_RUNNING);
    rd_exposure_follow(xa, p, &r);
    rd_exposure_follow(xb, p, &r);
    rd_arena a;
    rd_arena_init(&a, 1 << 16);
    unsigned seed = 7;
    int64_t charged = 0, count = 0, capped = 0, now = 10000;
    rd_exposure_ticket t;
    rd_value v0 = features(&a, "{\"Amount\":1}");
    rd_exposure_charge(xa, NULL, &v0, &t);
    assert_int_equal(t.state, RD_EXPOSURE_CAPPED); /* nothing held before the first sync */
    capped++;
    for (int i = 0; i < 3000; i++, now += 50) {
        rd_exposure *x = i % 2 ? xb : xa;
        sync_ok(x, now);
        char text[64];
        int cents = 1 + (int)(rand_r(&seed) % 3000);
        snprintf(text, sizeof text, "{\"Amount\":%d.%02d}", cents / 100, cents % 100);
        rd_arena_reset(&a);
        rd_value v = features(&a, text);
        rd_exposure_charge(x, NULL, &v, &t);
        if (t.state == RD_EXPOSURE_CHARGED) {
            charged += cents;
            count++;
        } else {
            assert_int_equal(t.state, RD_EXPOSURE_CAPPED);
            capped++;
        }
        found s = stage_now(f->s3, 7000);
        assert_true(s.st.reserved_amount <= 100000);
        assert_true(s.st.reserved_count <= 400);
        assert_true(charged <= 100000 && count <= 400);
    }
    now += 2000;
    sync_ok(xa, now); /* report */
    sync_ok(xb, now);
    found s = stage_now(f->s3, 7000);
    assert_true(capped > 100); /* the cap was reached */
    assert_true(charged > 90000 || count > 380);
    assert_int_equal(s.t.spent_amount, charged);
    assert_int_equal(s.t.spent_count, count);
    assert_int_equal(s.t.capped, capped);
    assert_int_equal(s.t.reserved_amount, s.st.reserved_amount); /* Σ slices = the stage's */
    assert_int_equal(s.t.nodes, 2);
    assert_true(s.st.exhausted_ms > 0);
    char detail[300];
    assert_true(rd_exposure_reached(xa, detail, sizeof detail));
    assert_non_null(strstr(detail, "exposure cap reached in 5%: "));

    rd_buf b;
    rd_buf_init(&b);
    rd_exposure_status_json(xa, &b);
    rd_value st;
    rd_err err;
    assert_int_equal(rd_json_parse(rd_buf_cstr(&b), b.len, NULL, &a, &st, &err), RD_OK);
    assert_true(rd_value_get(&st, "used_amount", 11)->u.n == (double)charged * 0.01);
    assert_true(rd_value_get(&st, "reached_ms", 10)->u.n > 0);
    rd_buf_deinit(&b);

    /* shutdown: what both hold unspent goes back */
    rd_exposure_close(xa, now);
    rd_exposure_close(xb, now);
    s = stage_now(f->s3, 7000);
    assert_int_equal(s.st.reserved_amount, charged);
    assert_int_equal(s.st.reserved_count, count);
    assert_int_equal(s.t.held_amount, 0);
    assert_int_equal(s.t.nodes, 0);
    rd_arena_deinit(&a);
    rd_exposure_free(xa);
    rd_exposure_free(xb);
    free(p);
}

/* A charging thread pool on one node while the rollout thread syncs with the store: the node's
 * books are exact, and the store's stage reserved is what the node was granted. */
static void threads_store(void **state)
{
    fixture *f = *state;
    if (!f)
        skip();
    rd_plan *p = plan_new(20000, 0, "features.Amount"); /* 2,000,000 units, slices of 100000 */
    rd_exposure *x = exposure_new(p, f->s1, "a");
    rd_rollout_row r = row_at(0, 3000, RD_ROLLOUT_RUNNING);
    rd_exposure_follow(x, p, &r);
    atomic_bool stop = false;
    pthread_t th[4];
    worker w[4];
    for (int i = 0; i < 4; i++) {
        w[i] = (worker){.x = x, .seed = 5u + (unsigned)i, .stop = &stop};
        assert_int_equal(pthread_create(&th[i], NULL, charge_loop, &w[i]), 0);
    }
    int64_t now = 10000;
    for (int i = 0; i < 200; i++, now += 100) {
        sync_ok(x, now);
        usleep(500);
    }
    atomic_store(&stop, true);
    int64_t charged = 0, refunded = 0;
    for (int i = 0; i < 4; i++) {
        pthread_join(th[i], NULL);
        assert_false(w[i].negative);
        charged += w[i].charged;
        refunded += w[i].refunded;
    }
    rd__purse_ledger l;
    rd__exposure_ledger(x, NULL, &l);
    assert_int_equal(charged - refunded + l.amount_left, l.amount_held);
    assert_true(l.amount_held <= 2000000);
    assert_true(l.amount_held > 100000); /* refilled more than once while they charged */
    found s = stage_now(f->s3, 3000);
    assert_int_equal(s.st.reserved_amount, l.amount_held);
    rd_exposure_close(x, now);
    /* what stays reserved is what the store was told was spent: the charges less the refunds, or
       more when a refund came after a report (a report never lowers) */
    s = stage_now(f->s3, 3000);
    assert_int_equal(s.st.reserved_amount, s.t.spent_amount);
    assert_true(s.st.reserved_amount >= charged - refunded && s.st.reserved_amount <= charged);
    assert_int_equal(s.t.held_amount, 0);
    rd_exposure_free(x);
    free(p);
}

/* A node killed with a slice held: its next boot marks the slice lost; the stage's reserved is
 * unchanged (lost is never given back). */
static void restart_lost(void **state)
{
    fixture *f = *state;
    if (!f)
        skip();
    rd_plan *p = plan_new(1000, 0, "features.Amount"); /* slices of 5000 units */
    rd_exposure *x1 = exposure_new(p, f->s1, "a");
    rd_rollout_row r = row_at(0, 4000, RD_ROLLOUT_RUNNING);
    rd_exposure_follow(x1, p, &r);
    sync_ok(x1, 10000);
    rd_arena a;
    rd_arena_init(&a, 1 << 16);
    rd_value v = features(&a, "{\"Amount\":12.34}");
    rd_exposure_ticket t;
    rd_exposure_charge(x1, NULL, &v, &t);
    assert_int_equal(t.state, RD_EXPOSURE_CHARGED);
    sync_ok(x1, 12000); /* reports 1234 spent */
    found before = stage_now(f->s3, 4000);
    assert_int_equal(before.st.reserved_amount, 5000);
    assert_int_equal(before.t.spent_amount, 1234);
    assert_int_equal(before.t.held_amount, 5000 - 1234);
    char boot1[33];
    strcpy(boot1, rd__exposure_boot(x1));
    rd_exposure_free(x1); /* kill -9: nothing given back */

    rd_exposure *x2 = exposure_new(p, f->s1, "a");
    assert_string_not_equal(rd__exposure_boot(x2), boot1);
    sync_ok(x2, 20000); /* nothing followed: only the orphans */
    found after = stage_now(f->s3, 4000);
    assert_int_equal(after.st.reserved_amount, 5000);
    assert_int_equal(after.t.lost_amount, 5000 - 1234);
    assert_int_equal(after.t.held_amount, 0);
    assert_int_equal(after.t.nodes, 0);
    assert_int_equal(after.t.spent_amount, 1234);
    /* the new boot reserves its own slice on top */
    rd_exposure_follow(x2, p, &r);
    sync_ok(x2, 21000);
    after = stage_now(f->s3, 4000);
    assert_int_equal(after.st.reserved_amount, 10000);
    assert_int_equal(after.t.nodes, 1);
    rd_exposure_close(x2, 22000);
    after = stage_now(f->s3, 4000);
    assert_int_equal(after.st.reserved_amount, 5000); /* x2 gave back its 5000; the lost stay */
    rd_arena_deinit(&a);
    rd_exposure_free(x2);
    free(p);
}

/* follow: a lowered cap re-opens the purse at once, a raised one applies in place. */
static void follow_lowered(void **state)
{
    (void)state;
    rd_plan *p = plan_new(100, 0, "features.Amount"); /* 10000 units */
    rd_exposure *x = exposure_new(p, NULL, NULL);
    rd_rollout_row r = row_at(0, 1, RD_ROLLOUT_RUNNING);
    rd_exposure_follow(x, p, &r);
    rd_arena a;
    rd_arena_init(&a, 1 << 16);
    rd_value v = features(&a, "{\"Amount\":30}");
    rd_exposure_ticket t;
    rd_exposure_charge(x, NULL, &v, &t);
    assert_int_equal(t.state, RD_EXPOSURE_CHARGED);
    rd_exposure_ticket first = t;
    rd__purse_ledger l0, l;
    rd__exposure_ledger(x, NULL, &l0);
    assert_int_equal(l0.amount_left, 7000);

    p->stages[0].caps.max_amount = 50; /* lowered to 5000 units: 3000 spent, 2000 left */
    p->stages[0].caps.max_amount_units = 5000;
    rd_exposure_follow(x, p, &r);
    rd__exposure_ledger(x, NULL, &l);
    assert_ptr_not_equal(l.purse, l0.purse);
    assert_int_equal(l.amount_left, 2000);
    rd__exposure_ledger(x, l0.purse, &l0);
    assert_int_equal(l0.amount_returned, 7000);
    assert_int_equal(l0.amount_left, 0);
    rd_exposure_refund(x, &first); /* to a retired purse: dropped, stays spent */
    rd__exposure_ledger(x, l0.purse, &l0);
    assert_int_equal(l0.amount_left, 0);
    assert_int_equal(l0.amount_spent, 3000);

    v = features(&a, "{\"Amount\":20.01}");
    rd_exposure_charge(x, NULL, &v, &t);
    assert_int_equal(t.state, RD_EXPOSURE_CAPPED);

    p->stages[0].caps.max_amount = 200; /* raised to 20000: the same purse, 20000 - 3000 - 2000 more */
    p->stages[0].caps.max_amount_units = 20000;
    rd_exposure_follow(x, p, &r);
    rd__exposure_ledger(x, NULL, &l0);
    assert_ptr_equal(l0.purse, l.purse);
    assert_int_equal(l0.amount_left, 17000);
    rd_exposure_charge(x, NULL, &v, &t);
    assert_int_equal(t.state, RD_EXPOSURE_CHARGED);

    p->stages[0].caps.has_count = true; /* a count cap added: re-opened, with 2 approvals */
    p->stages[0].caps.max_count = 2;
    rd_exposure_follow(x, p, &r);
    rd__exposure_ledger(x, NULL, &l);
    assert_ptr_not_equal(l.purse, l0.purse);
    assert_int_equal(l.count_left, 2);
    assert_int_equal(l.amount_left, 20000 - 3000 - 2001);
    rd_arena_deinit(&a);
    rd_exposure_free(x);
    free(p);
}

/* The same with a store: the old purse's unspent part is given back on the next sync, and the
 * new purse of the same instance reports the slice's spent from where the old one left it. */
static void follow_lowered_store(void **state)
{
    fixture *f = *state;
    if (!f)
        skip();
    rd_plan *p = plan_new(1000, 0, "features.Amount"); /* 100000 units, slices of 5000 */
    rd_exposure *x = exposure_new(p, f->s1, "a");
    rd_rollout_row r = row_at(0, 6000, RD_ROLLOUT_PAUSED);
    rd_exposure_follow(x, p, &r);
    sync_ok(x, 10000);
    rd_arena a;
    rd_arena_init(&a, 1 << 16);
    rd_value v = features(&a, "{\"Amount\":10}");
    rd_exposure_ticket t;
    rd_exposure_charge(x, NULL, &v, &t);
    assert_int_equal(t.state, RD_EXPOSURE_CHARGED);
    sync_ok(x, 11100);
    p->stages[0].caps.max_amount = 500;
    p->stages[0].caps.max_amount_units = 50000;
    rd_exposure_follow(x, p, &r);
    sync_ok(x, 12200); /* gives back 4000, reserves 2500 (a slice of the new cap) */
    found s = stage_now(f->s3, 6000);
    assert_int_equal(s.st.cap_amount, 50000);
    assert_int_equal(s.st.reserved_amount, 1000 + 2500);
    rd_exposure_charge(x, NULL, &v, &t);
    assert_int_equal(t.state, RD_EXPOSURE_CHARGED);
    sync_ok(x, 13300);
    s = stage_now(f->s3, 6000);
    assert_int_equal(s.t.spent_amount, 2000);
    assert_int_equal(s.t.held_amount, 1500);
    rd_exposure_close(x, 14000);
    s = stage_now(f->s3, 6000);
    assert_int_equal(s.st.reserved_amount, 2000);
    rd_arena_deinit(&a);
    rd_exposure_free(x);
    free(p);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(units),
        cmocka_unit_test(parser_accepts),
        cmocka_unit_test(charge_peek_refund),
        cmocka_unit_test(context_path),
        cmocka_unit_test(threads_exact),
        cmocka_unit_test(retire_under_load),
        cmocka_unit_test(follow_lowered),
        cmocka_unit_test_setup_teardown(two_nodes, setup_sqlite, teardown),
        cmocka_unit_test_setup_teardown(two_nodes, setup_pg, teardown),
        cmocka_unit_test_setup_teardown(threads_store, setup_sqlite, teardown),
        cmocka_unit_test_setup_teardown(restart_lost, setup_sqlite, teardown),
        cmocka_unit_test_setup_teardown(restart_lost, setup_pg, teardown),
        cmocka_unit_test_setup_teardown(follow_lowered_store, setup_sqlite, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
