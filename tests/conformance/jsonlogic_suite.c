/* The official JSONLogic suite (shared/conformance/jsonlogic/tests.json, 278 cases of
 * [rule, data, expected]) run against riskd's engine. Strings in the array are section
 * headers. Cases where riskd follows Go flagd's engine rather than JSONLogic's reference
 * are skipped by rule text below, each with its reason. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "riskd/riskd.h"

struct skip {
    const char *rule; /* the rule as compact JSON */
    const char *why;
};

static const struct skip skips[] = {
    {NULL, NULL},
};

static const char *shared_dir(void)
{
    const char *s = getenv("RISKD_SHARED");
    return s && *s ? s : "../shared";
}

static const char *skip_reason(const char *rule_json)
{
    for (const struct skip *s = skips; s->rule; s++)
        if (strcmp(s->rule, rule_json) == 0)
            return s->why;
    return NULL;
}

int main(void)
{
    char path[4096];
    snprintf(path, sizeof(path), "%s/conformance/jsonlogic/tests.json", shared_dir());
    char *text;
    size_t len;
    rd_err err;
    if (rd_file_read(path, 0, &text, &len, &err) != RD_OK) {
        printf("skipped: peer suite not present (%s)\n0 passed, 0 failed, 1 skipped\n", err.msg);
        return 0;
    }
    rd_arena doc, scratch;
    rd_arena_init(&doc, 0);
    rd_arena_init(&scratch, 0);
    rd_value all;
    if (rd_json_parse(text, len, NULL, &doc, &all, &err) != RD_OK || all.type != RD_VARRAY) {
        printf("jsonlogic: %s: %s\n0 passed, 1 failed\n", path, err.msg);
        return 1;
    }
    int passed = 0, failed = 0, skipped = 0;
    rd_buf b, got;
    rd_buf_init(&b);
    rd_buf_init(&got);
    for (uint32_t i = 0; i < all.len; i++) {
        const rd_value *c = &all.u.items[i];
        if (c->type != RD_VARRAY || c->len != 3)
            continue; /* section header */
        rd_buf_reset(&b);
        rd_json_write(&b, &c->u.items[0]);
        const char *why = skip_reason(rd_buf_cstr(&b));
        if (why) {
            printf("skip: %s (%s)\n", rd_buf_cstr(&b), why);
            skipped++;
            continue;
        }
        rd_logic *l;
        rd_value r;
        int rc = rd_logic_compile(&c->u.items[0], NULL, &l, &err);
        if (rc == RD_OK) {
            rc = rd_logic_eval(l, &c->u.items[1], NULL, &scratch, &r, &err);
            if (rc == RD_OK && rd_value_equal(&r, &c->u.items[2])) {
                passed++;
            } else {
                rd_buf_reset(&got);
                if (rc == RD_OK)
                    rd_json_write(&got, &r);
                else
                    rd_buf_printf(&got, "error: %s", err.msg);
                rd_buf_puts(&b, " data=");
                rd_json_write(&b, &c->u.items[1]);
                rd_buf_puts(&b, " expected=");
                rd_json_write(&b, &c->u.items[2]);
                printf("FAIL: %s got=%s\n", rd_buf_cstr(&b), rd_buf_cstr(&got));
                failed++;
            }
            rd_logic_free(l);
        } else {
            printf("FAIL: %s compile: %s\n", rd_buf_cstr(&b), err.msg);
            failed++;
        }
        rd_arena_reset(&scratch);
    }
    printf("jsonlogic suite: %d cases\n%d passed, %d failed, %d skipped\n", passed + failed + skipped, passed,
           failed, skipped);
    rd_buf_deinit(&b);
    rd_buf_deinit(&got);
    rd_arena_deinit(&doc);
    rd_arena_deinit(&scratch);
    rd_free(text);
    /* the suite was there: a run that checked nothing is a failure, not a pass */
    return failed || passed == 0 ? 1 : 0;
}
