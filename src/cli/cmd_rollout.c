/* riskd rollout: staged rollouts of a candidate bundle by a routing flag (include/riskd/rollout.h).
 *
 * One function per subcommand, found through the table at the end; each parses its own
 * options and returns an exit code (cli.h). `validate` changes nothing: it reads the plan, and
 * when given them the flag file and the bundle directory, and says what a rollout would do. */
#include <dirent.h>
#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "cli.h"
#include "riskd/bundle.h"
#include "riskd/json.h"
#include "riskd/rollout.h"

#define MAX_FLAGS_BYTES (64u << 20)

static const char rollout_usage[] =
    "usage: riskd rollout <subcommand> [options]\n"
    "\n"
    "Roll a candidate bundle out against the control in stages, by a routing flag\n"
    "(docs/formats.md, \"Rollout plans\").\n"
    "\n"
    "subcommands:\n"
    "  validate PLAN [--flags FILE] [--bundles DIR] [--expected-rps N] [--reshuffle] [--json]\n"
    "      Check a plan, and print its stages: the candidate's share, hold, deadline, minimum\n"
    "      samples and gates.\n"
    "        --flags FILE        check it against the flag file that serves it: the routing flag's\n"
    "                            variants name the control and candidate bundles, its fractional\n"
    "                            lists the candidate first out of 100000 (so widening a stage never\n"
    "                            moves an applicant back), the shadow flag has the on/off variants,\n"
    "                            and every stage's targeting leaves a valid flag file\n"
    "        --bundles DIR       the control and candidate bundles load from DIR\n"
    "        --expected-rps N    warn of a stage whose traffic cannot bring its minimum samples (or\n"
    "                            the 1000 rows PSI needs) within its deadline at N requests/s\n"
    "        --reshuffle         accept a routing flag whose buckets the first stage will redraw\n"
    "        --json              print the checked plan (and warnings) as one JSON object\n"
    "\n"
    "  status --data-dir DIR [--flag KEY] [--json]\n"
    "      The rollouts riskd serve --rollout runs: state, stage, time in it, every gate's last\n"
    "      value, threshold, noise floor and verdict, the last transitions.\n"
    "  pause|resume|promote|rollback --data-dir DIR --flag KEY [--reason TEXT] [--actor NAME]\n"
    "      Change a rollout by hand; riskd serve follows at its next evaluation.\n"
    "  (riskd rollout SUBCOMMAND --help for each)\n"
    "\n"
    "exit codes: 0 ok (warnings allowed), 1 refused, 2 usage error, 4 a file could not be read\n";

/* ---------------------------------------------------------------- describing a plan */

static const char *const op_text[] = {"<", "<=", ">", ">="};
static const char *const cmp_text[] = {"absolute", "ratio", "difference"};

/* The candidate's share of the stage's traffic, e.g. "0.1%", "0% + segment", "0% (shadow)". */
static const char *share_text(const rd_stage *s, char *buf, size_t cap)
{
    snprintf(buf, cap, "%g%%%s%s", (double)s->candidate / (RD_ROLLOUT_TOTAL / 100.0),
             s->has_segment ? " + segment" : "", s->shadow ? " + shadow" : "");
    return buf;
}

/* Printed once per plan with segments (docs/plans/guardrails.md §2.3). */
static const char segments_note[] =
    "segment attributes must be held and used lawfully (docs/formats.md, \"Fair-lending segments\")";

static bool segment_gate(const rd_gate *g)
{
    return g->metric == RD_M_ADVERSE_IMPACT_RATIO || g->metric == RD_M_SEGMENT_APPROVE_RATE;
}

/* x with the shortest digits that read back as x (0.07, not 0.070000000000000007), in buf. */
static const char *num_text(double x, char *buf)
{
    buf[rd_num_format(x, buf)] = '\0';
    return buf;
}

static bool stage_capped(const rd_stage *s) { return s->caps.has_amount || s->caps.has_count; }

