/* riskd log export | erase | retention | hash, riskd replay: the decision log read back, and
 * one applicant's records erased (include/riskd/dlog.h). Export and replay stream the rows in
 * id order in constant memory. Under governance (the data directory has a user) applicants'
 * inputs are shown only to a principal with the view_decisions permission. */
#include <getopt.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"
#include "riskd/auth.h"
#include "riskd/clock.h"
#include "riskd/dlog.h"
#include "riskd/json.h"
#include "riskd/parallel.h"

static const char log_usage[] =
    "usage: riskd log export --data-dir DIR [--from T] [--to T] [--model-version NAME]\n"
    "                        [--request-id ID] [--kind primary|shadow] [--format jsonl|csv] [--out FILE]\n"
    "                        [--token-file FILE]\n"
    "       riskd log erase --targeting-key KEY --data-dir DIR [--reason TEXT] [--token-file FILE]\n"
    "       riskd log retention --data-dir DIR [--days N] [--token-file FILE]\n"
    "       riskd log hash --log-redact-key-file FILE VALUE\n"
    "\n"
    "export     the decision log of DIR/riskd.db, oldest first: jsonl writes each decision record as\n"
    "           logged (docs/formats.md, \"Decision log\"); csv one row per decision with the columns\n"
    "           ts, request_id, kind, node, model_version, variant, source, fallback_reason, score,\n"
    "           probability, risk_level, decision, reasons (codes joined by |), latency_ms. T is a UTC\n"
    "           date or time (2026-12-01, 2026-12-01T08:30:00Z) or unix milliseconds; --from is\n"
    "           inclusive, --to is not. Once DIR has users (governance), it needs the token of a user\n"
    "           whose role has the view_decisions permission (manager, analyst).\n"
    "erase      one applicant's records: every decision whose context.targetingKey is KEY, its\n"
    "           shadow scores and outcomes, overwritten in the files, in one transaction with an\n"
    "           audit entry (\"decisions.erase\", the applicant named by the SHA-256 of KEY, never KEY).\n"
    "           Needs the erase permission (manager). Refused, erasing nothing, while any of them is\n"
    "           younger than the retention floor (the message says from when they can be).\n"
    "retention  show the retention floor (default 760 days, about Regulation B's 25 months), or set\n"
    "           it with --days N (0 or more; the users permission: an admin; audited)\n"
    "hash       the keyed hash log_redact stores for VALUE (JSON: '\"a@b.example\"', 42; a text that\n"
    "           is not JSON is a string): grep an export for it to ask \"was it logged?\"\n"
    "\n"
    "Tokens: --token-file FILE, else the file RISKD_TOKEN_FILE names, else RISKD_TOKEN.\n"
    "exit codes: 0 success, 1 invalid input, no decision matched, or an erasure inside the\n"
    "            retention floor, 2 usage error, 4 I/O error, 7 refused (no token, a token refused,\n"
    "            or a role that does not allow it)\n";

static const char replay_usage[] =
    "usage: riskd replay --data-dir DIR [--from T] [--to T] [--request-id ID] [--model-version NAME]\n"
    "\n"
    "Re-run logged decisions from what was kept when they were made (the flag set, the bundle and\n"
    "the fallback rules, by SHA-256: the files may have changed or gone since) and compare them\n"
    "bit for bit: score and probability, risk level, decision, variant, reasons and impacts,\n"
    "source. A decision the fallback rules answered (deadline, error, open breaker) is replayed\n"
    "from the rules and counted as such. A decision whose inputs were redacted (log_redact) is not\n"
    "re-run: it is counted as not replayable, naming the inputs, neither identical nor different.\n"
    "Prints each difference, then \"replayed N decisions: N identical, 0 different\".\n"
    "Once DIR has users (governance), replay needs a user's token (--token-file FILE, else\n"
    "RISKD_TOKEN_FILE, else RISKD_TOKEN); the lines about single decisions are printed only for a\n"
    "role with the view_decisions permission, the others see the summary.\n"
    "\n"
    "exit codes: 0 all identical (or not replayable), 1 invalid input, no decision matched, or a\n"
    "            decision that could not be replayed,\n"
    "            2 usage error, 4 I/O error, 5 checked and differences found, 7 refused\n";

typedef struct args {
    const char *dir, *out, *format, *kind, *token_file;
    rd_log_filter f;
} args;

