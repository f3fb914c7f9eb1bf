/* A documentation tool, not a riskd command: one example event of every notification type and
 * what each sink kind receives for it, printed as Markdown (docs/notifications-examples.md is
 * its output: build/release/tests/tools/notify_examples > docs/notifications-examples.md, and
 * tests/integration/30-notify-docs.sh checks the file is what the tool prints).
 *
 * The change and rollout events are the library's own: the tool calls the functions the change
 * and rollout modules raise them with (ch_notify, ch_notify_rollback, rd__rollout_notify) on a
 * throw-away SQLite store and reads the envelopes back from its outbox, so a change to what they
 * carry shows up as a difference in the docs. The node events are raised by the server
 * (src/server/notify.c, snapshot.c), which this tool cannot link: they are built here with the
 * server's own format strings and member names. Then every event goes through
 * rd_notify_sink_parse and rd_notify_format, as delivery does.
 *
 * Deterministic: one fixed time (2026-12-07T03:12:45.123Z), fixed event ids, node "n1", a fixed
 * webhook secret. A type of rd_notify_types() without an example here is an error (exit 1), so
 * a new type cannot reach the catalogue without its page in the docs.
 *
 * usage: notify_examples            the Markdown, on stdout
 *        notify_examples --types    the type names, one a line (the docs test checks each is in
 *                                   docs/notifications.md's table)
 * exit 0, 1 on a failure (said on stderr), 2 on a usage error. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "change/change_int.h"
#include "riskd/hash.h"
#include "riskd/json.h"
#include "riskd/notify.h"
#include "riskd/rollout.h"
#include "rollout/rollout_int.h"

#define T0          1796613165123LL /* 2026-12-07T03:12:45.123Z */
#define NODE        "n1"
#define SECRET      "riskd-example-secret"
#define CONSOLE_URL "https://riskd.example.com"
#define MAX_TYPES   64

/* ------------------------------------------------------------------ the catalogue's words */

/* When each type is raised, in one line (the docs' heading text). */
static const struct {
    const char *type, *meaning;
} MEANINGS[] = {
    {"change.proposed", "A change request was proposed (or a draft submitted): it waits for its approvals."},
    {"change.revised", "A proposed change was edited: a new revision, and any approvals it had are cleared."},
    {"change.approved", "Someone approved a change; `data.state` is `approved` once it has all it needs."},
    {"change.rejected", "An approver rejected a change; `data.note` holds the reason given."},
    {"change.withdrawn", "A change was withdrawn by its author or an approver."},
    {"change.published", "An approved change was published: what it changes now serves, as a new version."},
    {"change.rolled_back", "A target was rolled back to an earlier version (`riskd rollback`)."},
    {"rollout.started", "A rollout controller started a plan at its first stage."},
    {"rollout.advanced", "A rollout moved to its next stage: every gate passed for the stage's hold."},
    {"rollout.promoted", "A rollout reached its last stage: the candidate takes all the traffic."},
    {"rollout.held", "A rollout stage is past its deadline without the data to judge it, or a metric "
                     "source keeps failing: the rollout holds (an alarm)."},
    {"rollout.resumed", "A held or paused rollout runs again (resolves `rollout.held`)."},
    {"rollout.paused", "A rollout was paused by hand, or because its flag file changed under it."},
    {"rollout.exposure_capped",
     "A stage's exposure cap was reached: the control answers the candidate's "
     "would-be approvals, and the stage waits for its gates (recorded once per stage)."},
    {"rollout.rolled_back", "A rollout was rolled back, by a gate that failed (named, with its value and "
                            "threshold), a deadline, or by hand (an alarm)."},
    {"breaker.opened",
     "A bundle's circuit breaker opened on a node: fallback rules answer for it (an alarm)."},
    {"breaker.closed", "The breaker closed again: the model answers (resolves `breaker.opened`)."},
    {"drift.alarm",
     "A score PSI, score KS or input PSI passed its threshold and its noise floor (an alarm)."},
    {"drift.cleared", "That statistic is back under its threshold (resolves `drift.alarm`)."},
    {"dlog.backlog", "A node's decision log queue is filling up, or refused records (an alarm)."},
    {"dlog.backlog_cleared", "The decision log caught up (resolves `dlog.backlog`)."},
    {"store.unavailable", "A node could not reach the store for `notify_store_down_s` (an alarm; delivered "
                          "once the store is back)."},
    {"store.available", "The store answers that node again (resolves `store.unavailable`)."},
    {"cert.expiring",
     "The node's TLS certificate ends within 14, 7, 3, 1 or 0 days (an alarm, once per band)."},
    {"notify.test", "`riskd notify test SINK` sent it, to that sink only, outside the outbox."},
};

static const char *meaning_of(const char *type)
{
    for (size_t i = 0; i < sizeof MEANINGS / sizeof *MEANINGS; i++)
        if (!strcmp(MEANINGS[i].type, type))
            return MEANINGS[i].meaning;
    return NULL;
}

