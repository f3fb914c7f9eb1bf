/* Failed authentications: counted per source and minute, refused past a limit, audited in
 * aggregate.
 *
 * Invariants: one slot per (source, minute), found through an open-addressing index that is
 * rebuilt whenever slots are added by growth or removed by a flush; at most MAX_SOURCES sources
 * are tracked at once, and failures from further ones are counted under the source "other"
 * (which has OTHER_SLOTS slots of its own, one per minute), so an attacker with many addresses
 * costs bounded memory and a bounded number of audit entries; those sources are not limited
 * one by one, the price of the bound. Everything is under one mutex: the work done under it is
 * a hash lookup, and the store is written outside it. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "auth_int.h"
#include "riskd/audit.h"
#include "riskd/json.h"

#define MAX_SOURCES 4096 /* tracked (source, minute) slots before "other" takes the rest */
#define OTHER_SLOTS 16   /* slots kept for "other", one per minute not yet flushed */
#define MAX_REASONS 8    /* distinct reasons per slot; the last is "other" once they run out */
#define SOURCE_MAX  64   /* an IPv6 address with a zone fits */
#define REASON_MAX  32
#define MINUTE_MS   60000

typedef struct reason {
    char why[REASON_MAX];
    unsigned n;
} reason;

typedef struct slot {
    char source[SOURCE_MAX];
    int64_t minute; /* unix minutes */
    unsigned failures, refused;
    reason reasons[MAX_REASONS];
    size_t nreasons;
} slot;

struct rd_auth_limiter {
    pthread_mutex_t lock;
    unsigned max; /* 0: no limit, failures are only counted */
    slot *v;
    size_t n, cap;
    int32_t *index; /* slot number or -1; index_cap entries, a power of two >= 2 cap */
    size_t index_cap;
};

rd_auth_limiter *rd_auth_limiter_new(unsigned max_failures)
{
    rd_auth_limiter *l = rd_calloc(1, sizeof *l);
    if (!l)
        return NULL;
    if (pthread_mutex_init(&l->lock, NULL)) {
        rd_free(l);
        return NULL;
    }
    l->max = max_failures;
    return l;
}

void rd_auth_limiter_free(rd_auth_limiter *l)
{
    if (!l)
        return;
    pthread_mutex_destroy(&l->lock);
    rd_free(l->v);
    rd_free(l->index);
    rd_free(l);
}

/* ------------------------------------------------------------------ the index */

static size_t home(const rd_auth_limiter *l, const char *source, int64_t minute)
{
    uint32_t h = rd_murmur3_32(source, strlen(source), (uint32_t)minute);
    return h & (l->index_cap - 1);
}

static void index_put(rd_auth_limiter *l, size_t i)
{
    size_t at = home(l, l->v[i].source, l->v[i].minute);
    while (l->index[at] >= 0)
        at = (at + 1) & (l->index_cap - 1);
    l->index[at] = (int32_t)i;
}

static void index_rebuild(rd_auth_limiter *l)
{
    for (size_t i = 0; i < l->index_cap; i++)
        l->index[i] = -1;
    for (size_t i = 0; i < l->n; i++)
        index_put(l, i);
}

static slot *find(const rd_auth_limiter *l, const char *source, int64_t minute)
{
    if (!l->index_cap)
        return NULL;
    for (size_t at = home(l, source, minute); l->index[at] >= 0; at = (at + 1) & (l->index_cap - 1)) {
        slot *e = &l->v[l->index[at]];
        if (e->minute == minute && !strcmp(e->source, source))
            return e;
    }
    return NULL;
}

/* Room for one more slot: false when memory or the bound says no. */
static bool grow(rd_auth_limiter *l)
{
    if (l->n < l->cap)
        return true;
    if (l->cap >= MAX_SOURCES + OTHER_SLOTS)
        return false;
    size_t cap = l->cap ? 2 * l->cap : 16;
    if (cap > MAX_SOURCES + OTHER_SLOTS)
        cap = MAX_SOURCES + OTHER_SLOTS;
    size_t icap = 32;
    while (icap < 2 * cap)
        icap *= 2;
    slot *v = rd_realloc(l->v, cap * sizeof *v);
    if (!v)
        return false;
    l->v = v;
    int32_t *index = rd_malloc(icap * sizeof *index);
    if (!index)
        return false;
    rd_free(l->index);
    l->index = index;
    l->index_cap = icap;
    l->cap = cap;
    index_rebuild(l);
    return true;
}

