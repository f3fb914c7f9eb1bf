/* Sink specs (src/lib/notify/sink.c): every key, the defaults, default names (against SHA-256
 * prefixes computed with Python's hashlib), duplicate names and keys, did-you-mean for keys,
 * kinds and globs, Alertmanager's alarms-only rule, kinds=, the files, the warnings.
 *
 * Every URL and secret here carries the sentinel SECRETPATH, and every error, warning and
 * description the tests see is checked not to hold it: a URL (Slack's, WeCom's) is the secret. */
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

#include "riskd/notify.h"

#define SLACK1 "https://hooks.slack.com/services/T0/B1/SECRETPATH1"
#define SLACK2 "https://hooks.slack.com/services/T0/B2/SECRETPATH2"
/* python3 -c 'import hashlib; print(hashlib.sha256(URL.encode()).hexdigest()[:8])' */
#define SLACK1_SHA8 "c4e29e14"
#define SLACK2_SHA8 "0bcae71e"
#define WECOM       "https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=SECRETPATH-693a91f6"
#define HOOK        "https://user:SECRETPATH@hooks.example.com:8443/in/SECRETPATH"

static char dir[64];

static const char *put(const char *name, const char *text, mode_t mode)
{
    static char paths[16][160];
    static int next;
    char *path = paths[next++ % 16];
    snprintf(path, 160, "%s/%s", dir, name);
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
    assert_int_equal(chmod(path, mode), 0);
    return path;
}

static int setup(void **state)
{
    (void)state;
    strcpy(dir, "/tmp/riskd-sink-XXXXXX");
    assert_non_null(mkdtemp(dir));
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    assert_int_equal(system(cmd), 0);
    return 0;
}

static void clean(const char *text)
{
    if (strstr(text, "SECRETPATH"))
        fail_msg("a secret leaked: %s", text);
}

/* A spec that parses; its warnings and description checked clean. */
static rd_notify_sink *ok(const char *spec, int index)
{
    rd_notify_sink *k = NULL;
    rd_err err = {0};
    if (rd_notify_sink_parse(spec, index, &k, &err) != RD_OK)
        fail_msg("%s: %s", spec, err.msg);
    clean(rd_notify_sink_warnings(k));
    rd_buf b;
    rd_buf_init(&b);
    rd_notify_sink_describe(k, &b);
    clean(rd_buf_cstr(&b));
    rd_buf_deinit(&b);
    return k;
}

/* A spec refused with code, its message holding want (and no secret). */
static void refused(const char *spec, int code, const char *want)
{
    rd_notify_sink *k = (rd_notify_sink *)0x1;
    rd_err err = {0};
    int rc = rd_notify_sink_parse(spec, 3, &k, &err);
    if (rc == RD_OK)
        fail_msg("accepted: %s", spec);
    assert_ptr_equal(k, (rd_notify_sink *)0x1); /* untouched */
    clean(err.msg);
    assert_int_equal(rc, code);
    assert_int_equal(err.code, code);
    if (!strstr(err.msg, want))
        fail_msg("%s\n  gave: %s\n  want: %s", spec, err.msg, want);
    assert_non_null(strstr(err.msg, "notify #3"));
}

static char *describe(const rd_notify_sink *k)
{
    static char out[512];
    rd_buf b;
    rd_buf_init(&b);
    rd_notify_sink_describe(k, &b);
    snprintf(out, sizeof out, "%s", rd_buf_cstr(&b));
    rd_buf_deinit(&b);
    return out;
}

