/* Circuit breakers (shared/reference/rollout-monitoring.md §2.8).
 *
 * Window mode: calls and failures counted in buckets of window/10; with at least min_calls in
 * the window and a failure rate at or above failure_rate, the breaker opens for open_ms. Then
 * it is half-open: up to half_open_calls trials are admitted; it closes when all are done and
 * their failure rate is below failure_rate, re-opens as soon as that can no longer happen, or
 * when the trials have not finished within half_open_timeout_ms. Each re-open from half-open
 * doubles the open time, up to open_max_ms; closing resets it.
 * Consecutive mode (the seed's): fail_max failures in a row open it for reset_ms, then one
 * trial decides.
 *
 * Invariant: state changes only under the lock; the state is also kept in an atomic so that
 * /metrics and /ready read it without the lock. Time is passed in, so tests drive it. */
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>

#include "decide_int.h"

#define BUCKETS 10

struct rd_breaker {
    pthread_mutex_t lock;
    rd_breaker_opts o;
    char name[128];
    atomic_int state;
    atomic_uint_fast64_t transitions[3];
    struct {
        int64_t epoch; /* now / bucket width */
        uint32_t calls, fails;
    } b[BUCKETS];
    int64_t open_until, open_ns, half_open_since;
    int trials, trials_done, trials_failed;
    int generation; /* of the half-open period: a trial ticket carries it */
    int consecutive;
};

void rd_breaker_opts_default(rd_breaker_opts *o)
{
    *o = (rd_breaker_opts){.mode = RD_BREAKER_WINDOW,
                           .window_ms = 10000,
                           .min_calls = 20,
                           .failure_rate = 0.5,
                           .open_ms = 5000,
                           .open_max_ms = 60000,
                           .half_open_calls = 10,
                           .half_open_timeout_ms = 10000,
                           .fail_max = 5,
                           .reset_ms = 60000};
}

const char *rd_breaker_state_name(rd_breaker_state s)
{
    return s == RD_BREAKER_OPEN ? "open" : s == RD_BREAKER_HALF_OPEN ? "half_open" : "closed";
}

rd_breaker *rd_breaker_new(const rd_breaker_opts *o, const char *name)
{
    rd_breaker *b = rd_calloc(1, sizeof *b);
    if (!b)
        return NULL;
    pthread_mutex_init(&b->lock, NULL);
    b->o = *o;
    if (b->o.window_ms < BUCKETS)
        b->o.window_ms = BUCKETS;
    if (b->o.half_open_calls < 1)
        b->o.half_open_calls = 1;
    snprintf(b->name, sizeof b->name, "%s", name ? name : "");
    atomic_init(&b->state, RD_BREAKER_CLOSED);
    for (int i = 0; i < 3; i++)
        atomic_init(&b->transitions[i], 0);
    b->open_ns = (int64_t)(b->o.mode == RD_BREAKER_CONSECUTIVE ? b->o.reset_ms : b->o.open_ms) * 1000000;
    return b;
}

void rd_breaker_free(rd_breaker *b)
{
    if (!b)
        return;
    pthread_mutex_destroy(&b->lock);
    rd_free(b);
}

static void go(rd_breaker *b, rd_breaker_state to)
{
    rd_breaker_state from = (rd_breaker_state)atomic_load(&b->state);
    if (from == to)
        return;
    atomic_store(&b->state, (int)to);
    atomic_fetch_add(&b->transitions[to], 1);
    if (b->o.on_transition)
        b->o.on_transition(b->o.ud, b->name, from, to);
}

static void open_now(rd_breaker *b, int64_t now, bool reopen)
{
    int64_t base = (int64_t)(b->o.mode == RD_BREAKER_CONSECUTIVE ? b->o.reset_ms : b->o.open_ms) * 1000000;
    if (b->o.mode == RD_BREAKER_WINDOW && reopen) {
        b->open_ns *= 2;
        if (b->open_ns > (int64_t)b->o.open_max_ms * 1000000)
            b->open_ns = (int64_t)b->o.open_max_ms * 1000000;
    } else {
        b->open_ns = base;
    }
    b->open_until = now + b->open_ns;
    go(b, RD_BREAKER_OPEN);
}

static void close_now(rd_breaker *b)
{
    memset(b->b, 0, sizeof b->b);
    b->consecutive = 0;
    go(b, RD_BREAKER_CLOSED);
}

static void half_open(rd_breaker *b, int64_t now)
{
    b->trials = b->trials_done = b->trials_failed = 0;
    b->generation = (b->generation + 1) & 0xfffffff; /* tickets of an earlier period no longer count */
    b->half_open_since = now;
    go(b, RD_BREAKER_HALF_OPEN);
}

