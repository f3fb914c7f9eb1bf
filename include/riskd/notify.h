/* Notifications (issue 20, docs/notifications.md, docs/adr/0014-notifications.md): events about
 * changes, rollouts and the node's health, delivered to webhooks, Slack, WeCom group robots and
 * Prometheus Alertmanager.
 *
 * An event about something stored (a change request, a rollout transition) is written into the
 * store's outbox in the same transaction as the thing itself, so a crash never loses or invents
 * one. An event with no such transaction (a breaker trip, the store going away) is appended to a
 * local spool file, drained into the outbox in order when the store answers. One node (the
 * holder of the "notify" leadership) delivers: each sink has a cursor in the store and takes the
 * outbox in id order, retrying with exponential backoff and jitter up to a limit, then records
 * the event as failed and moves on. Delivery is at least once; the event's id (a UUIDv7) is its
 * idempotency key, the same for every sink and every attempt.
 *
 * Nothing in an event is secret: no token, no feature value, no request body; people's free text
 * (titles, notes) is scrubbed of token-shaped strings. A sink's URL and secret live in memory only
 * and never appear in a message or a log line.
 *
 * The library speaks no HTTP: the caller passes a transport (rd_notify_post_fn); the server's is
 * libcurl (src/server/notify_http.c), so libriskd stays free of it. */
#ifndef RISKD_NOTIFY_H
#define RISKD_NOTIFY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "riskd/arena.h"
#include "riskd/err.h"
#include "riskd/store.h"

/* ------------------------------------------------------------------ event types */

/* Every type riskd raises, dotted ("change.proposed", "rollout.rolled_back", ...), in a stable
 * order; *n gets the count. */
RD_API const char *const *rd_notify_types(size_t *n);
RD_API bool rd_notify_type_known(const char *type);
/* Whether the type is an alarm (fires or resolves an alert: breaker, drift, backlog, store,
 * certificate, rollout rolled back / held / resumed). */
RD_API bool rd_notify_type_alarm(const char *type);

/* ------------------------------------------------------------------ events */

/* An event to raise. Strings are copied; NULL members are left out of the envelope. */
typedef struct rd_notify_event {
    const char *type;        /* a known type */
    int64_t ts_ms;           /* 0: now */
    const char *node;        /* NULL: the store's node (rd_store_node), else required */
    const char *actor;       /* a user name, "controller", "riskd"; NULL: none */
    const char *object_kind; /* "change", "rollout", "version", "bundle", "node", "certificate" */
    const char *object_id;
    const char *summary;     /* one line for people; scrubbed and cut to 300 bytes */
    const char *alert_key;   /* alarms: what the alert is about ("breaker/n1/credit_xgb_v1.1") */
    const char *alert_state; /* alarms: "firing" or "resolved" */
    const char *data_json;   /* a JSON object with the type's details, or NULL */
    uint8_t uid[16];         /* all zero: a fresh UUIDv7; else this identity (a deterministic
                                event, raised again after a restart, is stored once) */
} rd_notify_event;

/* The event's JSON envelope (docs/notifications.md): id, type, version, time, node, actor, object,
 * summary, alert, data. RD_EINVAL for an unknown type or a data_json that is not an object. */
RD_API int rd_notify_event_json(const rd_notify_event *e, rd_buf *out, rd_err *err);

/* Write the event into the outbox, inside the caller's store transaction (rd_store_begin), and
 * wake the delivering node at commit. RD_EINTERNAL outside a transaction. */
RD_API int rd_notify_enqueue(rd_store *s, const rd_notify_event *e, rd_err *err);
/* The same for an envelope built already (a spooled line): its id, type, time, node and object
 * are read from it. RD_EINVAL when it is not an envelope. */
RD_API int rd_notify_enqueue_json(rd_store *s, const char *json, size_t len, bool *added, rd_err *err);

/* Replace token-shaped strings ("rdk_...") with "rdk_…(redacted)", drop control characters and
 * cut to cap bytes on a UTF-8 boundary (adding "…"): what people's free text goes through before
 * it enters an event. */
RD_API void rd_notify_scrub(const char *in, size_t cap, rd_buf *out);

/* ------------------------------------------------------------------ the spool
 *
 * Events with no store transaction, one envelope per line (JSON lines), appended whole and
 * fsynced under an flock on PATH.lock; drained into the outbox in file order. */
/* RD_ELIMIT (and nothing written) when the file would grow past max_bytes (0: no bound). */
RD_API int rd_notify_spool_append(const char *path, const char *json, size_t len, size_t max_bytes,
                                  rd_err *err);