/* ------------------------------------------------------------------ the examples */

typedef struct example {
    char type[48];
    char *body; /* the stored envelope */
    size_t len;
} example;

static example EX[MAX_TYPES];
static size_t NEX;

static int fail(const char *what, const rd_err *e)
{
    fprintf(stderr, "notify_examples: %s: %s\n", what, e ? e->msg : "");
    return 1;
}

/* The fixed identity of the example of catalogue entry i: a UUIDv7 of T0 with fixed bits. */
static void fixed_uid(size_t i, uint8_t u[16])
{
    static const uint8_t tail[10] = {0x7c, 0x3e, 0x9f, 0x1a, 0x3c, 0x2b, 0x5d, 0x6e, 0x7f, 0x00};
    for (int k = 0; k < 6; k++)
        u[k] = (uint8_t)((uint64_t)T0 >> (40 - 8 * k));
    memcpy(u + 6, tail, sizeof tail);
    u[15] = (uint8_t)(0x80 + i);
}

static int type_index(const char *type)
{
    size_t n;
    const char *const *t = rd_notify_types(&n);
    for (size_t i = 0; i < n; i++)
        if (!strcmp(t[i], type))
            return (int)i;
    return -1;
}

static void uid_text(const uint8_t u[16], char out[37])
{
    static const char hex[] = "0123456789abcdef";
    size_t o = 0;
    for (int i = 0; i < 16; i++) {
        if (i == 4 || i == 6 || i == 8 || i == 10)
            out[o++] = '-';
        out[o++] = hex[u[i] >> 4];
        out[o++] = hex[u[i] & 15];
    }
    out[o] = 0;
}

/* Keep an envelope as the example of its type; a stored one gets the type's fixed id in place of
 * its random one ({"id":"<36>" opens every envelope). */
static int keep(const char *type, const char *body, size_t len, bool fix_id)
{
    int i = type_index(type);
    if (i < 0 || NEX == MAX_TYPES || len < 44 || memcmp(body, "{\"id\":\"", 7) != 0) {
        fprintf(stderr, "notify_examples: %s: not an envelope of a known type\n", type);
        return 1;
    }
    example *x = &EX[NEX++];
    snprintf(x->type, sizeof x->type, "%s", type);
    x->body = malloc(len + 1);
    if (!x->body)
        return 1;
    memcpy(x->body, body, len);
    x->body[len] = 0;
    x->len = len;
    if (fix_id) {
        uint8_t u[16];
        char id[37];
        fixed_uid((size_t)i, u);
        uid_text(u, id);
        memcpy(x->body + 7, id, 36);
    }
    return 0;
}

static int keep_row(void *ud, const rd_notify_row *r)
{
    int *rc = ud;
    *rc |= keep(r->type, r->body, r->body_len, true);
    return 0;
}

/* ---- changes, through the change module's notifications */

static rd_principal user(const char *name)
{
    rd_principal p = {0};
    snprintf(p.user, sizeof p.user, "%s", name);
    return p;
}

static void change_row(rd_change_row *r, int64_t id, const char *kind, const char *target, const char *title,
                       const char *author, int64_t revision, const char *state, const char *payload_sha)
{
    memset(r, 0, sizeof *r);
    r->id = id;
    snprintf(r->kind, sizeof r->kind, "%s", kind);
    snprintf(r->target, sizeof r->target, "%s", target);
    snprintf(r->title, sizeof r->title, "%s", title);
    snprintf(r->author, sizeof r->author, "%s", author);
    snprintf(r->state, sizeof r->state, "%s", state);
    snprintf(r->payload_sha, sizeof r->payload_sha, "%s", payload_sha);
    r->revision = revision;
    r->created_ms = r->updated_ms = T0;
}

