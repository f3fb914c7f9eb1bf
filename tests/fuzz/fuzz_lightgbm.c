/* libFuzzer target: the LightGBM text loader. Whatever loads must predict a row of NaNs, a row
 * of zeros and a row of awkward values (negative, fractional, beyond int, tiny) in both output
 * kinds without a crash, a leak or a sanitizer report. */
#include <math.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include "riskd/riskd.h"
#include "riskd/model.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const double awkward[] = {-0.5, 1e10, 3.7, -1e-36, 2147483648.0, 33, -3, 1e300};
    rd_model *m;
    rd_err err;
    if (rd_model_load_lightgbm((const char *)data, size, &m, &err) != RD_OK)
        return 0;
    size_t nf = rd_model_num_features(m), no = rd_model_num_outputs(m, RD_OUTPUT_RAW);
    double *x = calloc(nf + 1, sizeof(double)), *out = calloc(no + 1, sizeof(double));
    if (x && out) {
        rd_model_predict(m, x, RD_OUTPUT_PROBABILITY, out);
        for (size_t i = 0; i < nf; i++)
            x[i] = (double)NAN;
        rd_model_predict(m, x, RD_OUTPUT_RAW, out);
        rd_model_predict(m, x, RD_OUTPUT_PROBABILITY, out);
        for (size_t i = 0; i < nf; i++)
            x[i] = awkward[i % (sizeof(awkward) / sizeof(awkward[0]))];
        rd_model_predict(m, x, RD_OUTPUT_RAW, out);
        rd_model_predict(m, x, RD_OUTPUT_PROBABILITY, out);
    }
    free(x);
    free(out);
    rd_model_free(m);
    return 0;
}