/* "caps: approved amount 150000 (15000000 units of 0.01), 2500 approvals" */
static void caps_text(const rd_plan *p, const rd_stage *s)
{
    char n[RD_NUM_BUF], u[RD_NUM_BUF];
    printf("        caps:");
    if (s->caps.has_amount)
        printf(" approved amount %s (%lld units of %s)%s", num_text(s->caps.max_amount, n),
               (long long)s->caps.max_amount_units, num_text(p->exposure.unit, u),
               s->caps.has_count ? "," : "");
    if (s->caps.has_count)
        printf(" %lld approvals", (long long)s->caps.max_count);
    printf("\n");
}

static void gate_text(const rd_gate *g, uint64_t stage_min, rd_buf *b)
{
    rd_buf_puts(b, rd_gate_metric_name(g->metric));
    if (g->metric == RD_M_ADVERSE_IMPACT_RATIO)
        rd_buf_printf(b, " of %s / %s", g->segment, g->reference);
    else if (g->metric == RD_M_SEGMENT_APPROVE_RATE)
        rd_buf_printf(b, " of %s", g->segment);
    if (g->compare != RD_CMP_ABSOLUTE)
        rd_buf_printf(b, " %s vs control", cmp_text[g->compare]);
    if (g->metric == RD_M_SEGMENT_APPROVE_RATE && g->interval)
        rd_buf_printf(b, ", judged on its %g%% interval", 100 * (1 - g->alpha));
    if (g->metric == RD_M_BAD_RATE)
        rd_buf_printf(b, " (%s): sequential test, alpha %g, nstar %g", g->outcome, g->alpha, g->nstar);
    else if (g->metric == RD_M_SRM)
        rd_buf_printf(b, ": fails when p < %g", g->alpha);
    if (g->has_pass)
        rd_buf_printf(b, ": pass %s %g, fail %s", op_text[g->pass_op], g->pass,
                      g->has_fail ? op_text[g->fail_op] : "");
    if (g->has_pass && g->has_fail)
        rd_buf_printf(b, " %g", g->fail);
    else if (g->has_pass)
        rd_buf_puts(b, "otherwise");
    if (g->sliding)
        rd_buf_puts(b, ", sliding window");
    if (g->failure_limit)
        rd_buf_printf(b, ", tolerates %d failures", g->failure_limit);
    if (segment_gate(g))
        rd_buf_printf(b, ", min %llu applicants per group and arm", (unsigned long long)g->min_samples);
    else if (g->min_samples != stage_min)
        rd_buf_printf(b, ", min %llu %s", (unsigned long long)g->min_samples,
                      g->metric == RD_M_BAD_RATE ? "outcomes" : "samples");
}

static void print_text(const char *path, const rd_plan *p, const char *flags, const char *bundles)
{
    char h[24], d[24], share[48];
    printf("%s: ok: plan \"%s\" (sha256 %.12s...), %zu stages, evaluated every %s\n", path, p->name,
           p->sha256, p->nstages, rd_duration_format(p->interval_ms, h, sizeof h));
    printf("  route flag %s: control %s (variant %s), candidate %s (variant %s)\n", p->route_flag, p->control,
           p->control_variant, p->candidate, p->candidate_variant);
    if (p->shadow_flag[0])
        printf("  shadow flag %s: \"%s\" in shadow stages, \"%s\" otherwise\n", p->shadow_flag, p->shadow_on,
               p->shadow_off);
    if (p->exposure.on) {
        char u[RD_NUM_BUF], sl[RD_NUM_BUF];
        printf("  exposure: amount from %s, unit %s, a node reserves %s of a cap at a time\n",
               p->exposure.amount_field[0] ? p->exposure.amount_field : "(none: count caps only)",
               num_text(p->exposure.unit, u), num_text(p->exposure.slice, sl));
    }
    if (flags || bundles)
        printf("  checked against:%s%s%s%s\n", flags ? " flags " : "", flags ? flags : "",
               bundles ? " bundles " : "", bundles ? bundles : "");
    if (p->nsegments) {
        printf("\n  segments:\n");
        for (size_t i = 0; i < p->nsegments; i++)
            printf("    %-20s %s%s\n", p->segments[i].name, p->segments[i].rule,
                   p->segments[i].reference ? "  (reference)" : "");
        printf("  note: %s\n", segments_note);
    }
    printf("\n  %-3s %-16s %-22s %-8s %-9s %s\n", "#", "stage", "candidate", "hold", "deadline",
           "min samples");
    rd_buf b;
    rd_buf_init(&b);
    for (size_t i = 0; i < p->nstages; i++) {
        const rd_stage *s = &p->stages[i];
        printf("  %-3zu %-16s %-22s %-8s %-9s %llu\n", i, s->name, share_text(s, share, sizeof share),
               rd_duration_format(s->hold_ms, h, sizeof h), rd_duration_format(s->deadline_ms, d, sizeof d),
               (unsigned long long)s->min_samples);
        if (s->has_segment)
            printf("        segment %s\n", s->segment);
        if (stage_capped(s))
            caps_text(p, s);
        for (size_t j = 0; j < s->ngates; j++) {
            rd_buf_reset(&b);
            gate_text(&s->gates[j], s->min_samples, &b);
            printf("        gate %s\n", rd_buf_cstr(&b));
        }
    }
    rd_buf_deinit(&b);
}

