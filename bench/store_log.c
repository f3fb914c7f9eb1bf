/* The decision log's writer into each store backend, for `make bench`: two threads queue N
 * decision records (bench/log_record.h's ~1.1 KB record, a distinct request id each) and the
 * writer (include/riskd/dlog.h) group-commits them, into SQLite (DIR/riskd.db, WAL,
 * synchronous=NORMAL) and into PostgreSQL (a cluster of its own, started here with
 * scripts/pg-cluster.sh; fsync and synchronous_commit on, as a real server runs, though the
 * script starts test clusters with fsync off). Rounds alternate the backends so both meet the
 * same machine noise; each round writes into a fresh store. Prints one JSON line per run and a
 * Markdown table of the medians; without PostgreSQL the column says why it is missing.
 *
 * usage: store_log [N] [ROUNDS]          (run from the repository's root) */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "log_record.h"
#include "riskd/clock.h"
#include "riskd/dlog.h"

typedef struct prod {
    rd_dlog *log;
    int id;
    long n;
} prod;

static double now_s(void) { return (double)rd_clock_ns() * 1e-9; }

static void *produce(void *ud)
{
    prod *p = ud;
    char id[32], rec[sizeof record + 32];
    int64_t t0 = rd_clock_unix_ms(); /* today: the partition a serving node writes into */
    for (long i = 0; i < p->n; i++) {
        snprintf(id, sizeof id, "b%d-%ld", p->id, i);
        int len = snprintf(rec, sizeof rec, record, id);
        rd_log_row row = {.ts_ms = t0 + i / 64,
                          .request_id = id,
                          .kind = "primary",
                          .model_version = "credit_xgb_v1.0",
                          .record = rec,
                          .record_len = (size_t)len};
        uint64_t seq;
        /* the queue is full: wait for the writer without spinning (a spinning producer takes the
           CPU PostgreSQL's server process needs on a small machine; HTTP threads would not spin) */
        while (rd_dlog_submit(p->log, &row, &seq) == RD_ELIMIT)
            usleep(200);
    }
    return NULL;
}

typedef struct result {
    double per_sec, per_commit;
    int ok;
} result;

/* One run: N records through the writer into the store at url. */
static result run(const char *url, long n, const char *label)
{
    result out = {0};
    rd_store *s;
    rd_err err;
    if (rd_store_open(url, NULL, &s, &err) != RD_OK) {
        fprintf(stderr, "store_log: %s\n", err.msg);
        return out;
    }
    rd_dlog *log;
    rd_dlog_opts o = {.durability = RD_DLOG_ASYNC};
    if (rd_dlog_new(s, &o, &log, &err) != RD_OK) {
        fprintf(stderr, "store_log: %s\n", err.msg);
        rd_store_close(s);
        return out;
    }
    prod p[2] = {{log, 0, n / 2}, {log, 1, n - n / 2}};
    pthread_t t[2];
    double t0 = now_s();
    for (int i = 0; i < 2; i++)
        pthread_create(&t[i], NULL, produce, &p[i]);
    for (int i = 0; i < 2; i++)
        pthread_join(t[i], NULL);
    rd_dlog_stats st;
    do {
        usleep(1000);
        rd_dlog_get_stats(log, &st);
    } while (rd_dlog_committed(log) + st.failed < (uint64_t)n);
    double secs = now_s() - t0;
    rd_dlog_free(log);
    rd_store_close(s);
    out.per_sec = (double)n / secs;
    out.per_commit = st.commits ? (double)st.committed / (double)st.commits : 0.0;
    out.ok = st.failed == 0;
    printf("{\"case\":\"store_log\",\"store\":\"%s\",\"records\":%ld,\"seconds\":%.3f,\"per_sec\":%.0f,"
           "\"commits\":%llu,\"records_per_commit\":%.1f,\"failed\":%llu}\n",
           label, n, secs, out.per_sec, (unsigned long long)st.commits, out.per_commit,
           (unsigned long long)st.failed);
    fflush(stdout);
    return out;
}

