/* Payloads (src/lib/notify/format.c): each sink kind x {change.proposed, change.approved,
 * rollout.rolled_back with a failing gate, breaker.opened, breaker.closed (the resolve),
 * cert.expiring}, parsed back with the project's JSON parser and compared field by field with the
 * shapes of docs/plans/notifications.md §3.2; Slack's escaping; WeCom's cut at 4096 bytes on a
 * code-point boundary and its markup neutralised; console links; HMAC-SHA256 against RFC 4231
 * and Python's hmac; the classification table; the backoff's bounds with a seeded generator. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "riskd/json.h"
#include "riskd/notify.h"

/* ------------------------------------------------------------------ the events */

/* Compact JSON from Python's json.dumps(separators=(",",":"), ensure_ascii=False), so the
 * signatures below are Python's over these very bytes. */
#define PROPOSED                                                                                             \
    "{\"id\":\"0193a4c2-5b1e-7c3e-9f1a-3c2b5d6e7f80\",\"type\":\"change.proposed\",\"version\":1,\"time\":"  \
    "\"2026-12-07T05:00:00.123Z\",\"node\":\"n1\",\"actor\":\"alice\",\"object\":{\"kind\":\"change\","      \
    "\"id\":\"12\"},\"summary\":\"alice proposed change 12 (flags store, revision 1): raise the cut-off "    \
    "\xe2\x80\x94 needs 1 approval\",\"data\":{\"change_kind\":\"flags\",\"target\":\"store\",\"title\":"    \
    "\"raise the cut-off\",\"author\":\"alice\",\"revision\":1,\"approvals_required\":1,\"payload_sha256\":" \
    "\"0123456789ab\",\"flags_changed\":[\"cutoff\"]}}"
/* The same with the link inserted after summary, as Python wrote it. */
#define PROPOSED_LINKED                                                                                      \
    "{\"id\":\"0193a4c2-5b1e-7c3e-9f1a-3c2b5d6e7f80\",\"type\":\"change.proposed\",\"version\":1,\"time\":"  \
    "\"2026-12-07T05:00:00.123Z\",\"node\":\"n1\",\"actor\":\"alice\",\"object\":{\"kind\":\"change\","      \
    "\"id\":\"12\"},\"summary\":\"alice proposed change 12 (flags store, revision 1): raise the cut-off "    \
    "\xe2\x80\x94 needs 1 approval\",\"link\":\"https://riskd.example.com/ui/#/changes/12\",\"data\":{"      \
    "\"change_kind\":\"flags\",\"target\":\"store\",\"title\":\"raise the cut-off\",\"author\":\"alice\","   \
    "\"revision\":1,\"approvals_required\":1,\"payload_sha256\":\"0123456789ab\",\"flags_changed\":["        \
    "\"cutoff\"]}}"
/* python3 -c 'import hmac,hashlib; print(hmac.new(b"riskd-test-secret", BODY.encode(),
 *             hashlib.sha256).hexdigest())' for PROPOSED and PROPOSED_LINKED */
#define SIG_PROPOSED        "sha256=3def3369891f58539602a79c397c0d7b0778b93cf15e5b2a53814afdd651f956"
#define SIG_PROPOSED_LINKED "sha256=cd717a49e568c4cb52c1d42ce877bafd51961378498c2e93f80db0be1670a68c"

#define APPROVED                                                                                             \
    "{\"id\":\"0193a4c2-5b1e-7c3e-9f1a-3c2b5d6e7f81\",\"type\":\"change.approved\",\"version\":1,"           \
    "\"time\":\"2026-12-07T05:10:00.000Z\",\"node\":\"n1\",\"actor\":\"bob\",\"object\":{\"kind\":"          \
    "\"change\",\"id\":\"12\"},\"summary\":\"bob approved change 12 (1 of 2 approvals) & said <ok>\","       \
    "\"data\":{\"approvals\":1,\"approvals_required\":2,\"state\":\"proposed\",\"note\":\"fine\"}}"

#define ROLLED_BACK                                                                                          \
    "{\"id\":\"0193a4c2-5b1e-7c3e-9f1a-3c2b5d6e7f82\",\"type\":\"rollout.rolled_back\",\"version\":1,"       \
    "\"time\":\"2026-12-07T03:12:45.123Z\",\"node\":\"n1\",\"actor\":\"controller\",\"object\":{\"kind\":"   \
    "\"rollout\",\"id\":\"credit-model-route\"},\"summary\":\"rollout credit-model-route rolled back at "    \
    "stage 5% by the controller: gate reject_rate (ratio) 1.62 >= 1.5 (noise floor 0.03)\",\"alert\":{"      \
    "\"key\":\"rollout/"                                                                                     \
    "credit-model-route\",\"state\":\"firing\"},\"data\":{\"flag\":\"credit-model-route\","                  \
    "\"plan\":\"credit-drill\",\"reason\":\"rollback\",\"stage\":{\"index\":2,\"name\":\"5%\","              \
    "\"candidate_percent\":5},\"detail\":\"gate reject_rate (ratio) failed in 5%: value 1.62, fail >= "      \
    "1.5\",\"failing_gates\":[{\"metric\":\"reject_rate\",\"compare\":\"ratio\",\"window\":\"stage\","       \
    "\"value\":1.62,\"fail\":{\">=\":1.5},\"noise_floor\":0.03,\"n\":4210}]}}"
#define RB_SUMMARY                                                                                           \
    "rollout credit-model-route rolled back at stage 5% by the controller: gate reject_rate (ratio) 1.62 "   \
    ">= "                                                                                                    \
    "1.5 (noise floor 0.03)"

#define BREAKER_OPENED                                                                                       \
    "{\"id\":\"0193a4c2-5b1e-7c3e-9f1a-3c2b5d6e7f83\",\"type\":\"breaker.opened\",\"version\":1,\"time\":"   \
    "\"2026-12-07T06:00:00.000Z\",\"node\":\"n2\",\"actor\":\"riskd\",\"object\":{\"kind\":\"bundle\","      \
    "\"id\":\"credit_xgb_v1.1\"},\"summary\":\"circuit breaker of credit_xgb_v1.1 opened on n2: fallback "   \
    "rules answer for it\",\"alert\":{\"key\":\"breaker/n2/credit_xgb_v1.1\",\"state\":\"firing\"},"         \
    "\"data\":{\"bundle\":\"credit_xgb_v1.1\",\"from\":\"closed\",\"to\":\"open\",\"mode\":\"fallback\"}}"
