/* libFuzzer target: JSONLogic compile and evaluation. The input is split at the first
 * newline: a rule, then the data it runs on. */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "riskd/riskd.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *text = (const char *)data;
    const char *nl = memchr(text, '\n', size);
    size_t rule_len = nl ? (size_t)(nl - text) : size;
    rd_arena a, scratch;
    rd_arena_init(&a, 1u << 22);
    rd_arena_init(&scratch, 1u << 22);
    rd_value rule, ctx = RD_NULL_VALUE;
    rd_err err;
    if (rd_json_parse(text, rule_len, NULL, &a, &rule, &err) == RD_OK &&
        (!nl || rd_json_parse(nl + 1, size - rule_len - 1, NULL, &a, &ctx, &err) == RD_OK)) {
        for (int v = 2; v <= 3; v++) {
            rd_logic_opts o = {.fractional_version = v};
            rd_logic *l;
            if (rd_logic_compile(&rule, &o, &l, &err) != RD_OK)
                continue;
            rd_logic_env env = {
                .flagd = true, .flag_key = "fuzz", .flag_key_len = 4, .timestamp = 1700000000};
            rd_value out;
            rd_logic_eval(l, &ctx, &env, &scratch, &out, &err);
            rd_arena_reset(&scratch);
            rd_logic_free(l);
        }
    }
    rd_arena_deinit(&a);
    rd_arena_deinit(&scratch);
    return 0;
}