static int parse_args(int argc, char **argv, args *a, bool replay)
{
    static const struct option opts[] = {
        {"help", no_argument, NULL, 'h'},
        {"data-dir", required_argument, NULL, 'd'},
        {"store", required_argument, NULL, 'd'},
        {"from", required_argument, NULL, 'f'},
        {"to", required_argument, NULL, 't'},
        {"model-version", required_argument, NULL, 'm'},
        {"request-id", required_argument, NULL, 'r'},
        {"kind", required_argument, NULL, 'k'},
        {"format", required_argument, NULL, 'F'},
        {"out", required_argument, NULL, 'o'},
        {"token-file", required_argument, NULL, 'T'},
        {NULL, 0, NULL, 0},
    };
    const char *usage = replay ? replay_usage : log_usage;
    int c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        switch (c) {
        case 'h': fputs(usage, stdout); return -1;
        case 'd': a->dir = optarg; break;
        case 'm': a->f.model_version = optarg; break;
        case 'r': a->f.request_id = optarg; break;
        case 'T': a->token_file = optarg; break;
        case 'f':
        case 't':
            if (cli_parse_time(optarg, c == 'f' ? &a->f.from_ms : &a->f.to_ms)) {
                cli_errorf("--%s: \"%s\" is not a UTC date, a time like 2026-12-01T08:30:00Z, or unix ms",
                           c == 'f' ? "from" : "to", optarg);
                return CLI_USAGE;
            }
            break;
        case 'k':
        case 'F':
        case 'o':
            if (replay)
                goto bad;
            if (c == 'k' && strcmp(optarg, "primary") != 0 && strcmp(optarg, "shadow") != 0) {
                cli_errorf("--kind: primary or shadow");
                return CLI_USAGE;
            }
            if (c == 'F' && strcmp(optarg, "jsonl") != 0 && strcmp(optarg, "csv") != 0) {
                cli_errorf("--format: jsonl or csv");
                return CLI_USAGE;
            }
            *(c == 'k' ? &a->f.kind : c == 'F' ? &a->format : &a->out) = optarg;
            break;
        default:
        bad:
            fputs(usage, stderr);
            return CLI_USAGE;
        }
    }
    if (!a->dir || optind != argc) {
        fputs(usage, stderr);
        return CLI_USAGE;
    }
    if (a->f.from_ms && a->f.to_ms && a->f.from_ms >= a->f.to_ms) {
        cli_errorf("--from must come before --to: the range holds no time");
        return CLI_USAGE;
    }
    return CLI_OK;
}

/* A filter that matches nothing reads like "nothing wrong": said, and exit 1 (a misspelled
 * request id must not replay as "0 different"). */
static int nothing_matched(const args *a)
{
    const rd_log_filter *f = &a->f;
    if (f->request_id || f->model_version || f->kind || f->from_ms || f->to_ms)
        cli_errorf("no decision in %s matches%s%s%s%s%s%s", a->dir, f->request_id ? " --request-id " : "",
                   f->request_id ? f->request_id : "", f->model_version ? " --model-version " : "",
                   f->model_version ? f->model_version : "", f->kind ? " --kind " : "",
                   f->kind ? f->kind : "");
    else
        cli_errorf("%s: no decision is logged there", a->dir);
    return CLI_INVALID_INPUT;
}

static int open_store(const char *dir, rd_store **s)
{
    rd_err err;
    rd_store_opts o = {.read_only = true, .timeout_ms = CLI_SCAN_TIMEOUT_MS};
    if (rd_store_open(dir, &o, s, &err) != RD_OK) {
        cli_errorf("%s", err.msg);
        return cli_exit_for(err.code);
    }
    return CLI_OK;
}

/* Under governance (the store has a user), who reads: a principal whose role has
 * view_decisions sees applicants' inputs (*inputs true; always so without governance). With
 * need_inputs (export) any other caller is refused; else (replay) a principal who may view
 * gets *inputs false. Prints the refusal and returns its exit code. */
