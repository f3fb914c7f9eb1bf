/* What the monitor costs a decision, for `make bench`: rd_monitor_record of N decisions of
 * the credit example (a model answer with its score, decision and latency, and the request's
 * 13 raw features for the per-input bins) into one series, from 1 and 2 threads, with a
 * thread ticking the window every millisecond as a scrape would. Prints one JSON line per
 * case: nanoseconds per decision, beside the scoring path's own cost it is compared with
 * (rd_bundle_score of the same features, reasons included, as /v1/score does).
 *
 * usage: monitor_bench BUNDLE_DIR [N] */
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "riskd/json.h"
#include "riskd/monitor.h"

static const char features[] =
    "{\"Seniority\":9,\"Home\":\"rent\",\"Time\":60,\"Age\":30,\"Marital\":\"married\",\"Records\":\"no\","
    "\"Job\":\"freelance\",\"Expenses\":73,\"Income\":129,\"Assets\":0,\"Debt\":0,\"Amount\":800,\"Price\":"
    "846}";

typedef struct worker {
    rd_monitor_series *s;
    const rd_value *f;
    long n;
} worker;

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void *record(void *p)
{
    worker *w = p;
    for (long i = 0; i < w->n; i++) {
        rd_monitor_obs o = {.answered = true,
                            .score = (double)(i % 997) / 997.0,
                            .decision = i % 5 ? "approve" : "reject",
                            .latency_ms = 0.2 + (double)(i % 13) / 10.0,
                            .features = w->f};
        rd_monitor_record(w->s, &o);
    }
    return NULL;
}

static atomic_bool stop;
static void *ticker(void *p)
{
    rd_monitor *m = p;
    int64_t t = 0;
    while (!atomic_load(&stop)) {
        rd_monitor_tick(m, t += 1000);
        struct timespec ts = {0, 1000000};
        nanosleep(&ts, NULL);
    }
    return NULL;
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: monitor_bench BUNDLE_DIR [N]\n");
        return 2;
    }
    long n = argc > 2 ? atol(argv[2]) : 2000000;
    rd_err err;
    rd_bundle *b;
    if (rd_bundle_load(argv[1], &b, &err)) {
        fprintf(stderr, "monitor_bench: %s\n", err.msg);
        return 1;
    }
    rd_arena a;
    rd_arena_init(&a, 0);
    rd_value f;
    if (rd_json_parse(features, strlen(features), NULL, &a, &f, &err)) {
        fprintf(stderr, "monitor_bench: %s\n", err.msg);
        return 1;
    }
    /* the scoring path it rides on: the same features scored with 4 reasons */
    long ns = 20000;
    double t0 = now_s();
    for (long i = 0; i < ns; i++) {
        rd_score sc;
        rd_bundle_score(b, &f, 4, &sc, &err);
    }
    double score_ns = (now_s() - t0) / (double)ns * 1e9;
    for (int threads = 1; threads <= 2; threads++) {
        rd_monitor_opts o;
        rd_monitor_opts_default(&o);
        o.bucket_ms = 1000;
        rd_monitor *m;
        rd_monitor_new(&o, &m, &err);
        rd_monitor_series *s = rd_monitor_series_get(m, b, "champion", RD_ROLE_PRIMARY);
        pthread_t tk, th[2];
        atomic_store(&stop, false);
        pthread_create(&tk, NULL, ticker, m);
        worker w = {s, &f, n / threads};
        t0 = now_s();
        for (int i = 0; i < threads; i++)
            pthread_create(&th[i], NULL, record, &w);
        for (int i = 0; i < threads; i++)
            pthread_join(th[i], NULL);
        double secs = now_s() - t0;
        atomic_store(&stop, true);
        pthread_join(tk, NULL);
        double per = secs / (double)(w.n * threads) * 1e9 * threads; /* thread-ns per decision */
        printf("{\"case\":\"monitor_record\",\"threads\":%d,\"decisions\":%ld,\"ns_per_decision\":%.1f,"
               "\"score_ns_per_decision\":%.0f,\"share_of_scoring\":%.4f}\n",
               threads, w.n * threads, per, score_ns, per / score_ns);
        rd_monitor_free(m);
    }
    rd_arena_deinit(&a);
    rd_bundle_free(b);
    return 0;
}