static void test_every_key(void **state)
{
    (void)state;
    const char *secret = put("secret", "SECRETPATH-key\n", 0600);
    const char *ca = put("ca.pem", "-----BEGIN CERTIFICATE-----\n", 0644);
    char spec[1024];
    snprintf(spec, sizeof spec,
             "webhook  url=" HOOK " secret_file=%s events=change.*,*.rolled_back kinds=flags,rollout "
             "name=ops-hook.1 cacert=%s",
             secret, ca);
    rd_notify_sink *k = ok(spec, 1);
    assert_int_equal(rd_notify_sink_kind(k), RD_NOTIFY_WEBHOOK);
    assert_string_equal(rd_notify_sink_name(k), "ops-hook.1");
    assert_string_equal(rd_notify_sink_warnings(k), "");
    char want[512];
    snprintf(want, sizeof want,
             "webhook (name ops-hook.1): https://hooks.example.com:8443/…, events change.*,*.rolled_back, "
             "kinds flags,rollout, signed, cacert %s",
             ca);
    assert_string_equal(describe(k), want);
    /* events: change.* and the two rolled_back types */
    assert_true(rd_notify_sink_wants(k, "change.proposed", "flags"));
    assert_true(rd_notify_sink_wants(k, "change.rolled_back", "rollout"));
    assert_true(rd_notify_sink_wants(k, "rollout.rolled_back", NULL));
    assert_false(rd_notify_sink_wants(k, "rollout.advanced", NULL));
    assert_false(rd_notify_sink_wants(k, "breaker.opened", NULL));
    /* kinds: bundle changes are not this sink's */
    assert_false(rd_notify_sink_wants(k, "change.proposed", "bundle"));
    assert_false(rd_notify_sink_wants(k, "change.approved", "other"));
    assert_false(rd_notify_sink_wants(k, "no.such", NULL));
    rd_notify_sink_free(k);
    rd_notify_sink_free(NULL);
}

static void test_defaults(void **state)
{
    (void)state;
    rd_notify_sink *k = ok("slack url=" SLACK1, 2);
    assert_string_equal(describe(k), "slack (#2): https://hooks.slack.com/…, events *, kinds any");
    size_t n;
    const char *const *t = rd_notify_types(&n);
    for (size_t i = 0; i < n; i++) {
        assert_true(rd_notify_sink_wants(k, t[i], NULL));
        assert_true(rd_notify_sink_wants(k, t[i], "bundle"));
    }
    rd_notify_sink *s[] = {k};
    rd_err err;
    assert_int_equal(rd_notify_sinks_check(s, 1, &err), RD_OK);
    assert_string_equal(rd_notify_sink_name(k), "slack");
    assert_string_equal(describe(k), "slack (name slack): https://hooks.slack.com/…, events *, kinds any");
    rd_notify_sink_free(k);

    /* Alertmanager: the alarms (the plan's list, §1.1) */
    k = ok("alertmanager url=http://127.0.0.1:9093", 1);
    assert_string_equal(describe(k), "alertmanager (#1): http://127.0.0.1:9093/…, events alarms, kinds any");
    static const char *const alarms[] = {
        "breaker.opened",
        "breaker.closed",
        "drift.alarm",
        "drift.cleared",
        "dlog.backlog",
        "dlog.backlog_cleared",
        "store.unavailable",
        "store.available",
        "cert.expiring",
        "rollout.rolled_back",
        "rollout.held",
        "rollout.resumed",
        "notify.test", /* riskd notify test reaches an Alertmanager sink too */
        "rollout.exposure_capped",
    };
    size_t wanted = 0;
    for (size_t i = 0; i < n; i++)
        wanted += rd_notify_sink_wants(k, t[i], NULL);
    assert_int_equal(wanted, sizeof alarms / sizeof *alarms);
    for (size_t i = 0; i < sizeof alarms / sizeof *alarms; i++)
        assert_true(rd_notify_sink_wants(k, alarms[i], NULL));
    rd_notify_sink_free(k);
    assert_string_equal(rd_notify_kind_name(RD_NOTIFY_WEBHOOK), "webhook");
    assert_string_equal(rd_notify_kind_name(RD_NOTIFY_SLACK), "slack");
    assert_string_equal(rd_notify_kind_name(RD_NOTIFY_WECOM), "wecom");
    assert_string_equal(rd_notify_kind_name(RD_NOTIFY_ALERTMANAGER), "alertmanager");
}