/* The slot of (source, minute), made when missing; "other"'s when the sources are many; NULL
 * when not even that can be had (the failure then goes uncounted). */
static slot *get(rd_auth_limiter *l, const char *source, int64_t minute)
{
    slot *e = find(l, source, minute);
    if (e)
        return e;
    if (l->n >= MAX_SOURCES && (e = find(l, source = "other", minute)))
        return e;
    if (!grow(l))
        return NULL;
    e = &l->v[l->n];
    memset(e, 0, sizeof *e);
    snprintf(e->source, sizeof e->source, "%s", source);
    e->minute = minute;
    index_put(l, l->n++);
    return e;
}

static reason *find_reason(slot *e, const char *why)
{
    for (size_t i = 0; i < e->nreasons; i++)
        if (!strcmp(e->reasons[i].why, why))
            return &e->reasons[i];
    return NULL;
}

/* Count n under why; once MAX_REASONS - 1 distinct ones are kept, new ones go to "other". */
static void add_reason(slot *e, const char *why, unsigned n)
{
    reason *r = find_reason(e, why);
    if (!r && e->nreasons >= MAX_REASONS - 1)
        r = find_reason(e, why = "other");
    if (!r) {
        r = &e->reasons[e->nreasons++];
        snprintf(r->why, sizeof r->why, "%s", why);
        r->n = 0;
    }
    r->n += n;
}

/* ------------------------------------------------------------------ counting */

/* source as a key: bounded, never NULL. */
static void key(const char *source, char out[SOURCE_MAX])
{
    snprintf(out, SOURCE_MAX, "%s", source && *source ? source : "unknown");
}

bool rd_auth_limiter_allow(rd_auth_limiter *l, const char *source, int64_t now_ms)
{
    char k[SOURCE_MAX];
    key(source, k);
    pthread_mutex_lock(&l->lock);
    slot *e = find(l, k, now_ms / MINUTE_MS);
    bool ok = !l->max || !e || e->failures < l->max;
    if (!ok)
        e->refused++; /* refused without a check: counted here, the caller reports nothing */
    pthread_mutex_unlock(&l->lock);
    return ok;
}

void rd_auth_limiter_fail(rd_auth_limiter *l, const char *source, const char *why, int64_t now_ms)
{
    /* the reason is what comes before a colon ("expired: token ... expired at ..." counts as
     * "expired"), so rd_auth_authenticate's messages can be passed as they are, and ids and
     * times never multiply the keys */
    char k[SOURCE_MAX], r[REASON_MAX];
    key(source, k);
    const char *w = why && *why ? why : "unknown";
    snprintf(r, sizeof r, "%.*s", (int)strcspn(w, ":"), w);
    pthread_mutex_lock(&l->lock);
    slot *e = get(l, k, now_ms / MINUTE_MS);
    if (e) {
        e->failures++;
        add_reason(e, r, 1);
    }
    pthread_mutex_unlock(&l->lock);
}

/* ------------------------------------------------------------------ flushing */

static int by_minute_source(const void *a, const void *b)
{
    const slot *x = a, *y = b;
    if (x->minute != y->minute)
        return x->minute < y->minute ? -1 : 1;
    return strcmp(x->source, y->source);
}