#define BREAKER_CLOSED                                                                                       \
    "{\"id\":\"0193a4c2-5b1e-7c3e-9f1a-3c2b5d6e7f84\",\"type\":\"breaker.closed\",\"version\":1,\"time\":"   \
    "\"2026-12-07T06:05:00.000Z\",\"node\":\"n2\",\"actor\":\"riskd\",\"object\":{\"kind\":\"bundle\","      \
    "\"id\":\"credit_xgb_v1.1\"},\"summary\":\"circuit breaker of credit_xgb_v1.1 closed on n2\","           \
    "\"alert\":{\"key\":\"breaker/n2/credit_xgb_v1.1\",\"state\":\"resolved\"},\"data\":{\"bundle\":"        \
    "\"credit_xgb_v1.1\",\"from\":\"half_open\",\"to\":\"closed\",\"mode\":\"fallback\"}}"

#define CERT_BAND(band)                                                                                      \
    "{\"id\":\"0193a4c2-5b1e-7c3e-9f1a-3c2b5d6e7f85\",\"type\":\"cert.expiring\",\"version\":1,\"time\":"    \
    "\"2026-12-07T07:00:00.000Z\",\"node\":\"n1\",\"actor\":\"riskd\",\"object\":{\"kind\":"                 \
    "\"certificate\",\"id\":\"/etc/riskd/tls.crt\"},\"summary\":\"the TLS certificate "                      \
    "CN=riskd.example.com expires in 7 days\",\"alert\":{\"key\":\"cert/n1/CN=riskd.example.com\","          \
    "\"state\":\"firing\"},\"data\":{\"subject\":\"CN=riskd.example.com\",\"not_after\":"                    \
    "\"2026-12-14T00:00:00Z\",\"days_left\":7,\"band\":" band ",\"file\":\"/etc/riskd/tls.crt\"}}"
#define CERT CERT_BAND("7")

static const char *const EVENTS[] = {PROPOSED, APPROVED, ROLLED_BACK, BREAKER_OPENED, BREAKER_CLOSED, CERT};
#define NEVENTS (sizeof EVENTS / sizeof *EVENTS)

static const rd_notify_format_opts CONSOLE = {.console_url = "https://riskd.example.com/",
                                              .version = "1.2.3"};
static const rd_notify_format_opts NONE = {0};

/* ------------------------------------------------------------------ helpers */

static char dir[64];
static rd_arena arena;

static int setup(void **state)
{
    (void)state;
    strcpy(dir, "/tmp/riskd-format-XXXXXX");
    assert_non_null(mkdtemp(dir));
    rd_arena_init(&arena, 0);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    assert_int_equal(system(cmd), 0);
    rd_arena_deinit(&arena);
    return 0;
}

static rd_notify_sink *sink(const char *spec)
{
    rd_notify_sink *k;
    rd_err err;
    if (rd_notify_sink_parse(spec, 1, &k, &err) != RD_OK)
        fail_msg("%s: %s", spec, err.msg);
    return k;
}

static void format(const rd_notify_sink *k, const char *json, const rd_notify_format_opts *o,
                   rd_notify_request *rq)
{
    rd_err err;
    if (rd_notify_format(k, json, strlen(json), o, rq, &err) != RD_OK)
        fail_msg("%.60s: %s", json, err.msg);
}

static rd_value parse(const char *text, size_t len)
{
    rd_value v;
    rd_err err;
    if (rd_json_parse(text, len, NULL, &arena, &v, &err) != RD_OK)
        fail_msg("%.*s: %s", (int)len, text, err.msg);
    return v;
}

static rd_value body_of(const rd_notify_request *rq) { return parse(rq->body.data, rq->body.len); }

/* The value at a dotted path ("blocks.1.elements.0.text"; numbers index arrays), or NULL. */
static const rd_value *at(const rd_value *v, const char *path)
{
    char seg[64];
    while (v && *path) {
        size_t n = strcspn(path, ".");
        snprintf(seg, sizeof seg, "%.*s", (int)n, path);
        path += n + (path[n] == '.');
        if (v->type == RD_VARRAY) {
            size_t i = (size_t)atoi(seg);
            v = i < v->len ? &v->u.items[i] : NULL;
        } else {
            v = rd_value_get(v, seg, strlen(seg));
        }
    }
    return v;
}

static void str_at(const rd_value *v, const char *path, const char *want)
{
    const rd_value *s = at(v, path);
    if (!s)
        fail_msg("%s: missing (want \"%s\")", path, want);
    assert_int_equal(s->type, RD_VSTRING);
    if (strlen(want) != s->len || memcmp(want, s->u.s, s->len) != 0)
        fail_msg("%s:\n  gave \"%.*s\"\n  want \"%s\"", path, (int)s->len, s->u.s, want);
}

static const char *header(const rd_notify_request *rq, const char *name)
{
    size_t n = strlen(name);
    for (size_t i = 0; i < RD_NOTIFY_MAX_HEADERS && rq->headers[i]; i++)
        if (!strncmp(rq->headers[i], name, n) && !strncmp(rq->headers[i] + n, ": ", 2))
            return rq->headers[i] + n + 2;
    return NULL;
}

static size_t nheaders(const rd_notify_request *rq)
{
    size_t n = 0;
    while (n < RD_NOTIFY_MAX_HEADERS && rq->headers[n])
        n++;
    return n;
}

/* Whether n bytes are well-formed UTF-8 (RFC 3629), written here rather than borrowed. */
static bool utf8_ok(const unsigned char *s, size_t n)
{
    for (size_t i = 0; i < n;) {
        unsigned c = s[i];
        size_t k = c < 0x80 ? 1 : (c >> 5) == 6 ? 2 : (c >> 4) == 14 ? 3 : (c >> 3) == 30 ? 4 : 0;
        if (!k || i + k > n)
            return false;
        for (size_t j = 1; j < k; j++)
            if ((s[i + j] & 0xC0) != 0x80)
                return false;
        i += k;
    }
    return true;
}

/* ------------------------------------------------------------------ webhook */

