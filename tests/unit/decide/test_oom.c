/* Out of memory in every loader: the flag set, the three model formats, a bundle, fallback
 * rules and a decider are loaded with the n-th allocation failing, for every n until the load
 * succeeds. Each failed load must say RD_ENOMEM and leave nothing behind (ASan's leak check
 * runs this binary in make test); the load that finally succeeds must be whole. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "riskd/decide.h"
#include "riskd/json.h"

#include "fixture.h"

struct failing {
    size_t n, fail_at;
};

static void *failing_alloc(void *ud, void *ptr, size_t size)
{
    struct failing *f = ud;
    if (size == 0) {
        free(ptr);
        return NULL;
    }
    if (++f->n == f->fail_at)
        return NULL;
    return realloc(ptr, size);
}

typedef int (*load_fn)(void *ud, void **out, rd_err *err);
typedef void (*free_fn)(void *obj);

/* Load with allocation 1, 2, ... failing until it succeeds; returns the number of failures. */
static size_t sweep(const char *what, load_fn load, free_fn release, void *ud, size_t max)
{
    struct failing f = {0};
    for (size_t at = 1; at <= max; at++) {
        f.n = 0;
        f.fail_at = at;
        void *obj = NULL;
        rd_err err = {0};
        rd_set_allocator(failing_alloc, &f);
        int rc = load(ud, &obj, &err);
        rd_set_allocator(NULL, NULL);
        if (rc == RD_OK) {
            assert_non_null(obj);
            release(obj);
            return at - 1;
        }
        if (rc != RD_ENOMEM || err.code != RD_ENOMEM)
            fail_msg("%s: allocation %zu failed and the load said %s: %s", what, at, rd_err_name(rc),
                     err.msg);
        assert_null(obj);
    }
    fail_msg("%s: still failing after %zu allocations", what, max);
    return 0;
}

/* ------------------------------------------------------------------ the loaders */

typedef struct text {
    const char *s;
    size_t len;
} text;

static const char flagset_json[] =
    "{\"$evaluators\":{\"staff\":{\"in\":[{\"var\":\"segment\"},[\"staff\",\"qa\"]]}},\"flags\":{"
    "\"route\":{\"state\":\"ENABLED\",\"variants\":{\"a\":\"b_lr_v1.0\",\"b\":\"\"},\"defaultVariant\":\"a\","
    "\"targeting\":{\"if\":[{\"$ref\":\"staff\"},\"b\",{\"fractional\":[[\"a\",50],[\"b\",50]]}]}},"
    "\"shadow\":{\"state\":\"ENABLED\",\"variants\":{\"on\":{\"bundles\":[\"b_lr_v1.0\"]}},"
    "\"defaultVariant\":\"on\"},"
    "\"n\":{\"state\":\"ENABLED\",\"variants\":{\"lo\":1,\"hi\":2.5},\"defaultVariant\":\"lo\",\"metadata\":{"
    "\"o\":\"x\"}}}}";

static int load_flagset(void *ud, void **out, rd_err *err)
{
    const text *t = ud;
    return rd_flagset_parse(t->s, t->len, NULL, (rd_flagset **)out, err);
}
static void free_flagset(void *p) { rd_flagset_unref(p); }

static int load_model(void *ud, void **out, rd_err *err)
{
    const text *t = ud;
    return rd_model_load_buffer(t->s, t->len, (rd_model **)out, err);
}
static void free_model(void *p) { rd_model_free(p); }

static int load_fallback(void *ud, void **out, rd_err *err)
{
    const text *t = ud;
    return rd_fallback_parse(t->s, t->len, (rd_fallback **)out, err);
}
static void free_fallback(void *p) { rd_fallback_unref(p); }

static int load_bundle(void *ud, void **out, rd_err *err)
{
    return rd_bundle_load(ud, (rd_bundle **)out, err);
}
static void free_bundle(void *p) { rd_bundle_free(p); }

static const char fallback_json[] =
    "{\"version\":\"v1\",\"rules\":[{\"name\":\"young\",\"when\":{\"and\":[{\"<\":[{\"var\":\"features.age\"}"
    ",25]},"
    "{\"in\":[{\"var\":\"context.segment\"},[\"web\",\"app\"]]}]},\"score\":0.9,\"risk_level\":\"high\","
    "\"decision\":\"reject\",\"reason\":\"FB_YOUNG\"},{\"risk_level\":\"medium\",\"decision\":\"review\","
    "\"reason\":\"FB\"}]}";

static int setup(void **state)
{
    (void)state;
    fixture_new();
    put("fb.json", fallback_json);
    rd_bundle_free(fixture_bundle("b_lr_v1.0", "lr.json", "fb.json", 50));
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    fixture_free();
    return 0;
}