/* Move the slots of minutes that ended before now_ms into *out (caller frees). */
static int take_ended(rd_auth_limiter *l, int64_t now_ms, slot **out, size_t *nout)
{
    int64_t current = now_ms / MINUTE_MS;
    size_t n = 0;
    for (size_t i = 0; i < l->n; i++)
        n += l->v[i].minute < current;
    *out = NULL;
    *nout = 0;
    if (!n)
        return RD_OK;
    slot *v = rd_malloc(n * sizeof *v);
    if (!v)
        return RD_ENOMEM;
    size_t keep = 0;
    for (size_t i = 0; i < l->n; i++) {
        if (l->v[i].minute < current)
            v[(*nout)++] = l->v[i];
        else
            l->v[keep++] = l->v[i];
    }
    l->n = keep;
    index_rebuild(l);
    *out = v;
    return RD_OK;
}

/* Put slots back (their audit entries could not be written): counts add up with any since. */
static void merge_back(rd_auth_limiter *l, const slot *v, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        slot *e = get(l, v[i].source, v[i].minute);
        if (!e)
            continue;
        e->failures += v[i].failures;
        e->refused += v[i].refused;
        for (size_t j = 0; j < v[i].nreasons; j++)
            add_reason(e, v[i].reasons[j].why, v[i].reasons[j].n);
    }
}

static int write_entry(rd_store *s, const slot *e, int64_t now_ms, rd_err *err)
{
    time_t sec = (time_t)(e->minute * 60);
    struct tm tm;
    char minute[32], object[SOURCE_MAX + 8];
    strftime(minute, sizeof minute, "%Y-%m-%dT%H:%MZ", gmtime_r(&sec, &tm));
    snprintf(object, sizeof object, "source/%s", e->source);
    rd_buf d;
    rd_buf_init(&d);
    rd_buf_printf(&d, "{\"failures\":%u,\"minute\":\"%s\",\"reasons\":{", e->failures, minute);
    slot sorted = *e; /* reasons in byte order, as canonical JSON has them */
    for (size_t i = 1; i < sorted.nreasons; i++)
        for (size_t j = i; j > 0 && strcmp(sorted.reasons[j - 1].why, sorted.reasons[j].why) > 0; j--) {
            reason t = sorted.reasons[j];
            sorted.reasons[j] = sorted.reasons[j - 1];
            sorted.reasons[j - 1] = t;
        }
    for (size_t i = 0; i < sorted.nreasons; i++) {
        if (i)
            rd_buf_putc(&d, ',');
        rd_json_write_string(&d, sorted.reasons[i].why, strlen(sorted.reasons[i].why));
        rd_buf_printf(&d, ":%u", sorted.reasons[i].n);
    }
    rd_buf_printf(&d, "},\"refused\":%u}", e->refused);
    int rc = d.oom ? rd_err_set(err, RD_ENOMEM, "out of memory") : RD_OK;
    if (!rc) {
        rd_audit_entry a = {
            .ts_ms = now_ms,
            .actor = "anonymous",
            .action = "auth.failed",
            .object = object,
            .detail_json = rd_buf_cstr(&d),
        };
        rc = rd_audit_append(s, &a, NULL, err);
    }
    rd_buf_deinit(&d);
    return rc;
}

static int write_all(rd_store *s, const slot *v, size_t n, int64_t now_ms, rd_err *err)
{
    int rc = rd_store_begin(s, err);
    for (size_t i = 0; i < n && !rc; i++)
        rc = write_entry(s, &v[i], now_ms, err);
    if (rc) {
        rd_store_rollback(s);
        return rc;
    }
    return rd_store_commit(s, err);
}

int rd_auth_limiter_flush(rd_auth_limiter *l, rd_store *s, int64_t now_ms, rd_err *err)
{
    slot *v;
    size_t n;
    pthread_mutex_lock(&l->lock);
    int rc = take_ended(l, now_ms, &v, &n);
    pthread_mutex_unlock(&l->lock);
    if (rc)
        return rd_err_set(err, rc, "out of memory");
    if (!n)
        return RD_OK;
    qsort(v, n, sizeof *v, by_minute_source);
    /* written outside the lock: a slow store must not hold up the requests asking allow() */
    rc = write_all(s, v, n, now_ms, err);
    if (rc) {
        pthread_mutex_lock(&l->lock);
        merge_back(l, v, n);
        pthread_mutex_unlock(&l->lock);
    }
    rd_free(v);
    return rc;
}
