/* riskd score: raw applications through a bundle (pipeline, model, risk band, reasons),
 * CSV in, CSV out, in input order.
 *
 * Records are read in blocks; a block is scored by all threads (each a contiguous share)
 * and written before the next is read, so memory stays bounded on any input size. A record
 * that cannot be scored is reported on stderr with its line and left out of the output;
 * --strict stops at the first. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "riskd/arena.h"
#include "riskd/bundle.h"
#include "riskd/csv.h"
#include "riskd/parallel.h"

#define BLOCK 4096

static const char score_usage[] =
    "usage: riskd score --bundle DIR --in APPLICATIONS.csv|- --out SCORES.csv|- [--id COL]\n"
    "                   [--reasons K] [--threads N] [--strict]\n"
    "\n"
    "Score raw applications with a bundle: its pipeline, its model, its risk bands and its reason\n"
    "codes. The input's header names the columns (the bundle's inputs; others are ignored; an\n"
    "empty field is a missing value). The output has the columns id, score, risk_level,\n"
    "model_version, reason_1..reason_K, in input order.\n"
    "\n"
    "  --id COL       the column copied to id (default: the input line number)\n"
    "  --reasons K    reason codes per row, 0 to 16 (default: the bundle's)\n"
    "  --threads N    scoring threads (default: one per core)\n"
    "  --strict       stop at the first row that cannot be scored (default: report it and go on)\n"
    "\n"
    "exit codes: 0 success, 1 invalid bundle or input (or a bad row with --strict), 2 usage error,\n"
    "            3 some rows rejected, 4 I/O error\n";

typedef struct row {
    char *id;
    rd_value rec;
    size_t line;
    int rc;
    rd_score sc;
    rd_err err;
} row;

typedef struct job {
    const rd_bundle *b;
    row *rows;
    size_t k;
} job;

static void score_share(void *ud, size_t from, size_t to)
{
    const job *j = ud;
    for (size_t i = from; i < to; i++) {
        row *r = &j->rows[i];
        if (r->rc == RD_OK)
            r->rc = rd_bundle_score(j->b, &r->rec, j->k, &r->sc, &r->err);
    }
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

/* A CSV field: quoted when it holds a comma, a quote or a line break. */
static void put_field(FILE *out, const char *s)
{
    if (!strpbrk(s, ",\"\r\n")) {
        fputs(s, out);
        return;
    }
    fputc('"', out);
    for (; *s; s++) {
        if (*s == '"')
            fputc('"', out);
        fputc(*s, out);
    }
    fputc('"', out);
}

static void write_row(FILE *out, const rd_bundle *b, const row *r, size_t k, bool f32)
{
    if (r->id)
        put_field(out, r->id);
    else
        fprintf(out, "%zu", r->line);
    if (f32)
        fprintf(out, ",%.9g,", (double)(float)r->sc.score);
    else
        fprintf(out, ",%.17g,", r->sc.score);
    put_field(out, r->sc.risk_level);
    fputc(',', out);
    put_field(out, rd_bundle_name(b));
    for (size_t i = 0; i < k; i++) {
        fputc(',', out);
        if (i < r->sc.nreasons)
            put_field(out, rd_bundle_reason_code(b, r->sc.reasons[i].index));
    }
    fputc('\n', out);
}

typedef struct run {
    const rd_bundle *b;
    rd_csv *csv;
    FILE *out;
    const char *in_name;
    int id_col, threads;
    size_t k, scored, rejected;
    bool strict, f32;
} run;

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
        n++;
    }
    job j = {u->b, rows, u->k};
    rd_parallel_for(n, u->threads, 64, score_share, &j);
    for (size_t i = 0; i < n; i++) {
        row *r = &rows[i];
        if (r->rc != RD_OK) {
            cli_errorf("%s:%zu: %s", u->in_name, r->line, r->err.msg);
            u->rejected++;
            if (u->strict)
                return CLI_INVALID_INPUT;
            continue;
        }
        write_row(u->out, u->b, r, u->k, u->f32);
        u->scored++;
    }
    cli_progress_update(bar, rd_csv_offset(u->csv), rd_csv_size(u->csv), "bytes");
    return ferror(u->out) ? CLI_IO : CLI_OK;
}

