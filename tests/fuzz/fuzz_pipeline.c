/* libFuzzer target: pipeline specs. The input is a spec, optionally followed by a record
 * after a NUL byte; whatever parses must check and apply that record (or an empty one), and
 * check its names as a CSV header, without a crash, a leak or a sanitizer report. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "riskd/json.h"
#include "riskd/pipeline.h"
#include "riskd/riskd.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *text = (const char *)data, *nul = memchr(text, '\0', size);
    size_t spec_len = nul ? (size_t)(nul - text) : size;
    rd_pipeline *p;
    rd_err err;
    if (rd_pipeline_parse(text, spec_len, &p, &err) != RD_OK)
        return 0;
    rd_arena a;
    rd_arena_init(&a, 0);
    rd_value rec = {.type = RD_VOBJECT};
    if (nul)
        rd_json_parse(nul + 1, size - spec_len - 1, NULL, &a, &rec, &err);
    double *x = calloc(rd_pipeline_num_features(p) + 1, sizeof(double));
    rd_pipeline_report rep;
    /* the record checks under each policy, and the record's names taken as a CSV header */
    for (int u = RD_UNKNOWN_DEFAULT; u <= RD_UNKNOWN_IGNORE; u++)
        rd_pipeline_check(p, &rec, (rd_unknown_policy)u, &rep, &err);
    if (rec.type == RD_VOBJECT && rec.len <= 256) {
        const char *cols[256];
        char note[400];
        for (uint32_t i = 0; i < rec.len; i++)
            cols[i] = rec.u.members[i].key;
        rd_pipeline_check_columns(p, cols, rec.len, note, sizeof note, &err);
    }
    if (x)
        rd_pipeline_apply(p, &rec, x, &rep, &err);
    free(x);
    rd_arena_deinit(&a);
    rd_pipeline_free(p);
    return 0;
}
