/* riskd skew: training-serving skew, the online decision log joined row by row to an offline CSV
 * of the same applications (include/riskd/analysis.h, rd_skew). This file reads argv and prints. */
#include <getopt.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "riskd/analysis.h"

static const char usage[] =
    "usage: riskd skew --data-dir DIR --offline FILE.csv --id COLUMN --bundle BUNDLE_DIR\n"
    "                  [--from T] [--to T] [--threshold 0.001] [--min-rows 1000] [--examples 20]\n"
    "                  [--json] [--html FILE]\n"
    "\n"
    "Training-serving skew: the primary decisions of DIR's log (decided in [T, T'), a UTC date or\n"
    "time, or unix ms) joined by request id to the rows of FILE.csv, the same applications as the\n"
    "offline (training, batch) system holds them, raw. The bundle's pipeline prepares both sides'\n"
    "raw values and the prepared vectors are compared: a numeric value differs when\n"
    "|online - offline| > 1e-9 + 1e-6 |offline|, a category (and missing against present) when not\n"
    "equal. Per pipeline input (a one-hot input is one line, naming the columns that differed):\n"
    "the mismatch rate and the largest difference. For decisions this very bundle made (its\n"
    "digest), the logged score against the bundle's score on the offline values (more than 1e-6\n"
    "differs). The first mismatching rows are listed with both raw values.\n"
    "\n"
    "An input differs when its mismatch rate exceeds --threshold over at least --min-rows joined\n"
    "rows, or when fewer rows joined but the mismatches already exceed threshold x min-rows.\n"
    "FILE.csv is read into memory; the log is streamed. Every input the file has no column for is\n"
    "named (its offline values are all missing, so it differs). --json prints the report as one\n"
    "JSON object (docs/reports.md); --html FILE writes it as a self-contained page too.\n"
    "\n"
    "exit codes: 0 consistent (or too few rows to judge: the report says so), 1 invalid input\n"
    "            (no id column, ids that join nothing, an id twice, a bundle that does not load),\n"
    "            2 usage error, 4 I/O error, 5 checked, and differences found\n";

static int usage_error(void)
{
    fputs(usage, stderr);
    return CLI_USAGE;
}

typedef struct args {
    const char *dir, *bundle, *html;
    bool json;
    rd_skew_opts o;
    int64_t from_ms, to_ms;
} args;

static int parse_count(const char *opt, const char *s, uint64_t *out)
{
    char *end;
    unsigned long long v = strtoull(s, &end, 10);
    if (!*s || *end || *s == '-') {
        cli_errorf("%s: \"%s\" is not a count", opt, s);
        return CLI_USAGE;
    }
    *out = v;
    return CLI_OK;
}

static int parse(int argc, char **argv, args *a)
{
    static const struct option opts[] = {
        {"help", no_argument, NULL, 'h'},
        {"data-dir", required_argument, NULL, 'd'}, {"store", required_argument, NULL, 'd'},
        {"offline", required_argument, NULL, 'o'},
        {"id", required_argument, NULL, 'i'},
        {"bundle", required_argument, NULL, 'b'},
        {"from", required_argument, NULL, 'f'},
        {"to", required_argument, NULL, 't'},
        {"threshold", required_argument, NULL, 'T'},
        {"min-rows", required_argument, NULL, 'm'},
        {"examples", required_argument, NULL, 'e'},
        {"json", no_argument, NULL, 'j'},
        {"html", required_argument, NULL, 'H'},
        {NULL, 0, NULL, 0},
    };
    rd_skew_opts_default(&a->o);
    int c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        uint64_t n;
        char *end;
        switch (c) {
        case 'h': fputs(usage, stdout); return -1;
        case 'd': a->dir = optarg; break;
        case 'o': a->o.offline = optarg; break;
        case 'i': a->o.id_col = optarg; break;
        case 'b': a->bundle = optarg; break;
        case 'j': a->json = true; break;
        case 'H': a->html = optarg; break;
        case 'T':
            a->o.threshold = strtod(optarg, &end);
            if (!*optarg || *end || !(a->o.threshold >= 0 && a->o.threshold < 1)) {
                cli_errorf("--threshold: \"%s\" is not a rate in [0, 1)", optarg);
                return CLI_USAGE;
            }
            break;
        case 'm':
            if (parse_count("--min-rows", optarg, &a->o.min_rows))
                return CLI_USAGE;
            break;
        case 'e':
            if (parse_count("--examples", optarg, &n))
                return CLI_USAGE;
            if (n > 10000) {
                cli_errorf("--examples: at most 10000");
                return CLI_USAGE;
            }
            a->o.max_examples = (size_t)n;
            break;
        case 'f':
        case 't':
            if (cli_parse_time(optarg, c == 'f' ? &a->from_ms : &a->to_ms)) {
                cli_errorf("--%s: \"%s\" is not a UTC date, a time like 2026-12-01T08:30:00Z, or unix ms",
                           c == 'f' ? "from" : "to", optarg);
                return CLI_USAGE;
            }
            break;
        default: return usage_error();
        }
    }
    if (!a->dir || !a->o.offline || !a->o.id_col || !a->bundle || optind != argc)
        return usage_error();
    if (a->from_ms && a->to_ms && a->from_ms >= a->to_ms) {
        cli_errorf("--from must come before --to: the range holds no time");
        return CLI_USAGE;
    }
    return CLI_OK;
}

int cmd_skew(int argc, char **argv)
{
    args a = {0};
    int rc = parse(argc, argv, &a);
    if (rc)
        return rc < 0 ? CLI_OK : rc;
    rd_err err;
    rd_bundle *b;
    if (rd_bundle_load(a.bundle, &b, &err) != RD_OK) {
        cli_errorf("--bundle %s: %s", a.bundle, err.msg);
        return CLI_INVALID_INPUT; /* a bundle that does not load is a bad argument, whatever the cause */
    }
    rd_store *s;
    if ((rc = cli_report_store(a.dir, &s)) != CLI_OK) {
        rd_bundle_free(b);
        return rc;
    }
    cli_progress bar;
    cli_progress_init(&bar, "riskd skew");
    rd_an_source src = {
        .store = s, .from_ms = a.from_ms, .to_ms = a.to_ms, .progress = cli_report_progress, .ud = &bar};
    rd_arena arena;
    rd_arena_init(&arena, 0);
    rd_skew_result r;
    rc = rd_skew(&src, b, &a.o, &arena, &r, &err);
    cli_progress_end(&bar);
    if (rc) {
        cli_errorf("%s", err.msg);
        rc = cli_exit_for(rc);
    } else {
        rd_buf json, text;
        rd_buf_init(&json);
        rd_buf_init(&text);
        rd_skew_json(&json, &r);
        rd_skew_text(&text, &r);
        rc = cli_report_emit("skew", &json, &text, a.json, a.html);
        if (!rc && r.missing_inputs)
            cli_errorf("%s has no column for: %s (compared as missing offline)", a.o.offline,
                       r.missing_inputs);
        if (!rc && r.differences)
            rc = CLI_DIFFERENT;
        rd_buf_deinit(&json);
        rd_buf_deinit(&text);
    }
    rd_arena_deinit(&arena);
    rd_store_close(s);
    rd_bundle_free(b);
    return rc;
}