static void test_names(void **state)
{
    (void)state;
    rd_notify_sink *s[4] = {ok("slack url=" SLACK1, 1), ok("slack url=" SLACK2 " events=change.*", 2),
                            ok("webhook url=http://localhost:9/x", 3),
                            ok("wecom url=" WECOM " name=risk-mgr", 4)};
    rd_err err;
    assert_int_equal(rd_notify_sinks_check(s, 4, &err), RD_OK);
    assert_string_equal(rd_notify_sink_name(s[0]), "slack-" SLACK1_SHA8);
    assert_string_equal(rd_notify_sink_name(s[1]), "slack-" SLACK2_SHA8);
    assert_string_equal(rd_notify_sink_name(s[2]), "webhook");
    assert_string_equal(rd_notify_sink_name(s[3]), "risk-mgr");
    /* checking again gives the same names */
    assert_int_equal(rd_notify_sinks_check(s, 4, &err), RD_OK);
    assert_string_equal(rd_notify_sink_name(s[0]), "slack-" SLACK1_SHA8);
    for (int i = 0; i < 4; i++)
        rd_notify_sink_free(s[i]);

    /* two sinks named alike, by hand or by default */
    rd_notify_sink *d[3] = {ok("slack url=" SLACK1 " name=ops", 1), ok("webhook url=http://127.0.0.1:1", 2),
                            ok("wecom url=" WECOM " name=ops", 3)};
    assert_int_equal(rd_notify_sinks_check(d, 3, &err), RD_EINVAL);
    clean(err.msg);
    assert_string_equal(err.msg,
                        "notify #1 (slack) and #3 (wecom) are both named ops: give each its own name=");
    rd_notify_sink *e[2] = {ok("slack url=" SLACK1, 1), ok("slack url=" SLACK1 " events=change.*", 2)};
    assert_int_equal(rd_notify_sinks_check(e, 2, &err), RD_EINVAL);
    clean(err.msg);
    assert_non_null(strstr(err.msg, "both named slack-" SLACK1_SHA8));
    for (int i = 0; i < 3; i++)
        rd_notify_sink_free(d[i]);
    for (int i = 0; i < 2; i++)
        rd_notify_sink_free(e[i]);

    refused("slack url=" SLACK1 " name=a/b", RD_EINVAL, "name: 1 to 63 of A-Z a-z 0-9 _ . -");
    char spec[256];
    snprintf(spec, sizeof spec, "slack url=" SLACK1 " name=%064d", 0);
    refused(spec, RD_EINVAL, "name: 1 to 63");
    snprintf(spec, sizeof spec, "slack url=" SLACK1 " name=%063d", 0);
    rd_notify_sink_free(ok(spec, 1));
}

static void test_keys(void **state)
{
    (void)state;
    refused("", RD_EINVAL, "notify #3: an empty spec");
    refused("   ", RD_EINVAL, "an empty spec");
    refused("slak url=" SLACK1, RD_EINVAL, "notify #3: unknown kind \"slak\" (did you mean slack?)");
    refused("teams url=" SLACK1, RD_EINVAL, "unknown kind \"teams\" (webhook, slack, wecom or alertmanager)");
    /* the kind forgotten: the URL is not quoted back */
    refused(SLACK1, RD_EINVAL, "notify #3: the spec starts with its kind");
    refused("693a91f6-SECRETPATH url=x", RD_EINVAL, "the spec starts with its kind");
    refused("slack " SLACK1, RD_EINVAL, "notify #3 (slack): a word without '='");
    refused("wecom SECRETPATH-693a91f6", RD_EINVAL, "a word without '='");
    refused("slack url=" SLACK1 " evnets=change.*", RD_EINVAL,
            "notify #3 (slack): unknown key \"evnets\" (did you mean events?)");
    refused("slack url=" SLACK1 " URL=x", RD_EINVAL, "unknown key \"URL\" (did you mean url?)");
    refused("slack url=" SLACK1 " colour=red", RD_EINVAL,
            "unknown key \"colour\" (the keys: url, url_file, secret_file, events, kinds, name, cacert)");
    refused("slack https://x/SECRETPATH=1", RD_EINVAL, "an unknown key (the keys:");
    refused("slack url=" SLACK1 " url=" SLACK2, RD_EINVAL, "notify #3 (slack): url is given twice");
    refused("slack url=" SLACK1 " events=* events=change.*", RD_EINVAL, "events is given twice");
    refused("slack url=" SLACK1 " name=", RD_EINVAL, "name: an empty value");
    refused("slack events=*", RD_EINVAL, "notify #3 (slack): no url (url=URL, or url_file=FILE holding it)");
}