static void json_str(rd_buf *b, const char *key, const char *v)
{
    rd_buf_printf(b, "\"%s\":", key);
    if (v)
        rd_json_write_string(b, v, strlen(v));
    else
        rd_buf_puts(b, "null");
}

static void json_num(rd_buf *b, double x)
{
    char n[RD_NUM_BUF];
    rd_buf_append(b, n, rd_num_format(x, n));
}

static void json_gate(rd_buf *b, const rd_gate *g)
{
    rd_buf_putc(b, '{');
    json_str(b, "metric", rd_gate_metric_name(g->metric));
    rd_buf_putc(b, ',');
    json_str(b, "compare", cmp_text[g->compare]);
    rd_buf_puts(b, ",\"pass\":");
    if (g->has_pass) {
        rd_buf_printf(b, "{\"%s\":", op_text[g->pass_op]);
        json_num(b, g->pass);
        rd_buf_putc(b, '}');
    } else {
        rd_buf_puts(b, "null");
    }
    rd_buf_puts(b, ",\"fail\":");
    if (g->has_fail) {
        rd_buf_printf(b, "{\"%s\":", op_text[g->fail_op]);
        json_num(b, g->fail);
        rd_buf_putc(b, '}');
    } else {
        rd_buf_puts(b, "null");
    }
    rd_buf_printf(b, ",\"failure_limit\":%d,\"min_samples\":%llu,\"window\":\"%s\"", g->failure_limit,
                  (unsigned long long)g->min_samples, g->sliding ? "sliding" : "stage");
    if (g->metric == RD_M_BAD_RATE) {
        rd_buf_putc(b, ',');
        json_str(b, "outcome", g->outcome);
        rd_buf_puts(b, ",\"nstar\":");
        json_num(b, g->nstar);
    }
    if (segment_gate(g)) {
        rd_buf_putc(b, ',');
        json_str(b, "segment", g->segment);
    }
    if (g->metric == RD_M_ADVERSE_IMPACT_RATIO) {
        rd_buf_putc(b, ',');
        json_str(b, "reference", g->reference);
    }
    if (g->metric == RD_M_SEGMENT_APPROVE_RATE) {
        rd_buf_putc(b, ',');
        json_str(b, "judge", g->interval ? "interval" : "value");
    }
    if (g->metric == RD_M_BAD_RATE || g->metric == RD_M_SRM || g->metric == RD_M_SEGMENT_APPROVE_RATE) {
        rd_buf_puts(b, ",\"alpha\":");
        json_num(b, g->alpha);
    }
    rd_buf_putc(b, '}');
}

/* The plan's exposure: null when off; amount_field null for count caps only. */
static void json_exposure(rd_buf *b, const rd_plan_exposure *e)
{
    if (!e->on) {
        rd_buf_puts(b, "null");
        return;
    }
    rd_buf_putc(b, '{');
    json_str(b, "amount_field", e->amount_field[0] ? e->amount_field : NULL);
    rd_buf_puts(b, ",\"unit\":");
    json_num(b, e->unit);
    rd_buf_puts(b, ",\"slice\":");
    json_num(b, e->slice);
    rd_buf_putc(b, '}');
}

