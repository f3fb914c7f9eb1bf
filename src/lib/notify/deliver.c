/* Delivery (notify.h): each sink takes the outbox in id order from its cursor in the store.
 *
 * The cursor is the only claim: the delivering node reads it, posts the event after it, then
 * moves it with a compare-and-swap. A node that lost the leadership mid-post fails the swap and
 * posts nothing more; the one duplicate possible (the receiver got the post, the process died
 * before the swap) carries the same idempotency key. A failing event blocks its own sink only:
 * its attempts and next time are stored, so a restart or a new leader keeps the schedule, and
 * after the limit it is recorded as failed and the sink moves on. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "outbox_int.h"
#include "riskd/clock.h"
#include "riskd/notify.h"

#define SCAN_BATCH 64

typedef struct sink_state {
    rd_notify_sink *k;
    int64_t not_before; /* the stored backoff, cached */
    rd_notifier_sink_stats st;
} sink_state;

struct rd_notifier {
    rd_store *s;
    rd_notifier_opts o;
    uint64_t rng;
    size_t n;
    sink_state sinks[];
};

/* One scanned event, copied out of the store's row. */
typedef struct pending {
    int64_t id, stored_ms;
    char uid[37];
    char type[48];
    char *body;
    size_t len;
} pending;

typedef struct batch {
    pending rows[SCAN_BATCH];
    size_t n;
    bool oom;
} batch;

static void batch_free(batch *b)
{
    for (size_t i = 0; i < b->n; i++)
        free(b->rows[i].body);
    b->n = 0;
}

static int collect(void *ud, const rd_notify_row *r)
{
    batch *b = ud;
    pending *p = &b->rows[b->n];
    p->body = malloc(r->body_len + 1);
    if (!p->body) {
        b->oom = true;
        return 1;
    }
    memcpy(p->body, r->body, r->body_len);
    p->body[r->body_len] = 0;
    p->len = r->body_len;
    p->id = r->id;
    p->stored_ms = r->stored_ms;
    snprintf(p->uid, sizeof p->uid, "%s", r->uid);
    snprintf(p->type, sizeof p->type, "%s", r->type);
    return ++b->n == SCAN_BATCH;
}

static void defaults(rd_notifier_opts *o)
{
    if (o->timeout_ms <= 0)
        o->timeout_ms = 5000;
    if (o->max_attempts <= 0)
        o->max_attempts = 12;
    if (o->backoff_ms <= 0)
        o->backoff_ms = 1000;
    if (o->backoff_max_ms <= 0)
        o->backoff_max_ms = 300000;
    if (o->backoff_max_ms < o->backoff_ms)
        o->backoff_max_ms = o->backoff_ms;
}

int rd_notifier_new(rd_store *s, rd_notify_sink *const *sinks, size_t n, const rd_notifier_opts *o,
                    rd_notifier **out, rd_err *err)
{
    *out = NULL;
    if (!o->post)
        return rd_err_set(err, RD_EINVAL, "notifications: no transport");
    rd_notifier *nt = calloc(1, sizeof *nt + n * sizeof(sink_state));
    if (!nt)
        return rd_err_set(err, RD_ENOMEM, "out of memory");
    nt->s = s;
    nt->o = *o;
    defaults(&nt->o);
    nt->n = n;
    int rc = rd_random_bytes(&nt->rng, sizeof nt->rng, err);
    nt->rng |= 1;
    int64_t last = 0;
    if (!rc)
        rc = rd_store_outbox_last_id(s, &last, err);
    for (size_t i = 0; !rc && i < n; i++) {
        nt->sinks[i].k = sinks[i];
        nt->sinks[i].st.name = rd_notify_sink_name(sinks[i]);
        nt->sinks[i].st.kind = rd_notify_sink_kind(sinks[i]);
        rc = rd_store_sink_init(s, rd_notify_sink_name(sinks[i]),
                                rd_notify_kind_name(rd_notify_sink_kind(sinks[i])), last, NULL, err);
    }
    if (rc) {
        free(nt);
        return rc;
    }
    *out = nt;
    return RD_OK;
}

