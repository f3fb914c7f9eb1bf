/* riskd score: raw applications through a bundle, CSV in, CSV or decision records out, in
 * input order. Each row is decided by rd_decide, the same call as `riskd serve`'s, so a
 * batch decides exactly as the service would (fallback rules included).
 *
 * Records are read in blocks; a block is scored by all threads (each a contiguous share)
 * and written before the next is read, so memory stays bounded on any input size. A record
 * that cannot be scored is reported on stderr with its line and left out of the output;
 * --strict stops at the first. */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"
#include "riskd/arena.h"
#include "riskd/bundle.h"
#include "riskd/csv.h"
#include "riskd/decide.h"
#include "riskd/dlog.h"
#include "riskd/parallel.h"

#define BLOCK 4096

static const char score_usage[] =
    "usage: riskd score --bundle DIR --in APPLICATIONS.csv|- --out SCORES.csv|- [--id COL]\n"
    "                   [--reasons K] [--threads N] [--strict] [--explain] [--format csv|jsonl]\n"
    "                   [--fallback RULES.json] [--deadline-ms N] [--log DATA_DIR] [--rejects FILE]\n"
    "                   [--log-redact LIST --log-redact-key-file F]\n"
    "\n"
    "Decide raw applications with a bundle, as riskd serve would: its pipeline, its model, its\n"
    "risk bands and its reason codes, and its fallback rules (or --fallback's) when the model\n"
    "cannot answer. The input's header names the columns (the bundle's inputs; others are\n"
    "ignored, and named; a header that matches no input, or lacks a required one, is refused;\n"
    "an empty field is a missing value, a row with every input missing is refused). The CSV output has the "
    "columns id, score,\n"
    "risk_level, model_version, reason_1..reason_K, decision, source (model or fallback), in\n"
    "input order; --format jsonl writes one decision record per line instead (the body of\n"
    "POST /v1/score's answer, request_id the id).\n"
    "\n"
    "  --id COL       the column copied to id (default: the input line number)\n"
    "  --reasons K    reason codes per row, 0 to 16 (default: the bundle's)\n"
    "  --threads N    scoring threads (default: one per core)\n"
    "  --strict       stop at the first row that cannot be scored (default: report it and go on)\n"
    "  --rejects F    write each row refused to F as CSV: line, id, reason\n"
    "  --explain      add the columns missing and unknown: the inputs a row lacked, and those\n"
    "                 whose level the pipeline does not know, joined by |\n"
    "  --format F     csv (default) or jsonl\n"
    "  --fallback F   fallback rules for a bundle that has none (docs/formats.md)\n"
    "  --deadline-ms N  a row's deadline (default: none in a batch; the bundle's serving.deadline_ms\n"
    "                 applies when it sets one); a row past it is answered by the fallback rules\n"
    "  --log DIR      record every decision in the decision log of DIR/riskd.db, as riskd serve\n"
    "                 does (riskd log export, riskd replay read it)\n"
    "  --log-redact LIST  with --log: inputs logged as a keyed hash, or not at all with :drop\n"
    "                 (ssn:drop,email), as riskd serve's log_redact (docs/governance.md)\n"
    "  --log-redact-key-file F  the HMAC-SHA256 key of those hashes: 32 or more random bytes\n"
    "\n"
    "exit codes: 0 success, 1 invalid bundle or input (or a bad row with --strict), 2 usage error,\n"
    "            3 some rows rejected, 4 I/O error\n";

typedef struct row {
    char *id;
    rd_value idv; /* the request id: the --id column, else "FILE:LINE" */
    char idtext[96];
    rd_value rec;
    size_t line;
    int rc;
    rd_decision d;
    rd_err err;
} row;

typedef struct job {
    const rd_decider *dec;
    row *rows;
    size_t k;
} job;