/* A stage's caps: null when none; a cap not set is null. */
static void json_caps(rd_buf *b, const rd_stage *s)
{
    if (!stage_capped(s)) {
        rd_buf_puts(b, "null");
        return;
    }
    rd_buf_puts(b, "{\"max_approved_amount\":");
    if (s->caps.has_amount) {
        json_num(b, s->caps.max_amount);
        rd_buf_printf(b, ",\"max_amount_units\":%lld", (long long)s->caps.max_amount_units);
    } else {
        rd_buf_puts(b, "null,\"max_amount_units\":null");
    }
    rd_buf_puts(b, ",\"max_approved_count\":");
    if (s->caps.has_count)
        rd_buf_printf(b, "%lld}", (long long)s->caps.max_count);
    else
        rd_buf_puts(b, "null}");
}

static void json_plan(rd_buf *b, const char *path, const rd_plan *p, const char *flags, const char *bundles,
                      bool reshuffle)
{
    rd_buf_puts(b, "{\"ok\":true,");
    json_str(b, "file", path);
    rd_buf_puts(b, ",\"plan\":{");
    json_str(b, "name", p->name);
    rd_buf_putc(b, ',');
    json_str(b, "sha256", p->sha256);
    rd_buf_putc(b, ',');
    json_str(b, "route_flag", p->route_flag);
    rd_buf_puts(b, ",\"shadow\":");
    if (p->shadow_flag[0]) {
        rd_buf_putc(b, '{');
        json_str(b, "flag", p->shadow_flag);
        rd_buf_putc(b, ',');
        json_str(b, "on", p->shadow_on);
        rd_buf_putc(b, ',');
        json_str(b, "off", p->shadow_off);
        rd_buf_putc(b, '}');
    } else {
        rd_buf_puts(b, "null");
    }
    rd_buf_puts(b, ",\"control\":{");
    json_str(b, "bundle", p->control);
    rd_buf_putc(b, ',');
    json_str(b, "variant", p->control_variant);
    rd_buf_puts(b, "},\"candidate\":{");
    json_str(b, "bundle", p->candidate);
    rd_buf_putc(b, ',');
    json_str(b, "variant", p->candidate_variant);
    rd_buf_printf(b, "},\"interval_ms\":%lld,\"segments\":[", (long long)p->interval_ms);
    for (size_t i = 0; i < p->nsegments; i++) {
        rd_buf_puts(b, i ? ",{" : "{");
        json_str(b, "name", p->segments[i].name);
        rd_buf_printf(b, ",\"rule\":%s,\"reference\":%s}", p->segments[i].rule,
                      p->segments[i].reference ? "true" : "false");
    }
    rd_buf_puts(b, "],\"exposure\":");
    json_exposure(b, &p->exposure);
    rd_buf_puts(b, ",\"stages\":[");
    for (size_t i = 0; i < p->nstages; i++) {
        const rd_stage *s = &p->stages[i];
        rd_buf_puts(b, i ? ",{" : "{");
        json_str(b, "name", s->name);
        rd_buf_printf(b, ",\"shadow\":%s,\"candidate_weight\":%u,\"candidate_percent\":",
                      s->shadow ? "true" : "false", s->candidate);
        json_num(b, (double)s->candidate / (RD_ROLLOUT_TOTAL / 100.0));
        rd_buf_printf(
            b, ",\"segment\":%s,\"hold_ms\":%lld,\"deadline_ms\":%lld,\"min_samples\":%llu,\"targeting\":",
            s->has_segment ? s->segment : "null", (long long)s->hold_ms, (long long)s->deadline_ms,
            (unsigned long long)s->min_samples);
        rd_plan_stage_targeting(p, s, false, b);
        rd_buf_puts(b, ",\"caps\":");
        json_caps(b, s);
        rd_buf_puts(b, ",\"gates\":[");
        for (size_t j = 0; j < s->ngates; j++) {
            if (j)
                rd_buf_putc(b, ',');
            json_gate(b, &s->gates[j]);
        }
        rd_buf_puts(b, "]}");
    }
    rd_buf_puts(b, "]},\"checked\":{");
    json_str(b, "flags", flags);
    rd_buf_putc(b, ',');
    json_str(b, "bundles", bundles);
    rd_buf_printf(b, ",\"reshuffle\":%s},\"notes\":[", reshuffle ? "true" : "false");
    if (p->nsegments)
        rd_json_write_string(b, segments_note, strlen(segments_note));
    rd_buf_puts(b, "],\"warnings\":[");
}