void rd_notifier_free(rd_notifier *nt) { free(nt); }

size_t rd_notifier_stats(const rd_notifier *nt, rd_notifier_sink_stats *out, size_t cap)
{
    size_t i = 0;
    for (; i < nt->n && i < cap; i++)
        out[i] = nt->sinks[i].st;
    return i;
}

/* Whether the sink takes this event (its change kind read from the body for change.* events). */
static bool wanted(const rd_notify_sink *k, const pending *p)
{
    if (strncmp(p->type, "change.", 7) != 0)
        return rd_notify_sink_wants(k, p->type, NULL);
    rd_arena a;
    rd_arena_init(&a, 0);
    rd_notify_envelope e;
    bool ok = rd__notify_envelope_read(p->body, p->len, &a, &e, NULL) == RD_OK;
    bool want = rd_notify_sink_wants(k, p->type, ok ? e.change_kind : NULL);
    rd_arena_deinit(&a);
    return want;
}

rd_notify_verdict rd_notify_send(const rd_notify_sink *k, const char *event_json, size_t len,
                                 const rd_notifier_opts *o, rd_notify_response *res, char *why, size_t cap)
{
    rd_notifier_opts oo = *o;
    defaults(&oo);
    memset(res, 0, sizeof *res);
    rd_notify_request rq = {0};
    rd_err err = {0};
    if (rd_notify_format(k, event_json, len, &oo.format, &rq, &err) != RD_OK) {
        snprintf(why, cap, "cannot format the event: %s", err.msg);
        rd_notify_request_free(&rq);
        return RD_NOTIFY_FAIL;
    }
    int64_t t0 = rd_clock_unix_ms();
    rd_notify_verdict v;
    if (oo.post(oo.post_ud, &rq, oo.timeout_ms, res) != 0) {
        snprintf(res->transport_error, sizeof res->transport_error, "out of memory");
        res->status = 0;
    }
    if (!res->elapsed_ms)
        res->elapsed_ms = rd_clock_unix_ms() - t0;
    v = rd_notify_classify(rd_notify_sink_kind(k), res, why, cap);
    rd_notify_request_free(&rq);
    return v;
}

/* What the attempt at p did to the cursor: moved (delivered or given up) or scheduled a retry. */
static int settle(rd_notifier *nt, sink_state *ss, const rd_sink_row *row, const pending *p,
                  rd_notify_verdict v, const char *why, const rd_notify_response *res, int64_t now,
                  bool *moved, rd_err *err)
{
    const char *name = rd_notify_sink_name(ss->k);
    int attempts = row->attempts + 1;
    bool give_up = v == RD_NOTIFY_FAIL || (v == RD_NOTIFY_RETRY && attempts >= nt->o.max_attempts);
    int rc;
    *moved = v == RD_NOTIFY_OK || give_up;
    if (*moved)
        ss->not_before = 0;
    if (v == RD_NOTIFY_OK) {
        rc = rd_store_sink_advance(nt->s, name, row->last_id, p->id, now, now, err);
        ss->st.sent++;
        ss->st.last_ok_ms = now;
    } else if (give_up) {
        rd_sink_failure f = {
            .event_id = p->id, .failed_ms = now, .attempts = attempts, .status = res->status};
        snprintf(f.sink, sizeof f.sink, "%s", name);
        snprintf(f.error, sizeof f.error, "%s", why);
        rc = rd_store_sink_fail(nt->s, &f, row->last_id, err);
        ss->st.failed++;
    } else {
        int64_t wait = rd_notify_backoff_ms(attempts, nt->o.backoff_ms, nt->o.backoff_max_ms,
                                            res->retry_after_ms, &nt->rng);
        ss->not_before = now + wait;
        rc = rd_store_sink_retry(nt->s, name, row->last_id, attempts, ss->not_before, why, now, err);
        ss->st.retried++;
    }
    if (nt->o.on_attempt)
        nt->o.on_attempt(nt->o.on_attempt_ud, ss->k, p->type, p->uid, v, give_up, why, res);
    return rc;
}

