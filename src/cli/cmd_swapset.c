/* riskd swapset: champion against challenger at their decision cut-offs, from the decision log
 * (the challenger scored in shadow) or from a CSV of both scores (include/riskd/analysis.h,
 * rd_swapset). This file reads argv and prints. */
#include <getopt.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "riskd/analysis.h"

static const char usage[] =
    "usage: riskd swapset --data-dir DIR [--champion NAME] [--challenger NAME] [--outcome NAME]\n"
    "                     [--from T] [--to T] [--champion-cutoff X] [--challenger-cutoff Y]\n"
    "                     [--min-labelled 30] [--json] [--html FILE]\n"
    "       riskd swapset --in FILE.csv --champion-col C --challenger-col C\n"
    "                     --champion-cutoff X --challenger-cutoff Y [--label-col C] [--approve-above]\n"
    "                     [--min-labelled 30] [--json] [--html FILE]\n"
    "\n"
    "The swap set of a challenger against the champion: the 2x2 table of approve / decline under\n"
    "each (keep_in: both approve, swap_out: only the champion, swap_in: only the challenger,\n"
    "keep_out: neither) with counts, shares, both models' mean scores and, where labels exist, the\n"
    "bad rate per cell; both approval rates; the challenger cut-off that approves as many as the\n"
    "champion.\n"
    "\n"
    "Log (--data-dir): each primary decision of the champion (the bundle that decided; --champion\n"
    "when several did) paired with the challenger's shadow score of the same request id\n"
    "(--challenger when several bundles score in shadow), decided in [T, T') (a UTC date or time,\n"
    "or unix ms). Approve is the logged decision \"approve\" (review and reject decline) unless a\n"
    "side's cut-off is given: then a score below it approves, or at or above it for a bundle that\n"
    "gives scorecard points. Labels come from the outcome definition recorded (--outcome when\n"
    "several are).\n"
    "CSV (--in): the two score columns, both cut-offs, approve below them (--approve-above: at or\n"
    "above); the label column holds 0 (good), 1 (bad) or nothing (not known yet).\n"
    "\n"
    "A cell's bad rate needs --min-labelled labelled units (fewer: \"insufficient data\").\n"
    "--json prints the report as one JSON object (docs/reports.md); --html FILE writes a page too.\n"
    "\n"
    "exit codes: 0 success, 1 invalid input (no shadow records, several challengers or champions\n"
    "            and none chosen, an unknown name, a missing column, a score or label that is\n"
    "            none), 2 usage error (a cut-off that is not a number), 4 I/O error\n";

static int usage_error(void)
{
    fputs(usage, stderr);
    return CLI_USAGE;
}

typedef struct args {
    const char *dir, *in, *outcome, *html;
    bool json;
    rd_swap_opts o;
    int64_t from_ms, to_ms;
} args;