/* ---------------------------------------------------------------- validate */

typedef struct bundle_dir {
    char **names; /* loaded, by the name in their manifest */
    size_t n;
    char **failed; /* subdirectories that did not load: "DIR/name: why" */
    char **failed_dir;
    size_t nfailed;
} bundle_dir;

static void bundle_dir_free(bundle_dir *d)
{
    for (size_t i = 0; i < d->n; i++)
        free(d->names[i]);
    for (size_t i = 0; i < d->nfailed; i++) {
        free(d->failed[i]);
        free(d->failed_dir[i]);
    }
    free(d->names);
    free(d->failed);
    free(d->failed_dir);
}

static int push(char ***v, size_t n, char *s)
{
    char **nv = realloc(*v, (n + 1) * sizeof **v);
    if (!nv || !s) {
        free(s);
        if (nv)
            *v = nv;
        return -1;
    }
    *v = nv;
    nv[n] = s;
    return 0;
}

/* Load every bundle subdirectory of dir (as serve does: not hidden, not a build's temp). */
static int load_bundles(const char *dir, bundle_dir *out)
{
    DIR *d = opendir(dir);
    if (!d) {
        cli_errorf("%s: cannot read the bundle directory: %s", dir, strerror(errno));
        return CLI_IO;
    }
    for (struct dirent *e; (e = readdir(d));) {
        char path[4096];
        struct stat st;
        if (e->d_name[0] == '.' || strstr(e->d_name, ".tmp-"))
            continue;
        snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
        if (stat(path, &st) < 0 || !S_ISDIR(st.st_mode))
            continue;
        rd_bundle *b;
        rd_err err;
        if (rd_bundle_load(path, &b, &err) == RD_OK) {
            if (push(&out->names, out->n, strdup(rd_bundle_name(b))) == 0)
                out->n++;
            rd_bundle_free(b);
        } else {
            char *why = malloc(strlen(path) + strlen(err.msg) + 3);
            if (why)
                sprintf(why, "%s: %s", path, err.msg);
            if (push(&out->failed, out->nfailed, why) == 0 &&
                push(&out->failed_dir, out->nfailed, strdup(e->d_name)) == 0)
                out->nfailed++;
        }
    }
    closedir(d);
    return CLI_OK;
}

/* A plan bundle that is not loaded because its directory failed to load: say why. */
static bool explain_unloaded(const bundle_dir *d, const char *arm, const char *bundle, rd_err *err)
{
    for (size_t i = 0; i < d->n; i++)
        if (!strcmp(d->names[i], bundle))
            return false;
    for (size_t i = 0; i < d->nfailed; i++)
        if (!strcmp(d->failed_dir[i], bundle)) {
            rd_err_set(err, RD_EINVAL, "%s.bundle: \"%s\" is not loaded: %s", arm, bundle, d->failed[i]);
            return true;
        }
    return false;
}

/* Every stage's targeting (and the rollback's) written into the flag text must leave a flag
 * file that parses strictly: a segment's $ref to an evaluator the file lacks shows here. */