static void test_webhook(void **state)
{
    (void)state;
    char spec[256], path[160];
    snprintf(path, sizeof path, "%s/secret", dir);
    FILE *f = fopen(path, "w");
    fputs("riskd-test-secret\n", f);
    fclose(f);
    chmod(path, 0600);
    snprintf(spec, sizeof spec, "webhook url=https://hooks.example.com/in secret_file=%s", path);
    rd_notify_sink *k = sink(spec);
    rd_notify_request rq;

    /* without a console: the envelope byte for byte, signed as Python signs it */
    format(k, PROPOSED, &NONE, &rq);
    assert_string_equal(rq.url, "https://hooks.example.com/in");
    assert_int_equal(rq.body.len, strlen(PROPOSED));
    assert_memory_equal(rq.body.data, PROPOSED, rq.body.len);
    assert_int_equal(nheaders(&rq), 6);
    assert_string_equal(rq.headers[0], "Content-Type: application/json; charset=utf-8");
    assert_string_equal(rq.headers[1], "User-Agent: riskd");
    assert_string_equal(rq.headers[2], "X-Riskd-Event: change.proposed");
    assert_string_equal(rq.headers[3], "X-Riskd-Event-Id: 0193a4c2-5b1e-7c3e-9f1a-3c2b5d6e7f80");
    assert_string_equal(rq.headers[4], "Idempotency-Key: 0193a4c2-5b1e-7c3e-9f1a-3c2b5d6e7f80");
    assert_string_equal(rq.headers[5], "X-Riskd-Signature: " SIG_PROPOSED);
    assert_null(rq.cacert);
    rd_notify_request_free(&rq);

    /* with a console: the link after summary, the signature over the bytes sent */
    format(k, PROPOSED, &CONSOLE, &rq);
    assert_int_equal(rq.body.len, strlen(PROPOSED_LINKED));
    assert_memory_equal(rq.body.data, PROPOSED_LINKED, rq.body.len);
    assert_string_equal(header(&rq, "User-Agent"), "riskd/1.2.3");
    assert_string_equal(header(&rq, "X-Riskd-Signature"), SIG_PROPOSED_LINKED);
    rd_notify_request_free(&rq);

    /* every event: the envelope's members unchanged, plus the link */
    static const char *const links[NEVENTS] = {"https://riskd.example.com/ui/#/changes/12",
                                               "https://riskd.example.com/ui/#/changes/12",
                                               "https://riskd.example.com/ui/#/rollouts/credit-model-route",
                                               "https://riskd.example.com/ui/#/overview",
                                               "https://riskd.example.com/ui/#/overview",
                                               "https://riskd.example.com/ui/#/overview"};
    for (size_t i = 0; i < NEVENTS; i++) {
        format(k, EVENTS[i], &CONSOLE, &rq);
        rd_value got = body_of(&rq), want = parse(EVENTS[i], strlen(EVENTS[i]));
        assert_int_equal(got.len, want.len + 1);
        for (uint32_t m = 0; m < want.len; m++) {
            const rd_member *w = &want.u.members[m];
            const rd_value *g = rd_value_get(&got, w->key, w->key_len);
            assert_non_null(g);
            assert_true(rd_value_equal(g, &w->val));
        }
        str_at(&got, "link", links[i]);
        const rd_value *id = at(&want, "id"), *type = at(&want, "type");
        char h[128];
        snprintf(h, sizeof h, "%.*s", (int)id->len, id->u.s);
        assert_string_equal(header(&rq, "X-Riskd-Event-Id"), h);
        assert_string_equal(header(&rq, "Idempotency-Key"), h);
        snprintf(h, sizeof h, "%.*s", (int)type->len, type->u.s);
        assert_string_equal(header(&rq, "X-Riskd-Event"), h);
        char sig[RD_NOTIFY_SIG_LEN];
        rd_notify_sign("riskd-test-secret", 17, rq.body.data, rq.body.len, sig);
        assert_string_equal(header(&rq, "X-Riskd-Signature"), sig);
        rd_notify_request_free(&rq);
    }
    rd_notify_sink_free(k);

    /* no secret, no signature header; a stored link is replaced, not doubled */
    k = sink("webhook url=http://127.0.0.1:9/x");
    static const char stale[] =
        "{\"id\":\"01\",\"type\":\"notify.test\",\"time\":\"2026-12-07T05:00:00Z\","
        "\"link\":\"https://old.example/\",\"object\":{\"kind\":\"node\",\"id\":\"n1\"}}";
    format(k, stale, &CONSOLE, &rq);
    assert_null(header(&rq, "X-Riskd-Signature"));
    assert_int_equal(nheaders(&rq), 5);
    rd_value got = body_of(&rq);
    assert_int_equal(got.len, 5);
    str_at(&got, "link", "https://riskd.example.com/ui/#/overview");
    rd_notify_request_free(&rq);
    rd_notify_sink_free(k);
}

/* ------------------------------------------------------------------ Slack */

