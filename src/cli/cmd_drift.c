/* riskd drift: a bundle's training reference against a window of the decision log or a CSV of
 * raw applications (include/riskd/analysis.h, rd_drift). This file reads argv and prints. */
#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "riskd/analysis.h"

static const char usage[] =
    "usage: riskd drift --bundle DIR (--data-dir DIR [--from T] [--to T] | --in FILE.csv)\n"
    "                   [--json] [--html FILE] [--check]\n"
    "\n"
    "Population drift: the bundle's training reference (its reference.json) against the\n"
    "applications decided in a window of the decision log (primary decisions in [T, T'): a UTC\n"
    "date or time, or unix ms) or in a CSV of raw applications (a header naming the inputs).\n"
    "\n"
    "For the score and every input: PSI on the reference's bins (numbers: the training deciles\n"
    "plus a missing bin; categories: the training levels, unseen, missing) with its noise floor\n"
    "(what PSI reaches by chance at alpha 0.001 for these sample sizes) and the bands < 0.10\n"
    "stable, 0.10-0.25 moderate, >= 0.25 major; KS drift against the reference's 1,000\n"
    "quantiles with its critical value (alpha 0.001) and the effect-size floor 0.05; missing\n"
    "and unseen-level rates. Inputs are sorted by PSI. A statistic from too few rows is not\n"
    "computed: it says how many it needs (PSI 1,000 rows, KS 100 values).\n"
    "The score is the logged one for decisions this bundle made, else the bundle scores the\n"
    "application; rows the pipeline refuses are skipped and counted.\n"
    "\n"
    "  --bundle DIR     the bundle whose reference is the baseline\n"
    "  --data-dir DIR   read the decision log in DIR/riskd.db\n"
    "  --in FILE.csv    read raw applications from a CSV instead\n"
    "  --from, --to     the log's window (default: all of it)\n"
    "  --json           one JSON object (docs/schema/drift.json) instead of the table\n"
    "  --html FILE      also write a self-contained HTML report with plots\n"
    "  --check          exit 5 when any variable alarms (for a pipeline that gates on drift)\n"
    "\n"
    "exit codes: 0 success, 1 invalid input (a bundle without a reference, a CSV whose columns\n"
    "            match no input, an empty window), 2 usage error, 4 I/O error, 5 an alarm (--check)\n";

static int usage_error(void)
{
    fputs(usage, stderr);
    return CLI_USAGE;
}

static bool any_alarm(const rd_drift_result *r)
{
    if (r->score.psi_alarm || r->score.ks_alarm)
        return true;
    for (size_t i = 0; i < r->ninputs; i++)
        if (r->inputs[i].psi_alarm || r->inputs[i].ks_alarm)
            return true;
    return false;
}

int cmd_drift(int argc, char **argv)
{
    static const struct option opts[] = {
        {"help", no_argument, NULL, 'h'},           {"bundle", required_argument, NULL, 'b'},
        {"data-dir", required_argument, NULL, 'd'}, {"store", required_argument, NULL, 'd'}, {"in", required_argument, NULL, 'i'},
        {"from", required_argument, NULL, 'f'},     {"to", required_argument, NULL, 't'},
        {"json", no_argument, NULL, 'j'},           {"html", required_argument, NULL, 'H'},
        {"check", no_argument, NULL, 'c'},          {NULL, 0, NULL, 0},
    };
    const char *bdir = NULL, *dir = NULL, *in = NULL, *html = NULL;
    bool json = false, check = false;
    rd_an_source src = {0};
    int c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        switch (c) {
        case 'h': fputs(usage, stdout); return CLI_OK;
        case 'b': bdir = optarg; break;
        case 'd': dir = optarg; break;
        case 'i': in = optarg; break;
        case 'j': json = true; break;
        case 'c': check = true; break;
        case 'H': html = optarg; break;
        case 'f':
        case 't':
            if (cli_parse_time(optarg, c == 'f' ? &src.from_ms : &src.to_ms) != 0) {
                cli_errorf(
                    "--%s %s: expected a UTC date (2026-12-01), time (2026-12-01T08:30:00Z) or unix ms",
                    c == 'f' ? "from" : "to", optarg);
                return CLI_USAGE;
            }
            break;
        default: return usage_error();
        }
    }
    if (optind != argc || !bdir || !dir == !in) {
        cli_errorf("drift needs --bundle and exactly one of --data-dir or --in");
        return usage_error();
    }
    if (in && (src.from_ms || src.to_ms)) {
        cli_errorf("--from/--to select decisions of the log: a CSV is read whole");
        return CLI_USAGE;
    }
    rd_err err;
    rd_bundle *b;
    if (rd_bundle_load(bdir, &b, &err) != RD_OK) { /* a bundle that is not there is invalid input too */
        cli_errorf("--bundle %s: %s", bdir, err.msg);
        return CLI_INVALID_INPUT;
    }
    rd_store *s = NULL;
    int rc = dir ? cli_report_store(dir, &s) : CLI_OK;
    if (rc) {
        rd_bundle_free(b);
        return rc;
    }
    cli_progress bar;
    cli_progress_init(&bar, "riskd drift: reading");
    src.store = s;
    src.csv = in;
    src.progress = cli_report_progress;
    src.ud = &bar;
    rd_arena a;
    rd_arena_init(&a, 0);
    rd_drift_result r;
    rc = rd_drift(&src, b, &a, &r, &err);
    cli_progress_end(&bar);
    if (rc) {
        cli_errorf("%s", err.msg);
        rc = cli_exit_for(rc);
    } else {
        rd_buf jb, tb;
        rd_buf_init(&jb);
        rd_buf_init(&tb);
        rd_drift_json(&jb, &r);
        if (!json)
            rd_drift_text(&tb, &r);
        rc = cli_report_emit("drift", &jb, &tb, json, html);
        if (!rc && check && any_alarm(&r))
            rc = CLI_DIFFERENT;
        rd_buf_deinit(&jb);
        rd_buf_deinit(&tb);
    }
    rd_arena_deinit(&a);
    if (s)
        rd_store_close(s);
    rd_bundle_free(b);
    return rc;
}
