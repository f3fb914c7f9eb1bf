/* riskd bundle build | verify | inspect. */
#include <getopt.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "riskd/arena.h"
#include "riskd/bundle.h"
#include "riskd/json.h"

static const char bundle_usage[] =
    "usage: riskd bundle <build|verify|inspect> ...\n"
    "\n"
    "  build    make a bundle from a model, a pipeline spec and a data set (riskd bundle build --help)\n"
    "  verify   check every checksum and re-predict the embedded sample rows\n"
    "  inspect  show what a bundle holds\n"
    "\n"
    "exit codes: 0 success, 1 invalid or corrupt bundle or input, 2 usage error, 4 I/O error\n";

static const char build_usage[] =
    "usage: riskd bundle build --name NAME --model FILE --data DATA.csv [--pipeline SPEC.json]\n"
    "                          [--label COL [--positive VALUE]] [--risk-bands BANDS.json]\n"
    "                          [--samples N] [--reasons K] [--out DIR] [--created-by WHO]\n"
    "                          [--fallback RULES.json] [--deadline-ms N] [--test-data HOLDOUT.csv]\n"
    "                          [--output-kind probability|score|margin]\n"
    "\n"
    "Make the bundle directory NAME (or DIR): the model, its pipeline, the training reference\n"
    "(score deciles and per-input distributions of DATA.csv) and manifest.json with the\n"
    "SHA-256 of every file, the training metrics, the risk bands and N sample rows with their\n"
    "expected outputs. The bundle is loaded and verified before the command succeeds.\n"
    "It refuses (exit 1, saying what to do) a pipeline input or label that is not a column of\n"
    "the data, a --positive value the label never takes, a label with one class, an output kind\n"
    "the model's objective does not give, bands with a gap, an overlap or a cut outside the\n"
    "score's range; it warns (stderr and the manifest's checks.warnings) of an AUC below 0.5\n"
    "and of an input missing in more than half the rows (docs/mistakes.md).\n"
    "\n"
    "  --name NAME         {product}_{model_type}_v{major}.{minor}, e.g. credit_xgb_v1.0\n"
    "  --model FILE        XGBoost JSON, LightGBM text, a WOE scorecard or a logistic regression\n"
    "  --pipeline SPEC     the feature spec (required except for a scorecard: derived from its bins)\n"
    "  --data DATA.csv     raw applications, one per row, with a header (the training sample)\n"
    "  --label COL         the outcome column: AUC and KS are computed against it\n"
    "  --positive VALUE    the label value of the positive (bad) class (default 1)\n"
    "  --test-data FILE    a holdout CSV (same columns): AUC, KS and positive rate on it too,\n"
    "                      recorded as test.metrics beside training.metrics (needs --label)\n"
    "  --output-kind KIND  what the score is: probability (default; the objective must give one:\n"
    "                      binary:logistic, LightGBM binary), score (scorecard points, the default\n"
    "                      for a scorecard, or a regression or ranking model's output) or margin\n"
    "                      (the raw margin, e.g. binary:logitraw); the bands are over it\n"
    "  --risk-bands FILE   a JSON array of {level, min, max, decision} covering every score\n"
    "                      (default: the safest 50% low/approve, next 30% medium/review, riskiest\n"
    "                      20% high/reject, from the scores of DATA.csv)\n"
    "  --samples N         sample rows embedded for verify (default 20)\n"
    "  --reasons K         reason codes per decision, up to 16 (default 4)\n"
    "  --fallback FILE     fallback rules packed as fallback.json (checksummed): what answers when\n"
    "                      the model cannot (docs/formats.md, \"Fallback rules\")\n"
    "  --deadline-ms N     the model's deadline when served (serving.deadline_ms; default: the\n"
    "                      service's deadline_ms)\n";

static const char verify_usage[] =
    "usage: riskd bundle verify DIR\n"
    "\n"
    "Check the SHA-256 of every file the manifest lists, load the model, the pipeline and the\n"
    "fallback rules (compiled), and re-predict the sample rows the manifest embeds (score and\n"
    "reason codes).\n";

