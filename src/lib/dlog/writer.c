/* The decision log's writer: callers queue records (copied) and return; one thread takes
 * everything queued, up to batch_max, and commits it in one transaction (group commit), then
 * publishes the sequence number committed, which ack-mode callers wait for.
 *
 * With a spool (spool.c), a batch the store cannot take because it is unreachable (RD_ESTORE)
 * is written to the local spool file instead, and counts as committed once it is there; while
 * records wait in the spool, new batches go behind them; the same thread drains the spool from
 * its head, a chunk of batch_max records a transaction, when the store answers again (tried
 * after 1 s, the wait doubling to 10 s, a ping first), and moves the head past a chunk only
 * after its commit (a crash in between re-sends it: the store's unique key makes that a no-op).
 *
 * Each record gets its identity when it is submitted (review16 #10): a UUID (version 8) of
 * the writer's boot id (64 random bits, drawn at rd_dlog_new) and its sequence number, with the
 * node it was submitted on; both travel with it through the spool, so a chunk re-sent, by this
 * process or by a later one under another name, is the same rows to the store, and two
 * distinct decisions are never one.
 *
 * Invariants: records reach the store in the order they were queued (sequence numbers are
 * given under the queue's lock, in queue order; the spool is first in, first out, and nothing
 * passes it while it holds records); committed only grows; a failed transaction (or a spool
 * that is full or cannot be written) counts its records as failed and wakes every waiter
 * (rd_dlog_wait returns false); the queue never grows past its bound, so a writer that falls
 * behind turns into RD_ELIMIT for the callers, never into memory, and the spool never grows
 * past spool_max_bytes. The writer thread alone touches the spool and the outage state. */
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "dlog_int.h"
#include "riskd/clock.h"
#include "riskd/hash.h"

#define BACKOFF_MIN_MS  1000
#define BACKOFF_MAX_MS  10000
#define DRAIN_ATTEMPTS  3            /* a record the store refuses (not RD_ESTORE) this often is dropped */
#define STOP_DRAIN_NS   3000000000LL /* rd_dlog_free drains a spool the store takes this long */
#define REPORT_EVERY_NS 60000000000LL

/* A log line said at most once a minute, with the records it is about counted between. */
typedef struct limiter {
    int64_t last_ns;
    uint64_t count;
    bool said;
} limiter;

typedef struct item {
    rd_log_row row; /* its strings live in buf */
    char *buf;
} item;

struct rd_dlog {
    rd_store *store;
    rd_dlog_opts o;
    uint8_t boot[8]; /* the first half of every uid this writer gives */
    char node[256];  /* the store's node name when the writer started */
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
    /* the outage: the writer thread's alone (after rd_dlog_new) */
    rd__spool *spool;        /* NULL: no spool */
    int64_t retry_ns;        /* the spool is drained from then on (monotonic ns; 0: now) */
    int64_t outage_ns;       /* when the store was lost */
    uint64_t outage_spooled; /* spooled when it was lost */
    size_t single_left;      /* records of a chunk the store refused, sent one at a time */
    limiter full, ioerr;     /* the log lines of records failed by the spool, once a minute */
    limiter refused;         /* ... and of batches the store refused (not unreachable) */
    int backoff_ms;          /* the wait after the next failed attempt */
    unsigned attempts;       /* failed attempts at the head record, sent alone */
    bool down;               /* the last store call failed with RD_ESTORE */
    atomic_bool store_down;  /* the same, for the stats */
    atomic_uint_fast64_t spooled, drained, undeliverable, spool_bytes, spool_records;
};

void (*rd__dlog_after_drain_commit)(size_t n);

/* r copied into *out (its strings in the buffer returned, NULL when out of memory); the node
 * is the writer's when r names none. */
