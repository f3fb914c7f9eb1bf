/* Change requests (src/lib/change): the lifecycle, the rule that nobody approves what they
 * wrote or edited whatever path or token they use, approvals reset by an edit, interleaved
 * approve and edit on two store handles (two processes), publish with its compare-and-swap,
 * rollback, what may serve, and the diff a reviewer reads. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "riskd/change.h"
#include "riskd/hash.h"
#include "riskd/store.h"

static char dir[256], flags[300];
static rd_store *st;

static const char v1[] =
    "{\"flags\":{\"model-route\":{\"state\":\"ENABLED\",\"variants\":{\"a\":\"m_v1.0\",\"b\":"
    "\"m_v2.0\"},\"defaultVariant\":\"a\"},\"other\":{\"state\":\"ENABLED\",\"variants\":{"
    "\"on\":true,\"off\":false},\"defaultVariant\":\"off\"}}}";
static const char v2[] =
    "{\"flags\":{\"model-route\":{\"state\":\"ENABLED\",\"variants\":{\"a\":\"m_v1.0\",\"b\":"
    "\"m_v2.0\"},\"defaultVariant\":\"b\"},\"new\":{\"state\":\"ENABLED\",\"variants\":{"
    "\"on\":true,\"off\":false},\"defaultVariant\":\"off\"}}}";

static rd_principal who(const char *name, rd_role role, const char *token)
{
    rd_principal p = {.role = role, .perms = rd_role_perms(role), .scopes = RD_SCOPE_ADMIN};
    snprintf(p.user, sizeof p.user, "%s", name);
    snprintf(p.token_id, sizeof p.token_id, "%s", token);
    return p;
}

static void write_file(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
}

static char *read_all(const char *path)
{
    static char buf[4096];
    FILE *f = fopen(path, "r");
    assert_non_null(f);
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = '\0';
    return buf;
}

static int setup(void **state)
{
    (void)state;
    snprintf(dir, sizeof dir, "/tmp/riskd-change-XXXXXX");
    assert_non_null(mkdtemp(dir));
    snprintf(flags, sizeof flags, "%s/flags.json", dir);
    write_file(flags, v1);
    rd_err err;
    assert_int_equal(rd_store_open(dir, NULL, &st, &err), RD_OK);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    rd_store_close(st);
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    assert_int_equal(system(cmd), 0);
    return 0;
}

static int64_t propose(const rd_principal *p, const char *text)
{
    rd_change_spec spec = {
        .kind = RD_CHANGE_FLAGS, .target = flags, .payload = text, .payload_len = strlen(text)};
    int64_t id = 0;
    rd_err err;
    assert_int_equal(rd_change_propose(st, p, &spec, 1000, &id, &err), RD_OK);
    return id;
}

static const char *state_of(int64_t id)
{
    static char s[16];
    rd_change_row r;
    rd_err err;
    assert_int_equal(rd_store_change_get(st, id, &r, &err), RD_OK);
    snprintf(s, sizeof s, "%s", r.state);
    rd_store_change_row_free(&r);
    return s;
}

static void test_lifecycle_and_rollback(void **state)
{
    (void)state;
    rd_principal eng = who("erin", RD_ROLE_ENGINEER, "aaaaaaaaaaa1"),
                 mgr = who("mia", RD_ROLE_MANAGER, "bbbbbbbbbbb1"),
                 op = who("otto", RD_ROLE_OPERATOR, "ccccccccccc1");
    rd_err err;
    int64_t id = propose(&eng, v2);
    assert_string_equal(state_of(id), "proposed");
    /* the engineer may not approve nor publish; the operator may not approve */
    assert_int_equal(rd_change_approve(st, &eng, id, 0, NULL, 1001, &err), RD_EFORBIDDEN);
    assert_int_equal(rd_change_approve(st, &op, id, 0, NULL, 1001, &err), RD_EFORBIDDEN);
    assert_int_equal(rd_change_publish(st, &op, id, 1001, NULL, &err), RD_ECONFLICT); /* not approved */
    assert_int_equal(rd_change_approve(st, &mgr, id, 1, "looks right", 1002, &err), RD_OK);
    assert_string_equal(state_of(id), "approved");
    assert_int_equal(rd_change_publish(st, &eng, id, 1003, NULL, &err), RD_EFORBIDDEN);
    int64_t version = 0;
    assert_int_equal(rd_change_publish(st, &op, id, 1003, &version, &err), RD_OK);
    assert_int_equal(version, 1);
    assert_string_equal(read_all(flags), v2);
    assert_string_equal(state_of(id), "published");
    /* what serves is the published version; a hand edit is not */
    char sha[RD_SHA256_HEX], why[512];
    bool ok;
    rd_sha256_hex(v2, strlen(v2), sha);
    assert_int_equal(rd_change_served_ok(st, RD_CHANGE_FLAGS, flags, sha, &ok, why, sizeof why, &err), RD_OK);
    assert_true(ok);
    rd_sha256_hex(v1, strlen(v1), sha);
    assert_int_equal(rd_change_served_ok(st, RD_CHANGE_FLAGS, flags, sha, &ok, why, sizeof why, &err), RD_OK);
    assert_false(ok);
    assert_non_null(strstr(why, "by hand"));
    /* rollback: one call by one operator; the engineer may not */
    assert_int_equal(rd_change_rollback(st, &eng, RD_CHANGE_FLAGS, flags, 0, "bad", 1004, NULL, &err),
                     RD_EFORBIDDEN);
    assert_int_equal(rd_change_rollback(st, &op, RD_CHANGE_FLAGS, flags, 0, "bad", 1004, &version, &err),
                     RD_OK);
    assert_int_equal(version, 2);
    assert_string_equal(read_all(flags), v1);
    assert_int_equal(rd_change_served_ok(st, RD_CHANGE_FLAGS, flags, sha, &ok, why, sizeof why, &err), RD_OK);
    assert_true(ok);
    /* rolling back again goes back to what version 2 replaced */
    assert_int_equal(rd_change_rollback(st, &op, RD_CHANGE_FLAGS, flags, 0, NULL, 1005, &version, &err),
                     RD_OK);
    assert_string_equal(read_all(flags), v2);
    rd_buf b;
    rd_buf_init(&b);
    assert_int_equal(rd_change_versions_json(st, "flags", flags, 0, &b, &err), RD_OK);
    assert_non_null(strstr(rd_buf_cstr(&b), "\"how\":\"rollback\""));
    rd_buf_deinit(&b);
}