static const char inspect_usage[] =
    "usage: riskd bundle inspect DIR [--json]\n"
    "\n"
    "Show a bundle's name, model, features, training metrics, risk bands and files\n"
    "(--json: the manifest itself). The bundle is verified as it loads.\n";

static void build_progress(void *ud, uint64_t done, uint64_t total)
{
    cli_progress_update(ud, done, total, "bytes");
}

/* Warnings, printed once the progress bar has ended its line. */
typedef struct build_warnings {
    char msg[16][256];
    size_t n, dropped;
} build_warnings;

static void build_warn(void *ud, const char *msg)
{
    build_warnings *w = ud;
    if (w->n < sizeof(w->msg) / sizeof(w->msg[0]))
        snprintf(w->msg[w->n++], sizeof(w->msg[0]), "%s", msg);
    else
        w->dropped++;
}

static int cmd_build(int argc, char **argv)
{
    static const struct option opts[] = {
        {"help", no_argument, NULL, 'h'},
        {"name", required_argument, NULL, 'n'},
        {"model", required_argument, NULL, 'm'},
        {"pipeline", required_argument, NULL, 'p'},
        {"data", required_argument, NULL, 'd'},
        {"label", required_argument, NULL, 'l'},
        {"positive", required_argument, NULL, 'P'},
        {"risk-bands", required_argument, NULL, 'b'},
        {"samples", required_argument, NULL, 's'},
        {"reasons", required_argument, NULL, 'r'},
        {"out", required_argument, NULL, 'o'},
        {"created-by", required_argument, NULL, 'c'},
        {"fallback", required_argument, NULL, 'f'},
        {"deadline-ms", required_argument, NULL, 'D'},
        {"test-data", required_argument, NULL, 't'},
        {"output-kind", required_argument, NULL, 'k'},
        {NULL, 0, NULL, 0},
    };
    rd_bundle_build_opts o = {0};
    const char *bands_path = NULL;
    int c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        switch (c) {
        case 'h': fputs(build_usage, stdout); return CLI_OK;
        case 'n': o.name = optarg; break;
        case 'm': o.model_path = optarg; break;
        case 'p': o.pipeline_path = optarg; break;
        case 'd': o.data_path = optarg; break;
        case 'l': o.label = optarg; break;
        case 'P': o.positive = optarg; break;
        case 'b': bands_path = optarg; break;
        case 'o': o.out_dir = optarg; break;
        case 'c': o.created_by = optarg; break;
        case 'f': o.fallback_path = optarg; break;
        case 't': o.test_data_path = optarg; break;
        case 'k':
            if (strcmp(optarg, "probability") != 0 && strcmp(optarg, "score") != 0 &&
                strcmp(optarg, "margin") != 0) {
                cli_errorf("--output-kind: probability, score or margin, not \"%s\"", optarg);
                return CLI_USAGE;
            }
            o.output_kind = optarg;
            break;
        case 'D': {
            char *end;
            long v = strtol(optarg, &end, 10);
            if (*end || end == optarg || v < 1 || v > 600000) {
                cli_errorf("--deadline-ms: 1 to 600000");
                return CLI_USAGE;
            }
            o.deadline_ms = (int)v;
            break;
        }
        case 's':
        case 'r': {
            char *end;
            long v = strtol(optarg, &end, 10);
            if (*end || end == optarg || v < 1 || v > (c == 's' ? 1000 : 16)) {
                cli_errorf("--%s: 1 to %d", c == 's' ? "samples" : "reasons", c == 's' ? 1000 : 16);
                return CLI_USAGE;
            }
            *(c == 's' ? &o.samples : &o.reasons) = (size_t)v;
            break;
        }
        default: fputs(build_usage, stderr); return CLI_USAGE;
        }
    }
    if (!o.name || !o.model_path || !o.data_path || optind != argc) {
        fputs(build_usage, stderr);
        return CLI_USAGE;
    }
    if (!o.out_dir)
        o.out_dir = o.name;
    rd_err err;
    char *bands = NULL;
    size_t len;
    if (bands_path && rd_file_read(bands_path, 1u << 20, &bands, &len, &err) != RD_OK) {
        cli_errorf("%s", err.msg);
        return CLI_IO;
    }
    o.risk_bands = bands;
    cli_progress bar;
    cli_progress_init(&bar, "riskd bundle build: scoring the data");
    o.progress = build_progress;
    o.progress_ud = &bar;
    static build_warnings warned; /* 4 KiB: off the stack */
    warned.n = warned.dropped = 0;
    o.warn = build_warn;
    o.warn_ud = &warned;
    int rc = rd_bundle_build(&o, &err);
    cli_progress_end(&bar);
    rd_free(bands);
    for (size_t i = 0; i < warned.n; i++)
        cli_errorf("warning: %s", warned.msg[i]);
    if (warned.dropped)
        cli_errorf("warning: %zu more (the manifest's checks.warnings lists them all)", warned.dropped);
    if (rc != RD_OK) {
        cli_errorf("%s", err.msg);
        return cli_exit_for(rc);
    }
    if (warned.n)
        printf("%s: built and verified, with %zu warning%s (above, and in the manifest's checks.warnings)\n",
               o.out_dir, warned.n + warned.dropped, warned.n + warned.dropped > 1 ? "s" : "");
    else
        printf("%s: built and verified\n", o.out_dir);
    return CLI_OK;
}