static int dry_run(const rd_plan *p, const char *text, size_t len, rd_err *err)
{
    rd_buf t, out;
    rd_buf_init(&t);
    rd_buf_init(&out);
    int rc = RD_OK;
    for (size_t i = 0; rc == RD_OK && i <= p->nstages; i++) {
        const rd_stage *s = i < p->nstages ? &p->stages[i] : NULL;
        rd_buf_reset(&t);
        rd_buf_reset(&out);
        rd_plan_stage_targeting(p, s, s == NULL, &t);
        const char *shadow = p->shadow_flag[0] ? p->shadow_flag : NULL;
        const char *variant = s && s->shadow ? p->shadow_on : p->shadow_off;
        rd_err e;
        rc = rd_flagfile_rewrite(text, len, p->route_flag, rd_buf_cstr(&t), shadow, variant, &out, &e);
        if (rc == RD_OK)
            continue;
        static const char inner[] = "the result would be refused: ";
        const char *why = strncmp(e.msg, inner, sizeof inner - 1) ? e.msg : e.msg + sizeof inner - 1;
        if (s)
            rd_err_set(err, rc,
                       "stages[%zu] (\"%s\")%s: the flag file this stage writes would be refused: %s", i,
                       s->name, s->has_segment ? ".segment" : "", why);
        else
            rd_err_set(err, rc, "the flag file a rollback writes would be refused: %s", why);
    }
    rd_buf_deinit(&t);
    rd_buf_deinit(&out);
    return rc;
}

typedef struct warn_ctx {
    bool json;
    rd_buf *b;
    size_t n;
} warn_ctx;

static void on_warning(void *ud, const char *msg)
{
    warn_ctx *w = ud;
    if (w->json) {
        if (w->n)
            rd_buf_putc(w->b, ',');
        rd_json_write_string(w->b, msg, strlen(msg));
    }
    fprintf(stderr, "riskd: warning: %s\n", msg);
    w->n++;
}

struct validate_args {
    const char *plan, *flags, *bundles;
    double rps;
    bool reshuffle, json;
};

static int validate_parse_args(int argc, char **argv, struct validate_args *a)
{
    enum { OPT_FLAGS = 256, OPT_BUNDLES, OPT_RPS, OPT_RESHUFFLE, OPT_JSON };
    static const struct option opts[] = {
        {"help", no_argument, NULL, 'h'},
        {"flags", required_argument, NULL, OPT_FLAGS},
        {"bundles", required_argument, NULL, OPT_BUNDLES},
        {"expected-rps", required_argument, NULL, OPT_RPS},
        {"reshuffle", no_argument, NULL, OPT_RESHUFFLE},
        {"json", no_argument, NULL, OPT_JSON},
        {NULL, 0, NULL, 0},
    };
    int c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        char *end;
        switch (c) {
        case 'h': fputs(rollout_usage, stdout); exit(CLI_OK);
        case OPT_FLAGS: a->flags = optarg; break;
        case OPT_BUNDLES: a->bundles = optarg; break;
        case OPT_RPS:
            errno = 0;
            a->rps = strtod(optarg, &end);
            if (errno || *end || !(a->rps > 0) || !isfinite(a->rps)) {
                cli_errorf("--expected-rps: must be a positive number of requests per second");
                return CLI_USAGE;
            }
            break;
        case OPT_RESHUFFLE: a->reshuffle = true; break;
        case OPT_JSON: a->json = true; break;
        default: fputs(rollout_usage, stderr); return CLI_USAGE;
        }
    }
    if (optind != argc - 1) {
        cli_errorf("rollout validate: give exactly one PLAN (riskd rollout --help)");
        return CLI_USAGE;
    }
    a->plan = argv[optind];
    return CLI_OK;
}

/* The refusal: on stderr, and with --json as {"ok":false,"error":{...}} on stdout. */
static int refuse(const struct validate_args *a, const rd_err *err, int code)
{
    cli_errorf("%s", err->msg);
    if (a->json) {
        rd_buf b;
        rd_buf_init(&b);
        rd_buf_printf(&b, "{\"ok\":false,\"error\":{\"code\":\"%s\",\"message\":", rd_err_name(err->code));
        rd_json_write_string(&b, err->msg, strlen(err->msg));
        rd_buf_puts(&b, "}}\n");
        fputs(rd_buf_cstr(&b), stdout);
        rd_buf_deinit(&b);
    }
    return code;
}

