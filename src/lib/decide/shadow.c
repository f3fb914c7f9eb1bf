/* Shadow scoring: the decision's shadow bundles score the same prepared row on worker
 * threads, from a bounded queue, and are compared with the primary per (primary, shadow) pair.
 *
 * The queue is a bounded lock-free ring (D. Vyukov's bounded MPMC queue: a sequence number per
 * cell) and a semaphore counting what it holds. The workers run at idle priority, and a lock
 * they held while preempted would make the primaries that submit wait for them (or, as before,
 * drop shadow work that fit in the queue); with no lock, a primary only ever does a few atomic
 * operations and a sem_post.
 *
 * Invariants: submit never blocks and never fails the primary (a full queue drops the work
 * and counts it); a job holds a reference to its decider, so the bundles it scores live until
 * it is done even if a reload replaced them; a job owns copies of the row (and of the raw
 * features when a shadow prepares them differently), never the request's memory. */
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <semaphore.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "decide_int.h"
#include "riskd/clock.h"

static const double diff_bounds[] = {-0.5,  -0.2, -0.1, -0.05, -0.01, -0.001,
                                     0.001, 0.01, 0.05, 0.1,   0.2,   0.5};
#define NBOUNDS (sizeof diff_bounds / sizeof diff_bounds[0])

typedef struct pair {
    struct pair *next;
    pthread_mutex_t lock;
    char *primary, *shadow;
    uint64_t scored, errors, same_level, same_decision, swap_out, swap_in;
    uint64_t bucket[NBOUNDS + 1]; /* not cumulative; the last is above every bound */
    double diff_sum;
} pair;

typedef struct job {
    rd_decider *d;
    char *request_id;
    const rd_slot *primary;
    double probability;
    const char *level, *decision;
    size_t nshadows;
    const rd_slot *shadows[RD_DECIDE_MAX_SHADOWS];
    double *x;
    rd_arena arena;
    rd_value features; /* copied only when a shadow prepares its own row */
    bool has_features;
} job;

/* A cell of the ring: its sequence number says whose turn it is (a producer's at position pos
 * when seq == pos, a consumer's when seq == pos + 1). */
typedef struct cell {
    atomic_size_t seq;
    job *j;
} cell;

struct rd_shadow {
    cell *ring;
    size_t cap;
    atomic_size_t enq, deq; /* the next positions to fill and to take */
    sem_t items;            /* cells filled and not yet taken, and the stop wake-ups */
    atomic_size_t busy;     /* jobs a worker is about to take or is scoring */
    atomic_bool stop;
    pthread_t *threads;
    int nthreads;
    atomic_uint_fast64_t dropped;
    pthread_mutex_t pairs_lock;
    pair *pairs;
    void (*sink)(void *ud, const rd_shadow_done *d);
    void *sink_ud;
};

/* Put j in the ring; false when it is full. Lock-free: never waits for a worker. */
static bool ring_push(rd_shadow *s, job *j)
{
    size_t pos = atomic_load_explicit(&s->enq, memory_order_relaxed);
    for (;;) {
        cell *c = &s->ring[pos % s->cap];
        size_t seq = atomic_load_explicit(&c->seq, memory_order_acquire);
        if (seq == pos) {
            if (atomic_compare_exchange_weak_explicit(&s->enq, &pos, pos + 1, memory_order_relaxed,
                                                      memory_order_relaxed)) {
                c->j = j;
                atomic_store_explicit(&c->seq, pos + 1, memory_order_release);
                return true;
            }
        } else if ((ptrdiff_t)(seq - pos) < 0) {
            return false; /* the cell still holds a job from a lap ago: full */
        } else {
            pos = atomic_load_explicit(&s->enq, memory_order_relaxed);
        }
    }
}

