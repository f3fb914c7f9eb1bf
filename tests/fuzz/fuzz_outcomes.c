/* libFuzzer target: outcome batches (POST /v1/outcomes' body) read by rd_outcomes_from_value.
 * Whatever is accepted must keep the module's invariants (a request id of 1..256 bytes, an
 * outcome name of [a-z0-9_-], a label of 0 or 1, a time of 0 or from 1973 to 9999), whatever
 * is refused must say why; nothing may crash or leak. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "riskd/dlog.h"
#include "riskd/json.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    rd_arena a;
    rd_arena_init(&a, 1u << 24);
    rd_value v;
    rd_err err;
    rd_json_limits lim = {.max_depth = 16};
    if (rd_json_parse((const char *)data, size, &lim, &a, &v, &err) == RD_OK) {
        rd_outcome *o;
        size_t n;
        int rc = rd_outcomes_from_value(&v, 1000, &a, &o, &n, &err);
        if (rc != RD_OK && (err.code != rc || !err.msg[0]))
            abort();
        for (size_t i = 0; rc == RD_OK && i < n; i++) {
            size_t il = strlen(o[i].request_id), nl = strlen(o[i].outcome);
            if (il == 0 || il > RD_OUTCOME_ID_MAX || nl == 0 || nl > RD_OUTCOME_NAME_MAX ||
                strspn(o[i].outcome, "abcdefghijklmnopqrstuvwxyz0123456789_-") != nl ||
                (o[i].label != 0 && o[i].label != 1) ||
                (o[i].observed_ms != 0 &&
                 (o[i].observed_ms < 100000000000 || o[i].observed_ms > 253402300799999)))
                abort();
        }
    }
    rd_arena_deinit(&a);
    return 0;
}
