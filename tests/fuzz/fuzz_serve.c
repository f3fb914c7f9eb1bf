/* libFuzzer target: the service's request handlers, without a socket. A small bundle and a
 * flag set are built once in a temporary directory and loaded as a snapshot, as riskd serve
 * does; each input's first byte picks the route (score, batch, OFREP single, OFREP bulk)
 * and the rest is the request body. Every reply must be a status the API documents and a
 * body that is valid JSON (the OFREP 304 excepted), with no crash, leak or sanitizer report. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../../src/server/server.h"
#include "riskd/bundle.h"
#include "riskd/json.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* What the routes ask of the socket layer (http.c, not linked here). */
size_t srv_http_connections(void) { return 0; }
int srv_http_inflight(void) { return 0; }
bool srv_http_draining(void) { return false; }
void srv_reload_now(void) {}
void srv_reload_store(void) {}

static srv_config cfg;
static srv_state *state;
static rd_shadow *shadow;
static char dir[] = "/tmp/riskd-fuzz-serve-XXXXXX";

static void put(const char *name, const char *text)
{
    char path[256];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "w");
    if (!f || fputs(text, f) < 0 || fclose(f) != 0)
        abort();
}

static void cleanup(void)
{
    rd_shadow_free(shadow);
    srv_state_free(state);
    srv_metrics_deinit();
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    if (system(cmd) != 0)
        fprintf(stderr, "fuzz_serve: could not remove %s\n", dir);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    if (!mkdtemp(dir))
        abort();
    put("lr.json",
        "{\"type\":\"logistic_regression\",\"features\":[\"age\",\"home=own\"],\"coef\":[-0.05,-0.8],"
        "\"intercept\":1.0,\"means\":[40,0.5]}");
    put("pipe.json",
        "{\"inputs\":[{\"name\":\"age\",\"type\":\"number\",\"min\":18,\"max\":120},{\"name\":\"home\","
        "\"type\":\"category\",\"levels\":[\"own\",\"rent\"]}],\"features\":[{\"name\":\"age\",\"source\":"
        "\"age\",\"kind\":\"numeric\"},{\"name\":\"home=own\",\"source\":\"home\",\"kind\":\"one_hot\","
        "\"level\":\"own\"}]}");
    put("data.csv", "age,home,bad\n20,own,1\n30,rent,0\n40,own,0\n50,rent,1\n60,own,0\n70,rent,0\n");
    put("flags.json",
        "{\"metadata\":{\"v\":\"1\"},\"flags\":{\"model-route\":{\"state\":\"ENABLED\",\"variants\":{"
        "\"a\":\"demo_lr_v1.0\",\"b\":\"\"},\"defaultVariant\":\"a\",\"targeting\":{\"if\":[{\"==\":[{"
        "\"var\":\"x\"},1]},\"b\",{\"fractional\":[[\"a\",50],[\"b\",50]]}]}},\"n\":{\"state\":"
        "\"ENABLED\",\"variants\":{\"x\":{\"k\":1.5},\"y\":{\"k\":[1]}},\"defaultVariant\":\"x\","
        "\"targeting\":{"
        "\"if\":[{\"in\":[\"@\",{\"var\":\"email\"}]},\"y\",null]}},\"off\":{\"state\":\"DISABLED\","
        "\"variants\":{\"x\":true},\"defaultVariant\":\"x\"},\"shadow\":{\"state\":\"ENABLED\","
        "\"variants\":{\"on\":{\"bundles\":[\"demo_lr_v1.1\"]},\"off\":{\"bundles\":[]}},\"defaultVariant\":"
        "\"on\",\"targeting\":{\"fractional\":[[\"on\",50],[\"off\",50]]}}}}");
    /* service-wide fallback rules: a request routed to no bundle ("b") is answered by them */
    put("fallback.json",
        "{\"version\":\"f1\",\"rules\":[{\"name\":\"young\",\"when\":{\"<\":[{\"var\":\"features.age\"},25]},"
        "\"risk_level\":\"high\",\"decision\":\"reject\",\"reason\":\"FB_YOUNG\"},{\"name\":\"default\","
        "\"score\":null,\"risk_level\":\"medium\",\"decision\":\"review\",\"reason\":\"FB_DEFAULT\"}]}");
    char p[5][300];
    const char *names[] = {"lr.json", "pipe.json", "data.csv", "bundles", "bundles/demo_lr_v1.0"};
    for (int i = 0; i < 5; i++)
        snprintf(p[i], sizeof p[i], "%s/%s", dir, names[i]);
    if (mkdir(p[3], 0755) != 0)
        abort();
    rd_bundle_build_opts o = {.name = "demo_lr_v1.0",
                              .model_path = p[0],
                              .pipeline_path = p[1],
                              .data_path = p[2],
                              .label = "bad",
                              .out_dir = p[4],
                              .created_by = "fuzz",
                              .samples = 3,
                              .reasons = 2};
    rd_err err;
    if (rd_bundle_build(&o, &err) != RD_OK) {
        fprintf(stderr, "fuzz_serve: bundle: %s\n", err.msg);
        abort();
    }
    char shadow_dir[320];
    snprintf(shadow_dir, sizeof shadow_dir, "%s/bundles/demo_lr_v1.1", dir);
    o.name = "demo_lr_v1.1";
    o.out_dir = shadow_dir;
    if (rd_bundle_build(&o, &err) != RD_OK) {
        fprintf(stderr, "fuzz_serve: bundle: %s\n", err.msg);
        abort();
    }
    /* the service's own defaults, then what this target needs */
    char flags_path[320], fb_path[320];
    snprintf(flags_path, sizeof flags_path, "%s/flags.json", dir);
    snprintf(fb_path, sizeof fb_path, "%s/fallback.json", dir);
    char *args[] = {"serve",  "--flags",    flags_path, "--bundles",       p[3], "--shadow-flag",
                    "shadow", "--fallback", fb_path,    "--compat-routes", NULL};
    bool check, help;
    if (srv_config_load(10, args, &cfg, &check, &help, &err) != RD_OK) {
        fprintf(stderr, "fuzz_serve: config: %s\n", err.msg);
        abort();
    }
    cfg.max_body_bytes = 1 << 20;
    cfg.max_batch = 50;
    cfg.max_json_depth = 16;
    cfg.max_json_fields = 5000;
    cfg.reasons = -1;
    cfg.fixed_time = 1700000000;
    srv_log_init(SRV_ERROR + 1); /* quiet */
    srv_metrics_init();
    if (srv_state_new(&cfg, NULL, &state, &err) != RD_OK) {
        fprintf(stderr, "fuzz_serve: state: %s\n", err.msg);
        abort();
    }
    if (rd_shadow_new(1, 64, &shadow, &err) != RD_OK)
        abort();
    atexit(cleanup);
    return 0;
}

