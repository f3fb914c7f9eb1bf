/* Online monitoring: cumulative counters per (bundle, variant, role) in per-thread shards, so
 * the scoring path costs a few relaxed atomic adds on cache lines no other thread writes
 * (usually); statistics subtract two moments of the counters (a stage's start, or the window's
 * oldest snapshot) and compare with the bundle's training reference (rollout-monitoring.md
 * §2.3, §2.4).
 *
 * The layout of one shard's counters (u64 each):
 *   [0, C_FIXED)                    counts (enum below)
 *   score bins: ncuts + 1           the reference's decile bins (model answers only)
 *   KS cells: 2J + 1                the score on the reference quantile grid (rd_ks_cell)
 *   latency: LAT_BINS               log-linear milliseconds
 *   segments: 2 * RD_MONITOR_MAX_SEGMENTS   (n, approve) per segment of the attached set: the
 *                                   room is kept whether or not a set is ever attached, because
 *                                   the stride is fixed when the series is made
 *   per input: bins + unseen + missing */
#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "riskd/hash.h"
#include "riskd/json.h"
#include "riskd/clock.h"
#include "riskd/monitor.h"

enum {
    C_N = 0, /* answered decisions */
    C_APPROVE,
    C_REVIEW,
    C_REJECT,
    C_OTHER,
    C_MODEL,
    C_FALLBACK,
    C_FB_TIMEOUT,
    C_FB_ERROR,
    C_FB_BREAKER,
    C_FB_UNAVAILABLE,
    C_FAILED,
    C_SCORED,   /* model answers with a finite score */
    C_EXCLUDED, /* answered, left out of the gate metrics (exposure caps): SRM only */
    C_CAPPED,   /* of those, the candidate's approvals answered by the control */
    C_FIXED
};

/* Latency bins: bin i holds (LAT_MIN * 2^((i-1)/8), LAT_MIN * 2^(i/8)] ms; bin 0 everything up
 * to LAT_MIN, the last everything above: 8 bins per doubling, so a quantile is within 9%. */
#define LAT_BINS 160
#define LAT_MIN  0.01

#define MAX_TRACKED_INPUTS 1024

typedef struct mon_input {
    char *name;
    bool numeric;
    size_t ncuts;
    double *cuts;
    double *ref; /* reference counts per bin: ncuts+1 (numeric) or nlevels, then unseen, missing */
    size_t nlevels;
    char **levels;
    size_t off, nbins; /* counters: nbins = (numeric ? ncuts + 1 : nlevels + 1) + 1 (missing last) */
    bool has_unseen;
} mon_input;

struct rd_monitor_segments {
    size_t n;
    char names[RD_MONITOR_MAX_SEGMENTS][64];
    rd_monitor *owner;         /* the monitor that keeps it (set on the first attach) */
    rd_monitor_segments *next; /* the owner's list */
    void *user;                /* the caller's (the rules), freed with the set */
    void (*user_free)(void *);
};

static void segments_destroy(rd_monitor_segments *g)
{
    if (g->user && g->user_free)
        g->user_free(g->user);
    rd_free(g);
}

void rd_monitor_segments_set_user(rd_monitor_segments *segs, void *user, void (*user_free)(void *))
{
    segs->user = user;
    segs->user_free = user_free;
}

void *rd_monitor_segments_user(const rd_monitor_segments *segs) { return segs ? segs->user : NULL; }

struct rd_monitor_series {
    rd_monitor *m;
    char *bundle, *variant;
    char digest[RD_SHA256_HEX];
    rd_monitor_role role;
    int64_t created_ms;
    /* the reference, copied: the series outlives the bundle it was made for */
    bool has_ref;
    double ref_rows;
    size_t score_ncuts;
    double *score_cuts, *score_ref;
    bool has_grid;
    rd_ks_grid grid;
    size_t ninputs;
    mon_input *inputs;
    size_t *slots; /* open-addressing table of input names: index + 1, 0 empty */
    size_t nslots;
    /* the counters */
    size_t off_score, off_ks, off_lat, off_seg, stride;
    /* the segment set: loaded by scoring threads without a lock, replaced under lock. segs_gen
       counts replacements: a span's segment counts are valid when its start (a mark, a window
       snapshot) saw the same generation as its end (a millisecond clock could not tell a mark
       taken just before a replacement from one just after); segs_replaced_ms is for the note */
    _Atomic(rd_monitor_segments *) segs;
    _Atomic uint64_t segs_gen;
    int64_t segs_replaced_ms;
    _Atomic uint64_t *shards; /* m->o.shards * stride */
    /* the window: snapshots of the summed counters, taken by rd_monitor_tick */
    pthread_mutex_t lock;
    uint64_t *ring;
    int64_t *ring_ms;
    uint64_t *ring_gen; /* segs_gen at each snapshot */
    size_t ring_len, ring_n, ring_head;
    /* the history: the decision counters (C_FIXED of them) at each tick, history_len ticks */
    uint64_t *hist;
    int64_t *hist_ms;
    size_t hist_len, hist_n, hist_head;
};

struct rd_monitor_mark {
    int64_t ms;
    uint64_t segs_gen;
    size_t stride;
    uint64_t c[];
};

struct rd_monitor {
    rd_monitor_opts o;
    pthread_mutex_t lock;
    rd_monitor_series **series;
    size_t n, cap;
    int64_t last_tick_ms;
    rd_monitor_segments *segsets; /* every set attached, freed with the monitor */
};

void rd_monitor_opts_default(rd_monitor_opts *o)
{
    *o = (rd_monitor_opts){.bucket_ms = 60000, .buckets = 10, .shards = 8, .inputs = true, .history = 180};
}