static int changes(rd_store *s, rd_err *err)
{
    static const char *const SHA1 = "5f2b9c0e7a41d3b8c6e2f09a1b7d4c3e8f6a2b1c0d9e8f7a6b5c4d3e2f1a0b9c",
                             *SHA2 = "9c41e0d27bb35a18f6c2d90e4a7b1c3d5e6f708192a3b4c5d6e7f8091a2b3c4d",
                             *SHA_OLD = "0d8e6a4f2c1b9e7d5a3c1e0f8b6d4a2c9e7f5b3d1a0c8e6f4b2d0a9c7e5f3b1d",
                             *SHA_BUNDLE = "c3a9f1e5b7d2046e8a1c3b5d7f9e0a2c4b6d8f0e1a3c5b7d9f2e4a6c8b0d1f3e",
                             *SHA_PLAN = "7e1d5b9c3a0f2e4d6b8a1c3e5f7d9b0a2c4e6f8d1b3a5c7e9f0d2b4a6c8e1f3d";
    static const char *const TITLE = "raise the reject cut-off of credit-model-route to 0.42";
    rd_principal alice = user("alice"), bob = user("bob"), carol = user("carol"), dave = user("dave");
    rd_change_row r;
    int rc = rd_store_setting_put(s, "approvals.flags", "2", err);
    if (!rc) {
        change_row(&r, 12, "flags", RD_FLAGS_STORE, TITLE, "alice", 1, "proposed", SHA1);
        rc = ch_notify(s, &r, &alice, "propose", TITLE, T0, err);
    }
    if (!rc) { /* bob had approved revision 1: the edit clears it */
        change_row(&r, 12, "flags", RD_FLAGS_STORE, TITLE, "alice", 2, "proposed", SHA2);
        rc = ch_notify(s, &r, &alice, "edit", "the approvals were cleared", T0, err);
    }
    if (!rc) {
        change_row(&r, 12, "flags", RD_FLAGS_STORE, TITLE, "alice", 2, "approved", SHA2);
        char approvals[] =
            "[{\"user\":\"bob\",\"revision\":2,\"ts_ms\":1796612000000,\"token\":\"0a1b2c3d4e5f\"},"
            "{\"user\":\"carol\",\"revision\":2,\"ts_ms\":1796613165123,\"token\":\"5f4e3d2c1b0a\"}]";
        r.approvals_json = approvals;
        rc = ch_notify(s, &r, &carol, "approve", "backtest on the Q3 applications attached to RISK-1182", T0,
                       err);
    }
    if (!rc) {
        change_row(&r, 12, "flags", RD_FLAGS_STORE, TITLE, "alice", 2, "published", SHA2);
        r.version = 7;
        r.published_ms = T0;
        snprintf(r.published_by, sizeof r.published_by, "alice");
        rc = ch_notify(s, &r, &alice, "publish", "version 7", T0, err);
    }
    if (!rc) {
        change_row(&r, 14, "bundle", "credit_xgb_v1.2", "credit_xgb_v1.2: retrained on the 2026 applications",
                   "alice", 1, "rejected", SHA_BUNDLE);
        rc = ch_notify(s, &r, &bob, "reject", "its holdout AUC is below v1.1's (0.781 against 0.794)", T0,
                       err);
    }
    if (!rc) {
        change_row(&r, 15, "rollout", "/etc/riskd/rollout/credit-canary.json",
                   "hold the 5% stage for 42 days", "dave", 1, "withdrawn", SHA_PLAN);
        rc = ch_notify(s, &r, &dave, "withdraw", "superseded by change 16", T0, err);
    }
    if (!rc) {
        rd_version_row v = {0};
        snprintf(v.kind, sizeof v.kind, "flags");
        snprintf(v.target, sizeof v.target, "%s", RD_FLAGS_STORE);
        v.version = 8;
        snprintf(v.sha, sizeof v.sha, "%s", SHA_OLD);
        snprintf(v.replaced_sha, sizeof v.replaced_sha, "%s", SHA2);
        snprintf(v.how, sizeof v.how, "rollback");
        v.change_id = 12;
        snprintf(v.published_by, sizeof v.published_by, "dave");
        v.ts_ms = T0;
        rc = ch_notify_rollback(s, &dave, &v, "the reject rate doubled after the cut-off change", err);
    }
    return rc;
}

/* ---- rollouts, through the rollout module's notification of a transition */

typedef struct story {
    rd_store *s;
    rd_rollout_row row;
    bool stored;
} story;

/* The rollout row as the step writes it before recording its transition (the notification reads
 * the plan's and the stage's names from it). */
static int row_at(story *st, int stage, const char *name, rd_rollout_state state, rd_err *err)
{
    st->row.stage = stage;
    snprintf(st->row.stage_name, sizeof st->row.stage_name, "%s", name);
    st->row.state = state;
    st->row.stage_started_ms = st->row.updated_ms = T0;
    int rc = rd_rollout_put(st->s, &st->row, err);
    st->stored = st->stored || rc == RD_OK;
    return rc;
}

static int transition(story *st, int from, int to, const char *from_state, const char *to_state,
                      const char *reason, const char *actor, const char *detail, const char *gates)
{
    rd_transition t = {.ts_ms = T0, .from_stage = from, .to_stage = to, .gates_json = gates};
    snprintf(t.flag, sizeof t.flag, "credit-model-route");
    snprintf(t.from_state, sizeof t.from_state, "%s", from_state);
    snprintf(t.to_state, sizeof t.to_state, "%s", to_state);
    snprintf(t.reason, sizeof t.reason, "%s", reason);
    snprintf(t.actor, sizeof t.actor, "%s", actor);
    snprintf(t.detail, sizeof t.detail, "%s", detail);
    rd_err err;
    int rc = rd__rollout_notify(st->s, &t, &err);
    return rc ? fail(reason, &err) : 0;
}

/* The gates of a stage as the controller records them (controller.c:gates_json): the
 * notification keeps the failing ones. */