static void test_urls(void **state)
{
    (void)state;
    refused("slack url=ftp://hooks.slack.com/SECRETPATH", RD_EINVAL, "url: not an http or https URL");
    refused("slack url=hooks.slack.com/SECRETPATH", RD_EINVAL, "url: not an http or https URL");
    refused("slack url=https:///SECRETPATH", RD_EINVAL, "url: no host");
    refused("slack url=https://u:SECRETPATH@/x", RD_EINVAL, "url: no host");
    refused("slack url=https://host:99999/SECRETPATH", RD_EINVAL, "url: the port is not a number");
    refused("slack url=https://host:/SECRETPATH", RD_EINVAL, "url: the port is not a number");
    refused("slack url=https://[::1/SECRETPATH", RD_EINVAL, "url: an IPv6 host without its ']'");
    rd_notify_sink *k = ok("alertmanager url=HTTP://[::1]:9093", 1);
    assert_string_equal(describe(k), "alertmanager (#1): http://[::1]:9093/…, events alarms, kinds any");
    rd_notify_sink_free(k);

    /* url_file: one trailing newline trimmed */
    const char *f = put("wecom.url", WECOM "\r\n", 0600);
    char spec[512];
    snprintf(spec, sizeof spec, "wecom url_file=%s", f);
    k = ok(spec, 1);
    assert_string_equal(describe(k), "wecom (#1): https://qyapi.weixin.qq.com/…, events *, kinds any");
    rd_notify_sink_free(k);
    f = put("empty.url", "\n", 0600);
    snprintf(spec, sizeof spec, "wecom url_file=%s", f);
    refused(spec, RD_EINVAL, ": empty");
    f = put("bad.url", "ftp://SECRETPATH\n", 0600);
    snprintf(spec, sizeof spec, "wecom url_file=%s", f);
    refused(spec, RD_EINVAL, "bad.url: not an http or https URL");
    f = put("two.url", WECOM "\n\n", 0600);
    snprintf(spec, sizeof spec, "wecom url_file=%s", f);
    refused(spec, RD_EINVAL, "two.url: holds a space or a control character");
    snprintf(spec, sizeof spec, "wecom url_file=%s/missing", dir);
    refused(spec, RD_EIO, "url_file");
    refused(spec, RD_EIO, "missing: No such file or directory");
    snprintf(spec, sizeof spec, "wecom url=" WECOM " url_file=%s", f);
    refused(spec, RD_EINVAL, "url and url_file: give one of them");
}

static void test_secret(void **state)
{
    (void)state;
    char spec[512];
    const char *f = put("open.key", "SECRETPATH-shared\n", 0644);
    snprintf(spec, sizeof spec, "webhook url=https://h.example/SECRETPATH secret_file=%s", f);
    rd_notify_sink *k = ok(spec, 2);
    char want[400];
    snprintf(want, sizeof want,
             "notify #2 (webhook): secret_file %s can be read by its group or by others (chmod 600 it)\n", f);
    assert_string_equal(rd_notify_sink_warnings(k), want);
    rd_notify_sink_free(k);
    f = put("group.key", "k", 0640);
    snprintf(spec, sizeof spec, "webhook url=https://h.example/ secret_file=%s", f);
    k = ok(spec, 2);
    assert_non_null(strstr(rd_notify_sink_warnings(k), "chmod 600"));
    rd_notify_sink_free(k);

    f = put("empty.key", "\r\n", 0600);
    snprintf(spec, sizeof spec, "webhook url=https://h.example/SECRETPATH secret_file=%s", f);
    refused(spec, RD_EINVAL, "empty.key: empty");
    f = put("s.key", "SECRETPATH", 0600);
    snprintf(spec, sizeof spec, "slack url=" SLACK1 " secret_file=%s", f);
    refused(spec, RD_EINVAL, "notify #3 (slack): secret_file is for webhook sinks only");
    snprintf(spec, sizeof spec, "webhook url=https://h.example/ secret_file=%s/nope", dir);
    refused(spec, RD_EIO, "secret_file");
    snprintf(spec, sizeof spec, "webhook url=https://h.example/ secret_file=%s", dir);
    refused(spec, RD_EIO, "not a regular file");

    const char *ca = put("empty.pem", "", 0644);
    snprintf(spec, sizeof spec, "webhook url=https://h.example/ cacert=%s", ca);
    refused(spec, RD_EINVAL, "cacert");
    snprintf(spec, sizeof spec, "webhook url=https://h.example/ cacert=%s/none.pem", dir);
    refused(spec, RD_EIO, "none.pem: No such file or directory");
}

