/* log_redact (src/lib/dlog/redact.c): the keyed hash against values computed independently
 * (Python's hmac over the canonical JSON), every refusal of the list and the key, a record with
 * its inputs hashed and dropped while the decision used the real values, and replay refusing to
 * re-run such a record (and the shadow scores of its request). */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include "../decide/fixture.h"
#include "riskd/decide.h"
#include "riskd/dlog.h"
#include "riskd/json.h"

/* HMAC-SHA256 with the key "0123456789abcdef0123456789abcdef" of the canonical JSON, from
 *   python3 -c 'import hmac,hashlib,json; print(hmac.new(KEY, json.dumps(v, separators=(",",":"),
 *               sort_keys=True, ensure_ascii=False).encode(), hashlib.sha256).hexdigest())' */
#define KEY     "0123456789abcdef0123456789abcdef"
#define H_EMAIL "hmac-sha256:ef885cf662cd753a0969030c30cabe55923b08b3bd6880c95c49574d244f1359"
#define H_42    "hmac-sha256:3b12d0412db185c98ff58825ed4c81cfbc7bdabcf33ac48bdaaae5f39fc65445"
#define H_OBJ   "hmac-sha256:f63f0ead71caa8a6689efbbb465e9883ec206a96fd143c1b77e15ec38addd7f7"
#define H_CAFE  "hmac-sha256:24e5c7a307536669ed285863f2115d9824c68c46a9f4c3777930b89cd68dac1f"

static char keyfile[160];

static int setup(void **state)
{
    (void)state;
    fixture_new();
    put("key", KEY);
    put("short", "0123456789");
    snprintf(keyfile, sizeof keyfile, "%s/key", dir);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    fixture_free();
    return 0;
}

static rd_value parse(rd_arena *a, const char *text)
{
    rd_value v;
    rd_err err;
    if (rd_json_parse(text, strlen(text), NULL, a, &v, &err) != RD_OK)
        fail_msg("%s: %s", text, err.msg);
    return v;
}

static void test_hash_known_answers(void **state)
{
    (void)state;
    rd_dlog_redact *r;
    rd_err err;
    assert_int_equal(rd_dlog_redact_new("email", keyfile, &r, &err), RD_OK);
    rd_arena a;
    rd_arena_init(&a, 0);
    char h[RD_REDACT_HASH_MAX];
    struct {
        const char *json, *want;
    } cases[] = {
        {"\"a@b.example\"", H_EMAIL},
        {"42", H_42},
        {"4.2e1", H_42}, /* the same number, written otherwise: the same hash */
        {"{ \"b\": 1, \"a\": \"x\" }", H_OBJ},
        {"\"caf\\u00e9\"", H_CAFE},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        rd_value v = parse(&a, cases[i].json);
        assert_int_equal(rd_dlog_redact_hash(r, &v, h, &err), RD_OK);
        assert_string_equal(h, cases[i].want);
    }
    char desc[64];
    assert_string_equal(rd_dlog_redact_describe(r, desc, sizeof desc), "email");
    rd_dlog_redact_free(r);
    /* drops alone need no key, and hash nothing */
    assert_int_equal(rd_dlog_redact_new(" ssn:drop , dob:drop", NULL, &r, &err), RD_OK);
    assert_string_equal(rd_dlog_redact_describe(r, desc, sizeof desc), "ssn:drop,dob:drop");
    rd_value v = parse(&a, "1");
    assert_int_equal(rd_dlog_redact_hash(r, &v, h, &err), RD_EINVAL);
    rd_dlog_redact_free(r);
    assert_int_equal(rd_dlog_redact_new("", NULL, &r, &err), RD_OK);
    assert_null(r);
    assert_string_equal(rd_dlog_redact_describe(NULL, desc, sizeof desc), "");
    rd_arena_deinit(&a);
}

static void test_refusals(void **state)
{
    (void)state;
    char shortkey[160], missing[160];
    snprintf(shortkey, sizeof shortkey, "%s/short", dir);
    snprintf(missing, sizeof missing, "%s/missing", dir);
    struct {
        const char *spec, *key, *msg;
        int code;
    } cases[] = {
        {"email", NULL, "log_redact_key_file", RD_EINVAL},
        {"ssn:drop,email", "", "hashes \"email\"", RD_EINVAL},
        {"email", shortkey, "10 bytes", RD_EINVAL},
        {"email", missing, "log_redact_key_file", RD_EIO},
        {"targetingKey", keyfile, "targetingKey cannot be redacted", RD_EINVAL},
        {"email,,ssn", keyfile, "an empty name", RD_EINVAL},
        {"email,", keyfile, "an empty name", RD_EINVAL},
        {"email,email:drop", keyfile, "named twice", RD_EINVAL},
        {"ssn:dorp", keyfile, "drop or hash", RD_EINVAL},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        rd_dlog_redact *r = (rd_dlog_redact *)&cases; /* untouched on failure */
        rd_err err;
        assert_int_equal(rd_dlog_redact_new(cases[i].spec, cases[i].key, &r, &err), cases[i].code);
        assert_ptr_equal(r, (rd_dlog_redact *)&cases);
        if (!strstr(err.msg, cases[i].msg))
            fail_msg("%s: \"%s\" lacks \"%s\"", cases[i].spec, err.msg, cases[i].msg);
    }
}

