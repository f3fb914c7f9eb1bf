/* riskd notify test | list: send a test event to a sink, and read the outbox, the sinks'
 * cursors and the failed deliveries back (include/riskd/notify.h, docs/notifications.md). The
 * sinks are serve's (its config file, RISKD_NOTIFY, --notify); the rules are the library's, the
 * HTTP client the server's. Nothing here prints a sink's URL or secret. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../server/notify_http.h"
#include "../server/server.h"
#include "cli.h"
#include "riskd/clock.h"
#include "riskd/json.h"
#include "riskd/notify.h"

static const char usage[] =
    "usage: riskd notify test SINK [--config FILE] [--notify SPEC]...\n"
    "       riskd notify list [--failed] [--sink NAME] [--limit N] [--json] (--data-dir DIR | --store URL)\n"
    "\n"
    "test   send a notify.test event to SINK now, through the same formatter, signature and HTTP\n"
    "       client the server uses, and print the answer: \"sent notify.test ID to NAME: HTTP 200 in\n"
    "       84 ms\". SINK is a sink's name (as serve names it: name=, else its kind when it is the\n"
    "       only one of that kind) among the sinks of --config FILE, RISKD_NOTIFY and --notify, or a\n"
    "       whole spec ('webhook url=http://127.0.0.1:9000/hook secret_file=hook.key').\n"
    "list   the newest events of the outbox (--limit N, default 20) and every sink's cursor: the\n"
    "       last event it is done with, its failed attempts at the next one and the last error;\n"
    "       --failed: the events given up on instead (newest first, --sink NAME for one sink).\n"
    "       The store only: no URL is printed (the store holds none).\n"
    "\n"
    "exit codes: 0 success (test: delivered), 1 invalid input (a sink spec), 2 usage error,\n"
    "            4 I/O error (test: not delivered; the status and the reason are printed)\n";

static int usage_error(void)
{
    fputs(usage, stderr);
    return CLI_USAGE;
}

/* ------------------------------------------------------------------ test */

/* The sink SINK names among the configured ones, or parsed from SINK when it is a whole spec. */
static int find_sink(const char *want, int argc, char **argv, rd_notify_sink **out, srv_config *cfg)
{
    rd_err err;
    if (strchr(want, ' ')) {
        int rc = rd_notify_sink_parse(want, 1, out, &err);
        if (!rc)
            rc = rd_notify_sinks_check(out, 1, &err);
        if (rc) {
            cli_errorf("notify test: %s", err.msg);
            return cli_exit_for(rc);
        }
        return CLI_OK;
    }
    if (srv_config_notify(argc, argv, cfg, &err)) {
        cli_errorf("notify test: %s", err.msg);
        return cli_exit_for(err.code);
    }
    rd_notify_sink *sinks[SRV_MAX_SINKS];
    size_t n;
    if (srv_notify_sinks(cfg, sinks, &n, &err)) {
        cli_errorf("notify test: %s", err.msg);
        return cli_exit_for(err.code);
    }
    *out = NULL;
    for (size_t i = 0; i < n; i++) {
        if (!*out && !strcmp(rd_notify_sink_name(sinks[i]), want))
            *out = sinks[i];
        else
            rd_notify_sink_free(sinks[i]);
    }
    if (*out)
        return CLI_OK;
    if (!n) {
        cli_errorf("notify test: no sinks configured (give --config FILE or --notify SPEC)");
        return CLI_USAGE;
    }
    cli_errorf("notify test: no sink named \"%s\" (riskd serve --check-config lists them)", want);
    return CLI_INVALID_INPUT;
}