static void test_plain_http_warning(void **state)
{
    (void)state;
    rd_notify_sink *k = ok("slack url=http://hooks.example.com/SECRETPATH", 4);
    assert_string_equal(rd_notify_sink_warnings(k),
                        "notify #4 (slack): the URL is plain http to a host other than this one: a slack URL "
                        "is the secret, and it crosses the network in clear (use https)\n");
    rd_notify_sink_free(k);
    k = ok("wecom url=http://10.1.2.3:8080/cgi-bin/webhook/send?key=SECRETPATH", 4);
    assert_non_null(strstr(rd_notify_sink_warnings(k), "a wecom URL is the secret"));
    rd_notify_sink_free(k);
    const char *quiet[] = {
        "slack url=http://127.0.0.1:8080/SECRETPATH",  "wecom url=http://localhost/SECRETPATH",
        "slack url=http://[::1]:1/SECRETPATH",         "webhook url=http://hooks.example.com/SECRETPATH",
        "alertmanager url=http://am.example.com:9093", "slack url=" SLACK1};
    for (size_t i = 0; i < sizeof quiet / sizeof *quiet; i++) {
        k = ok(quiet[i], 1);
        assert_string_equal(rd_notify_sink_warnings(k), "");
        rd_notify_sink_free(k);
    }
}

static void test_globs(void **state)
{
    (void)state;
    refused("slack url=" SLACK1 " events=chnage.*", RD_EINVAL,
            "notify #3 (slack): events: \"chnage.*\" matches no event type (did you mean change.*?)");
    refused("slack url=" SLACK1 " events=change.propsed", RD_EINVAL, "(did you mean change.proposed?)");
    refused("slack url=" SLACK1 " events=*.roled_back", RD_EINVAL, "(did you mean *.rolled_back?)");
    refused("slack url=" SLACK1 " events=breaker.*,drift.alrm", RD_EINVAL,
            "\"drift.alrm\" matches no event type (did you mean drift.alarm?)");
    refused("slack url=" SLACK1 " events=zzz", RD_EINVAL,
            "\"zzz\" matches no event type (the types: change.*, rollout.*");
    refused("slack url=" SLACK1 " events=change.*,,breaker.*", RD_EINVAL, "events: an empty glob");
    refused("slack url=" SLACK1 " events=change.*,", RD_EINVAL, "events: an empty glob");
    refused("slack url=" SLACK1 " events=https://SECRETPATH", RD_EINVAL, "events: a glob longer than");
    /* fnmatch without flags: '*' crosses the dot */
    rd_notify_sink *k = ok("slack url=" SLACK1 " events=*back*,cert.expiring", 1);
    assert_true(rd_notify_sink_wants(k, "change.rolled_back", "flags"));
    assert_true(rd_notify_sink_wants(k, "rollout.rolled_back", NULL));
    assert_true(rd_notify_sink_wants(k, "dlog.backlog", NULL));
    assert_true(rd_notify_sink_wants(k, "dlog.backlog_cleared", NULL));
    assert_true(rd_notify_sink_wants(k, "cert.expiring", NULL));
    assert_false(rd_notify_sink_wants(k, "change.proposed", NULL));
    assert_false(rd_notify_sink_wants(k, "notify.test", NULL));
    rd_notify_sink_free(k);
}

