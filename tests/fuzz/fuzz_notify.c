/* libFuzzer target: notification sink specs and event envelopes (notify.h). The input is a sink
 * spec, then after a NUL byte an envelope as the outbox or the spool holds it. Whatever spec
 * parses must describe itself, and whatever envelope it formats must give a request whose body
 * is strict JSON (every kind's payload is) with its headers; scrubbing must leave no control
 * character and keep within its cap. No crash, leak or sanitizer report. Specs naming files
 * (url_file, secret_file, cacert) are skipped: the target reads no file of the fuzzer's choosing. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "riskd/json.h"
#include "riskd/notify.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_json(const char *p, size_t n)
{
    rd_arena a;
    rd_arena_init(&a, 0);
    rd_value v;
    if (rd_json_parse(p, n, NULL, &a, &v, NULL) != RD_OK)
        abort();
    rd_arena_deinit(&a);
}

static void check_scrub(const char *text, size_t n)
{
    char *s = malloc(n + 1);
    if (!s)
        return;
    memcpy(s, text, n);
    s[n] = 0;
    rd_buf b;
    rd_buf_init(&b);
    rd_notify_scrub(s, 64, &b);
    if (b.len > 64)
        abort();
    for (size_t i = 0; i < b.len; i++)
        if ((unsigned char)b.data[i] < 0x20 || b.data[i] == 0x7f)
            abort();
    rd_buf_deinit(&b);
    free(s);
}

static void format_with(const rd_notify_sink *k, const char *env, size_t n)
{
    rd_notify_format_opts o = {.console_url = "https://riskd.example.com", .alert_hold_s = 60};
    rd_notify_request rq = {0};
    rd_err err;
    if (rd_notify_format(k, env, n, &o, &rq, &err) == RD_OK) {
        if (!rq.url || !rq.headers[0])
            abort();
        check_json(rq.body.data, rq.body.len);
    }
    rd_notify_request_free(&rq);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *text = (const char *)data, *nul = memchr(text, '\0', size);
    size_t spec_len = nul ? (size_t)(nul - text) : size;
    const char *env = nul ? nul + 1 : "";
    size_t env_len = nul ? size - spec_len - 1 : 0;
    check_scrub(env, strnlen(env, env_len));
    char spec[2048];
    if (spec_len >= sizeof spec)
        return 0;
    memcpy(spec, text, spec_len);
    spec[spec_len] = 0;
    if (strstr(spec, "_file") || strstr(spec, "cacert"))
        return 0;
    rd_notify_sink *k;
    rd_err err;
    if (rd_notify_sink_parse(spec, 1, &k, &err) != RD_OK) {
        /* a refused spec: the message names the sink */
        if (!strstr(err.msg, "notify #1"))
            abort();
        return 0;
    }
    if (rd_notify_sinks_check(&k, 1, &err) == RD_OK) {
        rd_buf d;
        rd_buf_init(&d);
        rd_notify_sink_describe(k, &d);
        if (!d.len)
            abort();
        rd_buf_deinit(&d);
        rd_notify_sink_wants(k, "change.proposed", "flags");
        format_with(k, env, env_len);
    }
    rd_notify_sink_free(k);
    return 0;
}