/* Skip (move the cursor past) the events the sink does not take, up to the first it does:
 * *head is its index in b, or -1 when none in this batch. */
static int skip_unwanted(rd_notifier *nt, sink_state *ss, rd_sink_row *row, const batch *b, int *head,
                         int64_t now, rd_err *err)
{
    size_t i = 0;
    while (i < b->n && !wanted(ss->k, &b->rows[i]))
        i++;
    *head = i < b->n ? (int)i : -1;
    if (i == 0)
        return RD_OK;
    int64_t to = b->rows[i - 1].id;
    int rc = rd_store_sink_advance(nt->s, rd_notify_sink_name(ss->k), row->last_id, to, 0, now, err);
    if (!rc) {
        row->last_id = to;
        row->attempts = 0;
    }
    return rc;
}

/* One step of a sink: deliver or schedule its head event. *progress: the cursor moved. */
static int sink_step(rd_notifier *nt, sink_state *ss, int64_t now, bool *progress, size_t *sent, rd_err *err)
{
    *progress = false;
    rd_sink_row row;
    int rc = rd_store_sink_get(nt->s, rd_notify_sink_name(ss->k), &row, err);
    if (rc)
        return rc;
    ss->not_before = row.attempts ? row.next_ms : 0;
    if (ss->not_before > now)
        return RD_OK;
    batch b = {0};
    rc = rd_store_outbox_scan(nt->s, row.last_id, SCAN_BATCH, collect, &b, err);
    if (!rc && b.oom)
        rc = rd_err_set(err, RD_ENOMEM, "out of memory");
    int64_t last = 0;
    if (!rc && (rc = rd_store_outbox_last_id(nt->s, &last, err)) == RD_OK) {
        ss->st.pending = last > row.last_id ? last - row.last_id : 0;
        ss->st.oldest_pending_ms = b.n ? b.rows[0].stored_ms : 0;
    }
    int head = -1;
    if (!rc && b.n)
        rc = skip_unwanted(nt, ss, &row, &b, &head, now, err);
    if (!rc && b.n && head < 0)
        *progress = true; /* a whole batch skipped: look further */
    if (!rc && head >= 0) {
        const pending *p = &b.rows[head];
        rd_notify_response res;
        char why[256];
        rd_notify_verdict v = rd_notify_send(ss->k, p->body, p->len, &nt->o, &res, why, sizeof why);
        rc = settle(nt, ss, &row, p, v, why, &res, now + res.elapsed_ms, progress, err);
        *sent += v == RD_NOTIFY_OK;
    }
    batch_free(&b);
    if (rc == RD_ECONFLICT) /* another node moved the cursor: read it again next time */
        rc = RD_OK;
    return rc;
}

int rd_notifier_run(rd_notifier *nt, int64_t now_ms, int64_t budget_ms, int64_t *next_ms, size_t *sent,
                    rd_err *err)
{
    *next_ms = INT64_MAX;
    if (sent)
        *sent = 0;
    size_t count = 0;
    int64_t start = rd_clock_unix_ms();
    int rc = RD_OK;
    for (size_t i = 0; !rc && i < nt->n; i++) {
        sink_state *ss = &nt->sinks[i];
        bool progress = true;
        while (!rc && progress) {
            if (budget_ms && rd_clock_unix_ms() - start >= budget_ms) {
                *next_ms = now_ms; /* more to do: come back at once */
                break;
            }
            rc = sink_step(nt, ss, now_ms + (rd_clock_unix_ms() - start), &progress, &count, err);
        }
        if (!rc && ss->not_before > 0 && ss->not_before < *next_ms)
            *next_ms = ss->not_before;
    }
    if (sent)
        *sent = count;
    return rc;
}