static void score_share(void *ud, size_t from, size_t to)
{
    const job *j = ud;
    rd_arena scratch; /* a decision's temporaries; what the output needs is held by value */
    rd_arena_init(&scratch, 0);
    for (size_t i = from; i < to; i++) {
        row *r = &j->rows[i];
        /* the header was checked against the inputs once; other columns (ids, labels) are the
         * file's, not mistakes */
        rd_decide_req q = {.features = &r->rec,
                           .reasons = (int)j->k,
                           .request_id = &r->idv,
                           .unknown_inputs = RD_UNKNOWN_IGNORE};
        if (r->rc == RD_OK)
            r->rc = rd_decide(j->dec, &q, &scratch, &r->d, &r->err);
        r->d.x = NULL; /* it lived in scratch */
        rd_arena_reset(&scratch);
    }
    rd_arena_deinit(&scratch);
}

/* Copy the current CSV record into the block's arena, so the next read cannot overwrite it. */
static int keep_record(rd_arena *a, const rd_csv *csv, char **f, int id_col, row *r)
{
    size_t nc = rd_csv_num_columns(csv);
    rd_member *m = rd_arena_alloc(a, nc * sizeof(rd_member));
    if (!m)
        return -1;
    for (size_t c = 0; c < nc; c++) {
        size_t len = strlen(f[c]);
        char *s = rd_arena_strndup(a, f[c], len);
        if (!s)
            return -1;
        m[c] = (rd_member){rd_csv_column(csv, c), (uint32_t)strlen(rd_csv_column(csv, c)),
                           rd_value_string(s, (uint32_t)len)};
    }
    r->rec = (rd_value){.type = RD_VOBJECT, .len = (uint32_t)nc, .u.members = m};
    r->id = id_col >= 0 ? (char *)m[id_col].val.u.s : NULL;
    return 0;
}

/* One CSV row: the scores printed as the decision record prints them. */
/* The inputs idx[0..n) by name, joined by '|' (--explain's columns). */
static void write_inputs(FILE *out, const rd_pipeline *p, const uint32_t *idx, uint32_t n)
{
    fputc(',', out);
    char buf[512];
    size_t len = 0;
    buf[0] = 0;
    for (uint32_t i = 0; i < n && i < RD_PIPELINE_REPORT_MAX; i++) {
        int w =
            snprintf(buf + len, sizeof buf - len, "%s%s", i ? "|" : "", rd_pipeline_input_name(p, idx[i]));
        if (w < 0 || (size_t)w >= sizeof buf - len)
            break;
        len += (size_t)w;
    }
    cli_csv_field(out, buf);
}

static void write_row(FILE *out, const rd_bundle *b, const row *r, size_t k, bool explain)
{
    const rd_decision *d = &r->d;
    bool model = d->source == RD_SOURCE_MODEL;
    char num[64] = "";
    if (r->id)
        cli_csv_field(out, r->id);
    else
        fprintf(out, "%zu", r->line);
    if (model)
        rd_decision_format_number(d->score.score, d->float32, num);
    else if (d->fallback.has_score)
        rd_decision_format_number(d->fallback.score, false, num);
    fprintf(out, ",%s,", num);
    cli_csv_field(out, model ? d->score.risk_level : d->fallback.risk_level);
    fputc(',', out);
    cli_csv_field(out, rd_bundle_name(b));
    for (size_t i = 0; i < k; i++) {
        fputc(',', out);
        if (model && i < d->score.nreasons)
            cli_csv_field(out, rd_bundle_reason_code(b, d->score.reasons[i].index));
        else if (!model && i == 0)
            cli_csv_field(out, d->fallback.reason);
    }
    const char *decision = model ? d->score.decision : d->fallback.decision;
    fputc(',', out);
    cli_csv_field(out, decision ? decision : "");
    fputs(model ? ",model" : ",fallback", out);
    if (explain) {
        const rd_pipeline_report *rep = &d->score.report;
        bool prepared = d->prepared;
        write_inputs(out, rd_bundle_pipeline(b), rep->missing_inputs, prepared ? rep->missing : 0);
        write_inputs(out, rd_bundle_pipeline(b), rep->unknown_inputs, prepared ? rep->unknown : 0);
    }
    fputc('\n', out);
}