static void test_no_self_approval(void **state)
{
    (void)state;
    rd_principal mia = who("mia", RD_ROLE_MANAGER, "bbbbbbbbbbb1"),
                 mia2 = who("mia", RD_ROLE_MANAGER, "bbbbbbbbbbb2"),
                 max = who("max", RD_ROLE_MANAGER, "ddddddddddd1"), con = {.console = true, .perms = 0xff};
    rd_err err;
    int64_t id = propose(&mia, v2);
    /* the author, with the same token or a second one */
    assert_int_equal(rd_change_approve(st, &mia, id, 0, NULL, 1001, &err), RD_EFORBIDDEN);
    assert_non_null(strstr(err.msg, "wrote change"));
    assert_int_equal(rd_change_approve(st, &mia2, id, 0, NULL, 1001, &err), RD_EFORBIDDEN);
    assert_int_not_equal(rd_change_approve(st, &con, id, 0, NULL, 1001, &err), RD_OK);
    /* an approver who edits becomes an editor and may not approve any more */
    assert_int_equal(rd_change_edit(st, &max, id, v1, strlen(v1), NULL, 1002, &err),
                     RD_EINVAL); /* no change */
    char v3[sizeof v2 + 8];
    snprintf(v3, sizeof v3, "%s\n", v2); /* same meaning, other bytes: still an edit */
    assert_int_equal(rd_change_edit(st, &max, id, v3, strlen(v3), "tweak", 1002, &err), RD_OK);
    assert_int_equal(rd_change_approve(st, &max, id, 0, NULL, 1003, &err), RD_EFORBIDDEN);
    assert_non_null(strstr(err.msg, "edited change"));
    assert_string_equal(state_of(id), "proposed");
}