int rd_breaker_allow(rd_breaker *b, int64_t now)
{
    if (b->o.mode == RD_BREAKER_OFF)
        return 1;
    if (atomic_load_explicit(&b->state, memory_order_relaxed) == RD_BREAKER_CLOSED)
        return 1; /* the common case, without the lock: a race only admits one call more */
    int ticket = 0;
    pthread_mutex_lock(&b->lock);
    rd_breaker_state s = (rd_breaker_state)atomic_load(&b->state);
    if (s == RD_BREAKER_CLOSED) {
        ticket = 1;
    } else {
        if (s == RD_BREAKER_OPEN && now >= b->open_until) {
            half_open(b, now);
            s = RD_BREAKER_HALF_OPEN;
        }
        if (s == RD_BREAKER_HALF_OPEN) {
            int max = b->o.mode == RD_BREAKER_CONSECUTIVE ? 1 : b->o.half_open_calls;
            if (b->o.mode == RD_BREAKER_WINDOW &&
                now - b->half_open_since > (int64_t)b->o.half_open_timeout_ms * 1000000)
                open_now(b, now, true); /* the trials did not finish in time */
            else if (b->trials < max) {
                b->trials++;
                ticket = 2 + b->generation;
            }
        }
    }
    pthread_mutex_unlock(&b->lock);
    return ticket;
}

/* Calls and failures in the window ending now. */
static void window_sum(const rd_breaker *b, int64_t epoch, uint32_t *calls, uint32_t *fails)
{
    *calls = *fails = 0;
    for (int i = 0; i < BUCKETS; i++)
        if (b->b[i].epoch > epoch - BUCKETS && b->b[i].epoch <= epoch) {
            *calls += b->b[i].calls;
            *fails += b->b[i].fails;
        }
}

static void record_closed(rd_breaker *b, bool ok, int64_t now)
{
    if (b->o.mode == RD_BREAKER_CONSECUTIVE) {
        b->consecutive = ok ? 0 : b->consecutive + 1;
        if (b->consecutive >= b->o.fail_max)
            open_now(b, now, false);
        return;
    }
    int64_t width = (int64_t)b->o.window_ms * 1000000 / BUCKETS, epoch = now / width;
    int i = (int)(epoch % BUCKETS);
    if (b->b[i].epoch != epoch)
        b->b[i].epoch = epoch, b->b[i].calls = 0, b->b[i].fails = 0;
    b->b[i].calls++;
    b->b[i].fails += !ok;
    if (ok)
        return;
    uint32_t calls, fails;
    window_sum(b, epoch, &calls, &fails);
    if (calls >= (uint32_t)b->o.min_calls && (double)fails >= b->o.failure_rate * calls)
        open_now(b, now, false);
}

static void record_trial(rd_breaker *b, bool ok, int64_t now)
{
    int max = b->o.mode == RD_BREAKER_CONSECUTIVE ? 1 : b->o.half_open_calls;
    if (b->o.mode == RD_BREAKER_WINDOW &&
        now - b->half_open_since > (int64_t)b->o.half_open_timeout_ms * 1000000) {
        open_now(b, now, true); /* the trials did not finish in time */
        return;
    }
    b->trials_done++;
    b->trials_failed += !ok;
    if ((double)b->trials_failed >= b->o.failure_rate * max)
        open_now(b, now, true); /* the trials can no longer pass */
    else if (b->trials_done >= max)
        close_now(b);
}

void rd_breaker_record(rd_breaker *b, int ticket, bool ok, int64_t now)
{
    if (b->o.mode == RD_BREAKER_OFF || ticket == 0)
        return;
    pthread_mutex_lock(&b->lock);
    rd_breaker_state s = (rd_breaker_state)atomic_load(&b->state);
    if (ticket >= 2 && s == RD_BREAKER_HALF_OPEN && ticket - 2 == b->generation)
        record_trial(b, ok, now);
    else if (ticket == 1 && s == RD_BREAKER_CLOSED)
        record_closed(b, ok, now);
    /* else: a call admitted before the state changed; the new state is not its to judge */
    pthread_mutex_unlock(&b->lock);
}

rd_breaker_state rd_breaker_get_state(const rd_breaker *b)
{
    return (rd_breaker_state)atomic_load_explicit(&((rd_breaker *)b)->state, memory_order_relaxed);
}

uint64_t rd_breaker_transitions(const rd_breaker *b, rd_breaker_state to)
{
    return atomic_load_explicit(&((rd_breaker *)b)->transitions[to], memory_order_relaxed);
}