/* A decision on a one-bundle decider, and its record with (and without) r. */
typedef struct world {
    rd_slot *slot;
    rd_decider *dec;
    rd_arena a;
} world;

static void world_new(world *w)
{
    rd_breaker_opts bo;
    rd_breaker_opts_default(&bo);
    bo.mode = RD_BREAKER_OFF;
    rd_err err;
    assert_int_equal(
        rd_slot_new(fixture_bundle("demo_lr_v1.0", "lr.json", NULL, 0), &bo, NULL, NULL, &w->slot, &err),
        RD_OK);
    rd_decide_opts o = {0};
    assert_int_equal(rd_decider_new(&o, NULL, &w->slot, 1, &w->dec, &err), RD_OK);
    rd_arena_init(&w->a, 0);
}

static void world_free(world *w)
{
    rd_decider_unref(w->dec);
    rd_slot_unref(w->slot);
    rd_arena_deinit(&w->a);
}

static void record(world *w, const rd_value *ctx, const rd_value *features, const rd_dlog_redact *r,
                   rd_buf *b, rd_decision *d)
{
    rd_value id = rd_value_string("req-1", 5);
    rd_decide_req q = {.request_id = &id,
                       .context = ctx,
                       .features = features,
                       .reasons = -1,
                       .unknown_inputs = RD_UNKNOWN_WARN};
    rd_err err;
    assert_int_equal(rd_decide(w->dec, &q, &w->a, d, &err), RD_OK);
    rd_dlog_meta m = {.node = "n", .ts_ms = 1000, .context = ctx, .features = features, .redact = r};
    rd_dlog_record_json(b, w->dec, d, &m);
    assert_false(b->oom);
}

static const rd_value *member(const rd_value *o, const char *k)
{
    return o && o->type == RD_VOBJECT ? rd_value_get(o, k, strlen(k)) : NULL;
}

static void test_record(void **state)
{
    (void)state;
    world w;
    world_new(&w);
    rd_value ctx = parse(&w.a, "{\"targetingKey\":\"u-1\",\"email\":\"a@b.example\"}");
    rd_value features = parse(&w.a, "{\"age\":42,\"home\":\"own\",\"ssn\":\"123-45-6789\"}");
    rd_dlog_redact *r;
    rd_err err;
    /* age is a model input: hashed in the log, decided on 42 */
    assert_int_equal(rd_dlog_redact_new("email, ssn:drop, age, phone", keyfile, &r, &err), RD_OK);
    rd_buf plain, red;
    rd_buf_init(&plain);
    rd_buf_init(&red);
    rd_decision d1, d2;
    record(&w, &ctx, &features, NULL, &plain, &d1);
    record(&w, &ctx, &features, r, &red, &d2);
    assert_true(d1.score.score == d2.score.score);
    assert_null(strstr(plain.data, "\"redacted\""));
    assert_non_null(strstr(plain.data, "123-45-6789"));
    assert_null(strstr(red.data, "123-45-6789"));
    assert_null(strstr(red.data, "a@b.example"));
    rd_value rec = parse(&w.a, rd_buf_cstr(&red));
    const rd_value *c = member(&rec, "context"), *f = member(&rec, "features"),
                   *rd = member(&rec, "redacted");
    assert_string_equal(member(c, "targetingKey")->u.s, "u-1");
    assert_string_equal(member(c, "email")->u.s, H_EMAIL);
    assert_string_equal(member(f, "age")->u.s, H_42);
    assert_string_equal(member(f, "home")->u.s, "own");
    assert_null(member(f, "ssn"));
    /* what was there and redacted, in log_redact's order; phone was not there */
    assert_non_null(rd);
    assert_int_equal(rd->len, 3);
    assert_string_equal(rd->u.members[0].key, "email");
    assert_string_equal(rd->u.members[0].val.u.s, "hash");
    assert_string_equal(rd->u.members[1].key, "ssn");
    assert_string_equal(rd->u.members[1].val.u.s, "drop");
    assert_string_equal(rd->u.members[2].key, "age");
    /* the score in the record is the one decided on the real values */
    assert_true(member(&rec, "score")->u.n == d1.score.score);
    /* nothing of the policy's present: the record is as without it */
    rd_dlog_redact *r2;
    assert_int_equal(rd_dlog_redact_new("email, ssn:drop", keyfile, &r2, &err), RD_OK);
    rd_value bare = parse(&w.a, "{\"age\":30,\"home\":\"rent\"}");
    rd_buf b3, b4;
    rd_buf_init(&b3);
    rd_buf_init(&b4);
    record(&w, NULL, &bare, r2, &b3, &d1);
    record(&w, NULL, &bare, NULL, &b4, &d1);
    const char *l3 = strstr(b3.data, "\"latency_ms\""), *l4 = strstr(b4.data, "\"latency_ms\"");
    assert_int_equal(l3 - b3.data, l4 - b4.data);
    assert_memory_equal(b3.data, b4.data, (size_t)(l3 - b3.data));
    rd_buf_deinit(&b3);
    rd_buf_deinit(&b4);
    rd_dlog_redact_free(r2);
    rd_buf_deinit(&plain);
    rd_buf_deinit(&red);
    rd_dlog_redact_free(r);
    world_free(&w);
}