static int who_reads(rd_store *s, const char *token_file, bool need_inputs, bool *inputs)
{
    bool on;
    rd_err err;
    *inputs = true;
    if (rd_auth_enabled(s, &on, &err) != RD_OK) {
        cli_errorf("%s", err.msg);
        return cli_exit_for(err.code);
    }
    if (!on)
        return CLI_OK;
    rd_principal p;
    int rc = cli_principal(s, token_file, &p);
    if (rc)
        return rc;
    rc = rd_principal_require(&p, RD_PERM_VIEW_DECISIONS, "read applicants' decision inputs", &err);
    if (rc && !need_inputs && rc != RD_EUNAUTH &&
        rd_principal_require(&p, RD_PERM_VIEW, "replay decisions", &err) == RD_OK) {
        *inputs = false;
        return CLI_OK;
    }
    if (rc) {
        cli_errorf("%s", err.msg);
        return cli_exit_for(rc);
    }
    return CLI_OK;
}

/* ------------------------------------------------------------------ export */

typedef struct exporter {
    FILE *out;
    bool csv;
    uint64_t n;
    rd_arena a;
    cli_progress bar;
} exporter;

static const rd_value *get(const rd_value *o, const char *k)
{
    return o && o->type == RD_VOBJECT ? rd_value_get(o, k, strlen(k)) : NULL;
}

static void csv_field(FILE *out, const rd_value *v)
{
    if (!v || v->type == RD_VNULL)
        return;
    if (v->type == RD_VNUMBER) {
        char s[RD_NUM_BUF];
        rd_num_format(v->u.n, s);
        fputs(s, out);
        return;
    }
    cli_csv_field(out, v->type == RD_VSTRING ? v->u.s : "");
}

static int export_csv_row(exporter *x, const rd_log_row *r)
{
    rd_value v;
    rd_err err;
    rd_arena_reset(&x->a);
    char *text = rd_arena_strndup(&x->a, r->record, r->record_len);
    if (!text || rd_json_parse(text, r->record_len, NULL, &x->a, &v, &err) != RD_OK) {
        cli_errorf("decision %lld: the record is not JSON", (long long)r->id);
        return CLI_INVALID_INPUT;
    }
    time_t sec = (time_t)(r->ts_ms / 1000);
    struct tm tm;
    char ts[40];
    strftime(ts, sizeof ts, "%Y-%m-%dT%H:%M:%S", gmtime_r(&sec, &tm));
    fprintf(x->out, "%s.%03dZ,", ts, (int)(r->ts_ms % 1000));
    rd_value id = rd_value_string(r->request_id, (uint32_t)strlen(r->request_id));
    csv_field(x->out, &id);
    fprintf(x->out, ",%s,", r->kind);
    static const char *const cols[] = {"node",  "model_version", "variant",    "source",  "fallback_reason",
                                       "score", "probability",   "risk_level", "decision"};
    for (size_t i = 0; i < sizeof cols / sizeof *cols; i++) {
        const rd_value *f = !strcmp(cols[i], "model_version")     ? get(get(&v, "bundle"), "name")
                            : !strcmp(cols[i], "fallback_reason") ? get(get(&v, "fallback"), "reason")
                                                                  : get(&v, cols[i]);
        csv_field(x->out, f);
        fputc(',', x->out);
    }
    const rd_value *reasons = get(&v, "reasons");
    for (uint32_t i = 0; reasons && reasons->type == RD_VARRAY && i < reasons->len; i++) {
        const rd_value *code = get(&reasons->u.items[i], "code");
        if (i)
            fputc('|', x->out);
        if (code && code->type == RD_VSTRING)
            fputs(code->u.s, x->out); /* codes hold no comma: the bundle's names */
    }
    fputc(',', x->out);
    csv_field(x->out, get(&v, "latency_ms"));
    fputc('\n', x->out);
    return CLI_OK;
}

static int export_row(void *ud, const rd_log_row *r)
{
    exporter *x = ud;
    int rc = CLI_OK;
    if (x->csv) {
        rc = export_csv_row(x, r);
    } else {
        fwrite(r->record, 1, r->record_len, x->out);
        fputc('\n', x->out);
    }
    if (++x->n % 10000 == 0)
        cli_progress_update(&x->bar, x->n, 0, "decisions");
    return rc ? rc : ferror(x->out) ? CLI_IO : CLI_OK;
}

