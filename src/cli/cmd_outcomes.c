/* riskd outcomes import | stats: labels that arrive late, joined to the decision log of a data
 * directory (include/riskd/store.h, "outcomes"; include/riskd/dlog.h reads the file). The
 * rules are the library's; this file reads argv and prints. */
#include <getopt.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli.h"
#include "riskd/dlog.h"
#include "riskd/json.h"

#define CHUNK     4096 /* outcomes per transaction: a server writing the same database waits little */
#define SHOW_IDS  10   /* unknown request ids printed */
#define MAX_NAMES 256  /* outcome definitions listed per model */

static const char usage[] =
    "usage: riskd outcomes import FILE.csv|- --data-dir DIR\n"
    "       riskd outcomes stats --data-dir DIR --model BUNDLE [--outcome NAME] [--variant V]\n"
    "                            [--from T] [--to T] [--json]\n"
    "\n"
    "Labels that arrive late (1 = bad, 0 = good), per outcome definition (fpd, dpd30, dpd90,\n"
    "default, ...), joined to the primary decision with the same request id in DIR/riskd.db.\n"
    "\n"
    "import   reads a CSV with the header request_id,label,outcome[,observed_at] (observed_at:\n"
    "         empty, an RFC 3339 time or unix ms). The whole file is checked first: a bad line\n"
    "         refuses it (nothing recorded), naming the line and the field. Then each outcome is\n"
    "         new, the same as recorded before (nothing changes: importing again is safe), changed\n"
    "         (the later label replaces the earlier, and the change is kept), or for a request id\n"
    "         no decision has (counted and named, not recorded).\n"
    "stats    per outcome definition of the bundle (or --outcome's): labelled decisions, bads,\n"
    "         approved, approved bads, the bad rate among approved, and the realised KS\n"
    "         (max |F_bad - F_good| of the model's scores) once there are 100 bads. --variant\n"
    "         keeps the routing flag's variant V; --from/--to the decisions made in [T, T')\n"
    "         (a UTC date or time, or unix ms). --json prints one object.\n"
    "\n"
    "exit codes: 0 success, 1 invalid input (or nothing recorded for --model/--outcome),\n"
    "            2 usage error, 3 some outcomes named no decision (not recorded), 4 I/O error\n";

static int usage_error(void)
{
    fputs(usage, stderr);
    return CLI_USAGE;
}

/* The store of dir, which must hold a decision log (an import into an empty one would find no
 * decision for any outcome). */
static int open_store(const char *dir, bool read_only, rd_store **s)
{
    rd_err err;
    rd_store_opts ro = {.read_only = true};
    if (rd_store_open(dir, &ro, s, &err) != RD_OK) {
        cli_errorf("%s", err.msg);
        return cli_exit_for(err.code);
    }
    if (read_only)
        return CLI_OK;
    rd_store_close(*s); /* it exists: open it for writing (a schema 1 store is migrated) */
    rd_store_opts rw = {0};
    if (rd_store_open(dir, &rw, s, &err) != RD_OK) {
        cli_errorf("%s", err.msg);
        return cli_exit_for(err.code);
    }
    return CLI_OK;
}

/* ------------------------------------------------------------------ import */

static void on_read(void *ud, uint64_t done, uint64_t total)
{
    cli_progress_update(ud, done, total, "bytes");
}

typedef struct tally {
    uint64_t n[4];
    const char *ids[SHOW_IDS];
    size_t nids;
} tally;

static void count(tally *t, const rd_outcome *o, const rd_outcome_result *res, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        t->n[res[i]]++;
        if (res[i] != RD_OUTCOME_UNKNOWN_REQ || t->nids == SHOW_IDS)
            continue;
        bool seen = false;
        for (size_t j = 0; j < t->nids && !seen; j++)
            seen = !strcmp(t->ids[j], o[i].request_id);
        if (!seen)
            t->ids[t->nids++] = o[i].request_id;
    }
}