static void test_slack(void **state)
{
    (void)state;
    rd_notify_sink *k = sink("slack url=https://hooks.slack.com/services/T/B/SECRETPATH");
    static const struct {
        const char *json, *text, *section, *context;
    } cases[] = {
        {PROPOSED,
         "[riskd] alice proposed change 12 (flags store, revision 1): raise the cut-off \xe2\x80\x94 needs 1 "
         "approval",
         "*Change proposed* \xc2\xb7 `change.proposed`\nalice proposed change 12 (flags store, revision 1): "
         "raise the cut-off \xe2\x80\x94 needs 1 approval",
         "node n1 \xc2\xb7 alice \xc2\xb7 2026-12-07T05:00:00.123Z \xc2\xb7 "
         "<https://riskd.example.com/ui/#/changes/12|open in the console>"},
        /* & < > escaped as mrkdwn entities */
        {APPROVED, "[riskd] bob approved change 12 (1 of 2 approvals) &amp; said &lt;ok&gt;",
         "*Change approved* \xc2\xb7 `change.approved`\nbob approved change 12 (1 of 2 approvals) &amp; said "
         "&lt;ok&gt;",
         "node n1 \xc2\xb7 bob \xc2\xb7 2026-12-07T05:10:00.000Z \xc2\xb7 "
         "<https://riskd.example.com/ui/#/changes/12|open in the console>"},
        {ROLLED_BACK,
         "[riskd] rollout credit-model-route rolled back at stage 5% by the controller: gate reject_rate "
         "(ratio) 1.62 &gt;= 1.5 (noise floor 0.03)",
         "*Rollout rolled back* \xc2\xb7 `rollout.rolled_back`\nrollout credit-model-route rolled back at "
         "stage 5% by the controller: gate reject_rate (ratio) 1.62 &gt;= 1.5 (noise floor 0.03)",
         "node n1 \xc2\xb7 controller \xc2\xb7 2026-12-07T03:12:45.123Z \xc2\xb7 "
         "<https://riskd.example.com/ui/#/rollouts/credit-model-route|open in the console>"},
        {BREAKER_OPENED,
         "[riskd] circuit breaker of credit_xgb_v1.1 opened on n2: fallback rules answer for it",
         "*Circuit breaker opened* \xc2\xb7 `breaker.opened`\ncircuit breaker of credit_xgb_v1.1 opened on "
         "n2: fallback rules answer for it",
         "node n2 \xc2\xb7 riskd \xc2\xb7 2026-12-07T06:00:00.000Z \xc2\xb7 "
         "<https://riskd.example.com/ui/#/overview|open in the console>"},
        {BREAKER_CLOSED, "[riskd] circuit breaker of credit_xgb_v1.1 closed on n2",
         "*Circuit breaker closed* \xc2\xb7 `breaker.closed`\ncircuit breaker of credit_xgb_v1.1 closed on "
         "n2",
         "node n2 \xc2\xb7 riskd \xc2\xb7 2026-12-07T06:05:00.000Z \xc2\xb7 "
         "<https://riskd.example.com/ui/#/overview|open in the console>"},
        {CERT, "[riskd] the TLS certificate CN=riskd.example.com expires in 7 days",
         "*Certificate expiring* \xc2\xb7 `cert.expiring`\nthe TLS certificate CN=riskd.example.com expires "
         "in "
         "7 days",
         "node n1 \xc2\xb7 riskd \xc2\xb7 2026-12-07T07:00:00.000Z \xc2\xb7 "
         "<https://riskd.example.com/ui/#/overview|open in the console>"},
    };
    rd_notify_request rq;
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        format(k, cases[i].json, &CONSOLE, &rq);
        assert_string_equal(rq.url, "https://hooks.slack.com/services/T/B/SECRETPATH");
        assert_int_equal(nheaders(&rq), 5);
        rd_value b = body_of(&rq);
        assert_int_equal(b.len, 2);
        str_at(&b, "text", cases[i].text);
        assert_int_equal(at(&b, "blocks")->len, 2);
        str_at(&b, "blocks.0.type", "section");
        str_at(&b, "blocks.0.text.type", "mrkdwn");
        str_at(&b, "blocks.0.text.text", cases[i].section);
        str_at(&b, "blocks.1.type", "context");
        assert_int_equal(at(&b, "blocks.1.elements")->len, 1);
        str_at(&b, "blocks.1.elements.0.type", "mrkdwn");
        str_at(&b, "blocks.1.elements.0.text", cases[i].context);
        rd_notify_request_free(&rq);
    }
    /* without a console: no link; no actor: left out */
    static const char bare[] =
        "{\"id\":\"02\",\"type\":\"store.unavailable\",\"time\":\"2026-12-07T05:00:00.000Z\","
        "\"node\":\"a<b\",\"summary\":\"x\",\"object\":{\"kind\":\"node\",\"id\":\"n1\"}}";
    format(k, bare, &NONE, &rq);
    rd_value b = body_of(&rq);
    str_at(&b, "blocks.1.elements.0.text", "node a&lt;b \xc2\xb7 2026-12-07T05:00:00.000Z");
    rd_notify_request_free(&rq);
    rd_notify_sink_free(k);
}

/* ------------------------------------------------------------------ WeCom */

static void test_wecom(void **state)
{
    (void)state;
    rd_notify_sink *k = sink("wecom url=https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=SECRETPATH");
    rd_notify_request rq;
    format(k, ROLLED_BACK, &CONSOLE, &rq);
    assert_string_equal(rq.url, "https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=SECRETPATH");
    rd_value b = body_of(&rq);
    assert_int_equal(b.len, 2);
    str_at(&b, "msgtype", "markdown");
    assert_int_equal(at(&b, "markdown")->len, 1);
    /* the plan's example, '>' in the summary as its full-width form (U+FF1E) */
    str_at(
        &b, "markdown.content",
        "**[riskd] <font color=\"warning\">Rollout rolled back</font>**\n"
        "rollout credit-model-route rolled back at stage 5% by the controller: gate reject_rate (ratio) 1.62 "
        "\xef\xbc\x9e= 1.5 (noise floor 0.03)\n"
        "> type: rollout.rolled_back\n"
        "> node: n1 \xc2\xb7 actor: controller\n"
        "> time: 2026-12-07T03:12:45.123Z\n"
        "[Open in the console](https://riskd.example.com/ui/#/rollouts/credit-model-route)");
    rd_notify_request_free(&rq);

    /* the colour of each: changes comment, alarms firing warning, resolves info */
    static const struct {
        const char *json, *head;
    } heads[] = {
        {PROPOSED, "**[riskd] <font color=\"comment\">Change proposed</font>**\n"},
        {APPROVED, "**[riskd] <font color=\"comment\">Change approved</font>**\n"},
        {ROLLED_BACK, "**[riskd] <font color=\"warning\">Rollout rolled back</font>**\n"},
        {BREAKER_OPENED, "**[riskd] <font color=\"warning\">Circuit breaker opened</font>**\n"},
        {BREAKER_CLOSED, "**[riskd] <font color=\"info\">Circuit breaker closed</font>**\n"},
        {CERT, "**[riskd] <font color=\"warning\">Certificate expiring</font>**\n"},
    };
    for (size_t i = 0; i < sizeof heads / sizeof *heads; i++) {
        format(k, heads[i].json, &NONE, &rq);
        b = body_of(&rq);
        const rd_value *c = at(&b, "markdown.content");
        assert_non_null(c);
        assert_true(c->len > strlen(heads[i].head));
        assert_memory_equal(c->u.s, heads[i].head, strlen(heads[i].head));
        assert_null(strstr(c->u.s, "[Open in the console]")); /* no console: no link */
        rd_notify_request_free(&rq);
    }
    format(k, APPROVED, &NONE, &rq);
    b = body_of(&rq);
    str_at(&b, "markdown.content",
           "**[riskd] <font color=\"comment\">Change approved</font>**\n"
           "bob approved change 12 (1 of 2 approvals) & said \xef\xbc\x9cok\xef\xbc\x9e\n"
           "> type: change.approved\n"
           "> node: n1 \xc2\xb7 actor: bob\n"
           "> time: 2026-12-07T05:10:00.000Z");
    rd_notify_request_free(&rq);

    /* people's text cannot mention, link, tag or quote: < > [ ] ` and line breaks neutralised */
    static const char inject[] =
        "{\"id\":\"03\",\"type\":\"change.proposed\",\"time\":\"2026-12-07T05:00:00.000Z\",\"node\":\"n1\","
        "\"actor\":\"eve`\",\"summary\":\"hi <@all> [x](http://evil.example) `rm`\\n> fake\","
        "\"object\":{\"kind\":\"change\",\"id\":\"9\"}}";
    format(k, inject, &NONE, &rq);
    b = body_of(&rq);
    str_at(&b, "markdown.content",
           "**[riskd] <font color=\"comment\">Change proposed</font>**\n"
           "hi \xef\xbc\x9c@all\xef\xbc\x9e \xef\xbc\xbbx\xef\xbc\xbd(http://evil.example) "
           "\xef\xbd\x80rm\xef\xbd\x80"
           " \xef\xbc\x9e fake\n"
           "> type: change.proposed\n"
           "> node: n1 \xc2\xb7 actor: eve\xef\xbd\x80\n"
           "> time: 2026-12-07T05:00:00.000Z");
    rd_notify_request_free(&rq);
    rd_notify_sink_free(k);
}