static const char GATES_5PCT[] =
    "[{\"metric\":\"score_psi\",\"compare\":\"absolute\",\"window\":\"stage\",\"value\":0.041,\"candidate\":"
    "0.041,"
    "\"control\":null,\"pass\":{\"<\":0.1},\"fail\":{\">=\":0.25},\"noise_floor\":0.012,\"n\":21840,"
    "\"min_samples\":20000,\"verdict\":\"pass\",\"failures\":0},"
    "{\"metric\":\"reject_rate\",\"compare\":\"ratio\",\"window\":\"stage\",\"value\":1.62,\"candidate\":0."
    "0891,"
    "\"control\":0.055,\"pass\":{\"<\":1.2},\"fail\":{\">=\":1.5},\"noise_floor\":0.031,\"n\":21840,"
    "\"min_samples\":20000,\"verdict\":\"fail\",\"failures\":1},"
    "{\"metric\":\"approve_rate\",\"compare\":\"ratio\",\"window\":\"stage\",\"value\":0.93,\"candidate\":0."
    "612,"
    "\"control\":0.658,\"pass\":{\">\":0.85},\"fail\":{\"<=\":0.7},\"noise_floor\":0.018,\"n\":21840,"
    "\"min_samples\":20000,\"verdict\":\"pass\",\"failures\":0}]";

static int rollouts(rd_store *s, rd_err *err)
{
    story st = {.s = s};
    snprintf(st.row.flag, sizeof st.row.flag, "credit-model-route");
    snprintf(st.row.plan_name, sizeof st.row.plan_name, "credit-canary");
    snprintf(st.row.plan_path, sizeof st.row.plan_path, "/etc/riskd/rollout/credit-canary.json");
    snprintf(st.row.flags_path, sizeof st.row.flags_path, "%s", RD_FLAGS_STORE);
    char plan[] = "{}";
    st.row.plan_json = plan;
    /* a first start records its transition before the rollout's row exists (controller.c) */
    int rc = transition(&st, 0, 0, "none", "running", "start", "controller",
                        "plan credit-canary from /etc/riskd/rollout/credit-canary.json", NULL);
    if (!rc && !(rc = row_at(&st, 3, "5%", RD_ROLLOUT_RUNNING, err) ? fail("rollout row", err) : 0))
        rc = transition(&st, 2, 3, "running", "running", "advance", "controller",
                        "every gate passed after 172843 s in 0.1%", NULL);
    if (!rc && !(rc = row_at(&st, 6, "100%", RD_ROLLOUT_PROMOTED, err) ? fail("rollout row", err) : 0))
        rc = transition(&st, 5, 6, "running", "promoted", "promote", "controller",
                        "every gate passed after 604877 s in 50%", NULL);
    if (!rc && !(rc = row_at(&st, 2, "0.1%", RD_ROLLOUT_HOLDING, err) ? fail("rollout row", err) : 0)) {
        char msg[300]; /* controller.c's words for a stage past its deadline without data */
        snprintf(
            msg, sizeof msg,
            "stage %s is past its deadline (%.0f s) without the data to judge it (%llu of %llu candidate "
            "decisions, %zu gates without data): holding; it never advances or rolls back on no data",
            "0.1%", 604800.0, 612ULL, 1000ULL, (size_t)2);
        rc = transition(&st, 2, 2, "running", "holding", "hold", "controller", msg, NULL);
    }
    if (!rc && !(rc = row_at(&st, 2, "0.1%", RD_ROLLOUT_RUNNING, err) ? fail("rollout row", err) : 0))
        rc = transition(&st, 2, 2, "holding", "running", "resume", "controller", "the data arrived", NULL);
    if (!rc && !(rc = row_at(&st, 4, "20%", RD_ROLLOUT_PAUSED, err) ? fail("rollout row", err) : 0))
        rc = transition(&st, 4, 4, "running", "paused", "pause", "erin",
                        "manual: the bureau file of December is late", NULL);
    if (!rc && !(rc = row_at(&st, 3, "5%", RD_ROLLOUT_RUNNING, err) ? fail("rollout row", err) : 0))
        rc = transition(
            &st, 3, 3, "running", "running", "exposure_cap", "controller",
            "exposure cap reached in 5%: 150000.00 of 150000.00 features.Amount reserved, 148912.37 "
            "approved, 37 would-be approvals answered by the control; the stage waits for its gates",
            NULL);
    if (!rc && !(rc = row_at(&st, 3, "5%", RD_ROLLOUT_ROLLED_BACK, err) ? fail("rollout row", err) : 0))
        rc = transition(&st, 3, 3, "running", "rolled_back", "rollback", "controller",
                        "gate reject_rate (ratio) failed in 5%: value 1.62, fail >= 1.5", GATES_5PCT);
    return rc;
}