/* The first line a shell command prints (trailing newline removed); false when it fails. */
static bool sh(const char *cmd, char *out, size_t cap)
{
    FILE *f = popen(cmd, "r");
    if (!f)
        return false;
    out[0] = '\0';
    if (!fgets(out, (int)cap, f))
        out[0] = '\0';
    out[strcspn(out, "\n")] = '\0';
    return pclose(f) == 0;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static double median(double *v, int n)
{
    qsort(v, (size_t)n, sizeof *v, cmp_double);
    return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

/* "median (min–max)" of the rounds, into buf */
static const char *spread(double *v, int n, char *buf, size_t cap)
{
    double m = median(v, n); /* sorts v */
    if (n > 1)
        snprintf(buf, cap, "%.0f (%.0f–%.0f)", m, v[0], v[n - 1]);
    else
        snprintf(buf, cap, "%.0f", m);
    return buf;
}

static char pg_dir[64];

static void pg_destroy(void)
{
    char cmd[128], out[8];
    if (pg_dir[0]) {
        snprintf(cmd, sizeof cmd, "scripts/pg-cluster.sh destroy %s", pg_dir);
        sh(cmd, out, sizeof out);
    }
}

/* A cluster of the bench's own, with fsync on; false (and why) when PostgreSQL is not here. */
static bool pg_start(char *why, size_t cap)
{
    char cmd[256], url[512];
    strcpy(pg_dir, "/tmp/riskd-bench-pg.XXXXXX");
    if (!mkdtemp(pg_dir)) {
        snprintf(why, cap, "skipped: no temporary directory");
        pg_dir[0] = '\0';
        return false;
    }
    atexit(pg_destroy);
    snprintf(cmd, sizeof cmd, "scripts/pg-cluster.sh start %s 2>&1", pg_dir);
    if (!sh(cmd, url, sizeof url)) {
        /* the script says "skipped: postgresql not installed" itself when the server is missing */
        snprintf(why, cap, "%s%.400s", strncmp(url, "skipped", 7) ? "skipped: " : "",
                 *url ? url : "scripts/pg-cluster.sh start failed");
        return false;
    }
    snprintf(
        cmd, sizeof cmd,
        "scripts/pg-cluster.sh psql %s -qAt -c 'ALTER SYSTEM SET fsync = on' -c 'SELECT pg_reload_conf()'"
        " >/dev/null 2>&1",
        pg_dir);
    if (!sh(cmd, url, sizeof url)) {
        snprintf(why, cap, "skipped: could not turn fsync on");
        return false;
    }
    return true;
}

int main(int argc, char **argv)
{
    long n = argc > 1 ? atol(argv[1]) : 200000;
    int rounds = argc > 2 ? atoi(argv[2]) : 3;
    if (n <= 0 || rounds <= 0 || rounds > 32) {
        fprintf(stderr, "usage: store_log [N] [ROUNDS]\n");
        return 2;
    }
    char why[512] = "", cmd[256], url[512], dir[64];
    bool pg = pg_start(why, sizeof why);
    double sq[32], pq[32], sq_pc[32], pq_pc[32];
    int failed = 0;
    for (int r = 0; r < rounds; r++) {
        strcpy(dir, "/tmp/riskd-bench-sq.XXXXXX");
        if (!mkdtemp(dir))
            return 1;
        snprintf(url, sizeof url, "sqlite:%s", dir);
        result a = run(url, n, "sqlite");
        snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
        sh(cmd, url, sizeof url);
        sq[r] = a.per_sec;
        sq_pc[r] = a.per_commit;
        failed += !a.ok;
        if (pg) {
            snprintf(cmd, sizeof cmd, "scripts/pg-cluster.sh createdb %s bench_%d", pg_dir, r);
            result b = sh(cmd, url, sizeof url) ? run(url, n, "postgresql") : (result){0};
            pq[r] = b.per_sec;
            pq_pc[r] = b.per_commit;
            failed += !b.ok;
        }
    }
    char b1[64], b2[64], b3[64], b4[64];
    printf("\n| decisions/s through the dlog writer (%ld records of ~1.1 KB, median (min–max) of %d rounds) | "
           "SQLite | PostgreSQL |\n| --- | ---: | ---: |\n",
           n, rounds);
    if (pg)
        printf("| committed per second | %s | %s |\n| records per commit | %s | %s |\n",
               spread(sq, rounds, b1, sizeof b1), spread(pq, rounds, b2, sizeof b2),
               spread(sq_pc, rounds, b3, sizeof b3), spread(pq_pc, rounds, b4, sizeof b4));
    else
        printf("| committed per second | %s | %s |\n", spread(sq, rounds, b1, sizeof b1), why);
    return failed ? 1 : 0;
}