/* Record the outcomes a chunk at a time; returns an exit code. */
static int record(rd_store *s, const char *file, const rd_outcome *o, size_t n, tally *t)
{
    rd_outcome_result *res = rd_malloc(CHUNK * sizeof *res);
    if (!res) {
        cli_errorf("out of memory");
        return CLI_INVALID_INPUT;
    }
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    int64_t now = (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
    cli_progress bar;
    cli_progress_init(&bar, "riskd outcomes import: recording");
    int rc = CLI_OK;
    for (size_t at = 0; at < n; at += CHUNK) {
        size_t k = n - at < CHUNK ? n - at : CHUNK;
        rd_err err;
        if (rd_store_outcomes_put(s, o + at, k, now, res, &err) != RD_OK) {
            cli_progress_end(&bar);
            cli_errorf("%s: %s (the first %zu outcomes were recorded; importing the file again is safe)",
                       file, err.msg, at);
            rc = cli_exit_for(err.code);
            break;
        }
        count(t, o + at, res, k);
        cli_progress_update(&bar, at + k, n, "outcomes");
    }
    cli_progress_end(&bar);
    rd_free(res);
    return rc;
}

static int cmd_import(int argc, char **argv)
{
    static const struct option opts[] = {
        {"help", no_argument, NULL, 'h'},
        {"data-dir", required_argument, NULL, 'd'}, {"store", required_argument, NULL, 'd'},
        {NULL, 0, NULL, 0},
    };
    const char *dir = NULL;
    int c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        if (c == 'h') {
            fputs(usage, stdout);
            return CLI_OK;
        }
        if (c != 'd')
            return usage_error();
        dir = optarg;
    }
    if (!dir || optind != argc - 1)
        return usage_error();
    const char *file = argv[optind];
    rd_store *s;
    int rc = open_store(dir, false, &s);
    if (rc)
        return rc;
    rd_arena a;
    rd_arena_init(&a, 0);
    rd_outcome *o;
    size_t n;
    rd_err err;
    cli_progress bar;
    cli_progress_init(&bar, "riskd outcomes import: reading");
    rc = rd_outcomes_from_csv(file, &a, on_read, &bar, &o, &n, &err);
    cli_progress_end(&bar);
    if (rc) {
        cli_errorf("%s (nothing recorded)", err.msg);
        rc = cli_exit_for(rc);
        goto out;
    }
    tally t = {0};
    if ((rc = record(s, file, o, n, &t)) != CLI_OK)
        goto out;
    printf("%s: %zu outcomes: %llu new, %llu same, %llu changed, %llu for unknown request ids\n",
           strcmp(file, "-") ? file : "stdin", n, (unsigned long long)t.n[RD_OUTCOME_NEW],
           (unsigned long long)t.n[RD_OUTCOME_SAME], (unsigned long long)t.n[RD_OUTCOME_CHANGED],
           (unsigned long long)t.n[RD_OUTCOME_UNKNOWN_REQ]);
    if (t.n[RD_OUTCOME_UNKNOWN_REQ]) {
        fprintf(stderr, "riskd: %llu outcomes name a request id no decision in %s has, not recorded: ",
                (unsigned long long)t.n[RD_OUTCOME_UNKNOWN_REQ], dir);
        for (size_t i = 0; i < t.nids; i++)
            fprintf(stderr, "%s%s", i ? ", " : "", t.ids[i]);
        fputs(t.n[RD_OUTCOME_UNKNOWN_REQ] > t.nids ? ", ...\n" : "\n", stderr);
        rc = CLI_PARTIAL;
    }
out:
    rd_arena_deinit(&a);
    rd_store_close(s);
    return rc;
}

/* ------------------------------------------------------------------ stats */

typedef struct stats_args {
    const char *dir, *model, *outcome, *variant;
    int64_t from_ms, to_ms;
    bool json;
} stats_args;