int rd_monitor_new(const rd_monitor_opts *o, rd_monitor **out, rd_err *err)
{
    rd_monitor_opts def;
    rd_monitor_opts_default(&def);
    if (!o)
        o = &def;
    if (o->bucket_ms <= 0 || o->buckets <= 0 || o->shards <= 0 || o->shards > 256)
        return rd_err_set(err, RD_EINVAL, "monitor: bucket_ms, buckets and shards (1..256) must be positive");
    if (o->history < 0 || o->history > 100000)
        return rd_err_set(err, RD_EINVAL, "monitor: history must be 0..100000 buckets, got %d", o->history);
    rd_monitor *m = rd_calloc(1, sizeof *m);
    if (!m)
        return rd_err_set(err, RD_ENOMEM, "out of memory");
    m->o = *o;
    pthread_mutex_init(&m->lock, NULL);
    *out = m;
    return RD_OK;
}

static void series_free(rd_monitor_series *s)
{
    if (!s)
        return;
    rd_free(s->bundle);
    rd_free(s->variant);
    rd_free(s->score_cuts);
    rd_free(s->score_ref);
    if (s->has_grid)
        rd_ks_grid_free(&s->grid);
    for (size_t i = 0; i < s->ninputs; i++) {
        mon_input *in = &s->inputs[i];
        rd_free(in->name);
        rd_free(in->cuts);
        rd_free(in->ref);
        for (size_t j = 0; j < in->nlevels; j++)
            rd_free(in->levels[j]);
        rd_free(in->levels);
    }
    rd_free(s->inputs);
    rd_free(s->slots);
    rd_free((void *)s->shards);
    rd_free(s->ring);
    rd_free(s->ring_ms);
    rd_free(s->ring_gen);
    rd_free(s->hist);
    rd_free(s->hist_ms);
    pthread_mutex_destroy(&s->lock);
    rd_free(s);
}

void rd_monitor_free(rd_monitor *m)
{
    if (!m)
        return;
    for (size_t i = 0; i < m->n; i++)
        series_free(m->series[i]);
    rd_free(m->series);
    for (rd_monitor_segments *g = m->segsets, *next; g; g = next) {
        next = g->next;
        segments_destroy(g);
    }
    pthread_mutex_destroy(&m->lock);
    rd_free(m);
}

static double *dup_doubles(const double *v, size_t n)
{
    double *d = rd_malloc(n * sizeof *d + 1);
    if (d && n)
        memcpy(d, v, n * sizeof *d);
    return d;
}

/* Copy what the series needs of input r (reference) into in; its counters start at *off. */
static int copy_input(mon_input *in, const rd_ref_input *r, size_t *off)
{
    in->name = rd_strndup(r->name, strlen(r->name));
    in->numeric = r->numeric;
    if (!in->name)
        return -1;
    if (r->numeric) {
        in->ncuts = r->dist.ncuts;
        in->cuts = dup_doubles(r->dist.cuts, r->dist.ncuts);
        in->ref = rd_malloc((in->ncuts + 2) * sizeof(double));
        if (!in->cuts || !in->ref)
            return -1;
        memcpy(in->ref, r->dist.counts, (in->ncuts + 1) * sizeof(double));
        in->ref[in->ncuts + 1] = r->missing;
        in->nbins = in->ncuts + 2;
    } else {
        in->nlevels = r->nlevels;
        in->has_unseen = r->has_unseen;
        in->levels = rd_calloc(r->nlevels + 1, sizeof(char *));
        in->ref = rd_malloc((r->nlevels + 2) * sizeof(double));
        if (!in->levels || !in->ref)
            return -1;
        for (size_t j = 0; j < r->nlevels; j++) {
            if (!(in->levels[j] = rd_strndup(r->levels[j], strlen(r->levels[j]))))
                return -1;
            in->ref[j] = r->level_counts[j];
        }
        in->ref[r->nlevels] = r->has_unseen ? r->unseen : 0;
        in->ref[r->nlevels + 1] = r->missing;
        in->nbins = r->nlevels + 2;
    }
    in->off = *off;
    *off += in->nbins;
    return 0;
}

static uint32_t name_hash(const char *s, size_t n) { return rd_murmur3_32(s, n, 0x5eed); }

static int index_inputs(rd_monitor_series *s)
{
    s->nslots = 16;
    while (s->nslots < s->ninputs * 2)
        s->nslots *= 2;
    if (!(s->slots = rd_calloc(s->nslots, sizeof(size_t))))
        return -1;
    for (size_t i = 0; i < s->ninputs; i++) {
        size_t h = name_hash(s->inputs[i].name, strlen(s->inputs[i].name)) & (s->nslots - 1);
        while (s->slots[h])
            h = (h + 1) & (s->nslots - 1);
        s->slots[h] = i + 1;
    }
    return 0;
}

static long find_input(const rd_monitor_series *s, const char *name, size_t len)
{
    if (!s->nslots)
        return -1;
    for (size_t h = name_hash(name, len) & (s->nslots - 1); s->slots[h]; h = (h + 1) & (s->nslots - 1)) {
        const char *n = s->inputs[s->slots[h] - 1].name;
        if (strlen(n) == len && !memcmp(n, name, len))
            return (long)(s->slots[h] - 1);
    }
    return -1;
}