static int cmd_export(int argc, char **argv)
{
    args a = {0};
    int rc = parse_args(argc, argv, &a, false);
    if (rc)
        return rc < 0 ? CLI_OK : rc;
    rd_store *s;
    bool inputs;
    if ((rc = open_store(a.dir, &s)))
        return rc;
    if ((rc = who_reads(s, a.token_file, true, &inputs))) {
        rd_store_close(s);
        return rc;
    }
    exporter x = {.csv = a.format && !strcmp(a.format, "csv")};
    if (!(x.out = a.out && strcmp(a.out, "-") != 0 ? fopen(a.out, "w") : stdout)) {
        cli_errorf("%s: cannot write", a.out);
        rd_store_close(s);
        return CLI_IO;
    }
    rd_arena_init(&x.a, 0);
    cli_progress_init(&x.bar, "riskd log export");
    if (x.csv)
        fputs("ts,request_id,kind,node,model_version,variant,source,fallback_reason,score,probability,risk_"
              "level,"
              "decision,reasons,latency_ms\n",
              x.out);
    rd_err err;
    rc = rd_store_log_scan(s, &a.f, export_row, &x, &err);
    cli_progress_end(&x.bar);
    if (rc < 0) {
        cli_errorf("%s", err.msg);
        rc = cli_exit_for(rc);
    }
    if ((x.out != stdout ? fclose(x.out) : fflush(x.out)) != 0 && !rc)
        rc = CLI_IO;
    if (isatty(STDERR_FILENO))
        fprintf(stderr, "riskd log export: %llu decisions\n", (unsigned long long)x.n);
    if (!rc && x.n == 0)
        rc = nothing_matched(&a);
    rd_arena_deinit(&x.a);
    rd_store_close(s);
    return rc;
}

