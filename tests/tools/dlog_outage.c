/* A drill tool, not a riskd command: the decision log through a PostgreSQL outage under steady
 * load (issue 16 §5; scripts/dlog-outage-drill.sh runs it on a throw-away cluster).
 *
 * Submits RATE records a second (about 1 KB each, like a decision's) for SECONDS, in ack mode
 * with a spool; stops PostgreSQL (pg-cluster.sh stop DIR fast) after a third of the time and
 * starts it again after two thirds; then waits for the spool to drain and checks the database
 * against what was acknowledged: every acknowledged record once, in submission order by id,
 * nothing else. Prints the figures: records, failures, spooled and drained, the spool's peak,
 * the time from the restart to the last spooled record in the database, and the
 * acknowledgement latency (submit to commit or spool) before, during and after the outage.
 *
 * usage: dlog_outage PGDIR [SECONDS [RATE]]   (PGDIR: a cluster pg-cluster.sh started;
 * SECONDS 30 and RATE 2000 unless given, as in scripts/dlog-outage-drill.sh)
 * exit 0, or 1 when a record failed or the database differs from what was acknowledged, 2 on a
 * usage error. */
#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "riskd/clock.h"
#include "riskd/dlog.h"

#define PHASES 3

static struct {
    int64_t *sent_ns; /* by sequence number */
    double *lat_ms;   /* acknowledgement latency, by sequence number */
    uint64_t acked;   /* on_commit's watermark */
    int64_t t0;
} D;

static void on_commit(void *ud, uint64_t committed)
{
    (void)ud;
    int64_t now = rd_clock_ns();
    for (uint64_t s = D.acked + 1; s <= committed; s++)
        D.lat_ms[s] = (double)(now - D.sent_ns[s]) / 1e6;
    D.acked = committed;
}

static void on_log(void *ud, rd_dlog_level level, const char *msg)
{
    (void)ud;
    fprintf(stderr, "%8.3f s  %s  %s\n", (double)(rd_clock_ns() - D.t0) / 1e9,
            level == RD_DLOG_ERROR  ? "error"
            : level == RD_DLOG_WARN ? "warn "
                                    : "info ",
            msg);
}