static int parse_stats(int argc, char **argv, stats_args *a)
{
    static const struct option opts[] = {
        {"help", no_argument, NULL, 'h'},
        {"data-dir", required_argument, NULL, 'd'}, {"store", required_argument, NULL, 'd'},
        {"model", required_argument, NULL, 'm'},
        {"outcome", required_argument, NULL, 'o'},
        {"variant", required_argument, NULL, 'v'},
        {"from", required_argument, NULL, 'f'},
        {"to", required_argument, NULL, 't'},
        {"json", no_argument, NULL, 'j'},
        {NULL, 0, NULL, 0},
    };
    int c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        switch (c) {
        case 'h': fputs(usage, stdout); return -1;
        case 'd': a->dir = optarg; break;
        case 'm': a->model = optarg; break;
        case 'o': a->outcome = optarg; break;
        case 'v': a->variant = optarg; break;
        case 'j': a->json = true; break;
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
    if (!a->dir || !a->model || optind != argc)
        return usage_error();
    if (a->from_ms && a->to_ms && a->from_ms >= a->to_ms) {
        cli_errorf("--from must come before --to: the range holds no time");
        return CLI_USAGE;
    }
    return CLI_OK;
}

typedef struct names {
    char *v[MAX_NAMES];
    size_t n;
} names;

static int add_name(void *ud, const char *name)
{
    names *l = ud;
    if (l->n == MAX_NAMES)
        return 0; /* the first MAX_NAMES, alphabetically */
    return (l->v[l->n] = rd_strndup(name, strlen(name))) ? (l->n++, 0) : RD_ENOMEM;
}

/* The definitions to report: --outcome's (which must be recorded) or every one recorded. */
static int pick_names(rd_store *s, const stats_args *a, names *l)
{
    rd_err err;
    int rc = rd_store_outcome_names(s, a->model, add_name, l, &err);
    if (rc) {
        cli_errorf("%s", rc == RD_ENOMEM ? "out of memory" : err.msg);
        return cli_exit_for(rc);
    }
    if (l->n == 0) {
        cli_errorf("no outcome is recorded for %s in %s (riskd outcomes import, POST /v1/outcomes)", a->model,
                   a->dir);
        return CLI_INVALID_INPUT;
    }
    if (!a->outcome)
        return CLI_OK;
    for (size_t i = 0; i < l->n; i++)
        if (!strcmp(l->v[i], a->outcome)) {
            char *keep = l->v[i];
            l->v[i] = l->v[0];
            l->v[0] = keep;
            for (size_t j = 1; j < l->n; j++)
                rd_free(l->v[j]);
            l->n = 1;
            return CLI_OK;
        }
    fprintf(stderr, "riskd: no outcome \"%s\" is recorded for %s (recorded:", a->outcome, a->model);
    for (size_t i = 0; i < l->n; i++)
        fprintf(stderr, " %s", l->v[i]);
    fputs(")\n", stderr);
    return CLI_INVALID_INPUT;
}

static void print_text_row(const char *name, const rd_outcome_stats *st)
{
    char rate[32], ks[160];
    if (isnan(st->bad_rate_approved))
        snprintf(rate, sizeof rate, "-");
    else
        snprintf(rate, sizeof rate, "%.4f", st->bad_rate_approved);
    if (isnan(st->ks))
        rd_outcome_ks_note(st, RD_OUTCOME_MIN_BADS, ks, sizeof ks);
    else
        snprintf(ks, sizeof ks, "%.4f", st->ks);
    printf("%-16s %9llu %9llu %9llu %14llu %18s  %s\n", name, (unsigned long long)st->labelled,
           (unsigned long long)st->bads, (unsigned long long)st->approved,
           (unsigned long long)st->approved_bads, rate, ks);
}

/* A UTC time, or none when ms is 0. */
static void print_time(int64_t ms, const char *none, char *buf, size_t cap)
{
    if (!ms) {
        snprintf(buf, cap, "%s", none);
        return;
    }
    time_t sec = (time_t)(ms / 1000);
    struct tm tm;
    strftime(buf, cap, "%Y-%m-%dT%H:%M:%SZ", gmtime_r(&sec, &tm));
}

static void json_opt_str(rd_buf *b, const char *key, const char *s)
{
    rd_buf_printf(b, ",\"%s\":", key);
    if (s)
        rd_json_write_string(b, s, strlen(s));
    else
        rd_buf_puts(b, "null");
}

static int report(rd_store *s, const stats_args *a, const names *l)
{
    rd_buf b;
    rd_buf_init(&b);
    if (a->json) {
        rd_buf_puts(&b, "{\"model\":");
        rd_json_write_string(&b, a->model, strlen(a->model));
        json_opt_str(&b, "variant", a->variant);
        if (a->from_ms)
            rd_buf_printf(&b, ",\"from_ms\":%lld", (long long)a->from_ms);
        else
            rd_buf_puts(&b, ",\"from_ms\":null");
        if (a->to_ms)
            rd_buf_printf(&b, ",\"to_ms\":%lld", (long long)a->to_ms);
        else
            rd_buf_puts(&b, ",\"to_ms\":null");
        rd_buf_printf(&b, ",\"min_bads\":%d,\"outcomes\":[", RD_OUTCOME_MIN_BADS);
    } else {
        char from[40], to[40];
        print_time(a->from_ms, "the first", from, sizeof from);
        print_time(a->to_ms, "the last", to, sizeof to);
        printf("%s, variant %s, decisions from %s to %s\n", a->model, a->variant ? a->variant : "any", from,
               to);
        printf("%-16s %9s %9s %9s %14s %18s  %s\n", "outcome", "labelled", "bads", "approved",
               "approved_bads", "bad_rate_approved", "realised_ks");
    }
    int rc = CLI_OK;
    for (size_t i = 0; i < l->n && !rc; i++) {
        rd_outcome_stats st;
        rd_err err;
        if (rd_store_outcome_stats(s, a->model, a->variant, l->v[i], a->from_ms, a->to_ms,
                                   RD_OUTCOME_MIN_BADS, &st, &err) != RD_OK) {
            cli_errorf("%s", err.msg);
            rc = cli_exit_for(err.code);
        } else if (a->json) {
            if (i)
                rd_buf_putc(&b, ',');
            rd_outcome_stats_json(&b, l->v[i], &st, RD_OUTCOME_MIN_BADS);
        } else {
            print_text_row(l->v[i], &st);
        }
    }
    if (!rc && a->json) {
        rd_buf_puts(&b, "]}\n");
        fputs(rd_buf_cstr(&b), stdout);
    }
    rd_buf_deinit(&b);
    if (!rc && fflush(stdout) != 0)
        rc = CLI_IO;
    return rc;
}

static int cmd_stats(int argc, char **argv)
{
    stats_args a = {0};
    int rc = parse_stats(argc, argv, &a);
    if (rc)
        return rc < 0 ? CLI_OK : rc;
    rd_store *s;
    if ((rc = open_store(a.dir, true, &s)))
        return rc;
    names l = {0};
    rc = pick_names(s, &a, &l);
    if (!rc)
        rc = report(s, &a, &l);
    for (size_t i = 0; i < l.n; i++)
        rd_free(l.v[i]);
    rd_store_close(s);
    return rc;
}

int cmd_outcomes(int argc, char **argv)
{
    if (argc >= 2 && !strcmp(argv[1], "import"))
        return cmd_import(argc - 1, argv + 1);
    if (argc >= 2 && !strcmp(argv[1], "stats"))
        return cmd_stats(argc - 1, argv + 1);
    if (argc >= 2 && (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h"))) {
        fputs(usage, stdout);
        return CLI_OK;
    }
    return usage_error();
}