/* A summary of 2,000 three-byte characters (6,000 bytes) cut to fit 4096 bytes on a code-point
 * boundary, "…" marking the cut, the heading and the facts kept. */
static void test_wecom_cut(void **state)
{
    (void)state;
    rd_buf j;
    rd_buf_init(&j);
    rd_buf_puts(&j, "{\"id\":\"04\",\"type\":\"change.proposed\",\"time\":\"2026-12-07T05:00:00.000Z\","
                    "\"node\":\"n1\",\"actor\":\"alice\",\"object\":{\"kind\":\"change\",\"id\":\"7\"},"
                    "\"summary\":\"a");
    for (int i = 0; i < 2000; i++)
        rd_buf_puts(&j, "\xe9\xa3\x8e\xe6\x8e\xa7"); /* 风控 */
    rd_buf_puts(&j, "\"}");
    rd_notify_sink *k = sink("wecom url=https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=SECRETPATH");
    rd_notify_request rq;
    for (int console = 0; console < 2; console++) {
        rd_err err;
        assert_int_equal(rd_notify_format(k, j.data, j.len, console ? &CONSOLE : &NONE, &rq, &err), RD_OK);
        rd_value b = body_of(&rq);
        const rd_value *c = at(&b, "markdown.content");
        assert_non_null(c);
        assert_true(c->len <= 4096);
        assert_true(c->len > 4096 - 3); /* filled: a 3-byte character did not fit after the cut */
        assert_true(utf8_ok((const unsigned char *)c->u.s, c->len));
        const char *head = "**[riskd] <font color=\"comment\">Change proposed</font>**\na";
        assert_memory_equal(c->u.s, head, strlen(head));
        /* the summary's characters whole, then the ellipsis, then the facts */
        const char *ell = strstr(c->u.s, "\xe2\x80\xa6\n> type: change.proposed\n> node: n1");
        assert_non_null(ell);
        size_t run = (size_t)(ell - c->u.s) - strlen(head);
        assert_int_equal(run % 3, 0);
        const char *tail = console ? "[Open in the console](https://riskd.example.com/ui/#/changes/7)"
                                   : "> time: 2026-12-07T05:00:00.000Z";
        assert_string_equal(c->u.s + c->len - strlen(tail), tail);
        rd_notify_request_free(&rq);
    }
    rd_buf_deinit(&j);
    rd_notify_sink_free(k);
}

/* ------------------------------------------------------------------ Alertmanager */