/* Raise the library's events in a throw-away store and keep what its outbox holds. */
static int stored_events(void)
{
    char dir[] = "/tmp/riskd-notify-examples-XXXXXX";
    if (!mkdtemp(dir)) {
        perror("notify_examples: mkdtemp");
        return 1;
    }
    rd_store_opts o = {.node = NODE};
    rd_store *s = NULL;
    rd_err err;
    int rc = rd_store_open(dir, &o, &s, &err) ? fail("store", &err) : 0;
    if (!rc && rd_store_begin(s, &err))
        rc = fail("store", &err);
    if (!rc && changes(s, &err))
        rc = fail("change events", &err);
    if (!rc)
        rc = rollouts(s, &err);
    if (!rc && rd_store_commit(s, &err))
        rc = fail("store", &err);
    else if (rc && s)
        rd_store_rollback(s);
    int kept = 0;
    if (!rc && rd_store_outbox_scan(s, 0, 0, keep_row, &kept, &err))
        rc = fail("outbox", &err);
    rd_store_close(s);
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    if (system(cmd) != 0)
        fprintf(stderr, "notify_examples: %s left behind\n", dir);
    return rc | kept;
}

/* ---- node events, as src/server/notify.c and snapshot.c raise them */

static int node_event(const char *type, const char *object_kind, const char *object_id, const char *key,
                      bool firing, const char *summary, const char *data)
{
    rd_notify_event e = {.type = type,
                         .ts_ms = T0,
                         .node = NODE,
                         .actor = "riskd",
                         .object_kind = object_kind,
                         .object_id = object_id,
                         .summary = summary,
                         .alert_key = key,
                         .alert_state = key ? (firing ? "firing" : "resolved") : NULL,
                         .data_json = data};
    fixed_uid((size_t)type_index(type), e.uid);
    rd_buf b;
    rd_buf_init(&b);
    rd_err err;
    int rc = rd_notify_event_json(&e, &b, &err) ? fail(type, &err) : keep(type, b.data, b.len, false);
    rd_buf_deinit(&b);
    return rc;
}

static int breaker_events(void)
{
    const char *bundle = "credit_xgb_v1.1";
    char key[300], summary[320], data[400];
    snprintf(key, sizeof key, "breaker/%s/%s", NODE, bundle);
    snprintf(summary, sizeof summary, "circuit breaker of %s opened on %s: fallback rules answer for it",
             bundle, NODE);
    snprintf(data, sizeof data, "{\"bundle\":\"%s\",\"from\":\"%s\",\"to\":\"%s\"}", bundle, "closed",
             "open");
    int rc = node_event("breaker.opened", "bundle", bundle, key, true, summary, data);
    snprintf(summary, sizeof summary, "circuit breaker of %s closed on %s: the model answers again", bundle,
             NODE);
    snprintf(data, sizeof data, "{\"bundle\":\"%s\",\"from\":\"%s\",\"to\":\"%s\"}", bundle, "half_open",
             "closed");
    return rc | node_event("breaker.closed", "bundle", bundle, key, false, summary, data);
}

/* drift_check in src/server/notify.c, for the score PSI of the champion's primary series. */
static int drift_event(bool over, const char *num, const char *fl, unsigned long long rows)
{
    const char *bundle = "credit_xgb_v1.0", *variant = "champion", *role = "primary",
               *statistic = "score_psi", *thr = "0.25";
    char key[224], s[320];
    snprintf(key, sizeof key, "drift/%s/%s/%s/%s", bundle, variant, role, statistic);
    if (over)
        snprintf(s, sizeof s, "%s of %s (variant %s) is %s, over %s (%s %s; %llu rows)", statistic, bundle,
                 variant, num, thr, "noise floor", fl, rows);
    else
        snprintf(s, sizeof s, "%s of %s (variant %s) is back under its threshold: %s", statistic, bundle,
                 variant, num);
    char d[400];
    snprintf(d, sizeof d,
             "{\"bundle\":\"%s\",\"variant\":\"%s\",\"role\":\"%s\",\"statistic\":\"%s\",\"value\":%s,"
             "\"noise_floor\":%s,\"threshold\":%s,\"rows\":%llu,\"window_s\":%.0f}",
             bundle, variant, role, statistic, num, fl, thr, rows, 600.0);
    return node_event(over ? "drift.alarm" : "drift.cleared", "bundle", bundle, key, over, s, d);
}

static int backlog_events(void)
{
    size_t cap = 65536, queued = 53248;
    double pct = 100.0 * (double)queued / (double)cap;
    char key[200], s[300], data[300];
    snprintf(key, sizeof key, "dlog/%s", NODE);
    snprintf(s, sizeof s, "the decision log of %s is backing up: %zu of %zu records queued%s", NODE, queued,
             cap, "");
    snprintf(data, sizeof data,
             "{\"queued\":%zu,\"capacity\":%zu,\"percent\":%.1f,\"refused\":%llu,\"spool_records\":%llu,"
             "\"store_down\":%s}",
             queued, cap, pct, 0ULL, 0ULL, "false");
    int rc = node_event("dlog.backlog", "node", NODE, key, true, s, data);
    queued = 1210;
    snprintf(s, sizeof s, "the decision log of %s caught up: %zu records queued", NODE, queued);
    snprintf(data, sizeof data, "{\"queued\":%zu,\"capacity\":%zu}", queued, cap);
    return rc | node_event("dlog.backlog_cleared", "node", NODE, key, false, s, data);
}