int cmd_log(int argc, char **argv)
{
    if (argc >= 2 && !strcmp(argv[1], "export"))
        return cmd_export(argc - 1, argv + 1);
    if (argc >= 2 && !strcmp(argv[1], "erase"))
        return cli_log_erase(argc - 1, argv + 1, log_usage);
    if (argc >= 2 && !strcmp(argv[1], "retention"))
        return cli_log_retention(argc - 1, argv + 1, log_usage);
    if (argc >= 2 && !strcmp(argv[1], "hash"))
        return cli_log_hash(argc - 1, argv + 1, log_usage);
    if (argc >= 2 && (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h"))) {
        fputs(log_usage, stdout);
        return CLI_OK;
    }
    fputs(log_usage, stderr);
    return CLI_USAGE;
}

/* ------------------------------------------------------------------ replay */

/* Rows are read in batches and replayed on one thread per core, each with its own replayer
 * and its own read handle on the store; results are printed in the log's order. */
#define REPLAY_BATCH   4096
#define REPLAY_THREADS 16

typedef struct pending {
    rd_log_row row;
    char *buf;
    int rc;
    rd_replay_result res;
    rd_err err;
} pending;

typedef struct lane {
    rd_replay *r;
    rd_store *s;
    pending *rows;
    size_t n, first, step;
} lane;

#define REPLAY_REASONS 8 /* distinct reasons a decision is not replayable, told apart */

typedef struct replayer {
    lane lanes[REPLAY_THREADS];
    int nlanes;
    pending *batch;
    size_t n;
    uint64_t total, identical, different, fallback, failed, unreplayable;
    struct {
        char why[256];
        uint64_t n;
    } reasons[REPLAY_REASONS];
    size_t nreasons;
    bool quiet; /* governance, a role without view_decisions: the summary only */
    cli_progress bar;
} replayer;

static void count_unreplayable(replayer *p, const char *why)
{
    p->unreplayable++;
    size_t i = 0;
    while (i < p->nreasons && strcmp(p->reasons[i].why, why) != 0)
        i++;
    if (i == p->nreasons) { /* a new reason; the last slot gathers the rest */
        bool last = i >= REPLAY_REASONS - 1;
        i = last ? REPLAY_REASONS - 1 : p->nreasons;
        p->nreasons = i + 1;
        snprintf(p->reasons[i].why, sizeof p->reasons[i].why, "%s", last ? "other reasons" : why);
    }
    p->reasons[i].n++;
}

static void *run_lane(void *ud)
{
    lane *l = ud;
    for (size_t i = l->first; i < l->n; i += l->step) {
        pending *p = &l->rows[i];
        p->rc = rd_replay_one(l->r, &p->row, &p->res, &p->err);
    }
    return NULL;
}

static void flush_batch(replayer *p)
{
    pthread_t t[REPLAY_THREADS];
    for (int i = 0; i < p->nlanes; i++) {
        p->lanes[i].rows = p->batch;
        p->lanes[i].n = p->n;
        p->lanes[i].first = (size_t)i;
        p->lanes[i].step = (size_t)p->nlanes;
    }
    int started = 0;
    for (int i = 1; i < p->nlanes; i++)
        started += pthread_create(&t[i], NULL, run_lane, &p->lanes[i]) == 0 ? 1 : 0;
    run_lane(&p->lanes[0]);
    for (int i = 1; i <= started; i++)
        pthread_join(t[i], NULL);
    for (int i = started + 1; i < p->nlanes; i++)
        run_lane(&p->lanes[i]); /* a thread that could not start: its share here */
    for (size_t i = 0; i < p->n; i++) {
        pending *x = &p->batch[i];
        p->total++;
        if (x->rc != RD_OK) {
            p->failed++;
            if (!p->quiet)
                fprintf(stderr, "riskd replay: cannot replay %s\n", x->err.msg);
        } else if (x->res.identical) {
            p->identical++;
            p->fallback += x->res.fallback;
        } else if (x->res.not_replayable[0]) {
            count_unreplayable(p, x->res.not_replayable);
            if (!p->quiet)
                printf("decision %lld (%s, %s): not replayable: %s\n", (long long)x->row.id,
                       x->row.request_id, x->row.kind, x->res.not_replayable);
        } else {
            p->different++;
            if (!p->quiet)
                printf("decision %lld (%s, %s): %s\n", (long long)x->row.id, x->row.request_id, x->row.kind,
                       x->res.diff);
        }
        rd_free(x->buf);
    }
    p->n = 0;
    cli_progress_update(&p->bar, p->total, 0, "decisions");
}

/* The rows are read by their own thread into two batches, so reading the next batch overlaps
 * replaying this one. */
typedef struct feed {
    pthread_mutex_t m;
    pthread_cond_t c;
    pending *buf[2];
    size_t n[2];
    bool full[2];
    int fill; /* the batch being filled */
    bool done;
    int rc;
    rd_err err;
    rd_store *s;
    const rd_log_filter *f;
} feed;

static int feed_row(void *ud, const rd_log_row *row)
{
    feed *fd = ud;
    size_t lid = strlen(row->request_id) + 1, lk = strlen(row->kind) + 1;
    pending *x = &fd->buf[fd->fill][fd->n[fd->fill]];
    if (!(x->buf = rd_malloc(lid + lk + row->record_len + 1)))
        return RD_ENOMEM;
    x->row = *row;
    x->row.request_id = memcpy(x->buf, row->request_id, lid);
    x->row.kind = memcpy(x->buf + lid, row->kind, lk);
    x->row.model_version = NULL;
    char *rec = x->buf + lid + lk;
    memcpy(rec, row->record, row->record_len);
    rec[row->record_len] = '\0';
    x->row.record = rec;
    if (++fd->n[fd->fill] == REPLAY_BATCH) {
        pthread_mutex_lock(&fd->m);
        fd->full[fd->fill] = true;
        pthread_cond_broadcast(&fd->c);
        fd->fill ^= 1;
        while (fd->full[fd->fill])
            pthread_cond_wait(&fd->c, &fd->m);
        pthread_mutex_unlock(&fd->m);
    }
    return 0;
}

static void *read_rows(void *ud)
{
    feed *fd = ud;
    int rc = rd_store_log_scan(fd->s, fd->f, feed_row, fd, &fd->err);
    pthread_mutex_lock(&fd->m);
    fd->rc = rc;
    fd->full[fd->fill] = fd->n[fd->fill] > 0;
    fd->done = true;
    pthread_cond_broadcast(&fd->c);
    pthread_mutex_unlock(&fd->m);
    return NULL;
}

/* Replay the batches as the reader fills them, in order; returns the reader's result. */
static int replay_feed(replayer *p, feed *fd)
{
    pthread_t reader;
    if (pthread_create(&reader, NULL, read_rows, fd) != 0)
        return rd_err_set(&fd->err, RD_EINTERNAL, "cannot start a thread to read the log");
    for (int i = 0;; i ^= 1) {
        pthread_mutex_lock(&fd->m);
        while (!fd->full[i] && !fd->done)
            pthread_cond_wait(&fd->c, &fd->m);
        bool have = fd->full[i];
        pthread_mutex_unlock(&fd->m);
        if (!have)
            break;
        p->batch = fd->buf[i];
        p->n = fd->n[i];
        flush_batch(p);
        pthread_mutex_lock(&fd->m);
        fd->n[i] = 0;
        fd->full[i] = false;
        pthread_cond_broadcast(&fd->c);
        pthread_mutex_unlock(&fd->m);
    }
    pthread_join(reader, NULL);
    return fd->rc;
}

static void lanes_free(replayer *p)
{
    for (int i = 0; i < p->nlanes; i++) {
        rd_replay_free(p->lanes[i].r);
        rd_store_close(p->lanes[i].s);
    }
}

static int lanes_new(replayer *p, const char *dir, rd_err *err)
{
    int cores = rd_num_cores();
    p->nlanes = cores < 1 ? 1 : cores > REPLAY_THREADS ? REPLAY_THREADS : cores;
    char work[1100];
    snprintf(work, sizeof work, "%s/replay", dir);
    rd_store_opts o = {.read_only = true, .timeout_ms = CLI_SCAN_TIMEOUT_MS};
    for (int i = 0; i < p->nlanes; i++) {
        int rc = rd_store_open(dir, &o, &p->lanes[i].s, err);
        if (!rc)
            rc = rd_replay_new(p->lanes[i].s, work, &p->lanes[i].r, err);
        if (rc) {
            rd_store_close(p->lanes[i].s);
            p->nlanes = i;
            return rc;
        }
    }
    return RD_OK;
}

int cmd_replay(int argc, char **argv)
{
    args a = {0};
    int rc = parse_args(argc, argv, &a, true);
    if (rc)
        return rc < 0 ? CLI_OK : rc;
    rd_store *s;
    bool inputs;
    if ((rc = open_store(a.dir, &s)))
        return rc;
    if ((rc = who_reads(s, a.token_file, false, &inputs))) {
        rd_store_close(s);
        return rc;
    }
    replayer p = {.quiet = !inputs};
    if (p.quiet)
        fprintf(stderr, "riskd replay: the summary only: single decisions are shown to a role with the "
                        "view_decisions permission\n");
    rd_err err = {0};
    feed fd = {.m = PTHREAD_MUTEX_INITIALIZER, .c = PTHREAD_COND_INITIALIZER, .s = s, .f = &a.f};
    fd.buf[0] = rd_calloc(REPLAY_BATCH, sizeof(pending));
    fd.buf[1] = rd_calloc(REPLAY_BATCH, sizeof(pending));
    if (!fd.buf[0] || !fd.buf[1] || lanes_new(&p, a.dir, &err) != RD_OK) {
        bool mem = fd.buf[0] && fd.buf[1];
        cli_errorf("%s", mem ? err.msg : "out of memory");
        lanes_free(&p);
        rd_free(fd.buf[0]);
        rd_free(fd.buf[1]);
        rd_store_close(s);
        return mem ? cli_exit_for(err.code) : CLI_IO;
    }
    cli_progress_init(&p.bar, "riskd replay");
    rc = replay_feed(&p, &fd);
    err = fd.err;
    cli_progress_end(&p.bar);
    if (rc < 0) {
        cli_errorf("%s", rc == RD_ENOMEM ? "out of memory" : err.msg);
        rc = cli_exit_for(rc);
    } else {
        printf("replayed %llu decisions: %llu identical, %llu different", (unsigned long long)p.total,
               (unsigned long long)p.identical, (unsigned long long)p.different);
        if (p.fallback)
            printf(" (%llu answered by fallback rules, replayed from the rules)",
                   (unsigned long long)p.fallback);
        if (p.unreplayable) {
            printf(", %llu not replayable (", (unsigned long long)p.unreplayable);
            for (size_t i = 0; i < p.nreasons; i++)
                printf("%s%llu with %s", i ? "; " : "", (unsigned long long)p.reasons[i].n, p.reasons[i].why);
            putchar(')');
        }
        if (p.failed)
            printf(", %llu could not be replayed", (unsigned long long)p.failed);
        putchar('\n');
        rc = p.different ? CLI_DIFFERENT : p.failed ? CLI_INVALID_INPUT : CLI_OK;
        if (p.total == 0)
            rc = nothing_matched(&a);
    }
    for (int b = 0; b < 2; b++) /* rows read but not replayed (an error stopped the scan) */
        for (size_t i = 0; i < fd.n[b]; i++)
            rd_free(fd.buf[b][i].buf);
    lanes_free(&p);
    rd_free(fd.buf[0]);
    rd_free(fd.buf[1]);
    rd_store_close(s);
    return rc;
}