static void test_alertmanager(void **state)
{
    (void)state;
    static const struct {
        const char *spec, *url;
    } urls[] = {
        {"alertmanager url=http://am.example:9093", "http://am.example:9093/api/v2/alerts"},
        {"alertmanager url=http://am.example:9093/", "http://am.example:9093/api/v2/alerts"},
        {"alertmanager url=https://am.example/prom/", "https://am.example/prom/api/v2/alerts"},
        {"alertmanager url=http://am.example:9093/api/v2/alerts", "http://am.example:9093/api/v2/alerts"},
        {"alertmanager url=http://am.example:9093/api/v2/alerts/", "http://am.example:9093/api/v2/alerts"},
        /* a query (a proxy's token) stays after the path */
        {"alertmanager url=http://am.example:9093/am?key=abc",
         "http://am.example:9093/am/api/v2/alerts?key=abc"},
        {"alertmanager url=http://am.example:9093/api/v2/alerts?key=abc",
         "http://am.example:9093/api/v2/alerts?key=abc"},
    };
    rd_notify_request rq;
    for (size_t i = 0; i < sizeof urls / sizeof *urls; i++) {
        rd_notify_sink *k = sink(urls[i].spec);
        format(k, BREAKER_OPENED, &NONE, &rq);
        assert_string_equal(rq.url, urls[i].url);
        rd_notify_request_free(&rq);
        rd_notify_sink_free(k);
    }

    rd_notify_sink *k = sink("alertmanager url=http://am.example:9093");
    /* rollout.rolled_back: the plan's example */
    format(k, ROLLED_BACK, &CONSOLE, &rq);
    assert_int_equal(nheaders(&rq), 5);
    assert_string_equal(header(&rq, "X-Riskd-Event"), "rollout.rolled_back");
    rd_value b = body_of(&rq);
    assert_int_equal(b.type, RD_VARRAY);
    assert_int_equal(b.len, 1);
    assert_int_equal(at(&b, "0")->len, 5);
    assert_int_equal(at(&b, "0.labels")->len, 4);
    str_at(&b, "0.labels.alertname", "RiskdRolloutRolledBack");
    str_at(&b, "0.labels.service", "riskd");
    str_at(&b, "0.labels.severity", "critical");
    str_at(&b, "0.labels.flag", "credit-model-route");
    assert_int_equal(at(&b, "0.annotations")->len, 5);
    str_at(&b, "0.annotations.summary", RB_SUMMARY);
    str_at(&b, "0.annotations.description", "gate reject_rate (ratio) failed in 5%: value 1.62, fail >= 1.5");
    str_at(&b, "0.annotations.riskd_event", "rollout.rolled_back");
    str_at(&b, "0.annotations.riskd_event_id", "0193a4c2-5b1e-7c3e-9f1a-3c2b5d6e7f82");
    str_at(&b, "0.annotations.node", "n1");
    str_at(&b, "0.startsAt", "2026-12-07T03:12:45.123Z");
    str_at(&b, "0.endsAt", "2026-12-07T04:12:45.123Z"); /* + 3600 s */
    str_at(&b, "0.generatorURL", "https://riskd.example.com/ui/#/rollouts/credit-model-route");
    rd_notify_request_free(&rq);

    /* the hold; no console: no generatorURL */
    rd_notify_format_opts hold = {.alert_hold_s = 600};
    format(k, ROLLED_BACK, &hold, &rq);
    b = body_of(&rq);
    str_at(&b, "0.endsAt", "2026-12-07T03:22:45.123Z");
    assert_null(at(&b, "0.generatorURL"));
    rd_notify_request_free(&rq);

    /* breaker: opened fires, closed resolves with the very same labels */
    format(k, BREAKER_OPENED, &NONE, &rq);
    rd_value open = body_of(&rq);
    rd_notify_request_free(&rq);
    assert_int_equal(at(&open, "0.labels")->len, 5);
    str_at(&open, "0.labels.alertname", "RiskdBreakerOpen");
    str_at(&open, "0.labels.severity", "critical");
    str_at(&open, "0.labels.node", "n2");
    str_at(&open, "0.labels.bundle", "credit_xgb_v1.1");
    str_at(&open, "0.startsAt", "2026-12-07T06:00:00.000Z");
    str_at(&open, "0.endsAt", "2026-12-07T07:00:00.000Z");
    assert_null(at(&open, "0.annotations.description")); /* no detail */
    format(k, BREAKER_CLOSED, &NONE, &rq);
    rd_value closed = body_of(&rq);
    rd_notify_request_free(&rq);
    assert_true(rd_value_equal(at(&open, "0.labels"), at(&closed, "0.labels")));
    str_at(&closed, "0.startsAt", "2026-12-07T06:05:00.000Z");
    str_at(&closed, "0.endsAt", "2026-12-07T06:05:00.000Z");
    str_at(&closed, "0.annotations.riskd_event_id", "0193a4c2-5b1e-7c3e-9f1a-3c2b5d6e7f84");
    /* no event id among the labels */
    const rd_value *labels = at(&closed, "0.labels");
    for (uint32_t i = 0; i < labels->len; i++)
        assert_null(strstr(labels->u.members[i].val.u.s, "0193a4c2"));

    /* cert.expiring: ends at not_after; critical from band 1 */
    format(k, CERT, &NONE, &rq);
    b = body_of(&rq);
    assert_int_equal(at(&b, "0.labels")->len, 5);
    str_at(&b, "0.labels.alertname", "RiskdCertificateExpiring");
    str_at(&b, "0.labels.severity", "warning");
    str_at(&b, "0.labels.node", "n1");
    str_at(&b, "0.labels.subject", "CN=riskd.example.com");
    str_at(&b, "0.startsAt", "2026-12-07T07:00:00.000Z");
    str_at(&b, "0.endsAt", "2026-12-14T00:00:00.000Z");
    rd_notify_request_free(&rq);
    format(k, CERT_BAND("1"), &NONE, &rq);
    b = body_of(&rq);
    str_at(&b, "0.labels.severity", "critical");
    rd_notify_request_free(&rq);

    /* drift: the labels it has; an absent input is left out, not empty */
    static const char drift[] =
        "{\"id\":\"05\",\"type\":\"drift.alarm\",\"time\":\"2026-12-07T05:00:00.000Z\",\"node\":\"n1\","
        "\"summary\":\"score PSI "
        "high\",\"alert\":{\"key\":\"drift/b/champion/score_psi\",\"state\":\"firing\"},"
        "\"data\":{\"bundle\":\"credit_xgb_v1.0\",\"variant\":\"champion\",\"statistic\":\"score_psi\","
        "\"value\":0.31,\"threshold\":0.25}}";
    format(k, drift, &CONSOLE, &rq);
    b = body_of(&rq);
    assert_int_equal(at(&b, "0.labels")->len, 6);
    str_at(&b, "0.labels.alertname", "RiskdDrift");
    str_at(&b, "0.labels.severity", "warning");
    str_at(&b, "0.labels.variant", "champion");
    str_at(&b, "0.labels.statistic", "score_psi");
    assert_null(at(&b, "0.labels.input"));
    str_at(&b, "0.generatorURL", "https://riskd.example.com/ui/#/drift");
    rd_notify_request_free(&rq);

    /* not alarms: refused, nothing written */
    const char *plain[] = {PROPOSED, APPROVED};
    for (size_t i = 0; i < 2; i++) {
        rd_err err;
        rd_notify_request untouched = {.url = (char *)"x"};
        assert_int_equal(rd_notify_format(k, plain[i], strlen(plain[i]), &NONE, &untouched, &err), RD_EINVAL);
        assert_string_equal(untouched.url, "x");
        assert_non_null(strstr(err.msg, "alertmanager takes alarms only"));
    }
    rd_notify_sink_free(k);
}

/* ------------------------------------------------------------------ links */

static void test_links(void **state)
{
    (void)state;
    rd_notify_sink *k = sink("webhook url=http://127.0.0.1:9/x");
    static const struct {
        const char *console, *object, *type, *link;
    } cases[] = {
        {"https://r.example", "{\"kind\":\"change\",\"id\":\"12\"}", "change.proposed",
         "https://r.example/ui/#/changes/12"},
        {"https://r.example//", "{\"kind\":\"rollout\",\"id\":\"a/b c\"}", "rollout.held",
         "https://r.example/ui/#/rollouts/a%2Fb%20c"},
        {"http://127.0.0.1:8080/base", "{\"kind\":\"node\",\"id\":\"n1\"}", "store.unavailable",
         "http://127.0.0.1:8080/base/ui/#/overview"},
        {"https://r.example", "{\"kind\":\"bundle\",\"id\":\"b\"}", "drift.cleared",
         "https://r.example/ui/#/drift"},
        {"https://r.example", "{\"kind\":\"version\",\"id\":\"flags:/x\"}", "change.rolled_back",
         "https://r.example/ui/#/changes"},
        {"https://r.example/a(b)", "{\"kind\":\"certificate\",\"id\":\"c\"}", "cert.expiring",
         "https://r.example/a%28b%29/ui/#/overview"},
    };
    rd_notify_request rq;
    char json[512];
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        snprintf(json, sizeof json,
                 "{\"id\":\"06\",\"type\":\"%s\",\"time\":\"2026-12-07T05:00:00.000Z\",\"node\":\"n1\","
                 "\"object\":%s,\"summary\":\"s\"}",
                 cases[i].type, cases[i].object);
        rd_notify_format_opts o = {.console_url = cases[i].console};
        format(k, json, &o, &rq);
        rd_value b = body_of(&rq);
        str_at(&b, "link", cases[i].link);
        rd_notify_request_free(&rq);
        /* no console URL (NULL or ""): the stored bytes, no link */
        rd_notify_format_opts empty = {.console_url = ""};
        format(k, json, i % 2 ? &empty : NULL, &rq);
        assert_string_equal(rq.body.data, json);
        rd_notify_request_free(&rq);
    }
    rd_notify_sink_free(k);
}

