/* The governance commands' HTTP client: one admin API request to a riskd server (libcurl).
 *
 * Only this file of the CLI includes libcurl (the server's is src/server/notify_http.c, which
 * also starts it once for the process: srv_curl_init), and only the riskd binary links it. The
 * token travels in the Authorization header and is never printed; a TLS server is checked
 * against --cacert (else the system's CAs), and --cert/--key present a client certificate.
 * Redirects are not followed (a token must not go to another host), and only http and https
 * are spoken. */
#include <curl/curl.h>
#include <stdio.h>
#include <string.h>

#include "../server/notify_http.h"
#include "cli.h"
#include "riskd/arena.h"

#define MAX_RESPONSE_BYTES (64u << 20)

typedef struct sink {
    rd_buf *b;
    bool over;
} sink;

static size_t on_data(char *data, size_t size, size_t n, void *ud)
{
    sink *k = ud;
    size_t len = size * n;
    if (k->b->len + len > MAX_RESPONSE_BYTES || rd_buf_append(k->b, data, len) != RD_OK) {
        k->over = true;
        return 0; /* stops the transfer */
    }
    return len;
}

void cli_url_escape(rd_buf *b, const char *s)
{
    static const char hex[] = "0123456789ABCDEF";
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        if ((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') || *p == '-' ||
            *p == '_' || *p == '.' || *p == '~') {
            rd_buf_putc(b, (char)*p);
        } else {
            rd_buf_putc(b, '%');
            rd_buf_putc(b, hex[*p >> 4]);
            rd_buf_putc(b, hex[*p & 15]);
        }
    }
}

/* Set the options of one request on c; RD_OK or RD_EINVAL (an option libcurl refused). */
static int setup(CURL *c, const cli_http *h, const char *method, const char *url, const char *body,
                 struct curl_slist *headers, sink *k, char *errbuf)
{
    CURLcode e = CURLE_OK;
#define SET(opt, val)                                                                                        \
    if (e == CURLE_OK)                                                                                       \
    e = curl_easy_setopt(c, opt, val)
    SET(CURLOPT_URL, url);
    SET(CURLOPT_ERRORBUFFER, errbuf);
    SET(CURLOPT_NOSIGNAL, 1L);
    SET(CURLOPT_FOLLOWLOCATION, 0L);
#if LIBCURL_VERSION_NUM >= 0x075500
    SET(CURLOPT_PROTOCOLS_STR, "http,https");
#endif
    SET(CURLOPT_CONNECTTIMEOUT_MS, 10000L);
    SET(CURLOPT_TIMEOUT_MS, (long)h->timeout_ms);
    SET(CURLOPT_HTTPHEADER, headers);
    SET(CURLOPT_WRITEFUNCTION, on_data);
    SET(CURLOPT_WRITEDATA, k);
    SET(CURLOPT_USERAGENT, "riskd-cli");
    if (h->cacert)
        SET(CURLOPT_CAINFO, h->cacert);
    if (h->cert)
        SET(CURLOPT_SSLCERT, h->cert);
    if (h->key)
        SET(CURLOPT_SSLKEY, h->key);
    if (strcmp(method, "GET") != 0) {
        SET(CURLOPT_CUSTOMREQUEST, method);
        SET(CURLOPT_POSTFIELDS, body ? body : "{}");
        SET(CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)strlen(body ? body : "{}"));
    }
#undef SET
    if (e != CURLE_OK) {
        snprintf(errbuf, CURL_ERROR_SIZE, "%s", curl_easy_strerror(e));
        return RD_EINVAL;
    }
    return RD_OK;
}

int cli_http_do(const cli_http *h, const char *method, const char *path, const char *body, rd_buf *resp,
                long *status, rd_err *err)
{
    *status = 0;
    if (srv_curl_init() != RD_OK)
        return rd_err_set(err, RD_EIO, "libcurl could not start");
    size_t blen = strlen(h->base);
    while (blen && h->base[blen - 1] == '/')
        blen--;
    rd_buf url, auth;
    rd_buf_init(&url);
    rd_buf_init(&auth);
    rd_buf_printf(&url, "%.*s%s", (int)blen, h->base, path);
    rd_buf_printf(&auth, "Authorization: Bearer %s", h->token);
    struct curl_slist *headers = NULL, *l;
    const char *const fixed[] = {"Content-Type: application/json", "Accept: application/json",
                                 "Expect:", rd_buf_cstr(&auth)};
    bool ok = !url.oom && !auth.oom;
    for (size_t i = 0; ok && i < sizeof fixed / sizeof *fixed; i++) {
        ok = (l = curl_slist_append(headers, fixed[i])) != NULL;
        if (ok)
            headers = l;
    }
    if (auth.data)
        memset(auth.data, 0, auth.len); /* the token: libcurl keeps its own copy */
    rd_buf_deinit(&auth);
    CURL *c = ok ? curl_easy_init() : NULL;
    int rc = RD_OK;
    if (!c) {
        rc = rd_err_set(err, RD_ENOMEM, "out of memory");
    } else {
        char errbuf[CURL_ERROR_SIZE] = "";
        sink k = {resp, false};
        rc = setup(c, h, method, rd_buf_cstr(&url), body, headers, &k, errbuf);
        CURLcode e = rc ? CURLE_OK : curl_easy_perform(c);
        if (rc)
            rd_err_set(err, RD_EINVAL, "%s: %s", h->base, errbuf);
        else if (k.over)
            rc = rd_err_set(err, RD_ELIMIT, "%s: the response is larger than %u bytes", rd_buf_cstr(&url),
                            MAX_RESPONSE_BYTES);
        else if (e != CURLE_OK)
            rc = rd_err_set(err, RD_EIO, "%s: %s", h->base, errbuf[0] ? errbuf : curl_easy_strerror(e));
        else
            curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, status);
        curl_easy_cleanup(c);
    }
    curl_slist_free_all(headers);
    rd_buf_deinit(&url);
    return rc;
}