static void test_flagset(void **state)
{
    (void)state;
    text t = {flagset_json, strlen(flagset_json)};
    assert_true(sweep("flag set", load_flagset, free_flagset, &t, 10000) > 0);
}

static void test_fallback(void **state)
{
    (void)state;
    text t = {fallback_json, strlen(fallback_json)};
    assert_true(sweep("fallback rules", load_fallback, free_fallback, &t, 10000) > 3);
}

static void test_xgboost(void **state)
{
    (void)state;
    char *s;
    size_t len;
    rd_err err;
    const char *path = "examples/models/credit_xgb_v1.0/model.json";
    if (rd_file_read(path, 0, &s, &len, &err) != RD_OK) {
        if (rd_file_read("../../../../examples/models/credit_xgb_v1.0/model.json", 0, &s, &len, &err) !=
            RD_OK)
            fail_msg("%s", err.msg);
    }
    text t = {s, len};
    assert_true(sweep("xgboost model", load_model, free_model, &t, 100000) > 10);
    rd_free(s);
}

#define STUMP(f, thr, l, r)                                                                                  \
    "num_leaves=2\nnum_cat=0\nsplit_feature=" f "\nsplit_gain=1\nthreshold=" thr "\ndecision_type=2\n"       \
    "left_child=-1\nright_child=-2\nleaf_value=" l " " r "\nleaf_weight=1 1\nleaf_count=1 1\n"               \
    "internal_value=0\ninternal_weight=2\ninternal_count=2\nis_linear=0\nshrinkage=0.1\n"

static void test_lightgbm(void **state)
{
    (void)state;
    static const char s[] =
        "tree\nversion=v4\nnum_class=1\nnum_tree_per_iteration=1\nlabel_index=0\n"
        "max_feature_idx=1\nobjective=binary sigmoid:1\nfeature_names=f0 f1\n"
        "feature_infos=[-1:1] [-1:1]\n\nTree=0\n" STUMP("0", "0.5", "-1", "1") "\n\nTree=1\n" STUMP(
            "1", "-0.25", "0.5",
            "-0.5") "\n\nend of trees\n\nfeature_importances:\nf0=1\n\n"
                    "parameters:\n[boosting: gbdt]\nend of parameters\n\npandas_categorical:null\n";
    text t = {s, sizeof s - 1};
    assert_true(sweep("lightgbm model", load_model, free_model, &t, 10000) > 3);
}

static void test_linear(void **state)
{
    (void)state;
    static const char s[] = "{\"type\":\"logistic_regression\",\"features\":[\"a\",\"b\"],\"coef\":[0.5,-1],"
                            "\"intercept\":0.1,\"means\":[0,1]}";
    text t = {s, sizeof s - 1};
    assert_true(sweep("logistic regression", load_model, free_model, &t, 10000) > 1);
}

static void test_bundle(void **state)
{
    (void)state;
    char path[160];
    snprintf(path, sizeof path, "%s/b_lr_v1.0", dir);
    assert_true(sweep("bundle", load_bundle, free_bundle, path, 100000) > 10);
}

/* A decider over a loaded bundle and flag set. */
typedef struct dctx {
    rd_flagset *flags;
    rd_slot *slot;
} dctx;

static int load_decider(void *ud, void **out, rd_err *err)
{
    dctx *c = ud;
    rd_fault f = {.bundle = "b_lr_v1.0", .delay_ms = 1};
    rd_decide_opts o = {.route_flag = "route", .shadow_flag = "shadow", .faults = &f, .nfaults = 1};
    return rd_decider_new(&o, c->flags, &c->slot, 1, (rd_decider **)out, err);
}
static void free_decider(void *p) { rd_decider_unref(p); }

static void test_decider(void **state)
{
    (void)state;
    dctx c;
    rd_err err;
    char path[160];
    snprintf(path, sizeof path, "%s/b_lr_v1.0", dir);
    rd_bundle *b;
    assert_int_equal(rd_flagset_parse(flagset_json, strlen(flagset_json), NULL, &c.flags, &err), RD_OK);
    assert_int_equal(rd_bundle_load(path, &b, &err), RD_OK);
    assert_int_equal(rd_slot_new(b, NULL, NULL, NULL, &c.slot, &err), RD_OK);
    assert_true(sweep("decider", load_decider, free_decider, &c, 1000) > 2);
    rd_slot_unref(c.slot);
    rd_flagset_unref(c.flags);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_flagset),  cmocka_unit_test(test_fallback), cmocka_unit_test(test_xgboost),
        cmocka_unit_test(test_lightgbm), cmocka_unit_test(test_linear),   cmocka_unit_test(test_bundle),
        cmocka_unit_test(test_decider),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