/* One decision record per line, request_id the id (or the line number). */
static void write_record(FILE *out, row *r, rd_buf *b)
{
    rd_value id = r->id ? rd_value_string(r->id, (uint32_t)strlen(r->id)) : rd_value_number((double)r->line);
    r->d.request_id = &id; /* the output's id: the column, or the line number */
    r->d.t0_ns = 0;
    rd_buf_reset(b);
    rd_decision_write_json(b, &r->d);
    /* latency is the service's notion: in a batch the record carries none */
    const char *s = rd_buf_cstr(b), *lat = strstr(s, ",\"latency_ms\":");
    fwrite(s, 1, lat ? (size_t)(lat - s) : b->len, out);
    fputs(lat ? "}\n" : "\n", out);
}

typedef struct run {
    const rd_bundle *b;
    const rd_decider *dec;
    rd_csv *csv;
    FILE *out;
    FILE *rejects; /* --rejects: line, id, reason of each row refused */
    const char *in_name;
    int id_col, threads;
    size_t k, scored, rejected, fallbacks;
    size_t *unknown;     /* per pipeline input: rows whose level the pipeline does not list */
    char (*example)[48]; /* per input: the first such level */
    bool strict, jsonl, explain;
    rd_buf rec;             /* a decision record being written */
    rd_store *log;          /* --log: the store the decisions are recorded in */
    rd_dlog_redact *redact; /* --log-redact */
    rd_buf logbuf;          /* a block's records */
    char node[128];
} run;

