/* Flag evaluation throughput of riskd's in-process engine, for `make bench`.
 *
 * usage: flags_bench FLAGS.json CONTEXTS.json [seconds-per-case]
 * Evaluates static-flag, targeted-flag and fractional-flag over the contexts (cycling),
 * with one thread and with two, and prints one JSON line per case, the same shape as
 * bench/flags/flagd_core_bench.mjs so bench/run.sh can put them side by side. It also counts
 * heap allocations made during the timed loop through the library's allocator hook. */
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "riskd/riskd.h"

static atomic_ulong allocs;

static void *counting_alloc(void *ud, void *ptr, size_t size)
{
    (void)ud;
    if (size == 0) {
        free(ptr);
        return NULL;
    }
    atomic_fetch_add_explicit(&allocs, 1, memory_order_relaxed);
    return realloc(ptr, size);
}

struct job {
    const rd_flagset *fs;
    const char *key;
    rd_flag_type type;
    const rd_value *ctxs;
    uint32_t nctx;
    double seconds;
    unsigned long evals;
    unsigned long matched; /* keeps the compiler from dropping the work */
    double elapsed;
    pthread_barrier_t *ready;
};

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static void *run(void *arg)
{
    struct job *j = arg;
    rd_arena scratch;
    rd_arena_init(&scratch, 0);
    rd_resolution r;
    size_t klen = strlen(j->key);
    /* Warm up: the scratch arena grows to its steady size here, not in the timed loop. */
    for (uint32_t i = 0; i < j->nctx; i++) {
        rd_flag_eval(j->fs, j->key, klen, j->type, &j->ctxs[i], 1700000000, &scratch, &r);
        rd_arena_reset(&scratch);
    }
    pthread_barrier_wait(j->ready); /* the main thread reads the allocation count here */
    pthread_barrier_wait(j->ready);
    unsigned long n = 0, matched = 0;
    double t0 = now_s(), t;
    do {
        for (uint32_t k = 0; k < 4096; k++, n++) {
            rd_flag_eval(j->fs, j->key, klen, j->type, &j->ctxs[n % j->nctx], 1700000000, &scratch, &r);
            matched += r.reason == RD_REASON_TARGETING_MATCH;
            rd_arena_reset(&scratch);
        }
        t = now_s();
    } while (t - t0 < j->seconds);
    j->evals = n;
    j->matched = matched;
    j->elapsed = t - t0;
    rd_arena_deinit(&scratch);
    return NULL;
}

static void bench_case(const char *name, const char *key, rd_flag_type type, const rd_flagset *fs,
                       const rd_value *ctxs, uint32_t nctx, int threads, double seconds)
{
    struct job jobs[2];
    pthread_t tid[2];
    pthread_barrier_t ready;
    pthread_barrier_init(&ready, NULL, (unsigned)threads + 1);
    for (int i = 0; i < threads; i++)
        jobs[i] = (struct job){fs, key, type, ctxs, nctx, seconds, 0, 0, 0, &ready};
    for (int i = 0; i < threads; i++)
        pthread_create(&tid[i], NULL, run, &jobs[i]);
    pthread_barrier_wait(&ready); /* all warmed up */
    unsigned long a0 = atomic_load(&allocs);
    pthread_barrier_wait(&ready);
    for (int i = 0; i < threads; i++)
        pthread_join(tid[i], NULL);
    /* Only the timed loops ran since a0; thread exit and arena teardown free, never allocate. */
    unsigned long a1 = atomic_load(&allocs);
    pthread_barrier_destroy(&ready);
    double evals = 0, elapsed = 0;
    for (int i = 0; i < threads; i++) {
        evals += (double)jobs[i].evals;
        elapsed = jobs[i].elapsed > elapsed ? jobs[i].elapsed : elapsed;
    }
    double eps = evals / elapsed;
    printf("{\"impl\":\"riskd\",\"case\":\"%s\",\"threads\":%d,\"ns_per_eval\":%.1f,\"evals_per_sec\":%.0f,"
           "\"allocs_timed_loop\":%lu,\"evals\":%.0f}\n",
           name, threads, 1e9 * elapsed * threads / evals, eps, a1 - a0, evals);
    fflush(stdout);
}

int main(int argc, char **argv)
{
    if (argc < 3) {
        fprintf(stderr, "usage: flags_bench FLAGS.json CONTEXTS.json [seconds-per-case]\n");
        return 2;
    }
    double seconds = argc > 3 ? atof(argv[3]) : 2.0;
    rd_set_allocator(counting_alloc, NULL);
    char *ftext, *ctext;
    size_t flen, clen;
    rd_err err;
    if (rd_file_read(argv[1], 0, &ftext, &flen, &err) != RD_OK ||
        rd_file_read(argv[2], 0, &ctext, &clen, &err) != RD_OK) {
        fprintf(stderr, "flags_bench: %s\n", err.msg);
        return 1;
    }
    rd_flagset *fs;
    if (rd_flagset_parse(ftext, flen, NULL, &fs, &err) != RD_OK) {
        fprintf(stderr, "flags_bench: %s: %s\n", argv[1], err.msg);
        return 1;
    }
    rd_arena doc;
    rd_arena_init(&doc, 0);
    rd_value ctxs;
    if (rd_json_parse(ctext, clen, NULL, &doc, &ctxs, &err) != RD_OK || ctxs.type != RD_VARRAY || !ctxs.len) {
        fprintf(stderr, "flags_bench: %s: not a non-empty array of contexts %s\n", argv[2], err.msg);
        return 1;
    }
    static const struct {
        const char *name, *key;
        rd_flag_type type;
    } cases[] = {
        {"static", "static-flag", RD_FLAG_BOOLEAN},
        {"targeted", "targeted-flag", RD_FLAG_STRING},
        {"fractional", "fractional-flag", RD_FLAG_STRING},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
        for (int t = 1; t <= 2; t++)
            bench_case(cases[i].name, cases[i].key, cases[i].type, fs, ctxs.u.items, ctxs.len, t, seconds);
    rd_arena_deinit(&doc);
    rd_flagset_unref(fs);
    rd_free(ftext);
    rd_free(ctext);
    return 0;
}
