/* POST /v1/outcomes and GET /v1/outcomes/stats: labels that arrive late, joined to the
 * decision log (include/riskd/store.h, "outcomes"). The batch is read by the library
 * (rd_outcomes_from_value: strict, all or nothing) and recorded in one transaction on the
 * outcome store's handle, which the HTTP threads share under its lock; this file maps HTTP to
 * those calls and their errors to statuses.
 *
 * The decision log is written asynchronously (log_durability = async): an outcome for a
 * decision still in the writer's queue (the last ~50 ms of decisions) finds no decision and is
 * answered "unknown_request"; sending it again later records it. With log_durability = ack a
 * decision is committed before it is answered, so its outcome always finds it. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "riskd/json.h"
#include "riskd/text.h"
#include "server.h"

#define MAX_UNKNOWN_IDS 100 /* listed in the answer; all are counted */

static bool no_store(srv_req *r)
{
    if (r->outcomes)
        return false;
    srv_reply_error(r, 503, "LOG_OFF",
                    "outcomes are joined to the decision log, which is off (log = off): there is nothing to "
                    "record them against");
    return true;
}

static void lib_error(srv_req *r, int rc, const rd_err *err, const char *what)
{
    srv_reply_error(r, rd_err_http_status(rc), rd_err_name(rc), "%s%s", what, err->msg);
}

static int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* The answer: the counts by result and the unknown request ids, each once, up to 100. */
static void answer(srv_req *r, const rd_outcome *o, const rd_outcome_result *res, size_t n)
{
    uint64_t count[4] = {0};
    for (size_t i = 0; i < n; i++)
        count[res[i]]++;
    srv_metrics_outcomes(count);
    rd_buf *b = r->out;
    rd_buf_printf(b,
                  "{\"received\":%zu,\"new\":%llu,\"same\":%llu,\"changed\":%llu,\"unknown_request\":%llu,"
                  "\"unknown_request_ids\":[",
                  n, (unsigned long long)count[RD_OUTCOME_NEW], (unsigned long long)count[RD_OUTCOME_SAME],
                  (unsigned long long)count[RD_OUTCOME_CHANGED],
                  (unsigned long long)count[RD_OUTCOME_UNKNOWN_REQ]);
    const char *listed[MAX_UNKNOWN_IDS];
    size_t nl = 0;
    for (size_t i = 0; i < n && nl < MAX_UNKNOWN_IDS; i++) {
        if (res[i] != RD_OUTCOME_UNKNOWN_REQ)
            continue;
        bool seen = false;
        for (size_t j = 0; j < nl && !seen; j++)
            seen = !strcmp(listed[j], o[i].request_id);
        if (seen)
            continue;
        if (nl)
            rd_buf_putc(b, ',');
        listed[nl++] = o[i].request_id;
        rd_json_write_string(b, o[i].request_id, strlen(o[i].request_id));
    }
    rd_buf_puts(b, "]}");
}

void srv_route_outcomes(srv_req *r)
{
    if (no_store(r))
        return;
    rd_value v;
    rd_err err;
    if (srv_req_json(r, &v, &err) < 0)
        return;
    rd_outcome *o;
    size_t n;
    int rc = rd_outcomes_from_value(&v, r->cfg->max_batch, r->arena, &o, &n, &err);
    if (rc) {
        lib_error(r, rc, &err, "nothing recorded: ");
        return;
    }
    rd_outcome_result *res = rd_arena_alloc(r->arena, (n ? n : 1) * sizeof *res);
    if (!res) {
        srv_reply_error(r, 503, "OUT_OF_MEMORY", "the batch could not be held in memory");
        return;
    }
    pthread_mutex_lock(&r->outcomes->lock);
    rc = rd_store_outcomes_put(r->outcomes->store, o, n, now_ms(), res, &err);
    pthread_mutex_unlock(&r->outcomes->lock);
    if (rc) {
        srv_log(SRV_ERROR, "recording outcomes failed", "error", err.msg, "code", rd_err_name(rc), NULL);
        lib_error(r, rc, &err, "nothing recorded: ");
        return;
    }
    answer(r, o, res, n);
}

/* ------------------------------------------------------------------ statistics */

static const char *const stat_args[] = {"model", "outcome", "variant", "from", "to"};
#define NSTAT_ARGS (sizeof stat_args / sizeof *stat_args)

/* Unix ms: digits only. */
static bool read_ms(const char *s, int64_t *ms)
{
    if (!*s || strlen(s) > 15 || strspn(s, "0123456789") != strlen(s))
        return false;
    *ms = (int64_t)strtoll(s, NULL, 10);
    return true;
}