/* --log: the block's decisions recorded in one transaction, as riskd serve records them. */
static int log_block(run *u, row *rows, size_t n)
{
    rd_log_row *lr = rd_malloc((n ? n : 1) * sizeof *lr);
    size_t *at = rd_malloc((n ? n : 1) * sizeof *at), m = 0;
    int rc = lr && at ? RD_OK : RD_ENOMEM;
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    rd_dlog_meta meta = {
        .node = u->node, .ts_ms = (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000, .redact = u->redact};
    rd_buf_reset(&u->logbuf);
    for (size_t i = 0; !rc && i < n; i++) {
        if (rows[i].rc != RD_OK)
            continue;
        meta.features = &rows[i].rec;
        at[m] = u->logbuf.len;
        rd_dlog_record_json(&u->logbuf, u->dec, &rows[i].d, &meta);
        lr[m++] = (rd_log_row){.ts_ms = meta.ts_ms,
                               .request_id = rows[i].idv.u.s,
                               .kind = "primary",
                               .model_version = rd_bundle_name(u->b)};
    }
    if (!rc && u->logbuf.oom)
        rc = RD_ENOMEM;
    for (size_t i = 0; !rc && i < m; i++) {
        lr[i].record = u->logbuf.data + at[i];
        lr[i].record_len = (i + 1 < m ? at[i + 1] : u->logbuf.len) - at[i];
    }
    rd_err err;
    if (!rc && (rc = rd_store_log_append(u->log, lr, m, &err)) != RD_OK)
        cli_errorf("%s", err.msg);
    else if (rc)
        cli_errorf("out of memory");
    rd_free(lr);
    rd_free(at);
    return rc ? cli_exit_for(rc) : CLI_OK;
}

/* Levels the pipeline does not know encode like a missing value: counted per input, so the
 * summary says so when a column's values are spelt otherwise than in training ("Own"). */
static void count_unknown(run *u, const row *r)
{
    if (!u->unknown || !r->d.prepared)
        return;
    const rd_pipeline *p = rd_bundle_pipeline(u->b);
    const rd_pipeline_report *rep = &r->d.score.report;
    for (uint32_t i = 0; i < rep->unknown && i < RD_PIPELINE_REPORT_MAX; i++) {
        uint32_t in = rep->unknown_inputs[i];
        if (u->unknown[in]++ == 0) {
            const char *name = rd_pipeline_input_name(p, in);
            const rd_value *v = rd_value_get(&r->rec, name, strlen(name));
            snprintf(u->example[in], sizeof u->example[in], "%s", v && v->type == RD_VSTRING ? v->u.s : "");
        }
    }
}

/* The summary's warning: each input some rows gave a level the pipeline does not list for. */
static void report_unknown(const run *u)
{
    const rd_pipeline *p = rd_bundle_pipeline(u->b);
    for (size_t i = 0; u->unknown && i < rd_pipeline_num_inputs(p); i++)
        if (u->unknown[i])
            fprintf(
                stderr,
                "riskd score: warning: %s: %zu row%s gave \"%s\" a level the pipeline does not know (e.g. "
                "\"%s\"); it was decided as a missing value\n",
                u->in_name, u->unknown[i], u->unknown[i] > 1 ? "s" : "", rd_pipeline_input_name(p, i),
                u->example[i]);
}

/* Read, score and write one block; returns CLI_OK, or an exit code to stop with. *eof is
 * set at the end of the input. */
static int one_block(run *u, rd_arena *a, row *rows, bool *eof, cli_progress *bar)
{
    size_t n = 0;
    rd_arena_reset(a);
    while (n < BLOCK) {
        char **f;
        row *r = &rows[n];
        *r = (row){.rc = RD_OK};
        int got = rd_csv_next(u->csv, &f, &r->err);
        r->line = rd_csv_line(u->csv);
        if (got == 0) {
            *eof = true;
            break;
        }
        if (got == RD_EIO) {
            cli_errorf("%s:%zu: %s", u->in_name, r->line, r->err.msg);
            return CLI_IO;
        }
        if (got < 0)
            r->rc = got;
        else if (keep_record(a, u->csv, f, u->id_col, r) != 0) {
            cli_errorf("out of memory");
            return CLI_IO;
        }
        if (r->id)
            r->idv = rd_value_string(r->id, (uint32_t)strlen(r->id));
        else {
            int len = snprintf(r->idtext, sizeof r->idtext, "%s:%zu", u->in_name, r->line);
            r->idv = rd_value_string(
                r->idtext, (uint32_t)(len < (int)sizeof r->idtext ? len : (int)sizeof r->idtext - 1));
        }
        n++;
    }
    job j = {u->dec, rows, u->k};
    rd_parallel_for(n, u->threads, 64, score_share, &j);
    for (size_t i = 0; i < n; i++) {
        row *r = &rows[i];
        if (r->rc != RD_OK) {
            cli_errorf("%s:%zu: %s", u->in_name, r->line, r->err.msg);
            if (u->rejects) {
                fprintf(u->rejects, "%zu,", r->line);
                cli_csv_field(u->rejects, r->id ? r->id : "");
                fputc(',', u->rejects);
                cli_csv_field(u->rejects, r->err.msg);
                fputc('\n', u->rejects);
            }
            u->rejected++;
            if (u->strict)
                return CLI_INVALID_INPUT;
            continue;
        }
        if (u->jsonl)
            write_record(u->out, r, &u->rec);
        else
            write_row(u->out, u->b, r, u->k, u->explain);
        u->scored++;
        u->fallbacks += r->d.source == RD_SOURCE_FALLBACK;
        count_unknown(u, r);
    }
    cli_progress_update(bar, rd_csv_offset(u->csv), rd_csv_size(u->csv), "bytes");
    if (u->log) {
        int rc = log_block(u, rows, n);
        if (rc)
            return rc;
    }
    return ferror(u->out) ? CLI_IO : CLI_OK;
}

static int score_all(run *u)
{
    if (!u->jsonl) {
        fputs("id,score,risk_level,model_version", u->out);
        for (size_t i = 0; i < u->k; i++)
            fprintf(u->out, ",reason_%zu", i + 1);
        fputs(u->explain ? ",decision,source,missing,unknown\n" : ",decision,source\n", u->out);
    }
    rd_arena a;
    rd_arena_init(&a, 0);
    row *rows = rd_calloc(BLOCK, sizeof(row));
    if (!rows) {
        rd_arena_deinit(&a);
        cli_errorf("out of memory");
        return CLI_IO;
    }
    cli_progress bar;
    cli_progress_init(&bar, "riskd score");
    bool eof = false;
    int rc = CLI_OK;
    while (!eof && rc == CLI_OK)
        rc = one_block(u, &a, rows, &eof, &bar);
    cli_progress_end(&bar);
    rd_free(rows);
    rd_arena_deinit(&a);
    return rc;
}

typedef struct args {
    const char *bundle, *in, *out, *id, *format, *fallback, *log, *rejects, *redact, *redact_key;
    long k;
    int threads, deadline_ms;
    bool strict, explain;
} args;

static int number(const char *opt, const char *v, long lo, long hi, long *out)
{
    char *end;
    long n = strtol(v, &end, 10);
    if (*end || end == v || n < lo || n > hi) {
        cli_errorf("--%s: %ld to %ld", opt, lo, hi);
        return CLI_USAGE;
    }
    *out = n;
    return CLI_OK;
}

static int parse_args(int argc, char **argv, args *a)
{
    static const struct option opts[] = {
        {"help", no_argument, NULL, 'h'},
        {"bundle", required_argument, NULL, 'b'},
        {"in", required_argument, NULL, 'i'},
        {"out", required_argument, NULL, 'o'},
        {"id", required_argument, NULL, 'I'},
        {"reasons", required_argument, NULL, 'r'},
        {"threads", required_argument, NULL, 't'},
        {"strict", no_argument, NULL, 's'},
        {"explain", no_argument, NULL, 'E'},
        {"format", required_argument, NULL, 'f'},
        {"fallback", required_argument, NULL, 'F'},
        {"deadline-ms", required_argument, NULL, 'D'},
        {"log", required_argument, NULL, 'L'},
        {"rejects", required_argument, NULL, 'R'},
        {"log-redact", required_argument, NULL, 'P'},
        {"log-redact-key-file", required_argument, NULL, 'K'},
        {NULL, 0, NULL, 0},
    };
    int c;
    long n;
    optind = 1;
    while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        switch (c) {
        case 'h': fputs(score_usage, stdout); return -1;
        case 'b': a->bundle = optarg; break;
        case 'i': a->in = optarg; break;
        case 'o': a->out = optarg; break;
        case 'I': a->id = optarg; break;
        case 's': a->strict = true; break;
        case 'E': a->explain = true; break;
        case 'F': a->fallback = optarg; break;
        case 'L': a->log = optarg; break;
        case 'R': a->rejects = optarg; break;
        case 'P': a->redact = optarg; break;
        case 'K': a->redact_key = optarg; break;
        case 'f':
            if (strcmp(optarg, "csv") != 0 && strcmp(optarg, "jsonl") != 0) {
                cli_errorf("--format: csv or jsonl, not \"%s\"", optarg);
                return CLI_USAGE;
            }
            a->format = optarg;
            break;
        case 'r':
            if (number("reasons", optarg, 0, RD_BUNDLE_MAX_REASONS, &a->k))
                return CLI_USAGE;
            break;
        case 't':
            if (number("threads", optarg, 1, 64, &n))
                return CLI_USAGE;
            a->threads = (int)n;
            break;
        case 'D':
            if (number("deadline-ms", optarg, 1, 600000, &n))
                return CLI_USAGE;
            a->deadline_ms = (int)n;
            break;
        default: fputs(score_usage, stderr); return CLI_USAGE;
        }
    }
    if (!a->bundle || !a->in || !a->out || optind != argc) {
        fputs(score_usage, stderr);
        return CLI_USAGE;
    }
    if ((a->redact || a->redact_key) && !a->log) {
        cli_errorf("--%s redacts the decision log: it needs --log",
                   a->redact ? "log-redact" : "log-redact-key-file");
        return CLI_USAGE;
    }
    return CLI_OK;
}

