/* libFuzzer target: rollout plans (rd_plan_parse), and the flag-file rewrite the controller
 * does with them. The input is split at the first NUL: a plan, then a flag set. An accepted
 * plan must keep its invariants (1..RD_PLAN_MAX_STAGES stages, weights within 0..100000 and
 * never decreasing, deadlines not before holds); a refusal must say why; every stage's
 * targeting rewritten into the flag set either gives a text that differs from the original only
 * inside the two values it owns or a refusal with a message. Nothing may crash or leak. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "riskd/rollout.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *text = (const char *)data;
    const char *nul = memchr(text, '\0', size);
    size_t plen = nul ? (size_t)(nul - text) : size;
    rd_plan *p = NULL;
    rd_err err;
    int rc = rd_plan_parse(text, plen, &p, &err);
    if (rc != RD_OK) {
        if (err.code != rc || !err.msg[0])
            abort();
        return 0;
    }
    if (p->nstages < 1 || p->nstages > RD_PLAN_MAX_STAGES)
        abort();
    for (size_t i = 0; i < p->nstages; i++) {
        const rd_stage *s = &p->stages[i];
        if (s->candidate > RD_ROLLOUT_TOTAL || (i && s->candidate < p->stages[i - 1].candidate) ||
            s->hold_ms <= 0 || (s->deadline_ms && s->deadline_ms < s->hold_ms))
            abort();
    }
    if (nul) {
        const char *flags = nul + 1;
        size_t flen = size - plen - 1;
        for (size_t i = 0; i <= p->nstages; i++) {
            rd_buf t, out;
            rd_buf_init(&t);
            rd_buf_init(&out);
            bool back = i == p->nstages;
            const rd_stage *s = &p->stages[back ? 0 : i];
            if (rd_plan_stage_targeting(p, s, back, &t) == RD_OK) {
                rc = rd_flagfile_rewrite(flags, flen, p->route_flag, rd_buf_cstr(&t),
                                         p->shadow_flag[0] ? p->shadow_flag : NULL,
                                         p->shadow_flag[0] ? (s->shadow && !back ? p->shadow_on : p->shadow_off) : NULL,
                                         &out, &err);
                if (rc != RD_OK && (err.code != rc || !err.msg[0]))
                    abort();
            }
            rd_buf_deinit(&t);
            rd_buf_deinit(&out);
        }
    }
    rd_plan_free(p);
    return 0;
}
