/* riskd ab: the A/B report of a routing flag's variants, from the decision log or a CSV
 * (include/riskd/analysis.h, rd_ab). This file reads argv and prints. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "riskd/analysis.h"

static const char usage[] =
    "usage: riskd ab --data-dir DIR --flag KEY [--from T] [--to T] [--stage NAME] [--outcome NAME]\n"
    "                [--segments PLAN [--segment-min N]]\n"
    "       riskd ab --in FILE.csv --variant-col C --decision-col C --score-col C [--label-col C]\n"
    "                [--weights V=W,V=W]\n"
    "       common: [--control NAME] [--alpha 0.05] [--power 0.8] [--min-bads 100] [--json] [--html FILE]\n"
    "\n"
    "Per variant of a routing flag: units, approval rate, mean score and, once outcomes exist,\n"
    "the bad rate among the approved; each compared with the control: the difference with its\n"
    "confidence interval and p-value (approval and bad rate: two-proportion z-test; mean score:\n"
    "Welch's t with the relative lift), Holm-Bonferroni across every comparison, a sentence in\n"
    "plain words, and the units per arm a difference of that size needs at the power. A\n"
    "comparison from too little data says what it needs instead of a number (rates: 10\n"
    "successes and 10 failures per arm; bad rates: 100 bads among the approved).\n"
    "Sample ratio mismatch: per stage (each flag revision in the log), the units per variant\n"
    "against the weights of the flag's fractional split (chi-squared, fails at p < 0.001).\n"
    "\n"
    "  --data-dir DIR      the decision log in DIR/riskd.db: primary decisions routed by --flag\n"
    "  --from, --to        decided in [T, T') (a UTC date or time, or unix ms)\n"
    "  --stage NAME        only while the flag's rollout was at stage NAME\n"
    "  --outcome NAME      the outcome definition for bad rates (default: the only one recorded)\n"
    "  --segments PLAN     add the fair-lending table of the rollout plan's segments (its\n"
    "                      \"segments\": JSONLogic over the logged context and features): per\n"
    "                      segment and variant the approval rate and the adverse impact ratio\n"
    "                      against the plan's reference segment (under 0.8 flagged: the\n"
    "                      four-fifths rule), and the difference from the control with its\n"
    "                      Newcombe interval, the figures the plan's segment gates judge.\n"
    "                      Segment attributes must be held and used lawfully\n"
    "  --segment-min N     applicants per group and arm below which a figure is insufficient\n"
    "                      (default 100)\n"
    "  --in FILE.csv       decisions made elsewhere: one row per decision, with the variant,\n"
    "                      the decision (approve, review or reject), the score (empty: none)\n"
    "                      and optionally the label (0 good, 1 bad, empty: not known yet)\n"
    "  --weights V=W,...   the CSV's configured split, for SRM\n"
    "  --control NAME      the control (default: the flag's default variant; CSV: the first)\n"
    "  --json              one JSON object (docs/schema/ab.json) instead of the table\n"
    "  --html FILE         also write a self-contained HTML report with plots\n"
    "\n"
    "exit codes: 0 success, 1 invalid input (an unknown flag or variant, a malformed CSV row),\n"
    "            2 usage error, 4 I/O error\n";

static bool parse_count(const char *s, uint64_t *out)
{
    char *end;
    unsigned long long v = strtoull(s, &end, 10);
    if (*end || !*s || *s == '-' || v == 0) {
        cli_errorf("--min-bads %s: expected a whole number above 0", s);
        return false;
    }
    *out = v;
    return true;
}

static int usage_error(void)
{
    fputs(usage, stderr);
    return CLI_USAGE;
}

static bool parse_prob(const char *name, const char *s, double *out)
{
    char *end;
    double v = strtod(s, &end);
    if (*end || !(v > 0 && v < 1)) {
        cli_errorf("%s %s: expected a number between 0 and 1", name, s);
        return false;
    }
    *out = v;
    return true;
}

/* argv into the options; -1 to go on, else the exit code. */
static int parse_args(int argc, char **argv, rd_ab_opts *o, rd_an_source *src, const char **dir,
                      const char **html, const char **segments, bool *json)
{
    static const struct option opts[] = {
        {"help", no_argument, NULL, 'h'},
        {"data-dir", required_argument, NULL, 'd'},
        {"store", required_argument, NULL, 'd'},
        {"flag", required_argument, NULL, 'F'},
        {"from", required_argument, NULL, 'f'},
        {"to", required_argument, NULL, 't'},
        {"stage", required_argument, NULL, 's'},
        {"outcome", required_argument, NULL, 'o'},
        {"in", required_argument, NULL, 'i'},
        {"variant-col", required_argument, NULL, 'V'},
        {"decision-col", required_argument, NULL, 'D'},
        {"score-col", required_argument, NULL, 'S'},
        {"label-col", required_argument, NULL, 'L'},
        {"weights", required_argument, NULL, 'w'},
        {"control", required_argument, NULL, 'c'},
        {"alpha", required_argument, NULL, 'a'},
        {"power", required_argument, NULL, 'p'},
        {"min-bads", required_argument, NULL, 'm'},
        {"json", no_argument, NULL, 'j'},
        {"html", required_argument, NULL, 'H'},
        {"segments", required_argument, NULL, 'G'},
        {"segment-min", required_argument, NULL, 'M'},
        {NULL, 0, NULL, 0},
    };
    int c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        switch (c) {
        case 'h': fputs(usage, stdout); return CLI_OK;
        case 'd': *dir = optarg; break;
        case 'F': o->flag = optarg; break;
        case 's': o->stage = optarg; break;
        case 'o': src->outcome = optarg; break;
        case 'i': src->csv = optarg; break;
        case 'V': o->variant_col = optarg; break;
        case 'D': o->decision_col = optarg; break;
        case 'S': o->score_col = optarg; break;
        case 'L': o->label_col = optarg; break;
        case 'w': o->weights = optarg; break;
        case 'c': o->control = optarg; break;
        case 'j': *json = true; break;
        case 'H': *html = optarg; break;
        case 'G': *segments = optarg; break;
        case 'M': {
            char *end;
            unsigned long long v = strtoull(optarg, &end, 10);
            if (*end || !*optarg || *optarg == '-' || v == 0) {
                cli_errorf("--segment-min %s: expected a whole number above 0", optarg);
                return CLI_USAGE;
            }
            o->segment_min = v;
            break;
        }
        case 'a':
        case 'p':
            if (!parse_prob(c == 'a' ? "--alpha" : "--power", optarg, c == 'a' ? &o->alpha : &o->power))
                return CLI_USAGE;
            break;
        case 'm':
            if (!parse_count(optarg, &o->min_bads))
                return CLI_USAGE;
            break;
        case 'f':
        case 't':
            if (cli_parse_time(optarg, c == 'f' ? &src->from_ms : &src->to_ms) != 0) {
                cli_errorf(
                    "--%s %s: expected a UTC date (2026-12-01), time (2026-12-01T08:30:00Z) or unix ms",
                    c == 'f' ? "from" : "to", optarg);
                return CLI_USAGE;
            }
            break;
        default: return usage_error();
        }
    }
    return optind != argc ? usage_error() : -1;
}