/* The decider of a batch: the one bundle, its fallback rules or --fallback's, no breaker (a
 * batch must not switch to the fallback rules because of how fast earlier rows went). */
static int make_decider(const args *a, rd_bundle *b, rd_decider **out, rd_err *err)
{
    rd_fallback *fb = NULL;
    int rc = a->fallback ? rd_fallback_load_file(a->fallback, &fb, err) : RD_OK;
    rd_breaker_opts bo;
    rd_breaker_opts_default(&bo);
    bo.mode = RD_BREAKER_OFF;
    rd_slot *slot = NULL;
    if (rc == RD_OK)
        rc = rd_slot_new(b, &bo, NULL, NULL, &slot, err);
    if (rc != RD_OK)
        rd_bundle_free(b); /* the slot takes it only when made */
    if (rc == RD_OK) {
        rd_decide_opts o = {.deadline_ms = a->deadline_ms, .fallback = fb};
        rc = rd_decider_new(&o, NULL, &slot, 1, out, err);
    }
    rd_slot_unref(slot);
    rd_fallback_unref(fb);
    return rc;
}

/* --log: the store, with the bundle and the fallback rules kept for replay. */
static int open_log(const args *a, const rd_decider *dec, rd_store **out, rd_err *err)
{
    const rd_bundle *b = rd_slot_bundle(rd_decider_slot(dec, 0));
    const rd_fallback *fb = rd_decider_fallback(dec);
    int rc = rd_store_open(a->log, NULL, out, err);
    if (!rc)
        rc = rd_dlog_keep_bundle(*out, a->bundle, rd_bundle_digest(b), err);
    if (!rc && fb) { /* the bytes compiled, not the file read again: it may have changed */
        char hex[RD_SHA256_HEX];
        size_t len;
        const char *text = rd_fallback_text(fb, &len);
        rc = rd_dlog_keep_text(*out, text, len, hex, err);
    }
    if (rc) {
        rd_store_close(*out);
        *out = NULL;
    }
    return rc;
}