static int send_test(const rd_notify_sink *k, const srv_config *cfg)
{
    char host[128] = "riskd", id[64];
    gethostname(host, sizeof host - 1);
    host[sizeof host - 1] = 0;
    const char *user = getenv("USER");
    char data[256];
    snprintf(data, sizeof data, "{\"sink\":\"%s\",\"kind\":\"%s\"}", rd_notify_sink_name(k),
             rd_notify_kind_name(rd_notify_sink_kind(k)));
    char summary[256], key[200];
    snprintf(key, sizeof key, "notify-test/%s", rd_notify_sink_name(k));
    snprintf(summary, sizeof summary, "a test notification from riskd on %s to sink %s",
             cfg->node[0] ? cfg->node : host, rd_notify_sink_name(k));
    rd_notify_event ev = {.type = "notify.test",
                          .node = cfg->node[0] ? cfg->node : host,
                          .actor = user && *user ? user : NULL,
                          .object_kind = "sink",
                          .object_id = rd_notify_sink_name(k),
                          .summary = summary,
                          .alert_key = key,
                          .alert_state = "firing",
                          .data_json = data};
    rd_buf b;
    rd_buf_init(&b);
    rd_err err;
    if (rd_notify_event_json(&ev, &b, &err)) {
        rd_buf_deinit(&b);
        cli_errorf("notify test: %s", err.msg);
        return cli_exit_for(err.code);
    }
    srv_notify_http *h;
    if (srv_notify_http_new(&h, &err)) {
        rd_buf_deinit(&b);
        cli_errorf("notify test: %s", err.msg);
        return CLI_IO;
    }
    rd_notifier_opts o;
    srv_notify_opts(cfg, &o);
    o.post = srv_notify_http_post;
    o.post_ud = h;
    rd_notify_response res;
    char why[256];
    rd_notify_verdict v = rd_notify_send(k, b.data, b.len, &o, &res, why, sizeof why);
    snprintf(id, sizeof id, "%.36s", b.data + 7); /* {"id":"<36>" */
    if (v == RD_NOTIFY_OK)
        printf("sent notify.test %s to %s: HTTP %d in %lld ms\n", id, rd_notify_sink_name(k), res.status,
               (long long)res.elapsed_ms);
    else
        cli_errorf("notify test: %s (%s) did not take notify.test %s: %s%s", rd_notify_sink_name(k),
                   rd_notify_kind_name(rd_notify_sink_kind(k)), id, why,
                   v == RD_NOTIFY_RETRY ? " (the server would retry)" : " (the server would give up)");
    srv_notify_http_free(h);
    rd_buf_deinit(&b);
    return v == RD_NOTIFY_OK ? CLI_OK : CLI_IO;
}

static int cmd_test(int argc, char **argv)
{
    if (argc < 2 || argv[1][0] == '-') {
        if (argc >= 2 && (!strcmp(argv[1], "-h") || !strcmp(argv[1], "--help"))) {
            fputs(usage, stdout);
            return CLI_OK;
        }
        return usage_error();
    }
    const char *want = argv[1];
    /* serve's option parser reads the rest; argv[1] (SINK) is not one of its arguments */
    char **rest = malloc(sizeof(char *) * (size_t)argc);
    if (!rest)
        return CLI_IO;
    rest[0] = argv[0];
    for (int i = 2; i < argc; i++)
        rest[i - 1] = argv[i];
    rest[argc - 1] = NULL;
    srv_config *cfg = malloc(sizeof *cfg);
    rd_notify_sink *k = NULL;
    int rc = cfg ? find_sink(want, argc - 1, rest, &k, cfg) : CLI_IO;
    free(rest);
    if (!rc && strchr(want, ' ')) { /* a whole spec: serve's defaults for the rest */
        rd_err err;
        char *none[] = {"notify", NULL};
        rc = srv_config_notify(1, none, cfg, &err) ? cli_exit_for(err.code) : CLI_OK;
    }
    if (!rc)
        rc = send_test(k, cfg);
    rd_notify_sink_free(k);
    free(cfg);
    return rc;
}

/* ------------------------------------------------------------------ list */

typedef struct list_opts {
    const char *dir, *store, *sink;
    bool failed, json;
    long limit;
} list_opts;

