/* The decision log's writer into SQLite, for `make bench`: two threads queue N decision
 * records (a real record of the credit example, ~1.1 KB, with a distinct request id each) as
 * fast as the queue takes them, and the writer group-commits them into DIR/riskd.db. Prints
 * one JSON line: decisions committed per second, transactions, mean records per commit.
 *
 * usage: log_bench DIR [N] [async|ack] */
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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
    for (long i = 0; i < p->n; i++) {
        snprintf(id, sizeof id, "b%d-%ld", p->id, i);
        int len = snprintf(rec, sizeof rec, record, id);
        rd_log_row row = {.ts_ms = 1796581771017 + i,
                          .request_id = id,
                          .kind = "primary",
                          .model_version = "credit_xgb_v1.0",
                          .record = rec,
                          .record_len = (size_t)len};
        uint64_t seq;
        while (rd_dlog_submit(p->log, &row, &seq) == RD_ELIMIT)
            sched_yield(); /* the queue is full: wait for the writer, as a load would */
    }
    return NULL;
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: log_bench DIR [N] [async|ack]\n");
        return 2;
    }
    long n = argc > 2 ? atol(argv[2]) : 500000;
    bool ack = argc > 3 && !strcmp(argv[3], "ack");
    rd_store *s;
    rd_err err;
    rd_store_opts so = {.sync_full = ack};
    if (rd_store_open(argv[1], &so, &s, &err) != RD_OK) {
        fprintf(stderr, "log_bench: %s\n", err.msg);
        return 1;
    }
    rd_dlog *log;
    rd_dlog_opts o = {.durability = ack ? RD_DLOG_ACK : RD_DLOG_ASYNC};
    if (rd_dlog_new(s, &o, &log, &err) != RD_OK) {
        fprintf(stderr, "log_bench: %s\n", err.msg);
        return 1;
    }
    prod p[2] = {{log, 0, n / 2}, {log, 1, n - n / 2}};
    pthread_t t[2];
    double t0 = now_s();
    for (int i = 0; i < 2; i++)
        pthread_create(&t[i], NULL, produce, &p[i]);
    for (int i = 0; i < 2; i++)
        pthread_join(t[i], NULL);
    while (rd_dlog_committed(log) < (uint64_t)n)
        sched_yield();
    double secs = now_s() - t0;
    rd_dlog_stats st;
    rd_dlog_get_stats(log, &st);
    rd_dlog_free(log);
    rd_store_close(s);
    printf("{\"case\":\"log\",\"durability\":\"%s\",\"records\":%ld,\"seconds\":%.3f,\"per_sec\":%.0f,"
           "\"commits\":%llu,\"records_per_commit\":%.1f,\"failed\":%llu}\n",
           ack ? "ack" : "async", n, secs, (double)n / secs, (unsigned long long)st.commits,
           st.commits ? (double)st.committed / (double)st.commits : 0.0, (unsigned long long)st.failed);
    return st.failed ? 1 : 0;
}
