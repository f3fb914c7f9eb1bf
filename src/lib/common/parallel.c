/* rd_parallel_for: contiguous shares over plain pthreads, the caller taking the first. */
#include "riskd/parallel.h"

#include <pthread.h>
#include <stdbool.h>
#include <unistd.h>

#define MAX_THREADS 64

typedef struct share {
    void (*fn)(void *ud, size_t from, size_t to);
    void *ud;
    size_t from, to;
} share;

static void *run_share(void *arg)
{
    share *s = arg;
    s->fn(s->ud, s->from, s->to);
    return NULL;
}

int rd_num_cores(void)
{
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    return n > 0 ? (n > MAX_THREADS ? MAX_THREADS : (int)n) : 1;
}

void rd_parallel_for(size_t n, int threads, size_t min_share, void (*fn)(void *ud, size_t from, size_t to),
                     void *ud)
{
    size_t t = threads > 0 ? (size_t)threads : (size_t)rd_num_cores();
    size_t most = n / (min_share ? min_share : 1) + 1;
    t = t > most ? most : t;
    t = t > MAX_THREADS ? MAX_THREADS : t < 1 ? 1 : t;
    share s[MAX_THREADS];
    pthread_t tid[MAX_THREADS];
    bool started[MAX_THREADS] = {false};
    size_t per = n / t, rest = n % t, at = 0;
    for (size_t i = 0; i < t; i++) {
        size_t len = per + (i < rest);
        s[i] = (share){fn, ud, at, at + len};
        at += len;
    }
    for (size_t i = 1; i < t; i++)
        started[i] = pthread_create(&tid[i], NULL, run_share, &s[i]) == 0;
    run_share(&s[0]);
    for (size_t i = 1; i < t; i++) {
        if (started[i])
            pthread_join(tid[i], NULL);
        else
            run_share(&s[i]);
    }
}