static void time_text(int64_t ms, char out[32])
{
    time_t t = (time_t)(ms / 1000);
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(out, 32, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

/* The envelope's summary, for the table. */
static void summary_of(const char *body, size_t len, char *out, size_t cap)
{
    rd_arena a;
    rd_arena_init(&a, 0);
    rd_value v;
    out[0] = 0;
    if (rd_json_parse(body, len, NULL, &a, &v, NULL) == RD_OK) {
        const rd_value *s = rd_value_get(&v, "summary", 7);
        if (s && s->type == RD_VSTRING)
            snprintf(out, cap, "%s", s->u.s);
    }
    rd_arena_deinit(&a);
}

static int print_event(void *ud, const rd_notify_row *r)
{
    const list_opts *o = ud;
    if (o->json) {
        printf("{\"event_id\":%lld,\"stored_ms\":%lld,\"event\":%.*s}\n", (long long)r->id,
               (long long)r->stored_ms, (int)r->body_len, r->body);
        return 0;
    }
    char when[32], sum[100];
    time_text(r->ts_ms, when);
    summary_of(r->body, r->body_len, sum, sizeof sum);
    printf("%-8lld %-20s %-22s %-28s %s\n", (long long)r->id, when, r->type, r->object, sum);
    return 0;
}

static int print_sink(void *ud, const rd_sink_row *r)
{
    const list_opts *o = ud;
    if (o->json) {
        rd_buf b;
        rd_buf_init(&b);
        rd_json_write_string(&b, r->last_error, strlen(r->last_error));
        printf("{\"sink\":\"%s\",\"kind\":\"%s\",\"last_id\":%lld,\"attempts\":%d,\"next_ms\":%lld,"
               "\"last_ok_ms\":%lld,\"last_error\":%s}\n",
               r->name, r->kind, (long long)r->last_id, r->attempts, (long long)r->next_ms,
               (long long)r->last_ok_ms, rd_buf_cstr(&b));
        rd_buf_deinit(&b);
        return 0;
    }
    char ok[32] = "never";
    if (r->last_ok_ms)
        time_text(r->last_ok_ms, ok);
    printf("%-24s %-13s %-8lld %-8d %-20s %s\n", r->name, r->kind, (long long)r->last_id, r->attempts, ok,
           r->last_error);
    return 0;
}

typedef struct fail_ctx {
    const list_opts *o;
    rd_store *s;
} fail_ctx;

typedef struct event_brief {
    char type[48], object[320], when[32];
} event_brief;

static int brief(void *ud, const rd_notify_row *r)
{
    event_brief *b = ud;
    snprintf(b->type, sizeof b->type, "%s", r->type);
    snprintf(b->object, sizeof b->object, "%s", r->object);
    time_text(r->ts_ms, b->when);
    return 0;
}

static int print_failure(void *ud, const rd_sink_failure *f)
{
    fail_ctx *c = ud;
    event_brief b = {"(pruned)", "", ""};
    rd_store_outbox_get(c->s, f->event_id, brief, &b, NULL);
    if (c->o->json) {
        rd_buf e;
        rd_buf_init(&e);
        rd_json_write_string(&e, f->error, strlen(f->error));
        printf("{\"sink\":\"%s\",\"event_id\":%lld,\"type\":\"%s\",\"object\":", f->sink,
               (long long)f->event_id, b.type);
        rd_buf o;
        rd_buf_init(&o);
        rd_json_write_string(&o, b.object, strlen(b.object));
        printf("%s,\"failed_ms\":%lld,\"attempts\":%d,\"status\":%d,\"error\":%s}\n", rd_buf_cstr(&o),
               (long long)f->failed_ms, f->attempts, f->status, rd_buf_cstr(&e));
        rd_buf_deinit(&o);
        rd_buf_deinit(&e);
        return 0;
    }
    char when[32];
    time_text(f->failed_ms, when);
    printf("%-8lld %-20s %-22s %-24s %-16s %-8d %-6d %s\n", (long long)f->event_id, when, b.type, b.object,
           f->sink, f->attempts, f->status, f->error);
    return 0;
}

static int list_parse(int argc, char **argv, list_opts *o)
{
    static const struct option opts[] = {
        {"data-dir", required_argument, NULL, 'd'}, {"store", required_argument, NULL, 's'},
        {"sink", required_argument, NULL, 'k'},     {"limit", required_argument, NULL, 'n'},
        {"failed", no_argument, NULL, 'f'},         {"json", no_argument, NULL, 'j'},
        {"help", no_argument, NULL, 'h'},           {0}};
    memset(o, 0, sizeof *o);
    o->limit = 20;
    optind = 1;
    opterr = 0;
    int c;
    char *end;
    while ((c = getopt_long(argc, argv, ":h", opts, NULL)) != -1) {
        switch (c) {
        case 'd': o->dir = optarg; break;
        case 's': o->store = optarg; break;
        case 'k': o->sink = optarg; break;
        case 'f': o->failed = true; break;
        case 'j': o->json = true; break;
        case 'n':
            o->limit = strtol(optarg, &end, 10);
            if (*end || end == optarg || o->limit < 0 || o->limit > 1000000) {
                cli_errorf("notify list: --limit must be a whole number from 0 to 1000000, not \"%s\"",
                           optarg);
                return CLI_USAGE;
            }
            break;
        case 'h': fputs(usage, stdout); return -1;
        default: return usage_error();
        }
    }
    if (optind < argc || !o->dir == !o->store) {
        cli_errorf("notify list: give one of --data-dir DIR or --store URL");
        return CLI_USAGE;
    }
    if (o->sink && !o->failed) {
        cli_errorf("notify list: --sink goes with --failed");
        return CLI_USAGE;
    }
    return CLI_OK;
}

static int cmd_list(int argc, char **argv)
{
    list_opts o;
    int rc = list_parse(argc, argv, &o);
    if (rc)
        return rc < 0 ? CLI_OK : rc;
    rd_store *s;
    if ((rc = cli_report_store(o.dir ? o.dir : o.store, &s)))
        return rc;
    rd_err err;
    int lrc;
    if (o.failed) {
        fail_ctx c = {&o, s};
        if (!o.json)
            printf("%-8s %-20s %-22s %-24s %-16s %-8s %-6s %s\n", "EVENT", "FAILED", "TYPE", "OBJECT", "SINK",
                   "ATTEMPTS", "STATUS", "ERROR");
        lrc = rd_store_sink_failures(s, o.sink, (size_t)o.limit, print_failure, &c, &err);
    } else {
        int64_t last = 0;
        lrc = rd_store_outbox_last_id(s, &last, &err);
        int64_t after = o.limit && last > o.limit ? last - o.limit : 0;
        if (!lrc && !o.json)
            printf("%-8s %-20s %-22s %-28s %s\n", "EVENT", "TIME", "TYPE", "OBJECT", "SUMMARY");
        if (!lrc)
            lrc = rd_store_outbox_scan(s, after, 0, print_event, &o, &err);
        if (!lrc && !o.json)
            printf("\n%-24s %-13s %-8s %-8s %-20s %s\n", "SINK", "KIND", "DONE_TO", "ATTEMPTS", "LAST_OK",
                   "LAST_ERROR");
        if (!lrc)
            lrc = rd_store_sink_list(s, print_sink, &o, &err);
    }
    rd_store_close(s);
    if (lrc) {
        cli_errorf("notify list: %s", err.msg);
        return cli_exit_for(lrc);
    }
    return CLI_OK;
}

int cmd_notify(int argc, char **argv)
{
    if (argc < 2)
        return usage_error();
    if (!strcmp(argv[1], "-h") || !strcmp(argv[1], "--help") || !strcmp(argv[1], "help")) {
        fputs(usage, stdout);
        return CLI_OK;
    }
    if (!strcmp(argv[1], "test"))
        return cmd_test(argc - 1, argv + 1);
    if (!strcmp(argv[1], "list"))
        return cmd_list(argc - 1, argv + 1);
    cli_errorf("notify: unknown subcommand \"%s\" (test or list)", argv[1]);
    return usage_error();
}