static rd_monitor_series *series_new(rd_monitor *m, const rd_bundle *b, const char *variant,
                                     rd_monitor_role role)
{
    rd_monitor_series *s = rd_calloc(1, sizeof *s);
    if (!s)
        return NULL;
    pthread_mutex_init(&s->lock, NULL);
    s->m = m;
    s->role = role;
    s->created_ms = rd_clock_unix_ms();
    const char *name = rd_bundle_name(b);
    s->bundle = rd_strndup(name, strlen(name));
    s->variant = rd_strndup(variant, strlen(variant));
    snprintf(s->digest, sizeof s->digest, "%s", rd_bundle_digest(b));
    if (!s->bundle || !s->variant)
        goto fail;
    size_t off = C_FIXED;
    const rd_reference *ref = rd_bundle_reference(b);
    s->off_score = off;
    if (ref) {
        s->has_ref = true;
        s->ref_rows = ref->rows;
        s->score_ncuts = ref->score.ncuts;
        s->score_cuts = dup_doubles(ref->score.cuts, ref->score.ncuts);
        s->score_ref = dup_doubles(ref->score.counts, ref->score.ncuts + 1);
        if (!s->score_cuts || !s->score_ref)
            goto fail;
        off += s->score_ncuts + 1;
        if (ref->score.nquantiles > 0 &&
            rd_ks_grid_init(&s->grid, ref->score.quantiles, ref->score.nquantiles, NULL) == RD_OK)
            s->has_grid = true;
    }
    s->off_ks = off;
    if (s->has_grid)
        off += 2 * s->grid.j + 1;
    s->off_lat = off;
    off += LAT_BINS;
    s->off_seg = off;
    off += 2 * RD_MONITOR_MAX_SEGMENTS;
    if (ref && m->o.inputs && role == RD_ROLE_PRIMARY && ref->ninputs > 0) {
        s->ninputs = ref->ninputs < MAX_TRACKED_INPUTS ? ref->ninputs : MAX_TRACKED_INPUTS;
        if (!(s->inputs = rd_calloc(s->ninputs, sizeof *s->inputs)))
            goto fail;
        for (size_t i = 0; i < s->ninputs; i++)
            if (copy_input(&s->inputs[i], &ref->inputs[i], &off))
                goto fail;
        if (index_inputs(s))
            goto fail;
    }
    /* a shard's counters on their own cache lines */
    s->stride = (off + 7) & ~(size_t)7;
    s->shards = rd_calloc((size_t)m->o.shards * s->stride, sizeof(uint64_t));
    s->ring_len = (size_t)m->o.buckets + 1;
    s->ring = rd_calloc(s->ring_len * s->stride, sizeof(uint64_t));
    s->ring_ms = rd_calloc(s->ring_len, sizeof(int64_t));
    s->ring_gen = rd_calloc(s->ring_len, sizeof(uint64_t));
    if (!s->shards || !s->ring || !s->ring_ms || !s->ring_gen)
        goto fail;
    if (m->o.history > 0) { /* one more snapshot than buckets: a bucket is the difference of two */
        s->hist_len = (size_t)m->o.history + 1;
        s->hist = rd_calloc(s->hist_len * C_FIXED, sizeof(uint64_t));
        s->hist_ms = rd_calloc(s->hist_len, sizeof(int64_t));
        if (!s->hist || !s->hist_ms)
            goto fail;
    }
    return s;
fail:
    series_free(s);
    return NULL;
}

rd_monitor_series *rd_monitor_series_get(rd_monitor *m, const rd_bundle *b, const char *variant,
                                         rd_monitor_role role)
{
    if (!variant)
        variant = "";
    const char *name = rd_bundle_name(b), *digest = rd_bundle_digest(b);
    pthread_mutex_lock(&m->lock);
    rd_monitor_series *found = NULL;
    size_t at = m->n;
    for (size_t i = 0; i < m->n; i++) {
        rd_monitor_series *s = m->series[i];
        if (s && s->role == role && !strcmp(s->bundle, name) && !strcmp(s->variant, variant)) {
            if (!strcmp(s->digest, digest))
                found = s;
            else
                at = i; /* the same bundle name with another digest: replaced below */
            break;
        }
    }
    if (!found) {
        found = series_new(m, b, variant, role);
        if (found && m->n == m->cap) {
            size_t cap = m->cap ? m->cap * 2 : 16;
            rd_monitor_series **v = rd_realloc(m->series, cap * sizeof(rd_monitor_series *));
            if (v) {
                m->series = v;
                m->cap = cap;
            } else {
                series_free(found);
                found = NULL;
            }
        }
        if (found && at < m->n) {
            /* the old series stays allocated (a thread may still be counting in it), parked
               at the end where lookups and rd_monitor_foreach no longer see it */
            m->series[m->n++] = m->series[at];
            m->series[at] = found;
        } else if (found) {
            m->series[m->n++] = found;
        }
    }
    pthread_mutex_unlock(&m->lock);
    return found;
}

/* ------------------------------------------------------------------ segment sets */

int rd_monitor_segments_new(const char *const *names, size_t n, rd_monitor_segments **out, rd_err *err)
{
    if (n == 0 || n > RD_MONITOR_MAX_SEGMENTS)
        return rd_err_set(err, RD_EINVAL, "monitor: a segment set has 1..%d segments, got %zu",
                          RD_MONITOR_MAX_SEGMENTS, n);
    rd_monitor_segments *g = rd_calloc(1, sizeof *g);
    if (!g)
        return rd_err_set(err, RD_ENOMEM, "out of memory");
    for (size_t i = 0; i < n; i++) {
        size_t len = names[i] ? strlen(names[i]) : 0;
        if (len == 0 || len >= sizeof g->names[i]) {
            rd_free(g);
            return rd_err_set(err, RD_EINVAL, "monitor: segment %zu: a name of 1..%zu bytes", i + 1,
                              sizeof g->names[i] - 1);
        }
        for (size_t j = 0; j < i; j++)
            if (!strcmp(g->names[j], names[i])) {
                rd_free(g);
                return rd_err_set(err, RD_EINVAL, "monitor: segment \"%s\" named twice", names[i]);
            }
        memcpy(g->names[i], names[i], len + 1);
    }
    g->n = n;
    *out = g;
    return RD_OK;
}

void rd_monitor_segments_free(rd_monitor_segments *segs)
{
    if (segs && !segs->owner) /* an attached set is the monitor's to free */
        segments_destroy(segs);
}

size_t rd_monitor_segments_count(const rd_monitor_segments *segs) { return segs ? segs->n : 0; }

const char *rd_monitor_segments_name(const rd_monitor_segments *segs, size_t i)
{
    return segs && i < segs->n ? segs->names[i] : NULL;
}

