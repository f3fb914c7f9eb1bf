/* The notifications' transport over libcurl (notify_http.h), and the process's one libcurl start.
 *
 * Invariants:
 * - A sink's URL is its secret (a Slack or WeCom URL carries the token): nothing here writes it
 *   anywhere. A transport error is curl_easy_strerror's fixed text for the code, never libcurl's
 *   error buffer (which can quote the URL or the host), and no error buffer is even installed.
 * - No redirect is followed: a redirect could carry a signed body, or the URL's token in a
 *   Referer, to another host. Only http and https are spoken; TLS is always checked (a private CA
 *   comes through the sink's cacert=).
 * - The handle is reset before every request (curl_easy_reset keeps live connections, the DNS
 *   and TLS session caches), so no option of one sink's request (its CA file, its body) can leak
 *   into the next sink's.
 * - The answer kept is at most SRV_NOTIFY_HTTP_MAX_BODY bytes: a longer one is cut there and the
 *   transfer stopped, but its status still counts (a receiver answering 200 with a page is
 *   classified by the 200, not failed for its size). */
#include <curl/curl.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "notify_http.h"
#include "riskd/arena.h"
#include "riskd/clock.h"

/* Connections kept open at once: one per receiver host; a few sinks fit with room to spare. */
#define MAX_CONNECTS 16L
/* The longest wait for the TCP and TLS handshakes, whatever the request's timeout. */
#define CONNECT_TIMEOUT_MS 3000
/* A request's timeout when the caller gives none. */
#define DEFAULT_TIMEOUT_MS 5000

struct srv_notify_http {
    CURL *c;
    size_t len; /* bytes of the answer kept */
    bool over;  /* the answer was longer than the buffer: the transfer was stopped */
    char *body; /* SRV_NOTIFY_HTTP_MAX_BODY + 1 bytes */
};

static pthread_once_t curl_once = PTHREAD_ONCE_INIT;
static int curl_rc = RD_EIO;

static void curl_start(void) { curl_rc = curl_global_init(CURL_GLOBAL_DEFAULT) == CURLE_OK ? RD_OK : RD_EIO; }

int srv_curl_init(void)
{
    pthread_once(&curl_once, curl_start);
    return curl_rc;
}

int srv_notify_http_new(srv_notify_http **out, rd_err *err)
{
    if (srv_curl_init() != RD_OK)
        return rd_err_set(err, RD_EIO, "libcurl could not start");
    srv_notify_http *h = rd_calloc(1, sizeof *h);
    if (h)
        h->body = rd_calloc(1, SRV_NOTIFY_HTTP_MAX_BODY + 1);
    if (h && h->body)
        h->c = curl_easy_init();
    if (!h || !h->c) {
        srv_notify_http_free(h);
        return rd_err_set(err, RD_ENOMEM, "out of memory");
    }
    *out = h;
    return RD_OK;
}

void srv_notify_http_free(srv_notify_http *h)
{
    if (!h)
        return;
    if (h->c)
        curl_easy_cleanup(h->c);
    rd_free(h->body);
    rd_free(h);
}

static size_t on_data(char *data, size_t size, size_t n, void *ud)
{
    srv_notify_http *h = ud;
    size_t len = size * n, room = SRV_NOTIFY_HTTP_MAX_BODY - h->len;
    if (len > room) {
        memcpy(h->body + h->len, data, room);
        h->len += room;
        h->over = true;
        return 0; /* stops the transfer: the rest is not worth reading */
    }
    memcpy(h->body + h->len, data, len);
    h->len += len;
    return len;
}

/* rq's headers as libcurl's list, with "Expect:" (no 100-continue round trip, which libcurl
 * 7.88 would wait up to a second for on a body over 1 KiB); NULL on OOM. */
static struct curl_slist *header_list(const rd_notify_request *rq)
{
    struct curl_slist *list = curl_slist_append(NULL, "Expect:"), *l;
    for (size_t i = 0; list && i < RD_NOTIFY_MAX_HEADERS && rq->headers[i]; i++) {
        if (!(l = curl_slist_append(list, rq->headers[i]))) {
            curl_slist_free_all(list);
            return NULL;
        }
        list = l;
    }
    return list;
}