static char *copy_row(const rd_dlog *l, const rd_log_row *r, rd_log_row *out)
{
    size_t lid = strlen(r->request_id) + 1, lk = strlen(r->kind) + 1,
           lm = r->model_version ? strlen(r->model_version) + 1 : 0, ln = r->node ? strlen(r->node) + 1 : 0;
    char *buf = rd_malloc(lid + lk + lm + ln + r->record_len + 1);
    if (!buf)
        return NULL;
    char *p = buf;
    *out = *r;
    out->request_id = memcpy(p, r->request_id, lid), p += lid;
    out->kind = memcpy(p, r->kind, lk), p += lk;
    if (lm)
        out->model_version = memcpy(p, r->model_version, lm), p += lm;
    out->node = ln ? memcpy(p, r->node, ln) : l->node;
    p += ln;
    memcpy(p, r->record, r->record_len);
    p[r->record_len] = '\0';
    out->record = p;
    return buf;
}

/* The uid of record seq: RFC 9562's version 8 layout, the boot id in the first 8 bytes (its
 * version nibble set), seq big-endian in the last 8 (its top two bits the variant, 10). A uid
 * the caller gave is kept. */
static void give_uid(const rd_dlog *l, uint64_t seq, uint8_t uid[RD_LOG_UID_BYTES])
{
    static const uint8_t none[RD_LOG_UID_BYTES];
    if (memcmp(uid, none, sizeof none) != 0)
        return;
    memcpy(uid, l->boot, 8);
    uid[6] = (uint8_t)((uid[6] & 0x0f) | 0x80);
    for (int i = 0; i < 8; i++)
        uid[8 + i] = (uint8_t)(seq >> (56 - 8 * i));
    uid[8] = (uint8_t)((uid[8] & 0x3f) | 0x80);
}

static void add_seconds(_Atomic double *d, double v)
{
    double old = atomic_load_explicit(d, memory_order_relaxed);
    while (!atomic_compare_exchange_weak_explicit(d, &old, old + v, memory_order_relaxed,
                                                  memory_order_relaxed)) {
    }
}

void rd__dlog_say(rd__dlog_log_fn log, void *ud, rd_dlog_level level, const char *fmt, ...)
{
    if (!log)
        return;
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    log(ud, level, msg);
}

/* SAY(l, level, fmt, ...): a line to on_log. */
#define SAY(l, ...) rd__dlog_say((l)->o.on_log, (l)->o.ud, __VA_ARGS__)

/* n records failed for the reason in what: said at once the first time, then once a minute
 * with the count since, so an outage past the bound is one line a minute, not one a batch. */
static void failed_records(rd_dlog *l, limiter *lim, uint64_t n, const char *what)
{
    int64_t now = rd_clock_ns();
    lim->count += n;
    if (lim->said && now - lim->last_ns < REPORT_EVERY_NS)
        return;
    SAY(l, RD_DLOG_ERROR, "%s: %llu decision records not logged%s", what, (unsigned long long)lim->count,
        lim->said ? " in the last minute" : "");
    lim->said = true;
    lim->last_ns = now;
    lim->count = 0;
}

static void gauges(rd_dlog *l)
{
    if (!l->spool)
        return;
    atomic_store(&l->spool_bytes, rd__spool_bytes(l->spool));
    atomic_store(&l->spool_records, rd__spool_records(l->spool));
}

static bool spool_waits(const rd_dlog *l) { return l->spool && rd__spool_records(l->spool) > 0; }

static void retry_later(rd_dlog *l)
{
    l->retry_ns = rd_clock_ns() + (int64_t)l->backoff_ms * 1000000;
    l->backoff_ms = l->backoff_ms * 2 > BACKOFF_MAX_MS ? BACKOFF_MAX_MS : l->backoff_ms * 2;
}