void rd_monitor_attach_segments(rd_monitor *m, rd_monitor_series *s, rd_monitor_segments *segs)
{
    if (!s || !segs)
        return;
    m = s->m; /* the series' own monitor keeps the set */
    pthread_mutex_lock(&m->lock);
    if (!segs->owner) {
        segs->owner = m;
        segs->next = m->segsets;
        m->segsets = segs;
    }
    pthread_mutex_unlock(&m->lock);
    pthread_mutex_lock(&s->lock);
    rd_monitor_segments *cur = atomic_load_explicit(&s->segs, memory_order_relaxed);
    if (cur != segs) {
        /* counter i meant cur's segment i until now: spans from before cannot be read with
           the new names (a first set has nothing before it to misread) */
        if (cur) {
            s->segs_replaced_ms = rd_clock_unix_ms();
            atomic_fetch_add_explicit(&s->segs_gen, 1, memory_order_seq_cst);
        }
        atomic_store_explicit(&s->segs, segs, memory_order_seq_cst);
    }
    pthread_mutex_unlock(&s->lock);
}

const rd_monitor_segments *rd_monitor_series_segments(rd_monitor_series *s)
{
    return s ? atomic_load_explicit(&s->segs, memory_order_acquire) : NULL;
}

/* ------------------------------------------------------------------ recording */

static _Atomic unsigned next_shard;
static _Thread_local int my_shard = -1;

static _Atomic uint64_t *shard_of(rd_monitor_series *s)
{
    if (my_shard < 0)
        my_shard = (int)(atomic_fetch_add_explicit(&next_shard, 1, memory_order_relaxed) & 0xffff);
    return s->shards + (size_t)(my_shard % s->m->o.shards) * s->stride;
}

static inline void add(_Atomic uint64_t *c, size_t i)
{
    atomic_fetch_add_explicit(&c[i], 1, memory_order_relaxed);
}