static int store_events(void)
{
    const char *store = "postgresql://riskd@db1:5432/riskd";
    int64_t since = T0 - 10391;
    char key[200], s[400], data[400];
    snprintf(key, sizeof key, "store/%s", NODE);
    snprintf(s, sizeof s, "the store %s is unreachable from %s: serving the last good state", store, NODE);
    snprintf(data, sizeof data, "{\"store\":\"%s\",\"down_since_ms\":%lld,\"seconds\":%lld}", store,
             (long long)since, (long long)((T0 - since) / 1000));
    int rc = node_event("store.unavailable", "node", NODE, key, true, s, data);
    snprintf(s, sizeof s, "the store %s answers again on %s", store, NODE);
    return rc | node_event("store.available", "node", NODE, key, false, s, "{}");
}

/* watch_cert in src/server/notify.c: its identity derived from the node, the certificate and
 * the band (a UUIDv8), so the same band raised again after a restart is stored once. */
static int cert_event(void)
{
    const char *subject = "CN=riskd.example.com,O=Example Bank", *when = "2026-12-21T00:00:00Z",
               *file = "/etc/riskd/tls/server.crt";
    int64_t not_after = 1797811200000LL; /* when */
    long long days = (not_after - T0) / 86400000LL;
    int band = 14;
    char s[640], data[600], key[300], seed[600], hex[RD_SHA256_HEX];
    snprintf(s, sizeof s, "the TLS certificate of %s (%s) ends %s: %lld days left", NODE, subject, when,
             days);
    snprintf(data, sizeof data,
             "{\"subject\":\"%s\",\"not_after\":\"%s\",\"days_left\":%lld,\"band\":%d,\"file\":\"%s\"}",
             subject, when, days, band, file);
    snprintf(key, sizeof key, "cert/%s", NODE);
    snprintf(seed, sizeof seed, "%s|%s|%lld|%d", NODE, subject, (long long)not_after, band);
    rd_sha256_hex(seed, strlen(seed), hex);
    rd_notify_event e = {.type = "cert.expiring",
                         .ts_ms = T0,
                         .node = NODE,
                         .actor = "riskd",
                         .object_kind = "certificate",
                         .object_id = subject,
                         .summary = s,
                         .alert_key = key,
                         .alert_state = "firing",
                         .data_json = data};
    for (int i = 0; i < 16; i++) {
        unsigned v;
        sscanf(hex + 2 * i, "%2x", &v);
        e.uid[i] = (uint8_t)v;
    }
    e.uid[6] = (uint8_t)((e.uid[6] & 0x0f) | 0x80);
    e.uid[8] = (uint8_t)((e.uid[8] & 0x3f) | 0x80);
    rd_buf b;
    rd_buf_init(&b);
    rd_err err;
    int rc = rd_notify_event_json(&e, &b, &err) ? fail("cert.expiring", &err)
                                                : keep("cert.expiring", b.data, b.len, false);
    rd_buf_deinit(&b);
    return rc;
}

/* riskd notify test (src/cli/cmd_notify.c): one per sink, naming it; by alice, on n1. */
static int test_event(const rd_notify_sink *k, rd_buf *out)
{
    char data[256], summary[256], key[200];
    snprintf(key, sizeof key, "notify-test/%s", rd_notify_sink_name(k));
    snprintf(data, sizeof data, "{\"sink\":\"%s\",\"kind\":\"%s\"}", rd_notify_sink_name(k),
             rd_notify_kind_name(rd_notify_sink_kind(k)));
    snprintf(summary, sizeof summary, "a test notification from riskd on %s to sink %s", NODE,
             rd_notify_sink_name(k));
    rd_notify_event e = {.type = "notify.test",
                         .ts_ms = T0,
                         .node = NODE,
                         .actor = "alice",
                         .object_kind = "sink",
                         .object_id = rd_notify_sink_name(k),
                         .summary = summary,
                         .alert_key = key,
                         .alert_state = "firing",
                         .data_json = data};
    fixed_uid((size_t)type_index("notify.test"), e.uid);
    rd_err err;
    return rd_notify_event_json(&e, out, &err) ? fail("notify.test", &err) : 0;
}

/* ------------------------------------------------------------------ the sinks */

static rd_notify_sink *SINKS[4];
static char SECRET_PATH[64];