/* The parameters into v[] (by stat_args' order); false with the error reply written. */
static bool read_args(srv_req *r, const char *v[NSTAT_ARGS])
{
    if (r->args_overflow) {
        srv_reply_error(r, 400, "INVALID_ARGUMENT",
                        "too many query parameters (model, outcome, variant, from, to)");
        return false;
    }
    for (size_t i = 0; i < r->nargs; i++) {
        const srv_arg *a = &r->args[i];
        size_t k = 0;
        while (k < NSTAT_ARGS && strcmp(a->key, stat_args[k]) != 0)
            k++;
        if (k == NSTAT_ARGS) {
            const char *near = NULL;
            for (size_t j = 0; j < NSTAT_ARGS && !near; j++)
                near = rd_near_miss(a->key, stat_args[j]) ? stat_args[j] : NULL;
            srv_reply_error(r, 400, "INVALID_ARGUMENT", "%.64s: not a parameter (%s%s%s)", a->key,
                            near ? "did you mean " : "model, outcome, variant, from, to", near ? near : "",
                            near ? "?" : "");
            return false;
        }
        if (v[k]) {
            srv_reply_error(r, 400, "INVALID_ARGUMENT", "%s: given twice", stat_args[k]);
            return false;
        }
        v[k] = a->value;
    }
    for (size_t k = 0; k < 2; k++)
        if (!v[k] || !*v[k]) {
            srv_reply_error(r, 400, "INVALID_ARGUMENT",
                            "%s: required (GET /v1/outcomes/stats?model=BUNDLE&outcome=NAME)", stat_args[k]);
            return false;
        }
    return true;
}

static void put_opt(rd_buf *b, const char *key, const char *s)
{
    rd_buf_printf(b, ",\"%s\":", key);
    if (s)
        rd_json_write_string(b, s, strlen(s));
    else
        rd_buf_puts(b, "null");
}

void srv_route_outcome_stats(srv_req *r)
{
    if (no_store(r))
        return;
    const char *v[NSTAT_ARGS] = {0};
    if (!read_args(r, v))
        return;
    int64_t t[2] = {0, 0};
    for (int i = 0; i < 2; i++)
        if (v[3 + i] && !read_ms(v[3 + i], &t[i])) {
            srv_reply_error(r, 400, "INVALID_ARGUMENT", "%s: \"%.64s\" is not a time in unix milliseconds",
                            stat_args[3 + i], v[3 + i]);
            return;
        }
    if (t[0] && t[1] && t[0] >= t[1]) {
        srv_reply_error(r, 400, "INVALID_ARGUMENT", "from must come before to: the range holds no time");
        return;
    }
    rd_outcome_stats st;
    rd_err err;
    pthread_mutex_lock(&r->outcomes->lock);
    int rc = rd_store_outcome_stats(r->outcomes->store, v[0], v[2] && *v[2] ? v[2] : NULL, v[1], t[0], t[1],
                                    RD_OUTCOME_MIN_BADS, &st, &err);
    pthread_mutex_unlock(&r->outcomes->lock);
    if (rc) {
        srv_log(SRV_ERROR, "outcome statistics failed", "error", err.msg, "code", rd_err_name(rc), NULL);
        lib_error(r, rc, &err, "");
        return;
    }
    /* {"model", "variant", "from_ms", "to_ms", "min_bads", then rd_outcome_stats_json's fields} */
    rd_buf *b = r->out;
    rd_buf_puts(b, "{\"model\":");
    rd_json_write_string(b, v[0], strlen(v[0]));
    put_opt(b, "variant", v[2] && *v[2] ? v[2] : NULL);
    for (int i = 0; i < 2; i++)
        if (t[i])
            rd_buf_printf(b, ",\"%s_ms\":%lld", stat_args[3 + i], (long long)t[i]);
        else
            rd_buf_printf(b, ",\"%s_ms\":null", stat_args[3 + i]);
    rd_buf_printf(b, ",\"min_bads\":%d,", RD_OUTCOME_MIN_BADS);
    rd_buf s;
    rd_buf_init(&s);
    rd_outcome_stats_json(&s, v[1], &st, RD_OUTCOME_MIN_BADS);
    if (s.oom)
        b->oom = 1;
    else
        rd_buf_append(b, s.data + 1, s.len - 1); /* its members, after ours */
    rd_buf_deinit(&s);
}
