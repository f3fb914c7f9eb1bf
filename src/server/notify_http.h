/* The notifications' transport (rd_notify_post_fn, include/riskd/notify.h) over libcurl, and the
 * process's one libcurl start shared with the governance commands' client (cmd_change_http.c).
 *
 * This header does not include libcurl: only notify_http.c and cmd_change_http.c do, and only
 * the riskd binary links it (fuzz_serve leaves notify_http.c out). */
#ifndef RISKD_SERVER_NOTIFY_HTTP_H
#define RISKD_SERVER_NOTIFY_HTTP_H

#include "riskd/err.h"
#include "riskd/notify.h"

/* Start libcurl (curl_global_init) once for the process; later calls return the first one's
 * result. RD_OK or RD_EIO. Call it from the main thread before any other thread uses libcurl:
 * libcurl 7.88's start is not safe to race with transfers in other threads. */
int srv_curl_init(void);

/* The largest answer body kept (the rest of a longer one is not read). */
#define SRV_NOTIFY_HTTP_MAX_BODY (64u << 10)

/* One libcurl easy handle and its answer buffer. The handle's connection cache keeps a live
 * connection per receiver host between calls (keep-alive), so a delivering thread posts every
 * sink through one of these. Not thread-safe: one thread's at a time. */
typedef struct srv_notify_http srv_notify_http;

/* A new transport (starts libcurl through srv_curl_init: call from the main thread). *out is the
 * caller's (srv_notify_http_free). RD_ENOMEM, or RD_EIO when libcurl cannot start. */
int srv_notify_http_new(srv_notify_http **out, rd_err *err);
/* Close its connections and free it; NULL is fine. */
void srv_notify_http_free(srv_notify_http *h);

/* rd_notify_post_fn, ud a srv_notify_http *: POST rq->body to rq->url with rq->headers, no
 * redirect followed, http and https only, TLS checked against rq->cacert (else the system's
 * CAs), at most timeout_ms in all (connecting at most min(3000, timeout_ms)). Fills *res:
 * status (0 when no answer came, transport_error then holds libcurl's text for the code, never
 * the URL), the answer's first SRV_NOTIFY_HTTP_MAX_BODY bytes (NUL-terminated, owned by h until
 * its next call), Retry-After in ms, the time taken. Returns RD_OK, or RD_ENOMEM. */
int srv_notify_http_post(void *ud, const rd_notify_request *rq, int timeout_ms, rd_notify_response *res);

#endif