static void store_lost(rd_dlog *l, const rd_err *err)
{
    if (!l->down) {
        l->backoff_ms = BACKOFF_MIN_MS;
        l->outage_ns = rd_clock_ns();
        l->outage_spooled = atomic_load(&l->spooled);
        if (l->spool)
            SAY(l, RD_DLOG_WARN,
                "the store is unreachable (%s): decision records go to the spool %s until it "
                "answers again",
                err->msg, rd__spool_path(l->spool));
        else
            SAY(l, RD_DLOG_ERROR,
                "the store is unreachable (%s): decision records fail until it answers again", err->msg);
    }
    l->down = true;
    atomic_store(&l->store_down, true);
    retry_later(l);
}

static void store_back(rd_dlog *l)
{
    if (l->down)
        SAY(l, RD_DLOG_INFO, "the store answers again after %.1f s%s",
            (double)(rd_clock_ns() - l->outage_ns) / 1e9, spool_waits(l) ? ": draining the spool" : "");
    l->down = false;
    atomic_store(&l->store_down, false);
    l->backoff_ms = BACKOFF_MIN_MS;
    l->retry_ns = 0;
}

/* Spool rows[0..n): as many as fit under spool_max_bytes, in order; returns how many. */
static size_t spool_rows(rd_dlog *l, const rd_log_row *rows, size_t n)
{
    uint64_t used = rd__spool_used(l->spool), b;
    size_t k = 0;
    while (k < n && used + (b = rd__spool_row_bytes(&rows[k])) <= l->o.spool_max_bytes)
        used += b, k++;
    char what[1200];
    if (k < n) {
        snprintf(what, sizeof what, "the spool %s is full (%llu bytes waiting, spool_max_bytes %zu)",
                 rd__spool_path(l->spool), (unsigned long long)rd__spool_bytes(l->spool),
                 l->o.spool_max_bytes);
        failed_records(l, &l->full, n - k, what);
    }
    rd_err err;
    if (k && rd__spool_append(l->spool, rows, k, &err) != RD_OK) {
        snprintf(what, sizeof what, "the spool cannot be written (%s)", err.msg);
        failed_records(l, &l->ioerr, k, what);
        k = 0;
    }
    atomic_fetch_add(&l->spooled, k);
    gauges(l);
    return k;
}

/* rd_store_log_append, timed and counted (the commits and their seconds in the stats). */
static int store_append(rd_dlog *l, const rd_log_row *rows, size_t n, rd_err *err)
{
    int64_t t0 = rd_clock_ns();
    int rc = rd_store_log_append(l->store, rows, n, err);
    add_seconds(&l->commit_seconds, (double)(rd_clock_ns() - t0) / 1e9);
    atomic_fetch_add(&l->commits, 1);
    return rc;
}

/* Into the store, or into the spool when records wait there or the store is unreachable;
 * returns how many of rows[0..n) are committed (from the first: the rest failed). */
static size_t write_rows(rd_dlog *l, const rd_log_row *rows, size_t n)
{
    if (spool_waits(l))
        return spool_rows(l, rows, n);
    rd_err err;
    int rc = store_append(l, rows, n, &err);
    if (rc == RD_OK) {
        store_back(l);
        return n;
    }
    if (rc != RD_ESTORE) { /* a refusal that waiting would not cure: never silent */
        failed_records(l, &l->refused, n, err.msg);
        return 0;
    }
    store_lost(l, &err);
    return l->spool ? spool_rows(l, rows, n) : 0;
}

/* Commit one batch (taken from the ring under the lock, written without it). */
static void commit_batch(rd_dlog *l, item *batch, size_t n, uint64_t first, uint64_t last)
{
    rd_log_row *rows = rd_malloc(n * sizeof *rows);
    size_t ok = 0;
    for (size_t i = 0; rows && i < n; i++)
        rows[i] = batch[i].row;
    if (rows)
        ok = write_rows(l, rows, n);
    rd_free(rows);
    for (size_t i = 0; i < n; i++)
        rd_free(batch[i].buf);
    atomic_fetch_add(&l->ok, ok);
    atomic_fetch_add(&l->failed, n - ok);
    pthread_mutex_lock(&l->lock);
    if (ok < n) { /* waiters tell a failure from a commit by these ranges */
        l->fail_lo[l->nfail % 64] = first + ok;
        l->fail_hi[l->nfail % 64] = last;
        l->nfail++;
    }
    l->committed = last;
    pthread_cond_broadcast(&l->done);
    pthread_mutex_unlock(&l->lock);
    if (l->o.on_commit)
        l->o.on_commit(l->o.ud, last);
}