static void test_edit_resets_approvals(void **state)
{
    (void)state;
    rd_principal eng = who("erin", RD_ROLE_ENGINEER, "aaaaaaaaaaa1"), mia = who("mia", RD_ROLE_MANAGER, "b1"),
                 max = who("max", RD_ROLE_MANAGER, "d1");
    rd_err err;
    rd_principal adm = who("ada", RD_ROLE_ADMIN, "e1");
    assert_int_equal(rd_change_set_required(st, &mia, RD_CHANGE_FLAGS, 2, 1000, &err), RD_EFORBIDDEN);
    assert_int_equal(rd_change_set_required(st, &adm, RD_CHANGE_FLAGS, 0, 1000, &err), RD_EINVAL);
    assert_int_equal(rd_change_set_required(st, &adm, RD_CHANGE_FLAGS, 2, 1000, &err), RD_OK);
    int64_t id = propose(&eng, v2);
    assert_int_equal(rd_change_approve(st, &mia, id, 1, NULL, 1001, &err), RD_OK);
    assert_string_equal(state_of(id), "proposed");                                        /* one of two */
    assert_int_equal(rd_change_approve(st, &mia, id, 1, NULL, 1001, &err), RD_ECONFLICT); /* twice */
    assert_int_equal(rd_change_approve(st, &max, id, 1, NULL, 1002, &err), RD_OK);
    assert_string_equal(state_of(id), "approved");
    /* the author edits after approval: back to proposed, approvals gone */
    char v3[sizeof v2 + 8];
    snprintf(v3, sizeof v3, "%s ", v2);
    assert_int_equal(rd_change_edit(st, &eng, id, v3, strlen(v3), NULL, 1003, &err), RD_OK);
    assert_string_equal(state_of(id), "proposed");
    assert_int_equal(rd_change_publish(st, &mia, id, 1004, NULL, &err), RD_ECONFLICT);
    /* an approval of the revision read before the edit is refused */
    assert_int_equal(rd_change_approve(st, &mia, id, 1, NULL, 1005, &err), RD_ECONFLICT);
    assert_non_null(strstr(err.msg, "edited after you read it"));
}

/* Two handles on one store, as two processes: the approve and the edit serialise, and
 * whichever comes second sees the first. */
static void test_interleaved_approve_and_edit(void **state)
{
    (void)state;
    rd_store *st2;
    rd_err err;
    assert_int_equal(rd_store_open(dir, NULL, &st2, &err), RD_OK);
    rd_principal eng = who("erin", RD_ROLE_ENGINEER, "a1"), mia = who("mia", RD_ROLE_MANAGER, "b1");
    int64_t id = propose(&eng, v2);
    /* approve on one handle while the other holds a write transaction: it waits (busy
       timeout) or fails; it never sees a half-done edit */
    assert_int_equal(rd_store_begin(st2, &err), RD_OK);
    char v3[sizeof v2 + 8];
    snprintf(v3, sizeof v3, "%s ", v2);
    assert_int_equal(rd_change_edit(st2, &eng, id, v3, strlen(v3), NULL, 1001, &err), RD_OK); /* nested */
    assert_int_equal(rd_store_commit(st2, &err), RD_OK);
    /* mia read revision 1: her approval is refused; of revision 2 it is taken */
    assert_int_equal(rd_change_approve(st, &mia, id, 1, NULL, 1002, &err), RD_ECONFLICT);
    assert_int_equal(rd_change_approve(st, &mia, id, 2, NULL, 1002, &err), RD_OK);
    /* and an edit after it, on the other handle, clears it */
    assert_int_equal(rd_change_edit(st2, &eng, id, v2, strlen(v2), NULL, 1003, &err), RD_OK);
    assert_string_equal(state_of(id), "proposed");
    rd_store_close(st2);
}