/* Take the oldest job; NULL when the ring is empty or its oldest cell is still being filled. */
static job *ring_pop(rd_shadow *s)
{
    size_t pos = atomic_load_explicit(&s->deq, memory_order_relaxed);
    for (;;) {
        cell *c = &s->ring[pos % s->cap];
        size_t seq = atomic_load_explicit(&c->seq, memory_order_acquire);
        if (seq == pos + 1) {
            if (atomic_compare_exchange_weak_explicit(&s->deq, &pos, pos + 1, memory_order_relaxed,
                                                      memory_order_relaxed)) {
                job *j = c->j;
                atomic_store_explicit(&c->seq, pos + s->cap, memory_order_release);
                return j;
            }
        } else if ((ptrdiff_t)(seq - (pos + 1)) < 0) {
            return NULL;
        } else {
            pos = atomic_load_explicit(&s->deq, memory_order_relaxed);
        }
    }
}

void rd_shadow_set_sink(rd_shadow *s, void (*fn)(void *ud, const rd_shadow_done *d), void *ud)
{
    s->sink = fn;
    s->sink_ud = ud;
}

static void job_free(job *j)
{
    if (!j)
        return;
    rd_decider_unref(j->d);
    rd_free(j->request_id);
    rd_free(j->x);
    rd_arena_deinit(&j->arena);
    rd_free(j);
}

static pair *find_pair(rd_shadow *s, const char *primary, const char *shadow)
{
    pthread_mutex_lock(&s->pairs_lock);
    pair *p = s->pairs;
    while (p && (strcmp(p->primary, primary) != 0 || strcmp(p->shadow, shadow) != 0))
        p = p->next;
    if (!p && (p = rd_calloc(1, sizeof *p))) {
        p->primary = rd_strndup(primary, strlen(primary));
        p->shadow = rd_strndup(shadow, strlen(shadow));
        if (!p->primary || !p->shadow) {
            rd_free(p->primary);
            rd_free(p->shadow);
            rd_free(p);
            p = NULL;
        } else {
            pthread_mutex_init(&p->lock, NULL);
            p->next = s->pairs;
            s->pairs = p;
        }
    }
    pthread_mutex_unlock(&s->pairs_lock);
    return p;
}

static bool same(const char *a, const char *b) { return a == b || (a && b && !strcmp(a, b)); }
static bool is(const char *a, const char *what) { return a && !strcmp(a, what); }

static void compare(pair *p, const job *j, int rc, const rd_score *sc)
{
    pthread_mutex_lock(&p->lock);
    if (rc) {
        p->errors++;
    } else {
        p->scored++;
        p->same_level += same(j->level, sc->risk_level);
        p->same_decision += same(j->decision, sc->decision);
        p->swap_out += is(j->decision, "approve") && is(sc->decision, "reject");
        p->swap_in += is(j->decision, "reject") && is(sc->decision, "approve");
        double diff = sc->probability - j->probability;
        size_t i = 0;
        while (i < NBOUNDS && diff > diff_bounds[i])
            i++;
        p->bucket[i]++;
        p->diff_sum += diff;
    }
    pthread_mutex_unlock(&p->lock);
}

static void run_job(rd_shadow *s, job *j)
{
    const rd_bundle *pb = j->primary->bundle;
    for (size_t i = 0; i < j->nshadows; i++) {
        const rd_slot *sh = j->shadows[i];
        const rd_bundle *b = sh->bundle;
        /* No deadline: a worker at idle priority waits for cores by design, and a wall-clock
         * budget would count that wait as the shadow model's slowness. */
        int64_t deadline = 0;
        rd_score sc = {0};
        rd_err e;
        int rc;
        double stack[256], *x = j->x, *own = NULL;
        if (!rd_bundle_same_pipeline(pb, b)) {
            size_t nf = rd_bundle_num_features(b);
            x = nf <= 256 ? stack : (own = rd_malloc(nf * sizeof(double)));
            rc = x && j->has_features ? rd_bundle_prepare(b, &j->features, x, &sc.report, &e) : RD_ENOMEM;
        } else {
            rc = RD_OK;
        }
        if (rc == RD_OK)
            rc = rd__run_model(j->d, sh, x, 0, deadline, &sc, &e);
        rd_free(own);
        pair *p = find_pair(s, rd_bundle_name(pb), rd_bundle_name(b));
        if (p)
            compare(p, j, rc, &sc);
        if (s->sink) {
            rd_shadow_done done = {j->request_id, j->primary, sh, rc, &sc};
            s->sink(s->sink_ud, &done);
        }
    }
}