static int run_all(run *u, const args *a)
{
    int rc;
    u->id_col = a->id ? rd_csv_find(u->csv, a->id) : -1;
    if (a->id && u->id_col < 0) {
        cli_errorf("%s: no column \"%s\" (--id)", u->in_name, a->id);
        return CLI_INVALID_INPUT;
    }
    /* the header against the pipeline's inputs, once: a file whose columns match none of
     * them would otherwise be decided row after row with every input missing */
    size_t nc = rd_csv_num_columns(u->csv);
    const char **cols = rd_malloc((nc ? nc : 1) * sizeof *cols);
    if (!cols) {
        cli_errorf("out of memory");
        return CLI_IO;
    }
    size_t ncols = 0;
    const rd_pipeline *pl = rd_bundle_pipeline(u->b);
    for (size_t c = 0; c < nc; c++) {
        const char *name = rd_csv_column(u->csv, c);
        /* the --id column is the file's, not an input gone astray (unless it is an input) */
        if ((int)c != u->id_col || rd_pipeline_find_input(pl, name, strlen(name)) >= 0)
            cols[ncols++] = name;
    }
    char note[400];
    rd_err err;
    rc = rd_pipeline_check_columns(pl, cols, ncols, note, sizeof note, &err);
    rd_free(cols);
    if (rc) {
        cli_errorf("%s: %s", u->in_name, err.msg);
        return CLI_INVALID_INPUT;
    }
    if (note[0])
        fprintf(stderr, "riskd score: warning: %s: %s\n", u->in_name, note);
    if (!(u->out = strcmp(a->out, "-") ? fopen(a->out, "w") : stdout)) {
        cli_errorf("%s: cannot write: %s", a->out, strerror(errno));
        return CLI_IO;
    }
    if (a->rejects && !(u->rejects = fopen(a->rejects, "w"))) {
        cli_errorf("%s: cannot write: %s", a->rejects, strerror(errno));
        return CLI_IO;
    }
    if (u->rejects)
        fputs("line,id,reason\n", u->rejects);
    rd_buf_init(&u->rec);
    size_t nin = rd_pipeline_num_inputs(rd_bundle_pipeline(u->b));
    u->unknown = rd_calloc(nin ? nin : 1, sizeof *u->unknown);
    u->example = rd_calloc(nin ? nin : 1, sizeof *u->example);
    rc = score_all(u);
    report_unknown(u);
    rd_free(u->unknown);
    rd_free(u->example);
    u->unknown = NULL;
    rd_buf_deinit(&u->rec);
    if ((u->out != stdout ? fclose(u->out) : fflush(u->out)) != 0 && rc == CLI_OK)
        rc = CLI_IO;
    if (u->rejects && fclose(u->rejects) != 0 && rc == CLI_OK) {
        cli_errorf("%s: cannot write: %s", a->rejects, strerror(errno));
        rc = CLI_IO;
    }
    if (isatty(STDERR_FILENO) || u->rejected || u->fallbacks)
        fprintf(stderr, "riskd score: %zu rows scored (%zu by fallback rules), %zu rejected\n", u->scored,
                u->fallbacks, u->rejected);
    if (rc == CLI_OK && u->rejected)
        rc = CLI_PARTIAL;
    return rc;
}

