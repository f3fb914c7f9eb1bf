/* The decision log's writer: callers queue records (copied) and return; one thread takes
 * everything queued, up to batch_max, and commits it in one transaction (group commit), then
 * publishes the sequence number committed, which ack-mode callers wait for.
 *
 * Invariants: records are committed in the order they were queued (sequence numbers are
 * given under the queue's lock, in queue order); committed only grows; a failed transaction
 * counts its records as failed and wakes every waiter (rd_dlog_wait returns false); the
 * queue never grows past its bound, so a writer that falls behind turns into RD_ELIMIT for
 * the callers, never into memory. */
#include <pthread.h>
#include <stdatomic.h>
#include <string.h>
#include <time.h>

#include "riskd/clock.h"
#include "riskd/dlog.h"

typedef struct item {
    rd_log_row row; /* its strings live in buf */
    char *buf;
} item;

struct rd_dlog {
    rd_store *store;
    rd_dlog_opts o;
    pthread_mutex_t lock;
    pthread_cond_t work, done;
    item *ring;
    size_t head, count;
    uint64_t next_seq;  /* the sequence number the next record gets */
    bool idle;          /* the writer waits for work: a submit wakes it (a busy one needs no wake-up) */
    uint64_t committed; /* every record up to this one is committed */
    uint64_t fail_lo[64], fail_hi[64]; /* the last failed transactions' sequence ranges */
    unsigned nfail;
    bool stop;
    pthread_t thread;
    atomic_uint_fast64_t submitted, ok, failed, commits;
    _Atomic double commit_seconds;
};

static char *copy_row(const rd_log_row *r, rd_log_row *out)
{
    size_t lid = strlen(r->request_id) + 1, lk = strlen(r->kind) + 1,
           lm = r->model_version ? strlen(r->model_version) + 1 : 0;
    char *buf = rd_malloc(lid + lk + lm + r->record_len + 1);
    if (!buf)
        return NULL;
    char *p = buf;
    *out = *r;
    out->request_id = memcpy(p, r->request_id, lid), p += lid;
    out->kind = memcpy(p, r->kind, lk), p += lk;
    if (lm)
        out->model_version = memcpy(p, r->model_version, lm), p += lm;
    memcpy(p, r->record, r->record_len);
    p[r->record_len] = '\0';
    out->record = p;
    return buf;
}

static void add_seconds(_Atomic double *d, double v)
{
    double old = atomic_load_explicit(d, memory_order_relaxed);
    while (!atomic_compare_exchange_weak_explicit(d, &old, old + v, memory_order_relaxed,
                                                  memory_order_relaxed)) {
    }
}

/* Commit one batch (taken from the ring under the lock, written without it). */
static void commit_batch(rd_dlog *l, item *batch, size_t n, uint64_t first, uint64_t last)
{
    rd_log_row *rows = rd_malloc(n * sizeof *rows);
    rd_err err;
    int64_t t0 = rd_clock_ns();
    int rc = rows ? RD_OK : RD_ENOMEM;
    for (size_t i = 0; rows && i < n; i++)
        rows[i] = batch[i].row;
    if (rows)
        rc = rd_store_log_append(l->store, rows, n, &err);
    add_seconds(&l->commit_seconds, (double)(rd_clock_ns() - t0) / 1e9);
    rd_free(rows);
    for (size_t i = 0; i < n; i++)
        rd_free(batch[i].buf);
    atomic_fetch_add(rc ? &l->failed : &l->ok, n);
    atomic_fetch_add(&l->commits, 1);
    pthread_mutex_lock(&l->lock);
    if (rc) { /* waiters tell a failure from a commit by these ranges */
        l->fail_lo[l->nfail % 64] = first;
        l->fail_hi[l->nfail % 64] = last;
        l->nfail++;
    }
    l->committed = last;
    pthread_cond_broadcast(&l->done);
    pthread_mutex_unlock(&l->lock);
    if (l->o.on_commit)
        l->o.on_commit(l->o.ud, last);
}

#define GATHER_MIN 256
#define GATHER_MS  5

static void *writer(void *ud)
{
    rd_dlog *l = ud;
    item one, *batch = rd_malloc(l->o.batch_max * sizeof *batch);
    size_t max = l->o.batch_max;
    if (!batch) { /* out of memory: commit one record at a time rather than spin */
        batch = &one;
        max = 1;
    }
    pthread_mutex_lock(&l->lock);
    for (;;) {
        while (!l->count && !l->stop) {
            l->idle = true;
            pthread_cond_wait(&l->work, &l->lock);
            l->idle = false;
        }
        if (!l->count)
            break;
        /* async: a commit costs the same for 1 record or 500 (locks, WAL frames, index pages),
         * so a short wait gathers a group; the loss window grows by at most GATHER_MS */
        if (l->o.durability == RD_DLOG_ASYNC && l->count < GATHER_MIN && !l->stop) {
            struct timespec ts;
            clock_gettime(CLOCK_MONOTONIC, &ts);
            ts.tv_nsec += GATHER_MS * 1000000L;
            if (ts.tv_nsec >= 1000000000L) {
                ts.tv_sec++;
                ts.tv_nsec -= 1000000000L;
            }
            pthread_cond_timedwait(&l->work, &l->lock, &ts);
        }
        size_t n = 0;
        while (l->count && n < max) {
            batch[n++] = l->ring[l->head];
            l->head = (l->head + 1) % l->o.queue;
            l->count--;
        }
        uint64_t last = l->next_seq - 1 - l->count; /* the sequence number of batch[n - 1] */
        pthread_mutex_unlock(&l->lock);
        commit_batch(l, batch, n, last + 1 - n, last);
        pthread_mutex_lock(&l->lock);
    }
    pthread_mutex_unlock(&l->lock);
    if (batch != &one)
        rd_free(batch);
    return NULL;
}