static void test_conflict_and_refusals(void **state)
{
    (void)state;
    rd_principal eng = who("erin", RD_ROLE_ENGINEER, "a1"), mia = who("mia", RD_ROLE_MANAGER, "b1");
    rd_err err;
    rd_change_spec bad = {.kind = RD_CHANGE_FLAGS, .target = flags, .payload = "{\"flags\":{\"x\":{}}}"};
    bad.payload_len = strlen(bad.payload);
    int64_t id;
    assert_int_equal(rd_change_propose(st, &eng, &bad, 1000, &id, &err), RD_EINVAL);
    assert_non_null(strstr(err.msg, "would be refused"));
    bad.payload = "{not json";
    bad.payload_len = strlen(bad.payload);
    assert_int_equal(rd_change_propose(st, &eng, &bad, 1000, &id, &err), RD_EINVAL);
    rd_change_spec nowhere = {
        .kind = RD_CHANGE_FLAGS, .target = "/nonexistent/x.json", .payload = v2, .payload_len = strlen(v2)};
    assert_int_not_equal(rd_change_propose(st, &eng, &nowhere, 1000, &id, &err), RD_OK);
    /* the file changed under the change: publishing it is refused, the file untouched */
    id = propose(&eng, v2);
    assert_int_equal(rd_change_approve(st, &mia, id, 0, NULL, 1001, &err), RD_OK);
    write_file(flags, "{\"flags\":{}}");
    assert_int_equal(rd_change_publish(st, &mia, id, 1002, NULL, &err), RD_ECONFLICT);
    assert_non_null(strstr(err.msg, "propose it again"));
    assert_string_equal(read_all(flags), "{\"flags\":{}}");
    assert_string_equal(state_of(id), "approved"); /* nothing recorded */
    rd_buf b;
    rd_buf_init(&b);
    assert_int_equal(rd_change_versions_json(st, "flags", flags, 0, &b, &err), RD_OK);
    assert_string_equal(rd_buf_cstr(&b), "[]");
    rd_buf_deinit(&b);
    /* withdrawn and rejected changes stay so */
    assert_int_equal(rd_change_withdraw(st, &eng, id, "stale", 1003, &err), RD_OK);
    assert_int_equal(rd_change_approve(st, &mia, id, 0, NULL, 1004, &err), RD_ECONFLICT);
    assert_int_equal(rd_change_publish(st, &mia, id, 1004, NULL, &err), RD_ECONFLICT);
}

static void test_show_diff(void **state)
{
    (void)state;
    rd_principal eng = who("erin", RD_ROLE_ENGINEER, "a1");
    rd_err err;
    int64_t id = propose(&eng, v2);
    rd_buf b;
    rd_buf_init(&b);
    assert_int_equal(rd_change_show_json(st, id, false, &b, &err), RD_OK);
    const char *j = rd_buf_cstr(&b);
    assert_non_null(strstr(j, "\"added\":[\"new\"]"));
    assert_non_null(strstr(j, "\"removed\":[\"other\"]"));
    assert_non_null(strstr(j, "\"changed\":{\"model-route\":{\"before\":"));
    assert_non_null(strstr(j, "\"approvals_required\":1"));
    assert_null(strstr(j, "\"payload\""));
    rd_buf_deinit(&b);
}