static int sinks(void)
{
    snprintf(SECRET_PATH, sizeof SECRET_PATH, "/tmp/riskd-notify-secret-XXXXXX");
    int fd = mkstemp(SECRET_PATH);
    if (fd < 0 || write(fd, SECRET "\n", sizeof SECRET) != (ssize_t)sizeof SECRET) {
        perror("notify_examples: the secret file");
        return 1;
    }
    close(fd);
    char webhook[200];
    snprintf(webhook, sizeof webhook, "webhook url=https://hooks.example.com/riskd secret_file=%s",
             SECRET_PATH);
    const char *specs[4] = {
        webhook,
        "slack url=https://hooks.slack.com/services/T0000000000/B0000000000/XXXXXXXXXXXXXXXXXXXXXXXX",
        "wecom url=https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=00000000-0000-0000-0000-000000000000",
        "alertmanager url=http://alertmanager.example.com:9093"};
    rd_err err;
    int rc = 0;
    for (int i = 0; i < 4 && !rc; i++)
        if (rd_notify_sink_parse(specs[i], i + 1, &SINKS[i], &err))
            rc = fail("sink", &err);
    if (!rc && rd_notify_sinks_check(SINKS, 4, &err))
        rc = fail("sinks", &err);
    unlink(SECRET_PATH);
    return rc;
}

/* ------------------------------------------------------------------ printing */

/* JSON text indented as Python's json.dumps(indent=2, ensure_ascii=False) prints it: the text
 * is compact (riskd writes no spaces between tokens), strings copied as they are. */
static void pretty(const char *s, size_t n)
{
    int depth = 0;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (c == '"') {
            size_t j = i + 1;
            while (j < n && s[j] != '"')
                j += s[j] == '\\' ? 2 : 1;
            fwrite(s + i, 1, j + 1 - i, stdout);
            i = j;
        } else if (c == '{' || c == '[') {
            if (i + 1 < n && s[i + 1] == (c == '{' ? '}' : ']')) {
                printf("%c%c", c, s[++i]);
            } else {
                depth++;
                printf("%c\n%*s", c, 2 * depth, "");
            }
        } else if (c == '}' || c == ']') {
            depth--;
            printf("\n%*s%c", 2 * depth, "", c);
        } else if (c == ',') {
            printf(",\n%*s", 2 * depth, "");
        } else if (c == ':') {
            fputs(": ", stdout);
        } else {
            putchar(c);
        }
    }
    putchar('\n');
}

static int print_request(const rd_notify_sink *k, const char *body, size_t len, bool headers)
{
    rd_notify_format_opts o = {.console_url = CONSOLE_URL, .alert_hold_s = 3600, .version = "<version>"};
    rd_notify_request rq;
    rd_err err;
    if (rd_notify_format(k, body, len, &o, &rq, &err))
        return fail(rd_notify_kind_name(rd_notify_sink_kind(k)), &err);
    printf("`POST %s`\n\n", rq.url);
    if (headers) {
        printf("```http\n");
        for (size_t i = 0; rq.headers[i]; i++)
            printf("%s\n", rq.headers[i]);
        printf("```\n\n");
    }
    printf("```json\n");
    pretty(rq.body.data, rq.body.len);
    printf("```\n\n");
    rd_notify_request_free(&rq);
    return 0;
}

static const example *example_of(const char *type)
{
    for (size_t i = 0; i < NEX; i++)
        if (!strcmp(EX[i].type, type))
            return &EX[i];
    return NULL;
}

static const char *const SINK_TITLES[4] = {"Webhook", "Slack", "WeCom", "Alertmanager"};

static int print_type(const char *type)
{
    bool alarm = rd_notify_type_alarm(type);
    printf("## %s\n\n%s\n\n", type, meaning_of(type));
    int rc = 0;
    for (int i = 0; i < 4 && !rc; i++) {
        rd_notify_kind kind = rd_notify_sink_kind(SINKS[i]);
        if (kind == RD_NOTIFY_ALERTMANAGER && !alarm)
            continue;
        printf("### %s\n\n", SINK_TITLES[i]);
        if (!strcmp(type, "notify.test")) {
            rd_buf b;
            rd_buf_init(&b);
            rc =
                test_event(SINKS[i], &b) || print_request(SINKS[i], b.data, b.len, kind == RD_NOTIFY_WEBHOOK);
            rd_buf_deinit(&b);
        } else {
            const example *x = example_of(type);
            rc = print_request(SINKS[i], x->body, x->len, kind == RD_NOTIFY_WEBHOOK);
        }
    }
    return rc;
}

