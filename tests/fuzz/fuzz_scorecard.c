/* libFuzzer target: the JSON models of linear.c (scorecards, logistic regression) and the
 * pipeline spec derived from a scorecard. Whatever loads must predict every output kind and
 * give reason impacts for rows of zeros, NaNs and awkward values; a derived spec must parse
 * and apply to a record of odd values. No crash, leak or sanitizer report. */
#include <math.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "riskd/model.h"
#include "riskd/pipeline.h"
#include "riskd/riskd.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void use_model(const char *text, size_t size)
{
    static const double awkward[] = {-0.5, 1e10, 3.7, -1e-36, 1e300, 0};
    rd_model *m;
    rd_err err;
    if (rd_model_load_json(text, size, &m, &err) != RD_OK)
        return;
    size_t nf = rd_model_num_features(m);
    double *x = calloc(nf + 1, sizeof(double)), *imp = calloc(nf + 1, sizeof(double)), out[4];
    rd_reason_code r[4];
    for (int pass = 0; x && imp && pass < 3; pass++) {
        for (size_t i = 0; i < nf; i++)
            x[i] = pass == 0 ? 0.0 : pass == 1 ? (double)NAN : awkward[i % 6];
        for (int k = RD_OUTPUT_RAW; k <= RD_OUTPUT_SCORE; k++)
            if (rd_model_num_outputs(m, (rd_output)k) <= 4)
                rd_model_predict(m, x, (rd_output)k, out);
        if (rd_model_impacts(m, x, imp, &err) == RD_OK)
            rd_reasons_top(imp, nf, 4, r);
    }
    free(x);
    free(imp);
    rd_model_free(m);
}

static void use_spec(const char *text, size_t size)
{
    rd_buf spec;
    rd_buf_init(&spec);
    rd_err err;
    rd_pipeline *p;
    if (rd_pipeline_spec_from_scorecard(text, size, &spec, &err) == RD_OK &&
        rd_pipeline_parse(rd_buf_cstr(&spec), spec.len, &p, &err) == RD_OK) {
        size_t nin = rd_pipeline_num_inputs(p), nf = rd_pipeline_num_features(p);
        rd_member *mem = calloc(nin + 1, sizeof(rd_member));
        double *x = calloc(nf + 1, sizeof(double));
        for (size_t i = 0; mem && i < nin; i++)
            mem[i] = (rd_member){rd_pipeline_input_name(p, i), (uint32_t)strlen(rd_pipeline_input_name(p, i)),
                                 rd_value_string(i % 2 ? "7.5" : "", i % 2 ? 3 : 0)};
        rd_value rec = {.type = RD_VOBJECT, .len = (uint32_t)nin, .u.members = mem};
        if (mem && x)
            rd_pipeline_apply(p, &rec, x, NULL, &err);
        free(mem);
        free(x);
        rd_pipeline_free(p);
    }
    rd_buf_deinit(&spec);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    use_model((const char *)data, size);
    use_spec((const char *)data, size);
    return 0;
}