static void test_draft_submit(void **state)
{
    (void)state;
    rd_principal eng = who("erin", RD_ROLE_ENGINEER, "a1"), eve = who("eve", RD_ROLE_ENGINEER, "a2"),
                 mia = who("mia", RD_ROLE_MANAGER, "b1");
    rd_err err;
    rd_change_spec spec = {
        .kind = RD_CHANGE_FLAGS, .target = flags, .payload = v2, .payload_len = strlen(v2), .draft = true};
    int64_t id;
    assert_int_equal(rd_change_propose(st, &eng, &spec, 1000, &id, &err), RD_OK);
    assert_int_equal(rd_change_approve(st, &mia, id, 0, NULL, 1001, &err), RD_ECONFLICT);
    assert_int_equal(rd_change_submit(st, &eve, id, 1002, &err), RD_EFORBIDDEN);
    assert_int_equal(rd_change_submit(st, &eng, id, 1002, &err), RD_OK);
    assert_int_equal(rd_change_approve(st, &mia, id, 0, NULL, 1003, &err), RD_OK);
}

/* A hand edit of the served file (refused by require_approval) is never a base, never a
 * version, and no rollback brings it back; a rollout's write puts the published version back
 * first (issue 14 review: unreviewed content must not become published by the back door). */
static void test_hand_edit_never_published(void **state)
{
    (void)state;
    rd_principal eng = who("erin", RD_ROLE_ENGINEER, "a1"), mia = who("mia", RD_ROLE_MANAGER, "b1"),
                 op = who("otto", RD_ROLE_OPERATOR, "c1");
    rd_err err;
    int64_t id = propose(&eng, v2);
    assert_int_equal(rd_change_approve(st, &mia, id, 0, NULL, 1001, &err), RD_OK);
    assert_int_equal(rd_change_publish(st, &op, id, 1002, NULL, &err), RD_OK);
    static const char x[] = "{\"flags\":{\"sneaky\":{\"state\":\"ENABLED\",\"variants\":{\"on\":true},"
                            "\"defaultVariant\":\"on\"}}}";
    write_file(flags, x);
    char xsha[RD_SHA256_HEX], v2sha[RD_SHA256_HEX];
    rd_sha256_hex(x, strlen(x), xsha);
    rd_sha256_hex(v2, strlen(v2), v2sha);
    /* a change proposed now is made against the published version, and its diff shows that */
    int64_t id2 = propose(&eng, v1);
    rd_change_row r;
    assert_int_equal(rd_store_change_get(st, id2, &r, &err), RD_OK);
    assert_string_equal(r.base_sha, v2sha);
    rd_store_change_row_free(&r);
    /* publishing it would overwrite the hand edit it was not made against: refused */
    assert_int_equal(rd_change_approve(st, &mia, id2, 0, NULL, 1003, &err), RD_OK);
    assert_int_equal(rd_change_publish(st, &op, id2, 1004, NULL, &err), RD_ECONFLICT);
    /* two rollbacks: the published versions, never the hand edit */
    assert_int_equal(rd_change_rollback(st, &op, RD_CHANGE_FLAGS, flags, 0, NULL, 1005, NULL, &err), RD_OK);
    assert_string_equal(read_all(flags), v1);
    assert_int_equal(rd_change_rollback(st, &op, RD_CHANGE_FLAGS, flags, 0, NULL, 1006, NULL, &err), RD_OK);
    assert_string_equal(read_all(flags), v2);
    rd_buf b;
    rd_buf_init(&b);
    assert_int_equal(rd_change_versions_json(st, "flags", flags, 0, &b, &err), RD_OK);
    assert_null(strstr(rd_buf_cstr(&b), xsha));
    rd_buf_deinit(&b);
    /* a rollout's write on a hand-edited file puts the published version back first */
    bool restored;
    write_file(flags, x);
    assert_int_equal(rd_change_restore_published(st, flags, "controller", 1007, &restored, &err), RD_OK);
    assert_false(restored); /* not asked for: approval.required is not set */
    assert_int_equal(rd_store_setting_put(st, "approval.required", "1", &err), RD_OK);
    assert_int_equal(rd_change_restore_published(st, flags, "controller", 1007, &restored, &err), RD_OK);
    assert_true(restored);
    assert_string_equal(read_all(flags), v2);
    /* targets: a flags change elsewhere than the served file, a rollout on the served file */
    assert_int_equal(rd_store_setting_put(st, "served.flags", flags, &err), RD_OK);
    char other[320];
    snprintf(other, sizeof other, "%s/other.json", dir);
    write_file(other, v1);
    rd_change_spec spec = {
        .kind = RD_CHANGE_FLAGS, .target = other, .payload = v2, .payload_len = strlen(v2)};
    assert_int_equal(rd_change_propose(st, &eng, &spec, 1008, &id, &err), RD_EINVAL);
    assert_non_null(strstr(err.msg, "not the served flag file"));
}