static int parse_cutoff(const char *opt, const char *s, double *out)
{
    char *end;
    double v = strtod(s, &end);
    if (!*s || *end || !isfinite(v)) {
        cli_errorf("%s: \"%s\" is not a number", opt, s);
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
        {"in", required_argument, NULL, 'i'},
        {"champion", required_argument, NULL, 'c'},
        {"challenger", required_argument, NULL, 'C'},
        {"outcome", required_argument, NULL, 'o'},
        {"from", required_argument, NULL, 'f'},
        {"to", required_argument, NULL, 't'},
        {"champion-cutoff", required_argument, NULL, 'x'},
        {"challenger-cutoff", required_argument, NULL, 'y'},
        {"champion-col", required_argument, NULL, '1'},
        {"challenger-col", required_argument, NULL, '2'},
        {"label-col", required_argument, NULL, 'l'},
        {"approve-above", no_argument, NULL, 'a'},
        {"min-labelled", required_argument, NULL, 'm'},
        {"json", no_argument, NULL, 'j'},
        {"html", required_argument, NULL, 'H'},
        {NULL, 0, NULL, 0},
    };
    rd_swap_opts_default(&a->o);
    int c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        char *end;
        switch (c) {
        case 'h': fputs(usage, stdout); return -1;
        case 'd': a->dir = optarg; break;
        case 'i': a->in = optarg; break;
        case 'c': a->o.champion = optarg; break;
        case 'C': a->o.challenger = optarg; break;
        case 'o': a->outcome = optarg; break;
        case '1': a->o.champion_col = optarg; break;
        case '2': a->o.challenger_col = optarg; break;
        case 'l': a->o.label_col = optarg; break;
        case 'a': a->o.approve_above = true; break;
        case 'j': a->json = true; break;
        case 'H': a->html = optarg; break;
        case 'x':
            if (parse_cutoff("--champion-cutoff", optarg, &a->o.champion_cutoff))
                return CLI_USAGE;
            break;
        case 'y':
            if (parse_cutoff("--challenger-cutoff", optarg, &a->o.challenger_cutoff))
                return CLI_USAGE;
            break;
        case 'm':
            a->o.min_labelled = strtoull(optarg, &end, 10);
            if (!*optarg || *end || *optarg == '-') {
                cli_errorf("--min-labelled: \"%s\" is not a count", optarg);
                return CLI_USAGE;
            }
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
    if (optind != argc || !a->dir == !a->in)
        return usage_error();
    const char *wrong = NULL;
    if (a->in) {
        if (a->o.champion || a->o.challenger || a->outcome || a->from_ms || a->to_ms)
            wrong =
                "--champion, --challenger, --outcome, --from and --to read the log (--data-dir), not --in";
        else if (!a->o.champion_col || !a->o.challenger_col)
            wrong = "--in needs --champion-col and --challenger-col";
        else if (isnan(a->o.champion_cutoff) || isnan(a->o.challenger_cutoff))
            wrong = "--in needs --champion-cutoff and --challenger-cutoff (a CSV holds no decisions)";
    } else if (a->o.champion_col || a->o.challenger_col || a->o.label_col || a->o.approve_above) {
        wrong =
            "--champion-col, --challenger-col, --label-col and --approve-above read a CSV (--in), not the "
            "log (each bundle's output kind says which way its cut-off approves)";
    }
    if (wrong) {
        cli_errorf("%s", wrong);
        return CLI_USAGE;
    }
    if (a->from_ms && a->to_ms && a->from_ms >= a->to_ms) {
        cli_errorf("--from must come before --to: the range holds no time");
        return CLI_USAGE;
    }
    return CLI_OK;
}

int cmd_swapset(int argc, char **argv)
{
    args a = {0};
    int rc = parse(argc, argv, &a);
    if (rc)
        return rc < 0 ? CLI_OK : rc;
    rd_store *s = NULL;
    char work[4096];
    if (a.dir) {
        if ((rc = cli_report_store(a.dir, &s)) != CLI_OK)
            return rc;
        snprintf(work, sizeof work, "%s/replay", a.dir); /* where riskd replay lays kept bundles out */
        a.o.work_dir = work;
    }
    cli_progress bar;
    cli_progress_init(&bar, "riskd swapset");
    rd_an_source src = {.store = s,
                        .from_ms = a.from_ms,
                        .to_ms = a.to_ms,
                        .outcome = a.outcome,
                        .csv = a.in,
                        .progress = cli_report_progress,
                        .ud = &bar};
    rd_arena arena;
    rd_arena_init(&arena, 0);
    rd_swap_result r;
    rd_err err;
    rc = rd_swapset(&src, &a.o, &arena, &r, &err);
    cli_progress_end(&bar);
    if (rc) {
        cli_errorf("%s", err.msg);
        rc = cli_exit_for(rc);
    } else {
        rd_buf json, text;
        rd_buf_init(&json);
        rd_buf_init(&text);
        rd_swapset_json(&json, &r);
        rd_swapset_text(&text, &r);
        rc = cli_report_emit("swapset", &json, &text, a.json, a.html);
        rd_buf_deinit(&json);
        rd_buf_deinit(&text);
    }
    rd_arena_deinit(&arena);
    if (s)
        rd_store_close(s);
    return rc;
}