/* Set the options of one request on the (reset) handle; the first code libcurl refused. */
static CURLcode setup(srv_notify_http *h, const rd_notify_request *rq, long timeout_ms,
                      struct curl_slist *headers)
{
    CURLcode e = CURLE_OK;
#define SET(opt, val)                                                                                        \
    if (e == CURLE_OK)                                                                                       \
    e = curl_easy_setopt(h->c, opt, val)
    SET(CURLOPT_URL, rq->url);
    SET(CURLOPT_NOSIGNAL, 1L);
    SET(CURLOPT_FOLLOWLOCATION, 0L);
#if LIBCURL_VERSION_NUM >= 0x075500
    SET(CURLOPT_PROTOCOLS_STR, "http,https");
#else
    SET(CURLOPT_PROTOCOLS, (long)(CURLPROTO_HTTP | CURLPROTO_HTTPS));
#endif
    SET(CURLOPT_CONNECTTIMEOUT_MS, timeout_ms < CONNECT_TIMEOUT_MS ? timeout_ms : (long)CONNECT_TIMEOUT_MS);
    SET(CURLOPT_TIMEOUT_MS, timeout_ms);
    SET(CURLOPT_MAXCONNECTS, MAX_CONNECTS);
    SET(CURLOPT_HTTPHEADER, headers);
    SET(CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)rq->body.len);
    SET(CURLOPT_POSTFIELDS, rq->body.data ? rq->body.data : "");
    SET(CURLOPT_WRITEFUNCTION, on_data);
    SET(CURLOPT_WRITEDATA, h);
    if (rq->cacert)
        SET(CURLOPT_CAINFO, rq->cacert);
#undef SET
    return e;
}

/* Retry-After (seconds, or an HTTP date libcurl turns into seconds from now) in ms; 0: none. */
static int64_t retry_after_ms(CURL *c)
{
#if LIBCURL_VERSION_NUM >= 0x074200
    curl_off_t s = 0;
    if (curl_easy_getinfo(c, CURLINFO_RETRY_AFTER, &s) != CURLE_OK || s <= 0)
        return 0;
    return s > INT64_MAX / 1000 ? INT64_MAX : (int64_t)s * 1000;
#else
    (void)c;
    return 0;
#endif
}

int srv_notify_http_post(void *ud, const rd_notify_request *rq, int timeout_ms, rd_notify_response *res)
{
    srv_notify_http *h = ud;
    memset(res, 0, sizeof *res);
    int64_t t0 = rd_clock_ns();
    struct curl_slist *headers = header_list(rq);
    if (!headers)
        return RD_ENOMEM;
    curl_easy_reset(h->c);
    h->len = 0;
    h->over = false;
    CURLcode e = setup(h, rq, timeout_ms > 0 ? (long)timeout_ms : DEFAULT_TIMEOUT_MS, headers);
    if (e == CURLE_OK)
        e = curl_easy_perform(h->c);
    h->body[h->len] = '\0';
    long status = 0;
    /* A transfer stopped for its size has its status already (the write callback runs after
     * the headers): an answer. Any other failure had none that counts. */
    if (e == CURLE_OK || (e == CURLE_WRITE_ERROR && h->over))
        curl_easy_getinfo(h->c, CURLINFO_RESPONSE_CODE, &status);
    if (status > 0) {
        res->status = (int)status;
        res->body = h->body;
        res->body_len = h->len;
        res->retry_after_ms = retry_after_ms(h->c);
    } else {
        snprintf(res->transport_error, sizeof res->transport_error, "%s",
                 curl_easy_strerror(e == CURLE_OK ? CURLE_WEIRD_SERVER_REPLY : e));
    }
    /* The list must outlive the transfer, not the handle: the next request sets a new one. */
    curl_easy_setopt(h->c, CURLOPT_HTTPHEADER, (struct curl_slist *)NULL);
    curl_slist_free_all(headers);
    res->elapsed_ms = (rd_clock_ns() - t0) / 1000000;
    return e == CURLE_OUT_OF_MEMORY ? RD_ENOMEM : RD_OK;
}