/* After an inner rollback the whole transaction is undone: a further nested begin is refused
 * (its writes would otherwise autocommit outside any transaction). */
static void test_nested_rollback(void **state)
{
    (void)state;
    rd_err err;
    assert_int_equal(rd_store_begin(st, &err), RD_OK);
    assert_int_equal(rd_store_begin(st, &err), RD_OK);
    rd_store_rollback(st);
    assert_int_equal(rd_store_begin(st, &err), RD_ECONFLICT);
    assert_int_equal(rd_store_commit(st, &err), RD_ECONFLICT);
    /* the store is usable again */
    assert_int_equal(rd_store_begin(st, &err), RD_OK);
    assert_int_equal(rd_store_setting_put(st, "k", "v", &err), RD_OK);
    assert_int_equal(rd_store_commit(st, &err), RD_OK);
    char v[8];
    assert_int_equal(rd_store_setting_get(st, "k", v, sizeof v, &err), RD_OK);
    assert_string_equal(v, "v");
}

/* A change to $evaluators or metadata alone is shown with both sides, not as "no flag changed":
 * shared targeting rules re-route every flag that references them. */
static void test_diff_sections(void **state)
{
    (void)state;
    const char *before = "{\"$evaluators\":{\"staff\":{\"in\":[1,[1]]}},\"metadata\":{\"v\":1},"
                         "\"flags\":{\"a\":{\"state\":\"ENABLED\"}}}";
    const char *after = "{\"$evaluators\":{\"staff\":{\"in\":[1,[2]]}},\"metadata\":{\"v\":1},"
                        "\"flags\":{\"a\":{\"state\":\"ENABLED\"}},\"$schema\":\"x\"}";
    rd_buf b;
    rd_buf_init(&b);
    rd_err err;
    assert_int_equal(rd_flags_diff_json(before, strlen(before), after, strlen(after), &b, &err), RD_OK);
    const char *d = rd_buf_cstr(&b);
    if (!strstr(d, "\"changed\":{},\"evaluators_changed\":true,\"metadata_changed\":false") ||
        !strstr(d,
                "\"sections\":{\"$evaluators\":{\"before\":{\"staff\":{\"in\":[1,[1]]}},\"after\":{\"staff\":"
                "{\"in\":[1,[2]]}}},\"$schema\":{\"before\":null,\"after\":\"x\"}}"))
        fail_msg("diff: %s", d);
    rd_buf_reset(&b);
    assert_int_equal(rd_flags_diff_json(after, strlen(after), before, strlen(before), &b, &err), RD_OK);
    if (!strstr(rd_buf_cstr(&b), "\"$schema\":{\"before\":\"x\",\"after\":null}"))
        fail_msg("a member removed: %s", rd_buf_cstr(&b));
    rd_buf_deinit(&b);
}

/* ------------------------------------------------------------------ notifications */

typedef struct outbox {
    int n;
    char types[16][48];
    char bodies[16][2048];
} outbox;

static int take_event(void *ud, const rd_notify_row *r)
{
    outbox *o = ud;
    if (o->n < 16) {
        snprintf(o->types[o->n], sizeof o->types[0], "%s", r->type);
        snprintf(o->bodies[o->n], sizeof o->bodies[0], "%.*s", (int)r->body_len, r->body);
    }
    o->n++;
    return 0;
}