static void test_bad_envelopes(void **state)
{
    (void)state;
    rd_notify_sink *k = sink("webhook url=http://127.0.0.1:9/x");
    static const char *const bad[] = {
        "",
        "not json",
        "[1]",
        "{\"type\":\"change.proposed\",\"time\":\"2026-12-07T05:00:00.000Z\"}",
        "{\"id\":\"0193\\r\\nX: y\",\"type\":\"change.proposed\",\"time\":\"2026-12-07T05:00:00.000Z\"}",
        "{\"id\":\"01\",\"type\":\"change.proposed\\r\\nX-Evil: 1\",\"time\":\"2026-12-07T05:00:00.000Z\"}",
        "{\"id\":\"01\",\"type\":\"change.proposed\"}",
        "{\"id\":\"01\",\"type\":\"change.proposed\",\"time\":\"yesterday\"}",
        "{\"id\":\"01\",\"type\":\"change.proposed\",\"time\":\"2026-12-07T05:00:00.000+01:00\"}",
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        rd_err err;
        rd_notify_request rq = {.url = (char *)"untouched"};
        assert_int_equal(rd_notify_format(k, bad[i], strlen(bad[i]), &NONE, &rq, &err), RD_EINVAL);
        assert_string_equal(rq.url, "untouched");
        assert_non_null(strstr(err.msg, "not an event envelope"));
    }
    rd_notify_sink_free(k);
    rd_notify_request_free(NULL);
}

/* ------------------------------------------------------------------ signatures */

