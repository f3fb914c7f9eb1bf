/* A test tool, not a riskd command: append audit entries to DIR's store, one per line of
 * stdin, each a JSON object {"ts_ms", "actor", "action", "object", "before_sha256",
 * "after_sha256", "detail"} (ts_ms and the shas may be absent; detail an object). Prints each
 * new seq. The integration test (tests/integration/12-audit.sh) builds its chains with it
 * while no riskd command writes audit entries on its own.
 *
 * usage: audit_append DIR <entries.jsonl; exit 0, or 1 naming the line that failed. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "riskd/audit.h"
#include "riskd/json.h"

static const char *str(const rd_value *o, const char *k)
{
    const rd_value *v = rd_value_get(o, k, strlen(k));
    return v && v->type == RD_VSTRING ? v->u.s : NULL;
}

static int append_line(rd_store *s, const char *line, size_t len, rd_arena *a, rd_err *err)
{
    rd_value v;
    int rc = rd_json_parse(line, len, NULL, a, &v, err);
    if (rc)
        return rc;
    if (v.type != RD_VOBJECT)
        return rd_err_set(err, RD_EINVAL, "not a JSON object");
    const rd_value *ts = rd_value_get(&v, "ts_ms", 5), *detail = rd_value_get(&v, "detail", 6);
    rd_buf d;
    rd_buf_init(&d);
    if (detail)
        rd_json_write(&d, detail);
    rd_audit_entry e = {
        .ts_ms = ts && ts->type == RD_VNUMBER ? (int64_t)ts->u.n : 0,
        .actor = str(&v, "actor"),
        .action = str(&v, "action"),
        .object = str(&v, "object"),
        .before_sha256 = str(&v, "before_sha256"),
        .after_sha256 = str(&v, "after_sha256"),
        .detail_json = detail ? rd_buf_cstr(&d) : NULL,
    };
    int64_t seq;
    rc = rd_audit_append(s, &e, &seq, err);
    if (!rc)
        printf("%lld\n", (long long)seq);
    rd_buf_deinit(&d);
    return rc;
}

int main(int argc, char **argv)
{
    if (argc != 2) {
        fputs("usage: audit_append DIR <entries.jsonl\n", stderr);
        return 2;
    }
    rd_store *s;
    rd_err err;
    if (rd_store_open(argv[1], NULL, &s, &err) != RD_OK) {
        fprintf(stderr, "audit_append: %s\n", err.msg);
        return 1;
    }
    rd_arena a;
    rd_arena_init(&a, 0);
    char *line = NULL;
    size_t cap = 0;
    ssize_t n;
    int rc = 0;
    for (long no = 1; !rc && (n = getline(&line, &cap, stdin)) > 0; no++) {
        rd_arena_reset(&a);
        if (n == 1)
            continue;
        if ((rc = append_line(s, line, (size_t)n, &a, &err)))
            fprintf(stderr, "audit_append: line %ld: %s\n", no, err.msg);
    }
    free(line);
    rd_arena_deinit(&a);
    rd_store_close(s);
    return rc ? 1 : 0;
}