static int load(const char *dir, rd_bundle **b)
{
    rd_err err;
    int rc = rd_bundle_load(dir, b, &err);
    if (rc != RD_OK) {
        cli_errorf("%s", err.msg);
        return cli_exit_for(rc);
    }
    return CLI_OK;
}

static int cmd_verify(int argc, char **argv)
{
    if (argc == 2 && (!strcmp(argv[1], "-h") || !strcmp(argv[1], "--help"))) {
        fputs(verify_usage, stdout);
        return CLI_OK;
    }
    if (argc != 2 || argv[1][0] == '-') {
        fputs(verify_usage, stderr);
        return CLI_USAGE;
    }
    rd_bundle *b;
    int rc = load(argv[1], &b);
    if (rc != CLI_OK)
        return rc;
    rd_err err;
    size_t n;
    const rd_value *files = rd_value_get(rd_bundle_manifest(b), "files", 5);
    if (rd_bundle_verify(b, &n, &err) != RD_OK) {
        cli_errorf("%s", err.msg);
        rc = CLI_INVALID_INPUT;
    } else {
        const rd_fallback *fb = rd_bundle_fallback(b);
        printf("%s: ok (%u files match their checksums, %zu sample rows re-predicted", rd_bundle_name(b),
               files ? files->len : 0, n);
        if (fb)
            printf(", %zu fallback rules compiled", rd_fallback_count(fb));
        else
            printf(", no fallback rules: the service-wide ones answer when it cannot");
        puts(")");
    }
    rd_bundle_free(b);
    return rc;
}

static const rd_value *at(const rd_value *o, const char *path)
{
    char key[64];
    while (o && *path) {
        size_t n = strcspn(path, ".");
        snprintf(key, sizeof(key), "%.*s", (int)n, path);
        o = o->type == RD_VOBJECT ? rd_value_get(o, key, strlen(key)) : NULL;
        path += n + (path[n] == '.');
    }
    return o;
}

static void print_value(const char *label, const rd_value *v)
{
    rd_buf b;
    rd_buf_init(&b);
    if (v && v->type == RD_VSTRING)
        rd_buf_append(&b, v->u.s, v->len);
    else if (v)
        rd_json_write(&b, v);
    else
        rd_buf_puts(&b, "-");
    printf("%-14s %s\n", label, rd_buf_cstr(&b));
    rd_buf_deinit(&b);
}

static void print_bands(const rd_value *bands)
{
    for (uint32_t i = 0; bands && bands->type == RD_VARRAY && i < bands->len; i++) {
        const rd_value *o = &bands->u.items[i], *lo = at(o, "min"), *hi = at(o, "max"),
                       *d = at(o, "decision");
        char a[32] = "-inf", z[32] = "+inf";
        if (lo && lo->type == RD_VNUMBER)
            snprintf(a, sizeof(a), "%.6g", lo->u.n);
        if (hi && hi->type == RD_VNUMBER)
            snprintf(z, sizeof(z), "%.6g", hi->u.n);
        printf("%-14s %-8s [%s, %s)%s%s\n", i ? "" : "risk bands", at(o, "level")->u.s, a, z, d ? " -> " : "",
               d && d->type == RD_VSTRING ? d->u.s : "");
    }
}