static void test_hmac(void **state)
{
    (void)state;
    char sig[RD_NOTIFY_SIG_LEN];
    /* RFC 4231, test case 2 */
    rd_notify_sign("Jefe", 4, "what do ya want for nothing?", 28, sig);
    assert_string_equal(sig, "sha256=5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
    /* Python's hmac over PROPOSED */
    rd_notify_sign("riskd-test-secret", 17, PROPOSED, strlen(PROPOSED), sig);
    assert_string_equal(sig, SIG_PROPOSED);
    /* RFC 4231, test case 6: a key longer than the block (131 bytes of 0xaa) */
    unsigned char key[131];
    memset(key, 0xaa, sizeof key);
    const char *data = "Test Using Larger Than Block-Size Key - Hash Key First";
    rd_notify_sign(key, sizeof key, data, strlen(data), sig);
    assert_string_equal(sig, "sha256=60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54");
}

/* ------------------------------------------------------------------ answers */

static void test_classify(void **state)
{
    (void)state;
    static const struct {
        rd_notify_kind kind;
        int status;
        const char *body, *transport;
        rd_notify_verdict want;
        const char *why;
    } rows[] = {
        {RD_NOTIFY_WEBHOOK, 200, NULL, "", RD_NOTIFY_OK, "HTTP 200"},
        {RD_NOTIFY_WEBHOOK, 204, NULL, "", RD_NOTIFY_OK, "HTTP 204"},
        {RD_NOTIFY_WEBHOOK, 0, NULL, "Timeout was reached", RD_NOTIFY_RETRY,
         "no answer: Timeout was reached"},
        {RD_NOTIFY_WEBHOOK, 0, NULL, "", RD_NOTIFY_RETRY, "no answer: transport error"},
        {RD_NOTIFY_WEBHOOK, 408, NULL, "", RD_NOTIFY_RETRY, "HTTP 408"},
        {RD_NOTIFY_WEBHOOK, 425, NULL, "", RD_NOTIFY_RETRY, "HTTP 425"},
        {RD_NOTIFY_WEBHOOK, 429, NULL, "", RD_NOTIFY_RETRY, "HTTP 429"},
        {RD_NOTIFY_WEBHOOK, 500, NULL, "", RD_NOTIFY_RETRY, "HTTP 500"},
        {RD_NOTIFY_WEBHOOK, 503, "busy", "", RD_NOTIFY_RETRY, "HTTP 503"},
        {RD_NOTIFY_WEBHOOK, 599, NULL, "", RD_NOTIFY_RETRY, "HTTP 599"},
        {RD_NOTIFY_WEBHOOK, 400, NULL, "", RD_NOTIFY_FAIL, "HTTP 400"},
        {RD_NOTIFY_WEBHOOK, 401, NULL, "", RD_NOTIFY_FAIL, "HTTP 401"},
        {RD_NOTIFY_WEBHOOK, 404, "nope", "", RD_NOTIFY_FAIL, "HTTP 404"},
        {RD_NOTIFY_WEBHOOK, 413, NULL, "", RD_NOTIFY_FAIL, "HTTP 413"},
        {RD_NOTIFY_WEBHOOK, 302, NULL, "", RD_NOTIFY_FAIL,
         "HTTP 302: a redirect (riskd does not follow them)"},
        {RD_NOTIFY_SLACK, 200, "ok", "", RD_NOTIFY_OK, "HTTP 200: ok"},
        {RD_NOTIFY_SLACK, 404, "channel_not_found", "", RD_NOTIFY_FAIL, "HTTP 404: channel_not_found"},
        {RD_NOTIFY_SLACK, 410, "channel_is_archived", "", RD_NOTIFY_FAIL, "HTTP 410: channel_is_archived"},
        {RD_NOTIFY_SLACK, 400, "<html>SECRETPATH</html>", "", RD_NOTIFY_FAIL, "HTTP 400"},
        {RD_NOTIFY_SLACK, 429, NULL, "", RD_NOTIFY_RETRY, "HTTP 429"},
        {RD_NOTIFY_WECOM, 200, "{\"errcode\":0,\"errmsg\":\"ok\"}", "", RD_NOTIFY_OK, "HTTP 200"},
        {RD_NOTIFY_WECOM, 200, "{\"errcode\":45009,\"errmsg\":\"api freq out of limit\"}", "",
         RD_NOTIFY_RETRY, "wecom errcode 45009: api freq out of limit"},
        {RD_NOTIFY_WECOM, 200, "{\"errcode\":-1,\"errmsg\":\"system busy\"}", "", RD_NOTIFY_RETRY,
         "wecom errcode -1: system busy"},
        {RD_NOTIFY_WECOM, 200,
         "{\"errcode\":93000,\"errmsg\":\"invalid webhook url, hint: [1702000000_1_abc], from ip: 1.2.3.4, "
         "more "
         "info at https://open.work.weixin.qq.com/devtool/query?e=93000\"}",
         "", RD_NOTIFY_FAIL, "wecom errcode 93000: invalid webhook url"},
        {RD_NOTIFY_WECOM, 200, "{\"errcode\":40008,\"errmsg\":\"invalid message type\"}", "", RD_NOTIFY_FAIL,
         "wecom errcode 40008: invalid message type"},
        {RD_NOTIFY_WECOM, 200, "{\"errcode\":93000,\"errmsg\":\"bad key=SECRETPATH\"}", "", RD_NOTIFY_FAIL,
         "wecom errcode 93000: bad"},
        {RD_NOTIFY_WECOM, 200, "<html>proxy</html>", "", RD_NOTIFY_FAIL, "HTTP 200 without a WeCom errcode"},
        {RD_NOTIFY_WECOM, 200, NULL, "", RD_NOTIFY_FAIL, "HTTP 200 without a WeCom errcode"},
        {RD_NOTIFY_WECOM, 502, NULL, "", RD_NOTIFY_RETRY, "HTTP 502"},
        {RD_NOTIFY_ALERTMANAGER, 200, NULL, "", RD_NOTIFY_OK, "HTTP 200"},
        {RD_NOTIFY_ALERTMANAGER, 400, "{\"code\":400,\"message\":\"bad\"}", "", RD_NOTIFY_FAIL, "HTTP 400"},
        {RD_NOTIFY_ALERTMANAGER, 500, NULL, "", RD_NOTIFY_RETRY, "HTTP 500"},
    };
    for (size_t i = 0; i < sizeof rows / sizeof *rows; i++) {
        rd_notify_response r = {.status = rows[i].status, .body = rows[i].body};
        r.body_len = r.body ? strlen(r.body) : 0;
        snprintf(r.transport_error, sizeof r.transport_error, "%s", rows[i].transport);
        char why[160];
        rd_notify_verdict v = rd_notify_classify(rows[i].kind, &r, why, sizeof why);
        if (v != rows[i].want || strcmp(why, rows[i].why) != 0)
            fail_msg("row %zu: verdict %d why \"%s\"; want %d \"%s\"", i, v, why, rows[i].want, rows[i].why);
    }
    /* a short buffer is cut, not overrun; NULL is allowed */
    rd_notify_response r = {.status = 404};
    char tiny[5];
    assert_int_equal(rd_notify_classify(RD_NOTIFY_WEBHOOK, &r, tiny, sizeof tiny), RD_NOTIFY_FAIL);
    assert_string_equal(tiny, "HTTP");
    assert_int_equal(rd_notify_classify(RD_NOTIFY_WEBHOOK, &r, NULL, 0), RD_NOTIFY_FAIL);
}

static void test_backoff(void **state)
{
    (void)state;
    /* the first draws from seed 1, computed with Python:
     *   x ^= x << 13; x ^= x >> 7; x ^= x << 17 (mod 2^64) -> 1082269761, 1152992998833853505,
     *   11177516664432764457; wait = d - d/2 + x % (d/2 + 1) */
    uint64_t rng = 1;
    assert_int_equal(rd_notify_backoff_ms(1, 1000, 300000, 0, &rng), 542);
    assert_int_equal(rng, 1082269761u);
    assert_int_equal(rd_notify_backoff_ms(2, 1000, 300000, 0, &rng), 1328);
    assert_int_equal(rd_notify_backoff_ms(3, 1000, 300000, 0, &rng), 2846);

    /* bounds: d/2 <= wait <= d, d = min(max, base * 2^(n-1)); the range is used */
    rng = 0x1234567887654321u;
    for (int attempt = 1; attempt <= 40; attempt++) {
        int64_t d = 1000;
        for (int i = 1; i < attempt && d < 300000; i++)
            d *= 2;
        d = d < 300000 ? d : 300000;
        int64_t lo = INT64_MAX, hi = 0;
        for (int i = 0; i < 2000; i++) {
            int64_t w = rd_notify_backoff_ms(attempt, 1000, 300000, 0, &rng);
            assert_true(w >= d / 2 && w <= d);
            lo = w < lo ? w : lo;
            hi = w > hi ? w : hi;
        }
        assert_true(lo < d / 2 + d / 20);
        assert_true(hi > d - d / 20);
    }
    /* Retry-After raises the wait, the maximum caps it */
    rng = 7;
    assert_int_equal(rd_notify_backoff_ms(1, 1000, 300000, 5000, &rng), 5000);
    assert_int_equal(rd_notify_backoff_ms(1, 1000, 300000, 1000000000, &rng), 300000);
    int64_t w = rd_notify_backoff_ms(12, 1000, 300000, 10, &rng);
    assert_true(w >= 150000 && w <= 300000);
    /* no overflow far past the cap; a zero state still moves */
    assert_true(rd_notify_backoff_ms(1000, INT64_MAX / 4, INT64_MAX / 2, 0, &rng) <= INT64_MAX / 2);
    rng = 0;
    w = rd_notify_backoff_ms(1, 50, 500, 0, &rng);
    assert_true(w >= 25 && w <= 50);
    assert_true(rng != 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_webhook, setup, teardown),
        cmocka_unit_test_setup_teardown(test_slack, setup, teardown),
        cmocka_unit_test_setup_teardown(test_wecom, setup, teardown),
        cmocka_unit_test_setup_teardown(test_wecom_cut, setup, teardown),
        cmocka_unit_test_setup_teardown(test_alertmanager, setup, teardown),
        cmocka_unit_test_setup_teardown(test_links, setup, teardown),
        cmocka_unit_test_setup_teardown(test_bad_envelopes, setup, teardown),
        cmocka_unit_test(test_hmac),
        cmocka_unit_test(test_classify),
        cmocka_unit_test(test_backoff),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