/* ------------------------------------------------------------------ draining the spool */

/* The store took the first n records of the last read. */
static void drained(rd_dlog *l, size_t n)
{
    if (rd__dlog_after_drain_commit)
        rd__dlog_after_drain_commit(n);
    rd_err err;
    if (rd__spool_advance(l->spool, n, &err) != RD_OK) { /* sent again later: the store keeps them once */
        SAY(l, RD_DLOG_ERROR, "%s", err.msg);
        retry_later(l);
        return;
    }
    atomic_fetch_add(&l->drained, n);
    store_back(l);
    if (l->single_left) {
        l->single_left -= n;
        l->attempts = 0;
    }
    if (!spool_waits(l))
        SAY(l, RD_DLOG_INFO,
            "the spool %s is drained: the store has every decision record spooled (%llu since the "
            "store was lost)",
            rd__spool_path(l->spool), (unsigned long long)(atomic_load(&l->spooled) - l->outage_spooled));
}

/* The store refused rows[0..n) for a reason other than being unreachable: a chunk is tried
 * again one record at a time, so one record the store will never take (none is known; this is
 * the guard) costs itself alone, after DRAIN_ATTEMPTS tries, not the records behind it. */
static void refused(rd_dlog *l, const rd_log_row *rows, size_t n, const rd_err *err)
{
    if (n > 1) {
        l->single_left = n;
        l->attempts = 0;
        SAY(l, RD_DLOG_WARN, "the store refused %zu spooled decision records (%s): trying them one at a time",
            n, err->msg);
        return;
    }
    if (++l->attempts < DRAIN_ATTEMPTS) {
        retry_later(l);
        return;
    }
    SAY(l, RD_DLOG_ERROR, "the store refused the spooled %s record of request %s %u times (%s): dropped",
        rows[0].kind, rows[0].request_id, l->attempts, err->msg);
    rd_err aerr;
    if (rd__spool_advance(l->spool, 1, &aerr) != RD_OK) {
        SAY(l, RD_DLOG_ERROR, "%s", aerr.msg);
        retry_later(l);
        return;
    }
    atomic_fetch_add(&l->undeliverable, 1);
    l->single_left--;
    l->attempts = 0;
    l->retry_ns = 0;
}

/* One chunk from the spool's head into the store (a ping first while it is lost). */
static void drain_step(rd_dlog *l)
{
    rd_err err;
    if (l->down && rd_store_ping(l->store, &err) != RD_OK) {
        retry_later(l);
        return;
    }
    const rd_log_row *rows;
    size_t n;
    if (rd__spool_read(l->spool, l->single_left ? 1 : l->o.batch_max, &rows, &n, &err) != RD_OK) {
        SAY(l, RD_DLOG_ERROR, "%s", err.msg);
        retry_later(l);
        return;
    }
    if (n) {
        int rc = store_append(l, rows, n, &err);
        if (rc == RD_OK)
            drained(l, n);
        else if (rc == RD_ESTORE)
            store_lost(l, &err);
        else
            refused(l, rows, n, &err);
    }
    gauges(l);
}

static bool drain_due(const rd_dlog *l) { return spool_waits(l) && rd_clock_ns() >= l->retry_ns; }

