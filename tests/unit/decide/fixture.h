/* What the decide tests share: a scratch directory, and small logistic-regression bundles
 * built in it through the real `bundle build` path (two inputs: age in [18, 120], home
 * own|rent; six labelled rows). Header-only: each test binary is one source file. */
#ifndef RISKD_TEST_DECIDE_FIXTURE_H
#define RISKD_TEST_DECIDE_FIXTURE_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "riskd/bundle.h"

static char dir[64];

static void put(const char *name, const char *text)
{
    char path[160];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
}

/* A new scratch directory with lr.json, lr2.json (another model on the same pipeline),
 * pipe.json and data.csv. */
static void fixture_new(void)
{
    strcpy(dir, "/tmp/riskd-decide-XXXXXX");
    assert_non_null(mkdtemp(dir));
    put("lr.json",
        "{\"type\":\"logistic_regression\",\"features\":[\"age\",\"home=own\"],\"coef\":[-0.05,-0.8],"
        "\"intercept\":1.0,\"means\":[40,0.5]}");
    put("lr2.json",
        "{\"type\":\"logistic_regression\",\"features\":[\"age\",\"home=own\"],\"coef\":[-0.02,-0.5],"
        "\"intercept\":1.0,\"means\":[40,0.5]}");
    put("pipe.json",
        "{\"inputs\":[{\"name\":\"age\",\"type\":\"number\",\"min\":18,\"max\":120},{\"name\":\"home\","
        "\"type\":\"category\",\"levels\":[\"own\",\"rent\"]}],\"features\":[{\"name\":\"age\",\"source\":"
        "\"age\",\"kind\":\"numeric\"},{\"name\":\"home=own\",\"source\":\"home\",\"kind\":\"one_hot\","
        "\"level\":\"own\"}]}");
    put("data.csv", "age,home,bad\n20,own,1\n30,rent,0\n40,own,0\n50,rent,1\n60,own,0\n70,rent,0\n");
}

/* Build bundle name from model (a file of the directory) with the fallback rules file
 * (NULL: none), bands at 0.5 (approve below, reject from), and load it. */
static rd_bundle *fixture_bundle(const char *name, const char *model, const char *fallback, int deadline_ms)
{
    char out[160], m[160], p[160], d[160], fb[160];
    snprintf(out, sizeof out, "%s/%s", dir, name);
    snprintf(m, sizeof m, "%s/%s", dir, model);
    snprintf(p, sizeof p, "%s/pipe.json", dir);
    snprintf(d, sizeof d, "%s/data.csv", dir);
    snprintf(fb, sizeof fb, "%s/%s", dir, fallback ? fallback : "");
    rd_bundle_build_opts o = {.name = name,
                              .model_path = m,
                              .pipeline_path = p,
                              .data_path = d,
                              .label = "bad",
                              .out_dir = out,
                              .created_by = "test",
                              .samples = 3,
                              .reasons = 2,
                              .fallback_path = fallback ? fb : NULL,
                              .deadline_ms = deadline_ms,
                              .risk_bands =
                                  "[{\"level\":\"low\",\"min\":null,\"max\":0.5,\"decision\":\"approve\"},"
                                  "{\"level\":\"high\",\"min\":0.5,\"max\":null,\"decision\":\"reject\"}]"};
    rd_err err;
    if (rd_bundle_build(&o, &err) != RD_OK)
        fail_msg("build %s: %s", name, err.msg);
    rd_bundle *b;
    if (rd_bundle_load(out, &b, &err) != RD_OK)
        fail_msg("load %s: %s", name, err.msg);
    return b;
}

static void fixture_free(void)
{
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    assert_int_equal(system(cmd), 0);
}

#endif