static void print_head(const char *const *types, size_t n)
{
    printf(
        "# Notification examples\n\n"
        "<!-- Generated: build/release/tests/tools/notify_examples > docs/notifications-examples.md\n"
        "     (tests/tools/notify_examples.c). Do not edit by hand: tests/integration/30-notify-docs.sh\n"
        "     checks that this file is what the tool prints. -->\n\n"
        "Generated by `build/release/tests/tools/notify_examples > docs/notifications-examples.md`.\n\n"
        "One event of every type riskd raises, and the request each sink kind receives for it\n"
        "([notifications.md](notifications.md) explains the types, the sinks and delivery). The\n"
        "change and rollout events are written by the library's own code into a scratch store and\n"
        "read back from its outbox; the node events use the server's words and fields. All carry\n"
        "the time 2026-12-07T03:12:45.123Z, the node `n1` and a fixed id, and the console links\n"
        "assume `notify_console_url = %s`. The sinks:\n\n"
        "```sh\n"
        "--notify 'webhook url=https://hooks.example.com/riskd secret_file=hook.key'   # hook.key holds %s\n"
        "--notify 'slack "
        "url=https://hooks.slack.com/services/T0000000000/B0000000000/XXXXXXXXXXXXXXXXXXXXXXXX'\n"
        "--notify 'wecom "
        "url=https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=00000000-0000-0000-0000-000000000000'\n"
        "--notify 'alertmanager url=http://alertmanager.example.com:9093'\n"
        "```\n\n"
        "Every request carries the headers shown for the webhook (`User-Agent` names riskd's\n"
        "version); only the webhook's has `X-Riskd-Signature`, the HMAC-SHA256 of the body **as\n"
        "sent**: compact JSON, without the line breaks and indentation added here for reading (the\n"
        "last section shows the exact bytes). Alertmanager receives the alarms only.\n\n",
        CONSOLE_URL, SECRET);
    printf("| type | alarm | sinks |\n| --- | --- | --- |\n");
    for (size_t i = 0; i < n; i++) {
        bool alarm = rd_notify_type_alarm(types[i]);
        char anchor[64];
        size_t k = 0;
        for (const char *c = types[i]; *c && k < sizeof anchor - 1; c++)
            if (*c != '.')
                anchor[k++] = *c;
        anchor[k] = 0;
        printf("| [`%s`](#%s) | %s | webhook, slack, wecom%s |\n", types[i], anchor, alarm ? "yes" : "no",
               alarm ? ", alertmanager" : "");
    }
    printf("\n");
}

/* The exact bytes of one webhook request and their signature, for a receiver's test. */
static int print_signature(void)
{
    rd_buf b;
    rd_buf_init(&b);
    int rc = test_event(SINKS[0], &b);
    rd_notify_format_opts o = {.console_url = CONSOLE_URL, .alert_hold_s = 3600, .version = "<version>"};
    rd_notify_request rq;
    rd_err err;
    if (!rc && rd_notify_format(SINKS[0], b.data, b.len, &o, &rq, &err))
        rc = fail("webhook", &err);
    if (!rc) {
        const char *sig = NULL;
        for (size_t i = 0; rq.headers[i]; i++)
            if (!strncmp(rq.headers[i], "X-Riskd-Signature: ", 19))
                sig = rq.headers[i] + 19;
        printf("## The signature, byte for byte\n\n"
               "The webhook's `notify.test` above, exactly as sent. The body is the %zu bytes below (one\n"
               "line, no newline at the end); the key is the secret file's content without its trailing\n"
               "newline, the %zu bytes `%s`; the header is their HMAC-SHA256. A receiver's\n"
               "check can be tested against them.\n\n",
               rq.body.len, strlen(SECRET), SECRET);
        printf("```text\n%.*s\n```\n\n```http\nX-Riskd-Signature: %s\n```\n", (int)rq.body.len, rq.body.data,
               sig ? sig : "(none)");
        rd_notify_request_free(&rq);
    }
    rd_buf_deinit(&b);
    return rc;
}

int main(int argc, char **argv)
{
    size_t n;
    const char *const *types = rd_notify_types(&n);
    if (argc == 2 && !strcmp(argv[1], "--types")) {
        for (size_t i = 0; i < n; i++)
            printf("%s\n", types[i]);
        return 0;
    }
    if (argc != 1) {
        fprintf(stderr, "usage: notify_examples [--types]\n");
        return 2;
    }
    int rc = stored_events() || breaker_events() || drift_event(true, "0.31", "0.021", 12408) ||
             drift_event(false, "0.083", "0.019", 12877) || backlog_events() || store_events() ||
             cert_event() || sinks();
    for (size_t i = 0; !rc && i < n; i++)
        if (!meaning_of(types[i]) || (strcmp(types[i], "notify.test") != 0 && !example_of(types[i]))) {
            fprintf(stderr, "notify_examples: no example of %s: add one to tests/tools/notify_examples.c\n",
                    types[i]);
            rc = 1;
        }
    if (!rc) {
        print_head(types, n);
        for (size_t i = 0; i < n && !rc; i++)
            rc = print_type(types[i]);
    }
    if (!rc)
        rc = print_signature();
    for (int i = 0; i < 4; i++)
        rd_notify_sink_free(SINKS[i]);
    for (size_t i = 0; i < NEX; i++)
        free(EX[i].body);
    return rc ? 1 : 0;
}