int rd_dlog_new(rd_store *s, const rd_dlog_opts *o, rd_dlog **out, rd_err *err)
{
    rd_dlog *l = rd_calloc(1, sizeof *l);
    if (!l)
        return rd_err_set(err, RD_ENOMEM, "out of memory");
    l->store = s;
    l->o = o ? *o : (rd_dlog_opts){0};
    if (!l->o.queue)
        l->o.queue = 65536;
    if (!l->o.batch_max)
        l->o.batch_max = 4096;
    l->next_seq = 1;
    if (!(l->ring = rd_calloc(l->o.queue, sizeof *l->ring))) {
        rd_free(l);
        return rd_err_set(err, RD_ENOMEM, "out of memory");
    }
    pthread_mutex_init(&l->lock, NULL);
    pthread_condattr_t ca; /* timed waits on the monotonic clock */
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&l->work, &ca);
    pthread_condattr_destroy(&ca);
    pthread_cond_init(&l->done, NULL);
    if (pthread_create(&l->thread, NULL, writer, l) != 0) {
        pthread_cond_destroy(&l->done);
        pthread_cond_destroy(&l->work);
        pthread_mutex_destroy(&l->lock);
        rd_free(l->ring);
        rd_free(l);
        return rd_err_set(err, RD_EINTERNAL, "decision log: cannot start the writer thread");
    }
    *out = l;
    return RD_OK;
}

void rd_dlog_free(rd_dlog *l)
{
    if (!l)
        return;
    pthread_mutex_lock(&l->lock);
    l->stop = true;
    pthread_cond_broadcast(&l->work);
    pthread_mutex_unlock(&l->lock);
    pthread_join(l->thread, NULL); /* it commits what is queued first */
    pthread_cond_destroy(&l->done);
    pthread_cond_destroy(&l->work);
    pthread_mutex_destroy(&l->lock);
    rd_free(l->ring);
    rd_free(l);
}

int rd_dlog_submit(rd_dlog *l, const rd_log_row *row, uint64_t *seq)
{
    item it;
    if (!(it.buf = copy_row(row, &it.row)))
        return RD_ENOMEM;
    pthread_mutex_lock(&l->lock);
    if (l->count == l->o.queue || l->stop) {
        pthread_mutex_unlock(&l->lock);
        rd_free(it.buf);
        return RD_ELIMIT;
    }
    l->ring[(l->head + l->count) % l->o.queue] = it;
    l->count++;
    *seq = l->next_seq++;
    if (l->idle) /* a busy writer takes what is queued when its commit is done */
        pthread_cond_signal(&l->work);
    pthread_mutex_unlock(&l->lock);
    atomic_fetch_add_explicit(&l->submitted, 1, memory_order_relaxed);
    return RD_OK;
}

uint64_t rd_dlog_committed(const rd_dlog *l)
{
    rd_dlog *m = (rd_dlog *)l;
    pthread_mutex_lock(&m->lock);
    uint64_t c = m->committed;
    pthread_mutex_unlock(&m->lock);
    return c;
}

bool rd_dlog_wait(rd_dlog *l, uint64_t seq)
{
    pthread_mutex_lock(&l->lock);
    while (l->committed < seq)
        pthread_cond_wait(&l->done, &l->lock);
    bool ok = true;
    for (unsigned i = 0; i < (l->nfail < 64 ? l->nfail : 64); i++)
        ok &= !(seq >= l->fail_lo[i] && seq <= l->fail_hi[i]);
    pthread_mutex_unlock(&l->lock);
    return ok;
}

int rd_dlog_status(rd_dlog *l, uint64_t seq)
{
    pthread_mutex_lock(&l->lock);
    int st = l->committed < seq ? 0 : 1;
    for (unsigned i = 0; st && i < (l->nfail < 64 ? l->nfail : 64); i++)
        if (seq >= l->fail_lo[i] && seq <= l->fail_hi[i])
            st = -1;
    pthread_mutex_unlock(&l->lock);
    return st;
}

void rd_dlog_get_stats(const rd_dlog *l, rd_dlog_stats *st)
{
    rd_dlog *m = (rd_dlog *)l;
    pthread_mutex_lock(&m->lock);
    st->queued = m->count;
    pthread_mutex_unlock(&m->lock);
    st->submitted = atomic_load(&m->submitted);
    st->committed = atomic_load(&m->ok);
    st->failed = atomic_load(&m->failed);
    st->commits = atomic_load(&m->commits);
    st->commit_seconds = atomic_load(&m->commit_seconds);
}