/* Bin of x among ascending cuts: how many cuts are <= x ([c_{i-1}, c_i) bins). */
static size_t bin_of(const double *cuts, size_t n, double x)
{
    size_t lo = 0, hi = n;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        if (cuts[mid] <= x)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

static size_t lat_bin(double ms)
{
    if (!(ms > LAT_MIN))
        return 0;
    double b = ceil(8.0 * log2(ms / LAT_MIN));
    return b >= LAT_BINS - 1 ? LAT_BINS - 1 : (size_t)b;
}

static double lat_upper(size_t i) { return LAT_MIN * exp2((double)i / 8.0); }

static void record_inputs(rd_monitor_series *s, _Atomic uint64_t *c, const rd_value *f)
{
    uint64_t seen[MAX_TRACKED_INPUTS / 64] = {0};
    if (f && f->type == RD_VOBJECT)
        for (uint32_t k = 0; k < f->len; k++) {
            const rd_member *mb = &f->u.members[k];
            long i = find_input(s, mb->key, mb->key_len);
            if (i < 0 || (seen[i / 64] >> (i % 64)) & 1)
                continue;
            seen[i / 64] |= (uint64_t)1 << (i % 64);
            mon_input *in = &s->inputs[i];
            const rd_value *v = &mb->val;
            size_t missing = in->nbins - 1;
            /* classified as the pipeline reads a record: null and "" are missing, a number may
               come as a string ("52000") */
            if (v->type == RD_VNULL || (v->type == RD_VSTRING && v->len == 0)) {
                add(c, in->off + missing);
            } else if (in->numeric) {
                double x = (double)NAN;
                if (v->type == RD_VNUMBER) {
                    x = v->u.n;
                } else if (v->type == RD_VSTRING && v->len < 64) {
                    char buf[64], *end;
                    memcpy(buf, v->u.s, v->len);
                    buf[v->len] = '\0';
                    x = strtod(buf, &end);
                    if (*end)
                        x = (double)NAN;
                }
                add(c, in->off + (isnan(x) ? missing : bin_of(in->cuts, in->ncuts, x)));
            } else if (v->type == RD_VSTRING) {
                size_t j = 0;
                while (j < in->nlevels &&
                       !(strlen(in->levels[j]) == v->len && !memcmp(in->levels[j], v->u.s, v->len)))
                    j++;
                add(c, in->off + j); /* j == nlevels: unseen */
            } else {
                add(c, in->off + in->nlevels); /* a number or a boolean for a category: unseen */
            }
        }
    for (size_t i = 0; i < s->ninputs; i++)
        if (!((seen[i / 64] >> (i % 64)) & 1))
            add(c, s->inputs[i].off + s->inputs[i].nbins - 1);
}

static void record_segments(rd_monitor_series *s, _Atomic uint64_t *c, const rd_monitor_obs *o)
{
    const rd_monitor_segments *g = atomic_load_explicit(&s->segs, memory_order_acquire);
    if (!g || (o->segment_set && o->segment_set != g))
        return; /* no set, or the bits were evaluated for a set since replaced */
    bool approve = o->decision && !strcmp(o->decision, "approve");
    for (size_t i = 0; i < g->n; i++)
        if ((o->segments >> i) & 1u) {
            add(c, s->off_seg + 2 * i);
            if (approve)
                add(c, s->off_seg + 2 * i + 1);
        }
}

void rd_monitor_record(rd_monitor_series *s, const rd_monitor_obs *o)
{
    if (!s)
        return;
    _Atomic uint64_t *c = shard_of(s);
    if (!o->answered) {
        add(c, C_FAILED);
        return;
    }
    if (o->excluded || o->capped) {
        add(c, C_EXCLUDED);
        if (o->capped)
            add(c, C_CAPPED);
        return;
    }
    add(c, C_N);
    const char *d = o->decision;
    add(c, !d                      ? C_OTHER
           : !strcmp(d, "approve") ? C_APPROVE
           : !strcmp(d, "review")  ? C_REVIEW
           : !strcmp(d, "reject")  ? C_REJECT
                                   : C_OTHER);
    if (o->fallback) {
        add(c, C_FALLBACK);
        add(c, o->fallback_reason == 1   ? C_FB_TIMEOUT
               : o->fallback_reason == 2 ? C_FB_ERROR
               : o->fallback_reason == 3 ? C_FB_BREAKER
                                         : C_FB_UNAVAILABLE);
    } else {
        add(c, C_MODEL);
        if (isfinite(o->score)) {
            add(c, C_SCORED);
            if (s->has_ref)
                add(c, s->off_score + bin_of(s->score_cuts, s->score_ncuts, o->score));
            if (s->has_grid)
                add(c, s->off_ks + rd_ks_cell(&s->grid, o->score));
        }
    }
    if (!isnan(o->latency_ms)) /* a shadow score has none: it runs off the request's clock */
        add(c, s->off_lat + lat_bin(o->latency_ms));
    if (s->ninputs)
        record_inputs(s, c, o->features);
    if (o->segments)
        record_segments(s, c, o);
}

/* ------------------------------------------------------------------ moments */

static void sum_now(rd_monitor_series *s, uint64_t *out)
{
    memset(out, 0, s->stride * sizeof *out);
    for (int k = 0; k < s->m->o.shards; k++) {
        const _Atomic uint64_t *c = s->shards + (size_t)k * s->stride;
        for (size_t i = 0; i < s->stride; i++)
            out[i] += atomic_load_explicit(&c[i], memory_order_relaxed);
    }
}

void rd_monitor_tick(rd_monitor *m, int64_t now_ms)
{
    pthread_mutex_lock(&m->lock);
    bool due = now_ms - m->last_tick_ms >= m->o.bucket_ms;
    if (due)
        m->last_tick_ms = now_ms;
    size_t n = m->n;
    rd_monitor_series **v = m->series;
    for (size_t i = 0; due && i < n; i++) {
        rd_monitor_series *s = v[i];
        pthread_mutex_lock(&s->lock);
        sum_now(s, s->ring + s->ring_head * s->stride);
        s->ring_ms[s->ring_head] = now_ms;
        s->ring_gen[s->ring_head] = atomic_load(&s->segs_gen); /* attach waits for s->lock */
        if (s->hist_len) { /* the window's snapshot begins with the decision counters */
            memcpy(s->hist + s->hist_head * C_FIXED, s->ring + s->ring_head * s->stride,
                   C_FIXED * sizeof(uint64_t));
            s->hist_ms[s->hist_head] = now_ms;
            s->hist_head = (s->hist_head + 1) % s->hist_len;
            if (s->hist_n < s->hist_len)
                s->hist_n++;
        }
        s->ring_head = (s->ring_head + 1) % s->ring_len;
        if (s->ring_n < s->ring_len)
            s->ring_n++;
        pthread_mutex_unlock(&s->lock);
    }
    pthread_mutex_unlock(&m->lock);
}

rd_monitor_mark *rd_monitor_mark_take(rd_monitor_series *s)
{
    rd_monitor_mark *k = rd_malloc(sizeof *k + s->stride * sizeof(uint64_t));
    if (!k)
        return NULL;
    k->ms = rd_clock_unix_ms();
    k->stride = s->stride;
    /* the generation before the counters: a set replaced while they are summed makes the span
       invalid rather than mixing two sets' counts under one set's names */
    k->segs_gen = atomic_load(&s->segs_gen);
    sum_now(s, k->c);
    return k;
}

void rd_monitor_mark_free(rd_monitor_mark *k) { rd_free(k); }

/* ------------------------------------------------------------------ statistics */

static double rate(uint64_t x, uint64_t n) { return n ? (double)x / (double)n : (double)NAN; }

static double lat_quantile(const uint64_t *h, double p)
{
    uint64_t n = 0;
    for (size_t i = 0; i < LAT_BINS; i++)
        n += h[i];
    if (!n)
        return (double)NAN;
    double want = p * (double)n, run = 0;
    for (size_t i = 0; i < LAT_BINS; i++) {
        if (run + (double)h[i] >= want && h[i] > 0) {
            double lo = i ? lat_upper(i - 1) : 0, hi = lat_upper(i);
            return lo + (hi - lo) * (want - run) / (double)h[i]; /* linear within the bin */
        }
        run += (double)h[i];
    }
    return lat_upper(LAT_BINS - 1);
}

/* PSI of cur (nbins counts) against ref, with its noise floor; NaN below RD_PSI_MIN_ROWS. */
static void psi_of(const double *ref, const uint64_t *cur, size_t nbins, double *psi, double *floor_,
                   char *note, size_t cap)
{
    double refn = 0, m = 0;
    double curd[4096];
    size_t nb = nbins < 4096 ? nbins : 4096;
    for (size_t i = 0; i < nb; i++) {
        refn += ref[i];
        curd[i] = (double)cur[i];
        m += curd[i];
    }
    *psi = *floor_ = (double)NAN;
    if (m < RD_PSI_MIN_ROWS) {
        if (note)
            snprintf(note, cap, "%.0f rows of the %d PSI needs", m, RD_PSI_MIN_ROWS);
        return;
    }
    size_t live = 0; /* a bin empty on both sides adds nothing to PSI, nor to its df */
    for (size_t i = 0; i < nb; i++)
        live += ref[i] > 0 || curd[i] > 0;
    *psi = rd_psi(ref, curd, nb, RD_PSI_EPS);
    *floor_ = rd_psi_noise_floor(refn, m, live, RD_PSI_ALPHA);
}

/* A span's segment set: the set and generation read after its end's counters were summed (a
 * set replaced meanwhile shows a newer generation), and the generation at its start. */
typedef struct seg_view {
    const rd_monitor_segments *g;
    uint64_t gen, base_gen;
    int64_t replaced_ms;
} seg_view;

static seg_view segs_view_locked(rd_monitor_series *s, uint64_t base_gen)
{
    return (seg_view){atomic_load(&s->segs), atomic_load(&s->segs_gen), base_gen, s->segs_replaced_ms};
}

static int segment_stats(rd_monitor_series *s, const uint64_t *c, seg_view v, rd_arena *a,
                         rd_monitor_stats *out, rd_err *err)
{
    if (!v.g)
        return RD_OK;
    out->nsegments = v.g->n;
    out->segments = rd_arena_alloc(a, v.g->n * sizeof *out->segments);
    if (!out->segments)
        return rd_err_set(err, RD_ENOMEM, "out of memory");
    bool valid = v.gen == v.base_gen;
    if (!valid) {
        char t[32];
        if (!rd_time_text(v.replaced_ms, t))
            snprintf(t, sizeof t, "%lld ms", (long long)v.replaced_ms);
        snprintf(out->segments_note, sizeof out->segments_note,
                 "segments redefined at %s, after this span began", t);
    }
    for (size_t i = 0; i < v.g->n; i++) {
        rd_monitor_segment_stats *g = &out->segments[i];
        g->name = v.g->names[i];
        g->n = valid ? c[s->off_seg + 2 * i] : 0;
        g->approve = valid ? c[s->off_seg + 2 * i + 1] : 0;
        g->approve_rate = valid ? rate(g->approve, g->n) : (double)NAN;
    }
    return RD_OK;
}

/* The statistics of the counts now - base, over [from_ms, now_ms]. */
static int compute(rd_monitor_series *s, const uint64_t *now, const uint64_t *base, int64_t from_ms,
                   int64_t now_ms, seg_view v, rd_arena *a, rd_monitor_stats *out, rd_err *err)
{
    double seconds = (double)(now_ms - from_ms) / 1000.0;
    uint64_t *c = rd_arena_alloc(a, s->stride * sizeof *c);
    if (!c)
        return rd_err_set(err, RD_ENOMEM, "out of memory");
    for (size_t i = 0; i < s->stride; i++)
        c[i] = now[i] - (base ? base[i] : 0);
    memset(out, 0, sizeof *out);
    out->bundle = s->bundle;
    out->variant = s->variant;
    out->role = s->role == RD_ROLE_SHADOW ? "shadow" : "primary";
    out->seconds = seconds;
    out->n = c[C_N];
    out->approve = c[C_APPROVE];
    out->review = c[C_REVIEW];
    out->reject = c[C_REJECT];
    out->other = c[C_OTHER];
    out->model = c[C_MODEL];
    out->fallback = c[C_FALLBACK];
    out->timeout = c[C_FB_TIMEOUT];
    out->error_fallback = c[C_FB_ERROR];
    out->breaker_open = c[C_FB_BREAKER];
    out->unavailable = c[C_FB_UNAVAILABLE];
    out->failed = c[C_FAILED];
    out->excluded = c[C_EXCLUDED];
    out->capped = c[C_CAPPED];
    out->approve_rate = rate(out->approve, out->n);
    out->review_rate = rate(out->review, out->n);
    out->reject_rate = rate(out->reject, out->n);
    out->fallback_rate = rate(out->fallback, out->n);
    out->timeout_rate = rate(out->timeout, out->n);
    out->error_rate = rate(out->error_fallback + out->failed, out->n + out->failed);
    out->psi = out->psi_floor = out->ks = out->ks_critical = (double)NAN;
    uint64_t scored = c[C_SCORED];
    if (!s->has_ref) {
        snprintf(out->psi_note, sizeof out->psi_note, "the bundle has no training reference");
        snprintf(out->ks_note, sizeof out->ks_note, "the bundle has no training reference");
    } else {
        out->psi_bins = s->score_ncuts + 1;
        out->score_counts = c + s->off_score;
        out->score_cuts = s->score_cuts;
        out->score_ref = s->score_ref;
        psi_of(s->score_ref, c + s->off_score, out->psi_bins, &out->psi, &out->psi_floor, out->psi_note,
               sizeof out->psi_note);
        if (!s->has_grid) {
            snprintf(out->ks_note, sizeof out->ks_note,
                     "the bundle's reference has no quantiles (built before format 2): rebuild it for KS");
        } else if (scored == 0) {
            snprintf(out->ks_note, sizeof out->ks_note, "no scores yet");
        } else {
            out->ks = rd_ks_stat(&s->grid, c + s->off_ks);
            out->ks_critical = rd_ks_critical(s->ref_rows, (double)scored, RD_KS_ALPHA);
            out->ks_alarm = out->ks > out->ks_critical && out->ks >= RD_KS_MIN_EFFECT;
        }
    }
    const uint64_t *lat = c + s->off_lat;
    out->latency_p50 = lat_quantile(lat, 0.50);
    out->latency_p90 = lat_quantile(lat, 0.90);
    out->latency_p99 = lat_quantile(lat, 0.99);
    out->ninputs = s->ninputs;
    if (s->ninputs) {
        out->inputs = rd_arena_alloc(a, s->ninputs * sizeof *out->inputs);
        if (!out->inputs)
            return rd_err_set(err, RD_ENOMEM, "out of memory");
        for (size_t i = 0; i < s->ninputs; i++) {
            const mon_input *in = &s->inputs[i];
            rd_monitor_input_stats *is = &out->inputs[i];
            const uint64_t *b = c + in->off;
            is->name = in->name;
            is->missing = b[in->nbins - 1];
            is->unknown = in->numeric ? 0 : b[in->nlevels];
            is->n = 0;
            for (size_t j = 0; j < in->nbins; j++)
                is->n += b[j];
            psi_of(in->ref, b, in->nbins, &is->psi, &is->psi_floor, NULL, 0);
        }
    }
    return segment_stats(s, c, v, a, out, err);
}

int rd_monitor_stats_since(rd_monitor_series *s, const rd_monitor_mark *base, int64_t now_ms, rd_arena *a,
                           rd_monitor_stats *out, rd_err *err)
{
    if (base && base->stride != s->stride)
        return rd_err_set(err, RD_EINVAL, "monitor: a mark of another series");
    uint64_t *now = rd_arena_alloc(a, s->stride * sizeof *now);
    if (!now)
        return rd_err_set(err, RD_ENOMEM, "out of memory");
    sum_now(s, now);
    pthread_mutex_lock(&s->lock);
    seg_view v = segs_view_locked(s, base ? base->segs_gen : 0);
    pthread_mutex_unlock(&s->lock);
    int64_t from = base ? base->ms : s->created_ms;
    return compute(s, now, base ? base->c : NULL, from, now_ms, v, a, out, err);
}

int rd_monitor_window_stats(rd_monitor_series *s, int64_t now_ms, rd_arena *a, rd_monitor_stats *out,
                            rd_err *err)
{
    uint64_t *now = rd_arena_alloc(a, s->stride * sizeof *now), *base = NULL;
    if (!now)
        return rd_err_set(err, RD_ENOMEM, "out of memory");
    int64_t span = (int64_t)s->m->o.bucket_ms * s->m->o.buckets, from = s->created_ms;
    pthread_mutex_lock(&s->lock);
    sum_now(s, now);
    /* the newest snapshot at least a window old: the window covers between span and span +
       one bucket; none yet: since the series began if no snapshot was dropped, else the oldest */
    size_t pick = SIZE_MAX;
    for (size_t k = 0; k < s->ring_n; k++) {
        size_t i = (s->ring_head + s->ring_len - s->ring_n + k) % s->ring_len;
        if (s->ring_ms[i] <= now_ms - span)
            pick = i;
    }
    if (pick == SIZE_MAX && s->ring_len && s->ring_n == s->ring_len)
        pick = (s->ring_head + s->ring_len - s->ring_n) % s->ring_len;
    if (pick != SIZE_MAX && (base = rd_arena_alloc(a, s->stride * sizeof *base))) {
        memcpy(base, s->ring + pick * s->stride, s->stride * sizeof *base);
        from = s->ring_ms[pick];
    }
    seg_view v = segs_view_locked(s, pick != SIZE_MAX ? s->ring_gen[pick] : 0);
    pthread_mutex_unlock(&s->lock);
    if (pick != SIZE_MAX && !base)
        return rd_err_set(err, RD_ENOMEM, "out of memory");
    return compute(s, now, base, from, now_ms, v, a, out, err);
}

void rd_monitor_foreach(rd_monitor *m, void (*fn)(void *ud, rd_monitor_series *s), void *ud)
{
    pthread_mutex_lock(&m->lock);
    size_t n = m->n;
    rd_monitor_series **copy = rd_malloc(n * sizeof(rd_monitor_series *) + 1);
    if (copy && n)
        memcpy(copy, m->series, n * sizeof(rd_monitor_series *));
    pthread_mutex_unlock(&m->lock);
    if (!copy)
        return;
    /* parked series (a bundle replaced by another digest) are not listed */
    for (size_t i = 0; i < n; i++) {
        bool current = true;
        for (size_t j = 0; j < i; j++)
            if (copy[j]->role == copy[i]->role && !strcmp(copy[j]->bundle, copy[i]->bundle) &&
                !strcmp(copy[j]->variant, copy[i]->variant))
                current = false;
        if (current)
            fn(ud, copy[i]);
    }
    rd_free(copy);
}

const char *rd_monitor_series_bundle(const rd_monitor_series *s) { return s->bundle; }
const char *rd_monitor_series_variant(const rd_monitor_series *s) { return s->variant; }
rd_monitor_role rd_monitor_series_role(const rd_monitor_series *s) { return s->role; }

/* ------------------------------------------------------------------ JSON */

static int num(rd_buf *b, const char *key, double x)
{
    if (!isfinite(x))
        return rd_buf_printf(b, ",\"%s\":null", key);
    char t[40];
    rd_num_format(x, t);
    return rd_buf_printf(b, ",\"%s\":%s", key, t);
}

void rd_monitor_stats_json(rd_buf *b, const rd_monitor_stats *st)
{
    rd_buf_puts(b, "{\"bundle\":");
    rd_json_write_string(b, st->bundle, strlen(st->bundle));
    rd_buf_puts(b, ",\"variant\":");
    rd_json_write_string(b, st->variant, strlen(st->variant));
    rd_buf_printf(b, ",\"role\":\"%s\"", st->role);
    num(b, "seconds", st->seconds);
    rd_buf_printf(
        b,
        ",\"n\":%llu,\"approve\":%llu,\"review\":%llu,\"reject\":%llu,\"other\":%llu,\"model\":%llu,"
        "\"fallback\":%llu,\"timeout\":%llu,\"error_fallback\":%llu,\"breaker_open\":%llu,"
        "\"unavailable\":%llu,\"failed\":%llu,\"excluded\":%llu,\"capped\":%llu",
        (unsigned long long)st->n, (unsigned long long)st->approve, (unsigned long long)st->review,
        (unsigned long long)st->reject, (unsigned long long)st->other, (unsigned long long)st->model,
        (unsigned long long)st->fallback, (unsigned long long)st->timeout,
        (unsigned long long)st->error_fallback, (unsigned long long)st->breaker_open,
        (unsigned long long)st->unavailable, (unsigned long long)st->failed, (unsigned long long)st->excluded,
        (unsigned long long)st->capped);
    num(b, "approve_rate", st->approve_rate);
    num(b, "review_rate", st->review_rate);
    num(b, "reject_rate", st->reject_rate);
    num(b, "fallback_rate", st->fallback_rate);
    num(b, "error_rate", st->error_rate);
    num(b, "timeout_rate", st->timeout_rate);
    rd_buf_puts(b, ",\"score_psi\":{");
    rd_buf_printf(b, "\"bins\":%zu", st->psi_bins);
    num(b, "value", st->psi);
    num(b, "noise_floor", st->psi_floor);
    if (st->psi_note[0]) {
        rd_buf_puts(b, ",\"note\":");
        rd_json_write_string(b, st->psi_note, strlen(st->psi_note));
    }
    if (st->score_counts) { /* the histogram: bin i is [cuts[i-1], cuts[i]) */
        char t[40];
        rd_buf_puts(b, ",\"cuts\":[");
        for (size_t i = 0; i + 1 < st->psi_bins; i++) {
            rd_num_format(st->score_cuts[i], t);
            rd_buf_printf(b, "%s%s", i ? "," : "", t);
        }
        rd_buf_puts(b, "],\"counts\":[");
        for (size_t i = 0; i < st->psi_bins; i++)
            rd_buf_printf(b, "%s%llu", i ? "," : "", (unsigned long long)st->score_counts[i]);
        rd_buf_puts(b, "],\"reference_counts\":[");
        for (size_t i = 0; i < st->psi_bins; i++) {
            rd_num_format(st->score_ref[i], t);
            rd_buf_printf(b, "%s%s", i ? "," : "", t);
        }
        rd_buf_putc(b, ']');
    }
    rd_buf_puts(b, "},\"score_ks\":{\"kind\":\"drift\"");
    num(b, "value", st->ks);
    num(b, "critical_0.001", st->ks_critical);
    rd_buf_printf(b, ",\"alarm\":%s", st->ks_alarm ? "true" : "false");
    if (st->ks_note[0]) {
        rd_buf_puts(b, ",\"note\":");
        rd_json_write_string(b, st->ks_note, strlen(st->ks_note));
    }
    rd_buf_puts(b, "},\"latency_ms\":{\"unit\":\"ms\"");
    num(b, "p50", st->latency_p50);
    num(b, "p90", st->latency_p90);
    num(b, "p99", st->latency_p99);
    rd_buf_puts(b, "},\"inputs\":[");
    for (size_t i = 0; i < st->ninputs; i++) {
        const rd_monitor_input_stats *is = &st->inputs[i];
        rd_buf_puts(b, i ? ",{\"name\":" : "{\"name\":");
        rd_json_write_string(b, is->name, strlen(is->name));
        rd_buf_printf(b, ",\"n\":%llu,\"missing\":%llu,\"unknown\":%llu", (unsigned long long)is->n,
                      (unsigned long long)is->missing, (unsigned long long)is->unknown);
        num(b, "missing_rate", rate(is->missing, is->n));
        num(b, "unknown_rate", rate(is->unknown, is->n));
        num(b, "psi", is->psi);
        num(b, "psi_noise_floor", is->psi_floor);
        rd_buf_putc(b, '}');
    }
    rd_buf_puts(b, "],\"segments\":[");
    for (size_t i = 0; i < st->nsegments; i++) {
        const rd_monitor_segment_stats *g = &st->segments[i];
        rd_buf_puts(b, i ? ",{\"name\":" : "{\"name\":");
        rd_json_write_string(b, g->name, strlen(g->name));
        rd_buf_printf(b, ",\"n\":%llu,\"approve\":%llu", (unsigned long long)g->n,
                      (unsigned long long)g->approve);
        num(b, "approve_rate", g->approve_rate);
        rd_buf_putc(b, '}');
    }
    rd_buf_putc(b, ']');
    if (st->segments_note[0]) {
        rd_buf_puts(b, ",\"segments_note\":");
        rd_json_write_string(b, st->segments_note, strlen(st->segments_note));
    }
    rd_buf_putc(b, '}');
}

/* ------------------------------------------------------------------ history */

size_t rd_monitor_history(rd_monitor_series *s, rd_monitor_point *out, size_t max)
{
    pthread_mutex_lock(&s->lock);
    size_t have = s->hist_n ? s->hist_n - 1 : 0, n = have < max ? have : max;
    /* snapshots oldest first: the oldest kept is at head when the ring is full, else at 0 */
    size_t oldest = s->hist_n == s->hist_len ? s->hist_head : 0;
    for (size_t k = 0; k < n; k++) {
        size_t j = have - n + k; /* the point's index among all kept: the newest n */
        size_t a = (oldest + j) % s->hist_len, b = (oldest + j + 1) % s->hist_len;
        const uint64_t *x = s->hist + a * C_FIXED, *y = s->hist + b * C_FIXED;
        out[k] = (rd_monitor_point){.t_ms = s->hist_ms[b],
                                    .seconds = (double)(s->hist_ms[b] - s->hist_ms[a]) / 1000.0,
                                    .n = y[C_N] - x[C_N],
                                    .approve = y[C_APPROVE] - x[C_APPROVE],
                                    .review = y[C_REVIEW] - x[C_REVIEW],
                                    .reject = y[C_REJECT] - x[C_REJECT],
                                    .fallback = y[C_FALLBACK] - x[C_FALLBACK],
                                    .failed = y[C_FAILED] - x[C_FAILED]};
    }
    pthread_mutex_unlock(&s->lock);
    return n;
}

int rd_monitor_history_json(rd_buf *b, rd_monitor_series *s)
{
    size_t cap = s->hist_len ? s->hist_len : 1;
    rd_monitor_point *p = rd_malloc(cap * sizeof *p);
    if (!p)
        return RD_ENOMEM;
    size_t n = rd_monitor_history(s, p, cap);
    rd_buf_putc(b, '[');
    for (size_t i = 0; i < n; i++) {
        rd_buf_printf(b, "%s{\"t_ms\":%lld", i ? "," : "", (long long)p[i].t_ms);
        num(b, "seconds", p[i].seconds);
        rd_buf_printf(b, ",\"n\":%llu", (unsigned long long)p[i].n);
        num(b, "approve_rate", rate(p[i].approve, p[i].n));
        num(b, "review_rate", rate(p[i].review, p[i].n));
        num(b, "reject_rate", rate(p[i].reject, p[i].n));
        num(b, "fallback_rate", rate(p[i].fallback, p[i].n));
        rd_buf_printf(b, ",\"failed\":%llu}", (unsigned long long)p[i].failed);
    }
    rd_buf_putc(b, ']');
    rd_free(p);
    return b->oom ? RD_ENOMEM : RD_OK;
}
