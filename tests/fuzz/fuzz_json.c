/* libFuzzer target: the JSON parser. Whatever parses must write back to JSON that parses
 * to an equal value (the writer and the parser agree), and nothing may crash or leak. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include "riskd/riskd.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    rd_arena a;
    rd_arena_init(&a, 1u << 24);
    rd_value v, w;
    rd_err err;
    if (rd_json_parse((const char *)data, size, NULL, &a, &v, &err) == RD_OK) {
        rd_buf b;
        rd_buf_init(&b);
        rd_json_write(&b, &v);
        rd_json_limits lim = {.max_depth = 64};
        if (rd_json_parse(b.data, b.len, &lim, &a, &w, &err) != RD_OK || !rd_value_equal(&v, &w))
            abort();
        rd_buf_deinit(&b);
    }
    rd_arena_deinit(&a);
    return 0;
}