/* Wait for records, or until the spool's next attempt. With the lock held. */
static void wait_work(rd_dlog *l)
{
    l->idle = true;
    if (spool_waits(l)) {
        struct timespec ts = {.tv_sec = (time_t)(l->retry_ns / 1000000000),
                              .tv_nsec = (long)(l->retry_ns % 1000000000)};
        pthread_cond_timedwait(&l->work, &l->lock, &ts);
    } else {
        pthread_cond_wait(&l->work, &l->lock);
    }
    l->idle = false;
}

/* Stopping: a spool the store is taking is drained a little longer (the next run drains the
 * rest; a shutdown must not wait minutes for a long backlog). */
static void drain_at_stop(rd_dlog *l)
{
    int64_t deadline = rd_clock_ns() + STOP_DRAIN_NS;
    while (!l->down && drain_due(l) && rd_clock_ns() < deadline)
        drain_step(l);
}

#define GATHER_MIN 256
#define GATHER_MS  5

/* Take up to max queued records into batch (with the lock held); returns how many. */
static size_t take(rd_dlog *l, item *batch, size_t max, uint64_t *last)
{
    /* async: a commit costs the same for 1 record or 500 (locks, WAL frames, index pages),
     * so a short wait gathers a group; the loss window grows by at most GATHER_MS */
    if (l->o.durability == RD_DLOG_ASYNC && l->count && l->count < GATHER_MIN && !l->stop) {
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
    *last = l->next_seq - 1 - l->count; /* the sequence number of batch[n - 1] */
    return n;
}

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
        while (!l->count && !l->stop && !drain_due(l))
            wait_work(l);
        if (!l->count && l->stop)
            break;
        uint64_t last;
        size_t n = take(l, batch, max, &last);
        pthread_mutex_unlock(&l->lock);
        if (n)
            commit_batch(l, batch, n, last + 1 - n, last);
        if (drain_due(l)) /* one chunk per round: the queue is served between chunks */
            drain_step(l);
        pthread_mutex_lock(&l->lock);
    }
    pthread_mutex_unlock(&l->lock);
    drain_at_stop(l);
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
    l->backoff_ms = BACKOFF_MIN_MS;
    snprintf(l->node, sizeof l->node, "%s", rd_store_node(s));
    int rc = rd_random_bytes(l->boot, sizeof l->boot, err);
    if (rc) {
        rd_free(l);
        return rc;
    }
    if (!(l->ring = rd_calloc(l->o.queue, sizeof *l->ring))) {
        rd_free(l);
        return rd_err_set(err, RD_ENOMEM, "out of memory");
    }
    if (l->o.spool_path) {
        if (!l->o.spool_max_bytes)
            l->o.spool_max_bytes = RD_DLOG_SPOOL_MAX_DEFAULT;
        rc = rd__spool_open(l->o.spool_path, l->o.on_log, l->o.ud, &l->spool, err);
        l->o.spool_path = NULL; /* borrowed for this call only */
        if (rc) {
            rd_free(l->ring);
            rd_free(l);
            return rc;
        }
        gauges(l); /* what a previous run left is drained first: retry_ns = 0 */
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
        rd__spool_close(l->spool);
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
    rd__spool_close(l->spool);
    rd_free(l->ring);
    rd_free(l);
}

int rd_dlog_submit(rd_dlog *l, const rd_log_row *row, uint64_t *seq)
{
    item it;
    if (!(it.buf = copy_row(l, row, &it.row)))
        return RD_ENOMEM;
    pthread_mutex_lock(&l->lock);
    if (l->count == l->o.queue || l->stop) {
        pthread_mutex_unlock(&l->lock);
        rd_free(it.buf);
        return RD_ELIMIT;
    }
    give_uid(l, l->next_seq, it.row.uid);
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
    st->spooled = atomic_load(&m->spooled);
    st->drained = atomic_load(&m->drained);
    st->undeliverable = atomic_load(&m->undeliverable);
    st->spool_bytes = atomic_load(&m->spool_bytes);
    st->spool_records = atomic_load(&m->spool_records);
    st->store_down = atomic_load(&m->store_down);
}
