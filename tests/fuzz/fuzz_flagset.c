/* libFuzzer target: the flag-set parser, strict and lenient, and one evaluation of every
 * flag that parsed. Any crash, leak or sanitizer report is a bug. */
#include <stddef.h>
#include <stdint.h>

#include "riskd/riskd.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const char ctx_json[] =
        "{\"targetingKey\":\"user-1\",\"email\":\"a@b.c\",\"age\":42,\"tags\":[\"x\"]}";
    for (int lenient = 0; lenient < 2; lenient++) {
        rd_flagset_opts o = {.lenient = lenient, .fractional_version = lenient ? 3 : 2};
        rd_flagset *fs;
        rd_err err;
        if (rd_flagset_parse((const char *)data, size, &o, &fs, &err) != RD_OK)
            continue;
        rd_arena a;
        rd_arena_init(&a, 1u << 22);
        rd_value ctx;
        if (rd_json_parse(ctx_json, sizeof(ctx_json) - 1, NULL, &a, &ctx, &err) == RD_OK) {
            for (size_t i = 0; i < rd_flagset_count(fs); i++) {
                const char *k = rd_flagset_key(fs, i);
                rd_resolution r;
                size_t n = 0;
                while (k[n])
                    n++;
                rd_flag_eval(fs, k, n, RD_FLAG_ANY, &ctx, 1700000000, &a, &r);
            }
        }
        rd_arena_deinit(&a);
        rd_flagset_unref(fs);
    }
    return 0;
}