static void test_alertmanager_alarms_only(void **state)
{
    (void)state;
    refused("alertmanager url=http://am:9093 events=change.*", RD_EINVAL,
            "notify #3 (alertmanager): events: \"change.*\" selects change.proposed, which is not an alarm; "
            "alertmanager takes alarms only "
            "(rollout.held,rollout.resumed,rollout.exposure_capped,rollout.rolled_back,");
    refused("alertmanager url=http://am:9093 events=*", RD_EINVAL, "\"*\" selects change.proposed");
    refused("alertmanager url=http://am:9093 events=breaker.*,rollout.*", RD_EINVAL,
            "\"rollout.*\" selects rollout.started, which is not an alarm");
    rd_notify_sink_free(ok("alertmanager url=http://am:9093 events=notify.test", 1));
    /* *.rolled_back also selects change.rolled_back, which is no alarm */
    refused("alertmanager url=http://am:9093 events=*.rolled_back", RD_EINVAL,
            "\"*.rolled_back\" selects change.rolled_back, which is not an alarm");
    rd_notify_sink *k = ok("alertmanager url=http://am:9093 events=breaker.*,rollout.rolled_back", 1);
    assert_true(rd_notify_sink_wants(k, "breaker.opened", NULL));
    assert_true(rd_notify_sink_wants(k, "breaker.closed", NULL));
    assert_true(rd_notify_sink_wants(k, "rollout.rolled_back", NULL));
    assert_false(rd_notify_sink_wants(k, "drift.alarm", NULL));
    rd_notify_sink_free(k);
}

static void test_kinds(void **state)
{
    (void)state;
    rd_notify_sink *k = ok("wecom url=" WECOM " events=change.proposed,change.revised,rollout.held "
                           "kinds=rollout,bundle",
                           1);
    assert_true(rd_notify_sink_wants(k, "change.proposed", "rollout"));
    assert_true(rd_notify_sink_wants(k, "change.revised", "bundle"));
    assert_false(rd_notify_sink_wants(k, "change.proposed", "flags"));
    assert_true(rd_notify_sink_wants(k, "change.proposed", NULL)); /* not told: not filtered */
    assert_false(rd_notify_sink_wants(k, "change.approved", "rollout"));
    /* other types are unaffected by kinds= */
    assert_true(rd_notify_sink_wants(k, "rollout.held", "flags"));
    assert_string_equal(describe(k), "wecom (#1): https://qyapi.weixin.qq.com/…, events "
                                     "change.proposed,change.revised,rollout.held, kinds rollout,bundle");
    rd_notify_sink_free(k);
    refused("slack url=" SLACK1 " kinds=flgs", RD_EINVAL,
            "notify #3 (slack): kinds: unknown change kind \"flgs\" (did you mean flags?)");
    refused("slack url=" SLACK1 " kinds=flags,models", RD_EINVAL,
            "kinds: unknown change kind \"models\" (flags, bundle or rollout)");
    refused("slack url=" SLACK1 " kinds=flags,", RD_EINVAL, "kinds: the list is flags,bundle,rollout");
    refused("slack url=" SLACK1 " kinds=SECRETPATH-1", RD_EINVAL, "kinds: the list is flags,bundle,rollout");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_every_key, setup, teardown),
        cmocka_unit_test_setup_teardown(test_defaults, setup, teardown),
        cmocka_unit_test_setup_teardown(test_names, setup, teardown),
        cmocka_unit_test_setup_teardown(test_keys, setup, teardown),
        cmocka_unit_test_setup_teardown(test_urls, setup, teardown),
        cmocka_unit_test_setup_teardown(test_secret, setup, teardown),
        cmocka_unit_test_setup_teardown(test_plain_http_warning, setup, teardown),
        cmocka_unit_test_setup_teardown(test_globs, setup, teardown),
        cmocka_unit_test_setup_teardown(test_alertmanager_alarms_only, setup, teardown),
        cmocka_unit_test_setup_teardown(test_kinds, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