static outbox events(void)
{
    outbox o = {0};
    rd_err err;
    assert_int_equal(rd_store_outbox_scan(st, 0, 0, take_event, &o, &err), RD_OK);
    return o;
}

/* Each operation writes exactly one event of its type, in its transaction; a refused one
 * writes none; no event holds a token id or the payload. */
static void test_notifications(void **state)
{
    (void)state;
    rd_principal eng = who("erin", RD_ROLE_ENGINEER, "aaaaaaaaaaa1"),
                 mgr = who("mia", RD_ROLE_MANAGER, "bbbbbbbbbbb1"),
                 op = who("otto", RD_ROLE_OPERATOR, "ccccccccccc1");
    rd_err err;
    int64_t id = propose(&eng, v2);
    assert_int_equal(events().n, 1);
    assert_int_equal(rd_change_approve(st, &eng, id, 0, NULL, 1001, &err), RD_EFORBIDDEN);
    assert_int_equal(rd_change_publish(st, &op, id, 1001, NULL, &err), RD_ECONFLICT);
    assert_int_equal(events().n, 1); /* refused: nothing announced */
    /* a token pasted into a note is refused whole (the audit chain will not hold one) */
    assert_int_equal(rd_change_approve(st, &mgr, id, 1, "ok rdk_0123456789ab_SECRETSECRET", 1002, &err),
                     RD_EINVAL);
    assert_int_equal(events().n, 1);
    assert_int_equal(rd_change_approve(st, &mgr, id, 1, "ok", 1002, &err), RD_OK);
    assert_int_equal(rd_change_publish(st, &op, id, 1003, NULL, &err), RD_OK);
    assert_int_equal(rd_change_rollback(st, &op, RD_CHANGE_FLAGS, flags, 0, "bad", 1004, NULL, &err), RD_OK);
    int64_t id2 = propose(&eng, v2);
    assert_int_equal(rd_change_reject(st, &mgr, id2, "no", 1005, &err), RD_OK);
    outbox o = events();
    const char *want[] = {"change.proposed",    "change.approved", "change.published",
                          "change.rolled_back", "change.proposed", "change.rejected"};
    assert_int_equal(o.n, 6);
    for (int i = 0; i < 6; i++) {
        assert_string_equal(o.types[i], want[i]);
        assert_null(strstr(o.bodies[i], "aaaaaaaaaaa1"));
        assert_null(strstr(o.bodies[i], "bbbbbbbbbbb1"));
        assert_null(strstr(o.bodies[i], "SECRETSECRET"));
        assert_null(strstr(o.bodies[i], "\"defaultVariant\"")); /* the payload stays out */
    }
    assert_non_null(strstr(o.bodies[0], "\"actor\":\"erin\""));
    assert_non_null(strstr(o.bodies[0], "\"change_kind\":\"flags\""));
    assert_non_null(strstr(o.bodies[1], "\"approvals\":1,\"approvals_required\":1"));
    assert_non_null(strstr(o.bodies[1], "\"note\":\"ok\""));
    assert_non_null(strstr(o.bodies[3], "\"why\":\"bad\""));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_lifecycle_and_rollback, setup, teardown),
        cmocka_unit_test(test_diff_sections),
        cmocka_unit_test_setup_teardown(test_notifications, setup, teardown),
        cmocka_unit_test_setup_teardown(test_no_self_approval, setup, teardown),
        cmocka_unit_test_setup_teardown(test_edit_resets_approvals, setup, teardown),
        cmocka_unit_test_setup_teardown(test_interleaved_approve_and_edit, setup, teardown),
        cmocka_unit_test_setup_teardown(test_conflict_and_refusals, setup, teardown),
        cmocka_unit_test_setup_teardown(test_show_diff, setup, teardown),
        cmocka_unit_test_setup_teardown(test_draft_submit, setup, teardown),
        cmocka_unit_test_setup_teardown(test_hand_edit_never_published, setup, teardown),
        cmocka_unit_test_setup_teardown(test_nested_rollback, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