/* Move up to max lines (0: all) into the outbox in one transaction, then drop them from the file.
 * A line that is not an envelope is set aside in PATH.bad (and counted in *bad) rather than
 * blocking the rest. *drained: lines moved (already stored ones included). */
RD_API int rd_notify_spool_drain(const char *path, rd_store *s, size_t max, size_t *drained, size_t *bad,
                                 rd_err *err);
/* Lines waiting in the spool (0 when it does not exist). */
RD_API size_t rd_notify_spool_count(const char *path);

/* ------------------------------------------------------------------ sinks */

typedef enum rd_notify_kind {
    RD_NOTIFY_WEBHOOK,
    RD_NOTIFY_SLACK,
    RD_NOTIFY_WECOM,
    RD_NOTIFY_ALERTMANAGER,
} rd_notify_kind;

typedef struct rd_notify_sink rd_notify_sink;

/* Parse one sink spec: "KIND url=URL|url_file=F [secret_file=F] [events=GLOB,...]
 * [kinds=flags,bundle,rollout] [name=NAME] [cacert=F]". index (from 1) names the sink in errors,
 * which never contain the URL or the secret. Files (url_file, secret_file, cacert) are read here:
 * an empty or unreadable one is an error. */
RD_API int rd_notify_sink_parse(const char *spec, int index, rd_notify_sink **out, rd_err *err);
RD_API void rd_notify_sink_free(rd_notify_sink *k);
/* Give default names to sinks without name= (KIND when it is the only sink of its kind, else
 * KIND-<8 hex of the URL's SHA-256>) and refuse two sinks with one name (RD_EINVAL). */
RD_API int rd_notify_sinks_check(rd_notify_sink **sinks, size_t n, rd_err *err);
RD_API const char *rd_notify_sink_name(const rd_notify_sink *k);
RD_API rd_notify_kind rd_notify_sink_kind(const rd_notify_sink *k);
RD_API const char *rd_notify_kind_name(rd_notify_kind kind); /* "webhook", ... */
/* Warnings about a parsed sink (plain http to another host for a URL that is the secret, a
 * secret file others can read), one per line, or "" (never the URL). */
RD_API const char *rd_notify_sink_warnings(const rd_notify_sink *k);
/* One line for --check-config and logs: "slack (name slack): https://hooks.slack.com/…, events *,
 * kinds any": scheme, host and port only. */
RD_API void rd_notify_sink_describe(const rd_notify_sink *k, rd_buf *out);
/* Whether the sink takes an event of this type (events=) and, for change.* events, of this change
 * kind (kinds=; change_kind NULL: not a change event). */
RD_API bool rd_notify_sink_wants(const rd_notify_sink *k, const char *type, const char *change_kind);

/* ------------------------------------------------------------------ formats */

typedef struct rd_notify_format_opts {
    const char *console_url; /* base of console links ("https://riskd.example.com"); NULL: none */
    int64_t alert_hold_s;    /* Alertmanager: endsAt of a firing alarm = time + this (0: 3600) */
    const char *version;     /* riskd's version, for User-Agent (NULL: "riskd") */
} rd_notify_format_opts;

/* An HTTP request to send: POST url with the headers ("Name: value") and the body. */
#define RD_NOTIFY_MAX_HEADERS 8
typedef struct rd_notify_request {
    char *url;                                /* owned */
    char *headers[RD_NOTIFY_MAX_HEADERS + 1]; /* owned, NULL-terminated */
    rd_buf body;
    const char *cacert; /* the sink's CA file, or NULL (borrowed from the sink) */
} rd_notify_request;
RD_API void rd_notify_request_free(rd_notify_request *rq);

/* The request that delivers an event envelope (as stored) to the sink: the body in the sink
 * kind's shape, the headers (Content-Type, User-Agent, X-Riskd-Event, X-Riskd-Event-Id,
 * Idempotency-Key; X-Riskd-Signature for a webhook with a secret), the URL (Alertmanager: with
 * /api/v2/alerts added unless it ends so). */
RD_API int rd_notify_format(const rd_notify_sink *k, const char *event_json, size_t len,
                            const rd_notify_format_opts *o, rd_notify_request *out, rd_err *err);

/* "sha256=" and the lowercase hex HMAC-SHA256 of body under key (what X-Riskd-Signature holds). */
#define RD_NOTIFY_SIG_LEN (7 + 64 + 1)
RD_API void rd_notify_sign(const void *key, size_t key_len, const void *body, size_t len,
                           char out[RD_NOTIFY_SIG_LEN]);

/* ------------------------------------------------------------------ delivery */