static int cluster(const char *what, const char *dir, char *out, size_t cap)
{
    char cmd[1024];
    snprintf(cmd, sizeof cmd, "scripts/pg-cluster.sh %s %s", what, dir);
    FILE *p = popen(cmd, "r");
    if (!p)
        return -1;
    size_t n = out ? fread(out, 1, cap - 1, p) : 0;
    if (out) {
        out[n] = '\0';
        out[strcspn(out, "\n")] = '\0';
    }
    return pclose(p);
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

/* p50, p99 and max of the latencies of sequence numbers [from, to). */
static void latency_line(const char *name, uint64_t from, uint64_t to)
{
    size_t n = 0;
    double *v = malloc((to - from + 1) * sizeof *v);
    for (uint64_t s = from; v && s < to; s++)
        if (!isnan(D.lat_ms[s]))
            v[n++] = D.lat_ms[s];
    if (!n) {
        printf("| %s | 0 | | | |\n", name);
        free(v);
        return;
    }
    qsort(v, n, sizeof *v, cmp_double);
    printf("| %s | %zu | %.1f | %.1f | %.1f |\n", name, n, v[n / 2], v[(size_t)((double)(n - 1) * 0.99)],
           v[n - 1]);
    free(v);
}

typedef struct check {
    long n, out_of_order, last;
} check;

static int scan_fn(void *ud, const rd_log_row *r)
{
    check *c = ud;
    long i = atol(r->request_id + 6);
    c->out_of_order += i <= c->last;
    c->last = i;
    c->n++;
    return 0;
}

static void row_of(uint64_t i, char *rid, size_t rcap, char *rec, size_t reccap, rd_log_row *r)
{
    snprintf(rid, rcap, "drill-%010llu", (unsigned long long)i);
    int n = snprintf(rec, reccap,
                     "{\"v\":1,\"kind\":\"primary\",\"request_id\":\"%s\",\"features\":{\"pad\":\"", rid);
    memset(rec + n, 'x', 900);
    snprintf(rec + n + 900, reccap - (size_t)n - 900, "\"},\"decision\":\"approve\",\"score\":0.%03llu}",
             (unsigned long long)(i % 1000));
    *r = (rd_log_row){.ts_ms = rd_clock_unix_ms(),
                      .request_id = rid,
                      .kind = "primary",
                      .model_version = "drill_v1.0",
                      .record = rec,
                      .record_len = strlen(rec)};
}

/* The outage, on its own thread so the load stays steady while pg_ctl works: stopped at a third
 * of the time, started again at two thirds. */
typedef struct outage {
    const char *dir;
    double secs;
    atomic_int phase;           /* 0 before, 1 stopped (from the stop's start), 2 started again */
    _Atomic int64_t restart_ns; /* when PostgreSQL answered again */
} outage;

static void *outage_thread(void *ud)
{
    outage *o = ud;
    for (int phase = 1; phase <= 2; phase++) {
        rd_sleep_until_ns(D.t0 + (int64_t)(phase * o->secs / PHASES * 1e9));
        atomic_store(&o->phase, phase);
        fprintf(stderr, "%8.3f s  ----   %s postgresql\n", (double)(rd_clock_ns() - D.t0) / 1e9,
                phase == 1 ? "stopping" : "starting");
        if (cluster(phase == 1 ? "stop" : "restart", o->dir, NULL, 0) != 0)
            fprintf(stderr, "dlog_outage: pg-cluster.sh failed\n");
        fprintf(stderr, "%8.3f s  ----   postgresql %s\n", (double)(rd_clock_ns() - D.t0) / 1e9,
                phase == 1 ? "stopped" : "started");
    }
    atomic_store(&o->restart_ns, rd_clock_ns());
    return NULL;
}

int main(int argc, char **argv)
{
    if (argc < 2 || argc > 4) {
        fputs("usage: dlog_outage PGDIR [SECONDS [RATE]]\n", stderr);
        return 2;
    }
    const char *dir = argv[1];
    double secs = argc > 2 ? atof(argv[2]) : 30;
    double rate = argc > 3 ? atof(argv[3]) : 2000;
    if (!(secs >= 1 && secs <= 86400 && rate >= 1 && rate <= 1e6)) { /* atof: 0 for what is not a number */
        fprintf(stderr,
                "dlog_outage: SECONDS must be a number from 1 to 86400, RATE from 1 to 1000000: %s %s\n",
                argc > 2 ? argv[2] : "", argc > 3 ? argv[3] : "");
        return 2;
    }
    uint64_t total = (uint64_t)(secs * rate);
    char url[512], spool[600];
    char dbarg[600];
    snprintf(dbarg, sizeof dbarg, "%s dlog_outage", dir);
    if (cluster("createdb", dbarg, url, sizeof url) != 0 || strncmp(url, "postgres", 8) != 0) {
        fprintf(stderr, "dlog_outage: cannot make a database in %s\n", dir);
        return 2;
    }
    snprintf(spool, sizeof spool, "%s/dlog.spool", dir);
    D.sent_ns = calloc(total + 2, sizeof *D.sent_ns);
    D.lat_ms = malloc((total + 2) * sizeof *D.lat_ms);
    for (uint64_t s = 0; s < total + 2; s++)
        D.lat_ms[s] = (double)NAN;
    rd_store *st;
    rd_err err;
    if (rd_store_open(url, &(rd_store_opts){.node = "drill"}, &st, &err) != RD_OK) {
        fprintf(stderr, "dlog_outage: %s\n", err.msg);
        return 2;
    }
    rd_dlog_opts o = {
        .durability = RD_DLOG_ACK, .on_commit = on_commit, .spool_path = spool, .on_log = on_log};
    rd_dlog *l;
    if (rd_dlog_new(st, &o, &l, &err) != RD_OK) {
        fprintf(stderr, "dlog_outage: %s\n", err.msg);
        return 2;
    }
    D.t0 = rd_clock_ns();
    outage ou = {.dir = dir, .secs = secs};
    pthread_t th;
    pthread_create(&th, NULL, outage_thread, &ou);
    uint64_t phase_seq[PHASES + 1] = {1, 0, 0, 0}, refused = 0, peak_bytes = 0;
    int phase = 0;
    int64_t drained_ns = 0;
    char rid[32], rec[1200];
    rd_dlog_stats ds;
    for (uint64_t i = 0; i < total; i++) {
        rd_sleep_until_ns(D.t0 + (int64_t)((double)i / rate * 1e9));
        while (phase < atomic_load(&ou.phase))
            phase_seq[++phase] = i + 1;
        rd_log_row r;
        row_of(i, rid, sizeof rid, rec, sizeof rec, &r);
        uint64_t seq;
        D.sent_ns[i + 1] = rd_clock_ns();
        refused += rd_dlog_submit(l, &r, &seq) != RD_OK;
        rd_dlog_get_stats(l, &ds);
        peak_bytes = ds.spool_bytes > peak_bytes ? ds.spool_bytes : peak_bytes;
        if (atomic_load(&ou.restart_ns) && !drained_ns && !ds.spool_records)
            drained_ns = rd_clock_ns();
    }
    pthread_join(th, NULL);
    int64_t restart_ns = atomic_load(&ou.restart_ns);
    phase_seq[PHASES] = total + 1;
    int64_t deadline = rd_clock_ns() + 120000000000LL;
    for (;;) {
        rd_dlog_get_stats(l, &ds);
        if ((!ds.spool_records && ds.committed + ds.failed == ds.submitted) || rd_clock_ns() > deadline)
            break;
        usleep(5000);
    }
    if (!drained_ns)
        drained_ns = rd_clock_ns();
    rd_dlog_free(l);
    check c = {.last = -1};
    int src = rd_store_log_scan(st, NULL, scan_fn, &c, &err);
    rd_store_close(st);

    printf(
        "| records | acknowledged | failed | refused (queue full) | spooled | drained | spool peak (bytes) | "
        "restart to drained (s) |\n| --- | --- | --- | --- | --- | --- | --- | --- |\n");
    printf("| %llu | %llu | %llu | %llu | %llu | %llu | %llu | %.2f |\n\n", (unsigned long long)total,
           (unsigned long long)ds.committed, (unsigned long long)ds.failed, (unsigned long long)refused,
           (unsigned long long)ds.spooled, (unsigned long long)ds.drained, (unsigned long long)peak_bytes,
           restart_ns ? (double)(drained_ns - restart_ns) / 1e9 : (double)NAN);
    printf("| acknowledgement latency | records | p50 ms | p99 ms | max ms |\n| --- | --- | --- | --- | --- "
           "|\n");
    latency_line("before the outage", phase_seq[0], phase_seq[1]);
    latency_line("PostgreSQL stopped (spooled)", phase_seq[1], phase_seq[2]);
    latency_line("after the restart (draining)", phase_seq[2], phase_seq[3]);
    long expect = (long)(ds.committed);
    bool ok = !src && !ds.failed && !refused && c.n == expect && !c.out_of_order && c.last == (long)total - 1;
    printf("\ndatabase: %ld rows (%ld acknowledged), %ld out of order or repeated: %s\n", c.n, expect,
           c.out_of_order, ok ? "ok" : "FAILED");
    free(D.sent_ns);
    free(D.lat_ms);
    return ok ? 0 : 1;
}