/* Shadow work runs only on CPU the primaries leave idle: SCHED_IDLE (else the lowest nice).
 * On a saturated machine the queue then fills and sheds shadow work (counted) instead of
 * taking cycles from the decisions callers wait for. */
static void lower_priority(void)
{
    struct sched_param sp = {0};
    if (pthread_setschedparam(pthread_self(), SCHED_IDLE, &sp) != 0)
        setpriority(PRIO_PROCESS, (id_t)syscall(SYS_gettid), 19);
}

static void *worker(void *ud)
{
    rd_shadow *s = ud;
    lower_priority();
    for (;;) {
        while (sem_wait(&s->items) != 0 && errno == EINTR)
            ;
        if (atomic_load(&s->stop))
            break; /* stopping: what is queued is dropped (rd_shadow_free counts it), not finished */
        /* counted busy before it leaves the ring, so pending never reads 0 while a job is taken */
        atomic_fetch_add(&s->busy, 1);
        job *j;
        while (!(j = ring_pop(s))) /* the semaphore says a job is there: its producer is storing it */
            sched_yield();
        run_job(s, j);
        job_free(j);
        atomic_fetch_sub(&s->busy, 1);
    }
    return NULL;
}

int rd_shadow_new(int threads, size_t queue_cap, rd_shadow **out, rd_err *err)
{
    if (threads < 1 || threads > 64 || queue_cap < 1)
        return rd_err_set(err, RD_EINVAL, "shadow: 1 to 64 threads and a queue of at least 1");
    rd_shadow *s = rd_calloc(1, sizeof *s);
    if (!s || !(s->ring = rd_calloc(queue_cap, sizeof(cell))) ||
        !(s->threads = rd_calloc((size_t)threads, sizeof(pthread_t)))) {
        if (s)
            rd_free(s->ring);
        rd_free(s);
        return rd_err_set(err, RD_ENOMEM, "out of memory");
    }
    s->cap = queue_cap;
    for (size_t i = 0; i < queue_cap; i++)
        atomic_init(&s->ring[i].seq, i);
    atomic_init(&s->enq, 0);
    atomic_init(&s->deq, 0);
    atomic_init(&s->busy, 0);
    atomic_init(&s->stop, false);
    sem_init(&s->items, 0, 0);
    pthread_mutex_init(&s->pairs_lock, NULL);
    atomic_init(&s->dropped, 0);
    for (; s->nthreads < threads; s->nthreads++)
        if (pthread_create(&s->threads[s->nthreads], NULL, worker, s) != 0) {
            rd_shadow_free(s);
            return rd_err_set(err, RD_EINTERNAL, "shadow: cannot start a worker thread");
        }
    *out = s;
    return RD_OK;
}

void rd_shadow_free(rd_shadow *s)
{
    if (!s)
        return;
    atomic_store(&s->stop, true);
    for (int i = 0; i < s->nthreads; i++)
        sem_post(&s->items);
    for (int i = 0; i < s->nthreads; i++)
        pthread_join(s->threads[i], NULL);
    for (job *j; (j = ring_pop(s));) {
        job_free(j); /* dropped at stop: a shutdown is not held up by shadows */
        atomic_fetch_add(&s->dropped, 1);
    }
    for (pair *p = s->pairs, *n; p; p = n) {
        n = p->next;
        pthread_mutex_destroy(&p->lock);
        rd_free(p->primary);
        rd_free(p->shadow);
        rd_free(p);
    }
    pthread_mutex_destroy(&s->pairs_lock);
    sem_destroy(&s->items);
    rd_free(s->threads);
    rd_free(s->ring);
    rd_free(s);
}