typedef enum rd_notify_verdict {
    RD_NOTIFY_OK,    /* delivered */
    RD_NOTIFY_RETRY, /* try again later (transport error, 408, 425, 429, 5xx, WeCom 45009/-1) */
    RD_NOTIFY_FAIL,  /* will not succeed (other 4xx, other WeCom errcode) */
} rd_notify_verdict;

/* What the transport answers. */
typedef struct rd_notify_response {
    int status;                /* HTTP status; 0 when no answer came (transport_error says why) */
    char transport_error[128]; /* e.g. curl_easy_strerror's text: never the URL */
    const char *body;          /* the answer's body (at most 64 KiB), may be NULL */
    size_t body_len;
    int64_t retry_after_ms; /* Retry-After, or 0 */
    int64_t elapsed_ms;
} rd_notify_response;

/* Classify an answer for a sink kind; *why gets a short reason for logs and the failure row
 * ("HTTP 404", "wecom errcode 93000: invalid webhook url", "timeout ..."), never the URL. */
RD_API rd_notify_verdict rd_notify_classify(rd_notify_kind kind, const rd_notify_response *r, char *why,
                                            size_t cap);

/* The wait before attempt number `attempt` + 1 after `attempt` failures (1, 2, ...): equal
 * jitter, d = min(max_ms, base_ms * 2^(attempt-1)), wait = d/2 + rand[0, d/2], raised to
 * retry_after_ms (when > 0) and capped at max_ms. *rng: a xorshift64 state (non-zero). */
RD_API int64_t rd_notify_backoff_ms(int attempt, int64_t base_ms, int64_t max_ms, int64_t retry_after_ms,
                                    uint64_t *rng);

/* The transport: send rq, fill *res (res->body may point into storage the transport owns until
 * its next call). Returns 0, or non-zero only for a local failure (out of memory). */
typedef int (*rd_notify_post_fn)(void *ud, const rd_notify_request *rq, int timeout_ms,
                                 rd_notify_response *res);

typedef struct rd_notifier_opts {
    rd_notify_format_opts format;
    int timeout_ms;         /* per request (0: 5000) */
    int max_attempts;       /* then failed (0: 12) */
    int64_t backoff_ms;     /* first wait (0: 1000) */
    int64_t backoff_max_ms; /* longest wait (0: 300000) */
    rd_notify_post_fn post;
    void *post_ud;
    /* Called after each attempt (for metrics and logs); may be NULL. verdict as classified. */
    void (*on_attempt)(void *ud, const rd_notify_sink *k, const char *event_type, const char *event_uid,
                       rd_notify_verdict verdict, bool gave_up, const char *why, const rd_notify_response *r);
    void *on_attempt_ud;
} rd_notifier_opts;

/* A delivering node's state: the sinks (borrowed, they must outlive it) and their cursors in the
 * store. One thread's. */
typedef struct rd_notifier rd_notifier;
/* Create every sink's cursor in the store unless it exists (new sinks at the newest event). */
RD_API int rd_notifier_new(rd_store *s, rd_notify_sink *const *sinks, size_t n, const rd_notifier_opts *o,
                           rd_notifier **out, rd_err *err);
RD_API void rd_notifier_free(rd_notifier *nt);
/* Deliver what is due at now_ms, each sink in turn, each in id order, until nothing is due or
 * budget_ms has passed (0: no budget). *next_ms: when something is due next (INT64_MAX: nothing
 * known; new events wake the caller). *sent counts deliveries. Store errors are returned
 * (RD_ESTORE): the caller retries later. */
RD_API int rd_notifier_run(rd_notifier *nt, int64_t now_ms, int64_t budget_ms, int64_t *next_ms, size_t *sent,
                           rd_err *err);

/* Per sink, for metrics and /ready. */
typedef struct rd_notifier_sink_stats {
    const char *name;
    rd_notify_kind kind;
    uint64_t sent, failed, retried;
    int64_t pending;           /* events after the cursor (at the last run) */
    int64_t oldest_pending_ms; /* the stored time of the first of them (0: none) */
    int64_t last_ok_ms;
} rd_notifier_sink_stats;
RD_API size_t rd_notifier_stats(const rd_notifier *nt, rd_notifier_sink_stats *out, size_t cap);

/* Send one event to one sink now, outside the outbox (riskd notify test): *res and the verdict. */
RD_API rd_notify_verdict rd_notify_send(const rd_notify_sink *k, const char *event_json, size_t len,
                                        const rd_notifier_opts *o, rd_notify_response *res, char *why,
                                        size_t cap);

#endif
