/* libFuzzer target: fallback rule files and fault specs. The input is a rule file, optionally
 * followed after a NUL byte by {"features": ..., "context": ...} to evaluate the rules on, and
 * after a second NUL by a --fault spec. Whatever parses must evaluate to one of its rules (the
 * default at worst) without a crash, a leak or a sanitizer report, and the answer's fields
 * must be set. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "riskd/decide.h"
#include "riskd/json.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_fault(const char *spec, size_t len)
{
    char buf[512];
    if (len >= sizeof buf)
        return;
    memcpy(buf, spec, len);
    buf[len] = '\0';
    rd_fault f = {0};
    rd_err err;
    if (rd_fault_parse(buf, &f, &err) == RD_OK) {
        char d[128];
        rd_fault_describe(&f, d, sizeof d);
        if (!f.bundle[0] || f.error_rate < 0 || f.error_rate > 1 || f.delay_ms < 0)
            abort();
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *text = (const char *)data, *nul = memchr(text, '\0', size);
    size_t rules_len = nul ? (size_t)(nul - text) : size;
    rd_fallback *f;
    rd_err err;
    if (rd_fallback_parse(text, rules_len, &f, &err) == RD_OK) {
        rd_arena a;
        rd_arena_init(&a, 1u << 24);
        rd_value in = RD_NULL_VALUE;
        if (nul) {
            const char *rest = nul + 1, *nul2 = memchr(rest, '\0', size - rules_len - 1);
            size_t in_len = nul2 ? (size_t)(nul2 - rest) : size - rules_len - 1;
            rd_json_parse(rest, in_len, NULL, &a, &in, &err);
        }
        const rd_value *feat = in.type == RD_VOBJECT ? rd_value_get(&in, "features", 8) : NULL;
        const rd_value *ctx = in.type == RD_VOBJECT ? rd_value_get(&in, "context", 7) : NULL;
        rd_fallback_result r;
        rd_fallback_eval(f, feat, ctx, &a, &r);
        if (r.rule >= rd_fallback_count(f) || !r.name || !r.risk_level || !r.decision || !r.reason)
            abort();
        if (r.rule + 1 == rd_fallback_count(f) && !strcmp(r.decision, "approve"))
            abort(); /* the default never approves */
        rd_arena_deinit(&a);
        rd_fallback_unref(f);
    } else if (err.code == RD_OK || !err.msg[0]) {
        abort(); /* a refusal always says why */
    }
    const char *nul2 = nul ? memchr(nul + 1, '\0', size - rules_len - 1) : NULL;
    if (nul2)
        check_fault(nul2 + 1, size - (size_t)(nul2 + 1 - text));
    return 0;
}