static int cmd_inspect(int argc, char **argv)
{
    bool json = false;
    const char *dir = NULL;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help")) {
            fputs(inspect_usage, stdout);
            return CLI_OK;
        } else if (!strcmp(argv[i], "--json")) {
            json = true;
        } else if (argv[i][0] != '-' && !dir) {
            dir = argv[i];
        } else {
            fputs(inspect_usage, stderr);
            return CLI_USAGE;
        }
    }
    if (!dir) {
        fputs(inspect_usage, stderr);
        return CLI_USAGE;
    }
    rd_bundle *b;
    int rc = load(dir, &b);
    if (rc != CLI_OK)
        return rc;
    const rd_value *m = rd_bundle_manifest(b);
    if (json) {
        rd_buf out;
        rd_buf_init(&out);
        rd_json_write(&out, m);
        puts(rd_buf_cstr(&out));
        rd_buf_deinit(&out);
    } else {
        print_value("name", at(m, "name"));
        print_value("created", at(m, "created_at"));
        print_value("created by", at(m, "created_by"));
        print_value("model", at(m, "model.format"));
        print_value("objective", at(m, "model.objective"));
        printf("%-14s %zu (from %zu inputs)\n", "features", rd_pipeline_num_features(rd_bundle_pipeline(b)),
               rd_pipeline_num_inputs(rd_bundle_pipeline(b)));
        print_value("inputs", at(m, "inputs"));
        print_value("output", at(m, "output.kind"));
        print_value("training data", at(m, "training.data_file"));
        print_value("rows", at(m, "training.rows"));
        print_value("metrics", at(m, "training.metrics"));
        if (at(m, "test"))
            print_value("test metrics", at(m, "test.metrics"));
        const rd_value *w = at(m, "checks.warnings");
        for (uint32_t i = 0; w && w->type == RD_VARRAY && i < w->len; i++)
            print_value(i ? "" : "warnings", &w->u.items[i]);
        print_bands(at(m, "risk_bands"));
        print_value("reason codes", at(m, "reason_codes.count"));
        const rd_fallback *fb = rd_bundle_fallback(b);
        if (fb)
            printf("%-14s %zu rules, version \"%s\"\n", "fallback", rd_fallback_count(fb),
                   rd_fallback_version(fb));
        else
            printf("%-14s none (the service-wide rules answer)\n", "fallback");
        if (rd_bundle_deadline_ms(b))
            printf("%-14s %d ms\n", "deadline", rd_bundle_deadline_ms(b));
        const rd_value *files = at(m, "files"), *samples = at(m, "samples");
        for (uint32_t i = 0; files && i < files->len; i++)
            printf("%-14s %-16s sha256 %s\n", i ? "" : "files", files->u.members[i].key,
                   files->u.members[i].val.u.s);
        printf("%-14s %u\n", "samples", samples && samples->type == RD_VARRAY ? samples->len : 0);
    }
    rd_bundle_free(b);
    return CLI_OK;
}

int cmd_bundle(int argc, char **argv)
{
    if (argc < 2) {
        fputs(bundle_usage, stderr);
        return CLI_USAGE;
    }
    const char *sub = argv[1];
    if (!strcmp(sub, "-h") || !strcmp(sub, "--help")) {
        fputs(bundle_usage, stdout);
        return CLI_OK;
    }
    if (!strcmp(sub, "build"))
        return cmd_build(argc - 1, argv + 1);
    if (!strcmp(sub, "verify"))
        return cmd_verify(argc - 1, argv + 1);
    if (!strcmp(sub, "inspect"))
        return cmd_inspect(argc - 1, argv + 1);
    cli_errorf("bundle: unknown subcommand \"%s\" (try riskd bundle --help)", sub);
    return CLI_USAGE;
}