static const int documented[] = {200, 304, 400, 404, 413, 503, 504};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size == 0)
        return 0;
    static void (*const routes[])(srv_req *) = {
        srv_route_score,        srv_route_score_batch, srv_route_ofrep_flag, srv_route_ofrep_bulk,
        srv_route_compat_score, srv_route_score,       srv_route_score,      srv_route_score};
    static const srv_route ids[] = {SRV_ROUTE_SCORE,      SRV_ROUTE_SCORE_BATCH,  SRV_ROUTE_OFREP_FLAG,
                                    SRV_ROUTE_OFREP_BULK, SRV_ROUTE_COMPAT_SCORE, SRV_ROUTE_SCORE,
                                    SRV_ROUTE_SCORE,      SRV_ROUTE_SCORE};
    static const char *const keys[] = {"model-route", "n", "off", "nope"};
    unsigned pick = (data[0] & 3) | ((data[0] >> 5) & 4);
    char *body = malloc(size); /* NUL-terminated copy, as the HTTP layer hands it over */
    if (!body)
        return 0;
    memcpy(body, data + 1, size - 1);
    body[size - 1] = 0;
    srv_snapshot *snap = srv_state_acquire(state);
    rd_arena arena;
    rd_arena_init(&arena, 64u << 20);
    rd_buf out;
    rd_buf_init(&out);
    srv_req r = {.cfg = &cfg,
                 .snap = snap,
                 .shadow = shadow,
                 .arena = &arena,
                 .body = body,
                 .len = size - 1,
                 .if_none_match = (data[0] & 4) ? "W/\"x\", \"y\"" : NULL,
                 .route = ids[pick],
                 .flag_key = keys[(data[0] >> 3) & 3],
                 .t0 = srv_now(),
                 .status = 200,
                 .out = &out,
                 .content_type = "application/json"};
    r.flag_key_len = strlen(r.flag_key);
    routes[pick](&r);
    int ok = 0;
    for (size_t i = 0; i < sizeof documented / sizeof documented[0]; i++)
        ok |= r.status == documented[i];
    if (!ok) {
        fprintf(stderr, "undocumented status %d\n", r.status);
        abort();
    }
    if (r.status != 304) {
        rd_arena check;
        rd_arena_init(&check, 0);
        rd_value v;
        rd_err err;
        rd_json_limits lim = {.max_depth = 1000, .max_nodes = 100000000};
        if (out.oom || rd_json_parse(rd_buf_cstr(&out), out.len, &lim, &check, &v, &err) != RD_OK) {
            fprintf(stderr, "reply is not JSON (%s): %.300s\n", err.msg, rd_buf_cstr(&out));
            abort();
        }
        rd_arena_deinit(&check);
    }
    rd_buf_deinit(&out);
    rd_arena_deinit(&arena);
    srv_snapshot_unref(snap);
    free(body);
    return 0;
}