static job *make_job(const rd_decider *d, const rd_decision *dec, const rd_value *features)
{
    job *j = rd_calloc(1, sizeof *j);
    if (!j)
        return NULL;
    rd_arena_init(&j->arena, 0);
    j->d = rd_decider_ref((rd_decider *)d);
    char idbuf[64];
    const char *id = rd_decision_id_text(dec, idbuf, sizeof idbuf);
    if (!(j->request_id = rd_strndup(id, strlen(id)))) {
        job_free(j);
        return NULL;
    }
    j->primary = dec->slot;
    j->probability = dec->score.probability;
    j->level = dec->score.risk_level;
    j->decision = dec->score.decision;
    j->nshadows = dec->nshadows;
    memcpy(j->shadows, dec->shadows, dec->nshadows * sizeof(const rd_slot *));
    size_t nf = rd_bundle_num_features(dec->slot->bundle);
    if (!(j->x = rd_malloc((nf ? nf : 1) * sizeof(double)))) {
        job_free(j);
        return NULL;
    }
    memcpy(j->x, dec->x, nf * sizeof(double));
    bool need = false;
    for (size_t i = 0; i < dec->nshadows; i++)
        need |= !rd_bundle_same_pipeline(dec->slot->bundle, dec->shadows[i]->bundle);
    if (need && features) {
        if (rd_value_copy(&j->arena, features, &j->features) != RD_OK) {
            job_free(j);
            return NULL;
        }
        j->has_features = true;
    }
    return j;
}

bool rd_shadow_submit(rd_shadow *s, const rd_decider *d, const rd_decision *dec, const rd_value *features)
{
    if (!s || !dec->nshadows || dec->source != RD_SOURCE_MODEL || !dec->x)
        return true;
    /* full or stopping: dropped before the copy is made (the count is a hint; the push decides) */
    /* deq first: both only grow and deq <= enq at every instant, so deq read before enq can
       not exceed it (read after, a worker taking jobs pushed meanwhile made the difference
       wrap around to a huge "queued", and a job was dropped from an empty queue) */
    size_t taken = atomic_load_explicit(&s->deq, memory_order_acquire);
    size_t queued = atomic_load_explicit(&s->enq, memory_order_acquire) - taken;
    job *j = queued < s->cap && !atomic_load(&s->stop) ? make_job(d, dec, features) : NULL;
    if (j && ring_push(s, j)) {
        sem_post(&s->items);
        return true;
    }
    job_free(j);
    atomic_fetch_add(&s->dropped, 1);
    return false;
}

uint64_t rd_shadow_dropped(const rd_shadow *s) { return atomic_load(&((rd_shadow *)s)->dropped); }

size_t rd_shadow_pending(const rd_shadow *s)
{
    rd_shadow *m = (rd_shadow *)s;
    size_t deq = atomic_load(&m->deq), enq = atomic_load(&m->enq); /* deq first: enq >= deq */
    return enq - deq + atomic_load(&m->busy);
}

void rd_shadow_foreach(rd_shadow *s, void (*fn)(void *ud, const rd_shadow_pair_stats *p), void *ud)
{
    pthread_mutex_lock(&s->pairs_lock);
    for (const pair *p = s->pairs; p; p = p->next) {
        rd_shadow_pair_stats st = {
            .primary = p->primary, .shadow = p->shadow, .bounds = diff_bounds, .nbounds = NBOUNDS};
        pthread_mutex_lock((pthread_mutex_t *)&p->lock);
        st.scored = p->scored;
        st.errors = p->errors;
        st.same_risk_level = p->same_level;
        st.same_decision = p->same_decision;
        st.swap_out = p->swap_out;
        st.swap_in = p->swap_in;
        st.diff_sum = p->diff_sum;
        uint64_t cum = 0;
        for (size_t i = 0; i < NBOUNDS; i++)
            st.diff_le[i] = cum += p->bucket[i];
        pthread_mutex_unlock((pthread_mutex_t *)&p->lock);
        fn(ud, &st);
    }
    pthread_mutex_unlock(&s->pairs_lock);
}
