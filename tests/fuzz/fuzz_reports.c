/* libFuzzer target: the reports' CSV readers (riskd ab --in, riskd swapset --in) and their
 * writers. The input's first line is riskd ab's --weights (or, for swapset, ignored), the rest
 * a CSV with the columns arm,verdict,pd,bad (ab) or champ,chall,bad (swapset); the first byte's
 * low bit picks the report. Whatever is accepted must give valid JSON (it parses) whose HTML
 * embedding holds no "</" inside the data block; whatever is refused must say why; nothing
 * may crash or leak. */
#define _GNU_SOURCE
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "riskd/analysis.h"
#include "riskd/json.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_json(rd_buf *j, const char *kind)
{
    rd_arena a;
    rd_arena_init(&a, 1u << 26);
    rd_value v;
    rd_err err;
    if (rd_json_parse(j->data, j->len, NULL, &a, &v, &err) != RD_OK)
        abort(); /* a report that is not JSON */
    rd_arena_deinit(&a);
    rd_buf h;
    rd_buf_init(&h);
    rd_report_html(&h, kind, j->data, j->len);
    const char *start = strstr(rd_buf_cstr(&h), "type=\"application/json\"");
    const char *end = start ? strstr(start, "</script>") : NULL;
    if (!start || !end)
        abort();
    for (const char *p = strchr(start, '>') + 1; p < end; p++)
        if (*p == '<')
            abort(); /* the data could break out of its block */
    rd_buf_deinit(&h);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    bool swap = data[0] & 1;
    const char *nl = memchr(data + 1, '\n', size - 1);
    size_t wlen = nl ? (size_t)(nl - (const char *)data - 1) : 0;
    char weights[256] = "";
    if (wlen < sizeof weights && !memchr(data + 1, '\0', wlen)) /* a C string, as argv gives it */
        memcpy(weights, data + 1, wlen), weights[wlen] = '\0';
    const uint8_t *csv = nl ? (const uint8_t *)nl + 1 : data + 1;
    size_t clen = size - (size_t)(csv - data);
    int fd = memfd_create("fuzz_reports", 0);
    if (fd < 0)
        return 0;
    if (write(fd, swap ? "champ,chall,bad\n" : "arm,verdict,pd,bad\n", swap ? 16 : 19) < 0 ||
        (clen && write(fd, csv, clen) != (ssize_t)clen)) {
        close(fd);
        return 0;
    }
    char path[64];
    snprintf(path, sizeof path, "/proc/self/fd/%d", fd);
    rd_an_source src = {.csv = path};
    rd_arena a;
    rd_arena_init(&a, 1u << 26);
    rd_err err;
    rd_buf j, t;
    rd_buf_init(&j);
    rd_buf_init(&t);
    int rc;
    if (swap) {
        rd_swap_opts o;
        rd_swap_opts_default(&o);
        o.champion_col = "champ";
        o.challenger_col = "chall";
        o.label_col = "bad";
        o.champion_cutoff = 0.5;
        o.challenger_cutoff = 0.4;
        rd_swap_result r;
        if ((rc = rd_swapset(&src, &o, &a, &r, &err)) == RD_OK) {
            rd_swapset_json(&j, &r);
            rd_swapset_text(&t, &r);
        }
    } else {
        rd_ab_opts o;
        rd_ab_opts_default(&o);
        o.variant_col = "arm";
        o.decision_col = "verdict";
        o.score_col = "pd";
        o.label_col = "bad";
        o.weights = weights[0] ? weights : NULL;
        rd_ab_result r;
        if ((rc = rd_ab(&src, &o, &a, &r, &err)) == RD_OK) {
            rd_ab_json(&j, &r);
            rd_ab_text(&t, &r);
        }
    }
    if (rc == RD_OK)
        check_json(&j, swap ? "swapset" : "ab");
    else if (err.code != rc || !err.msg[0])
        abort();
    rd_buf_deinit(&j);
    rd_buf_deinit(&t);
    rd_arena_deinit(&a);
    close(fd);
    return 0;
}