static int rollout_validate(int argc, char **argv)
{
    struct validate_args a = {0};
    int rc = validate_parse_args(argc, argv, &a);
    if (rc != CLI_OK)
        return rc;
    rd_err err = {0};
    rd_plan *p = NULL;
    rd_flagset *fs = NULL;
    char *text = NULL;
    size_t len = 0;
    bundle_dir bd = {0};
    int code;
    if ((code = rd_plan_load(a.plan, &p, &err)) != RD_OK) {
        rc = refuse(&a, &err, cli_exit_for(code));
        goto done;
    }
    if (a.flags) {
        if ((code = rd_file_read(a.flags, MAX_FLAGS_BYTES, &text, &len, &err)) != RD_OK) {
            rc = refuse(&a, &err, cli_exit_for(code));
            goto done;
        }
        if (rd_flagset_parse(text, len, NULL, &fs, &err) != RD_OK) {
            rd_err_prefix(&err, "%s", a.flags);
            rc = refuse(&a, &err, CLI_INVALID_INPUT);
            goto done;
        }
    }
    if (a.bundles && (rc = load_bundles(a.bundles, &bd)) != CLI_OK)
        goto done;
    if (a.bundles && (explain_unloaded(&bd, "control", p->control, &err) ||
                      explain_unloaded(&bd, "candidate", p->candidate, &err))) {
        rc = refuse(&a, &err, CLI_INVALID_INPUT);
        goto done;
    }
    code = rd_plan_check(p, fs, a.bundles ? (const char *const *)bd.names : NULL, bd.n, a.reshuffle, &err);
    if (code == RD_OK && text)
        code = dry_run(p, text, len, &err);
    if (code != RD_OK) {
        rd_err_prefix(&err, "%s", a.plan);
        rc = refuse(&a, &err, CLI_INVALID_INPUT);
        goto done;
    }
    rd_buf out;
    rd_buf_init(&out);
    warn_ctx w = {.json = a.json, .b = &out};
    if (a.json)
        json_plan(&out, a.plan, p, a.flags, a.bundles, a.reshuffle);
    else
        print_text(a.plan, p, a.flags, a.bundles);
    if (a.rps > 0)
        rd_plan_reachability(p, a.rps, on_warning, &w);
    if (a.json) {
        rd_buf_puts(&out, "]}\n");
        fputs(rd_buf_cstr(&out), stdout);
    }
    rd_buf_deinit(&out);
    rc = CLI_OK;
done:
    bundle_dir_free(&bd);
    rd_flagset_unref(fs);
    rd_free(text);
    rd_plan_free(p);
    return rc;
}

/* ---------------------------------------------------------------- the subcommands */

/* the manual commands (cmd_rollout_ops.c) */
static int rollout_pause(int argc, char **argv) { return cli_rollout_command("pause", argc, argv); }
static int rollout_resume(int argc, char **argv) { return cli_rollout_command("resume", argc, argv); }
static int rollout_promote(int argc, char **argv) { return cli_rollout_command("promote", argc, argv); }
static int rollout_rollback(int argc, char **argv) { return cli_rollout_command("rollback", argc, argv); }

static const struct subcommand {
    const char *name;
    int (*run)(int argc, char **argv);
} subcommands[] = {
    {"validate", rollout_validate}, {"status", cli_rollout_status}, {"pause", rollout_pause},
    {"resume", rollout_resume},     {"promote", rollout_promote},   {"rollback", rollout_rollback},
};

int cmd_rollout(int argc, char **argv)
{
    if (argc < 2 || !strcmp(argv[1], "-h") || !strcmp(argv[1], "--help")) {
        fputs(rollout_usage, argc < 2 ? stderr : stdout);
        return argc < 2 ? CLI_USAGE : CLI_OK;
    }
    for (size_t i = 0; i < sizeof subcommands / sizeof *subcommands; i++)
        if (!strcmp(argv[1], subcommands[i].name))
            return subcommands[i].run(argc - 1, argv + 1);
    cli_errorf("rollout: unknown subcommand \"%s\" (riskd rollout --help)", argv[1]);
    return CLI_USAGE;
}