int cmd_score(int argc, char **argv)
{
    args a = {.k = -1};
    int rc = parse_args(argc, argv, &a);
    if (rc != CLI_OK)
        return rc < 0 ? CLI_OK : rc;
    rd_err err;
    rd_bundle *b;
    rd_decider *dec = NULL;
    if (rd_bundle_load(a.bundle, &b, &err) != RD_OK || make_decider(&a, b, &dec, &err) != RD_OK) {
        cli_errorf("%s", err.msg);
        return cli_exit_for(err.code);
    }
    const rd_bundle *bd = rd_slot_bundle(rd_decider_slot(dec, 0));
    run u = {.b = bd,
             .dec = dec,
             .in_name = strcmp(a.in, "-") ? a.in : "stdin",
             .threads = a.threads,
             .strict = a.strict,
             .explain = a.explain,
             .jsonl = a.format && !strcmp(a.format, "jsonl"),
             .k = a.k < 0 ? rd_bundle_num_reasons(bd) : (size_t)a.k};
    if ((rc = rd_dlog_redact_new(a.redact, a.redact_key, &u.redact, &err)) != RD_OK ||
        (a.log && (rc = open_log(&a, dec, &u.log, &err)) != RD_OK)) {
        cli_errorf("%s", err.msg);
        rd_dlog_redact_free(u.redact);
        rd_decider_unref(dec);
        return cli_exit_for(rc);
    }
    if (gethostname(u.node, sizeof u.node) != 0)
        strcpy(u.node, "riskd");
    u.node[sizeof u.node - 1] = '\0';
    if (rd_csv_open(a.in, &u.csv, &err) != RD_OK) {
        cli_errorf("%s", err.msg);
        rd_store_close(u.log);
        rd_dlog_redact_free(u.redact);
        rd_decider_unref(dec);
        return cli_exit_for(err.code);
    }
    rd_buf_init(&u.logbuf);
    rc = run_all(&u, &a);
    rd_buf_deinit(&u.logbuf);
    rd_csv_close(u.csv);
    rd_store_close(u.log);
    rd_dlog_redact_free(u.redact);
    rd_decider_unref(dec);
    return rc;
}