static void test_replay_refuses(void **state)
{
    (void)state;
    world w;
    world_new(&w);
    char data[160], work[160], bdir[160];
    snprintf(data, sizeof data, "%s/data", dir);
    snprintf(work, sizeof work, "%s/work", dir);
    snprintf(bdir, sizeof bdir, "%s/demo_lr_v1.0", dir);
    rd_store *s;
    rd_err err;
    assert_int_equal(rd_store_open(data, NULL, &s, &err), RD_OK);
    assert_int_equal(rd_dlog_keep_bundle(s, bdir, rd_bundle_digest(rd_slot_bundle(w.slot)), &err), RD_OK);
    rd_dlog_redact *r;
    assert_int_equal(rd_dlog_redact_new("ssn:drop,email", keyfile, &r, &err), RD_OK);
    rd_value ctx = parse(&w.a, "{\"targetingKey\":\"u-1\",\"email\":\"a@b.example\"}");
    rd_value f1 = parse(&w.a, "{\"age\":42,\"home\":\"own\",\"ssn\":\"1\"}");
    rd_value f2 = parse(&w.a, "{\"age\":50,\"home\":\"rent\"}");
    rd_buf b1, b2, b3;
    rd_buf_init(&b1);
    rd_buf_init(&b2);
    rd_buf_init(&b3);
    rd_decision d;
    record(&w, &ctx, &f1, r, &b1, &d);
    record(&w, NULL, &f2, r, &b2, &d);
    rd_dlog_meta m = {.node = "n", .ts_ms = 1000};
    rd_dlog_shadow_json(&b3, "req-1", "demo_lr_v1.0", rd_slot_bundle(w.slot), RD_OK, &d.score, &m);
    rd_log_row rows[] = {
        {.ts_ms = 1000, .request_id = "req-1", .kind = "primary", .record = b1.data, .record_len = b1.len},
        {.ts_ms = 1000, .request_id = "req-2", .kind = "primary", .record = b2.data, .record_len = b2.len},
        {.ts_ms = 1000, .request_id = "req-1", .kind = "shadow", .record = b3.data, .record_len = b3.len},
    };
    assert_int_equal(rd_store_log_append(s, rows, 3, &err), RD_OK);
    rd_replay *rp;
    assert_int_equal(rd_replay_new(s, work, &rp, &err), RD_OK);
    rd_replay_result res;
    assert_int_equal(rd_replay_one(rp, &rows[0], &res, &err), RD_OK);
    assert_false(res.identical);
    assert_string_equal(res.diff, "");
    assert_string_equal(res.not_replayable, "inputs redacted: ssn, email");
    assert_int_equal(rd_replay_one(rp, &rows[1], &res, &err), RD_OK); /* nothing redacted there */
    assert_true(res.identical);
    assert_string_equal(res.not_replayable, "");
    assert_int_equal(rd_replay_one(rp, &rows[2], &res, &err), RD_OK); /* its primary's inputs are gone */
    assert_false(res.identical);
    assert_string_equal(res.not_replayable, "inputs redacted: ssn, email");
    rd_replay_free(rp);
    rd_store_close(s);
    rd_buf_deinit(&b1);
    rd_buf_deinit(&b2);
    rd_buf_deinit(&b3);
    rd_dlog_redact_free(r);
    world_free(&w);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_hash_known_answers, setup, teardown),
        cmocka_unit_test_setup_teardown(test_refusals, setup, teardown),
        cmocka_unit_test_setup_teardown(test_record, setup, teardown),
        cmocka_unit_test_setup_teardown(test_replay_refuses, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