/* Which options go with which source; -1 when they agree. */
static int check_args(const rd_ab_opts *o, const rd_an_source *src, const char *dir)
{
    if (!dir == !src->csv) {
        cli_errorf("ab needs exactly one of --data-dir (the log) or --in (a CSV)");
        return usage_error();
    }
    if (dir &&
        (!o->flag || o->variant_col || o->decision_col || o->score_col || o->label_col || o->weights)) {
        cli_errorf(o->flag
                       ? "--variant-col, --decision-col, --score-col, --label-col and --weights are for --in"
                       : "the log needs --flag: the routing flag whose variants are compared");
        return CLI_USAGE;
    }
    if (src->csv && (o->flag || o->stage || src->outcome || src->from_ms || src->to_ms || o->segments ||
                     o->segment_min)) {
        cli_errorf("--flag, --stage, --outcome, --from, --to and --segments are for the log (--data-dir)");
        return CLI_USAGE;
    }
    if (src->csv && (!o->variant_col || !o->decision_col || !o->score_col)) {
        cli_errorf("a CSV needs --variant-col, --decision-col and --score-col");
        return CLI_USAGE;
    }
    return -1;
}

int cmd_ab(int argc, char **argv)
{
    rd_ab_opts o;
    rd_ab_opts_default(&o);
    rd_an_source src = {0};
    const char *dir = NULL, *html = NULL, *segments = NULL;
    bool json = false;
    int rc = parse_args(argc, argv, &o, &src, &dir, &html, &segments, &json);
    rd_plan *plan = NULL;
    rd_err perr;
    if (rc < 0 && segments && rd_plan_load(segments, &plan, &perr)) {
        cli_errorf("--segments %s: %s", segments, perr.msg);
        return cli_exit_for(perr.code);
    }
    o.segments = plan;
    if (rc < 0)
        rc = check_args(&o, &src, dir);
    if (rc >= 0) {
        rd_plan_free(plan);
        return rc;
    }
    rd_store *s = NULL;
    rc = dir ? cli_report_store(dir, &s) : CLI_OK;
    if (rc) {
        rd_plan_free(plan);
        return rc;
    }
    cli_progress bar;
    cli_progress_init(&bar, "riskd ab: reading");
    src.store = s;
    src.progress = cli_report_progress;
    src.ud = &bar;
    rd_arena a;
    rd_arena_init(&a, 0);
    rd_ab_result r;
    rd_err err;
    rc = rd_ab(&src, &o, &a, &r, &err);
    cli_progress_end(&bar);
    if (rc) {
        cli_errorf("%s", err.msg);
        rc = cli_exit_for(rc);
    } else {
        rd_buf jb, tb;
        rd_buf_init(&jb);
        rd_buf_init(&tb);
        rd_ab_json(&jb, &r);
        if (!json)
            rd_ab_text(&tb, &r);
        rc = cli_report_emit("ab", &jb, &tb, json, html);
        rd_buf_deinit(&jb);
        rd_buf_deinit(&tb);
    }
    rd_arena_deinit(&a);
    rd_plan_free(plan);
    if (s)
        rd_store_close(s);
    return rc;
}