static int score_all(run *u)
{
    fputs("id,score,risk_level,model_version", u->out);
    for (size_t i = 0; i < u->k; i++)
        fprintf(u->out, ",reason_%zu", i + 1);
    fputc('\n', u->out);
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

static int parse_args(int argc, char **argv, const char **bundle, const char **inp, const char **outp,
                      const char **id, long *k, int *threads, bool *strict)
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
        {NULL, 0, NULL, 0},
    };
    int c;
    char *end;
    optind = 1;
    while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        switch (c) {
        case 'h': fputs(score_usage, stdout); return -1;
        case 'b': *bundle = optarg; break;
        case 'i': *inp = optarg; break;
        case 'o': *outp = optarg; break;
        case 'I': *id = optarg; break;
        case 's': *strict = true; break;
        case 'r':
            *k = strtol(optarg, &end, 10);
            if (*end || *k < 0 || *k > RD_BUNDLE_MAX_REASONS) {
                cli_errorf("--reasons: 0 to %d", RD_BUNDLE_MAX_REASONS);
                return CLI_USAGE;
            }
            break;
        case 't':
            *threads = (int)strtol(optarg, &end, 10);
            if (*end || *threads < 1 || *threads > 64) {
                cli_errorf("--threads: 1 to 64");
                return CLI_USAGE;
            }
            break;
        default: fputs(score_usage, stderr); return CLI_USAGE;
        }
    }
    if (!*bundle || !*inp || !*outp || optind != argc) {
        fputs(score_usage, stderr);
        return CLI_USAGE;
    }
    return CLI_OK;
}

int cmd_score(int argc, char **argv)
{
    const char *bundle = NULL, *inp = NULL, *outp = NULL, *id = NULL;
    long k = -1;
    int threads = 0;
    bool strict = false;
    int rc = parse_args(argc, argv, &bundle, &inp, &outp, &id, &k, &threads, &strict);
    if (rc != CLI_OK)
        return rc < 0 ? CLI_OK : rc;
    rd_err err;
    rd_bundle *b;
    if (rd_bundle_load(bundle, &b, &err) != RD_OK) {
        cli_errorf("%s", err.msg);
        return cli_exit_for(err.code);
    }
    run u = {.b = b,
             .in_name = strcmp(inp, "-") ? inp : "stdin",
             .threads = threads,
             .strict = strict,
             .k = k < 0 ? rd_bundle_num_reasons(b) : (size_t)k,
             .f32 = rd_model_is_float32(rd_bundle_model(b)) && !rd_bundle_score_is_points(b)};
    if (rd_csv_open(inp, &u.csv, &err) != RD_OK) {
        cli_errorf("%s", err.msg);
        rd_bundle_free(b);
        return cli_exit_for(err.code);
    }
    u.id_col = id ? rd_csv_find(u.csv, id) : -1;
    if (id && u.id_col < 0) {
        cli_errorf("%s: no column \"%s\" (--id)", u.in_name, id);
        rc = CLI_INVALID_INPUT;
    } else if (!(u.out = strcmp(outp, "-") ? fopen(outp, "w") : stdout)) {
        cli_errorf("%s: cannot write", outp);
        rc = CLI_IO;
    } else {
        rc = score_all(&u);
        if ((u.out != stdout ? fclose(u.out) : fflush(u.out)) != 0 && rc == CLI_OK)
            rc = CLI_IO;
        if (isatty(STDERR_FILENO) || u.rejected)
            fprintf(stderr, "riskd score: %zu rows scored, %zu rejected\n", u.scored, u.rejected);
        if (rc == CLI_OK && u.rejected)
            rc = CLI_PARTIAL;
    }
    rd_csv_close(u.csv);
    rd_bundle_free(b);
    return rc;
}
