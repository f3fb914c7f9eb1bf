/* Monitoring (shared/reference/rollout-monitoring.md §2.3-2.7): the statistics a rollout is
 * judged on, and their online accumulation on the scoring path.
 *
 *   rd_psi, rd_ks_*, rd_srm, rd_cs_*   the statistics, in the stats module (riskd/stats.h,
 *                                       included here), checked against scipy
 *   rd_monitor                          per bundle, routing variant and role (primary/shadow):
 *                                       counts, decision rates, fallback/error/timeout rates,
 *                                       score bins (PSI), the score on the reference's quantile
 *                                       grid (KS), per-input bins, latency; cumulative counters
 *                                       in per-thread shards (relaxed atomics, no lock on the
 *                                       scoring path), with a sliding window (a ring of
 *                                       snapshots taken every bucket) and any baseline a caller
 *                                       keeps (a rollout stage's start) */
#ifndef RISKD_MONITOR_H
#define RISKD_MONITOR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "riskd/arena.h"
#include "riskd/bundle.h"
#include "riskd/err.h"
#include "riskd/stats.h"
#include "riskd/value.h"

/* ------------------------------------------------------------------ online accumulation */

typedef struct rd_monitor rd_monitor;
typedef struct rd_monitor_series rd_monitor_series;

typedef struct rd_monitor_opts {
    int bucket_ms; /* the sliding window's bucket: 60000 */
    int buckets;   /* buckets in the window: 10 */
    int shards;    /* counter shards (threads hash to one): 8 */
    bool inputs;   /* per-input bins (one lookup per feature and request): on */
    int history;   /* buckets of decision counts kept for rates over time: 180 (0: none) */
} rd_monitor_opts;
RD_API void rd_monitor_opts_default(rd_monitor_opts *o);

RD_API int rd_monitor_new(const rd_monitor_opts *o, rd_monitor **out, rd_err *err);
RD_API void rd_monitor_free(rd_monitor *m);

typedef enum rd_monitor_role { RD_ROLE_PRIMARY = 0, RD_ROLE_SHADOW } rd_monitor_role;

/* The series of (bundle, variant, role), made on first use and kept for the monitor's life; a
 * bundle reloaded with another digest gets a new series (its statistics restart). variant:
 * the routing flag's variant, "" when no flag picked the bundle. Takes a lock: resolve once
 * per slot and variant, not per request. NULL when out of memory. */
RD_API rd_monitor_series *rd_monitor_series_get(rd_monitor *m, const rd_bundle *b, const char *variant,
                                                rd_monitor_role role);

/* Segments (docs/plans/guardrails.md §6.1): named groups of applicants (an age band, say), for
 * the fair-lending gates. The monitor only counts: whoever records a decision evaluates the
 * segments' rules and passes the bits of those the applicant belongs to (rd_monitor_obs), so the
 * scoring path's cost here is one atomic load and two adds per segment the applicant is in. A
 * set names up to RD_MONITOR_MAX_SEGMENTS segments; bit i of an observation's mask is segment i. */
#define RD_MONITOR_MAX_SEGMENTS 16
typedef struct rd_monitor_segments rd_monitor_segments; /* names, immutable once made */
/* A set of n (1..RD_MONITOR_MAX_SEGMENTS) distinct, non-empty names of at most 63 bytes; copied. */
RD_API int rd_monitor_segments_new(const char *const *names, size_t n, rd_monitor_segments **out,
                                   rd_err *err);
/* What the set's maker keeps with it (the rules that give the bits), freed with the set by
 * user_free: the monitor keeps a set alive as long as a scoring thread may read it. Set it
 * before the set is attached. */
RD_API void rd_monitor_segments_set_user(rd_monitor_segments *segs, void *user, void (*user_free)(void *));
RD_API void *rd_monitor_segments_user(const rd_monitor_segments *segs);
/* Free a set never attached (an attached set belongs to the monitor). */
RD_API void rd_monitor_segments_free(rd_monitor_segments *segs);
RD_API size_t rd_monitor_segments_count(const rd_monitor_segments *segs);
RD_API const char *rd_monitor_segments_name(const rd_monitor_segments *segs, size_t i);
/* Attach segs to series s. The monitor takes segs and keeps every set it was given until
 * rd_monitor_free (a scoring thread or a stats reader may hold one); a set may be attached to
 * several series of that one monitor (m: the series' monitor). The same set again: no-op. Another set
 * (identity is the pointer: a caller whose segments did not change keeps its set) replaces it from now on,
 * and the segment counts of any span that began before now become invalid (rd_monitor_stats.segments_note):
 * counter i meant another segment then. */
RD_API void rd_monitor_attach_segments(rd_monitor *m, rd_monitor_series *s, rd_monitor_segments *segs);
/* The set attached to s (NULL: none). */
RD_API const rd_monitor_segments *rd_monitor_series_segments(rd_monitor_series *s);

/* What one decision adds. */
typedef struct rd_monitor_obs {
    bool answered;            /* a model or fallback answer; false: the request failed (error) */
    bool fallback;            /* answered by fallback rules */
    int fallback_reason;      /* rd_fallback_reason when fallback */
    double score;             /* rd_score.score when the model answered (NaN otherwise) */
    const char *decision;     /* "approve" / "review" / "reject" / other / NULL */
    double latency_ms;        /* NaN: none (a shadow score runs off the request's clock) */
    const rd_value *features; /* the raw inputs (per-input bins), may be NULL */
    /* Exposure caps (guardrails.md §5): a decision left out of the gate metrics (an applicant
       whose amount did not fit the cap at that moment, in either arm) still counts as an
       assignment for SRM, so it adds only the excluded counter (and capped): no rates, bins,
       latency, inputs or segments. capped: the candidate's approval answered by the control
       (implies excluded). Only for answered decisions (a failed request counts as failed). */
    bool excluded, capped;
    /* bit i: the applicant is in segment i of the series' set (bits past the set's size, or
       without a set, are ignored) */
    uint32_t segments;
    /* the set the bits were evaluated for: they count only while it is the series' set (a set
       replaced under a scoring thread is not miscounted); NULL: whichever set is attached */
    const rd_monitor_segments *segment_set;
} rd_monitor_obs;
/* Count one decision: lock-free, a few relaxed atomic adds in the calling thread's shard. */
RD_API void rd_monitor_record(rd_monitor_series *s, const rd_monitor_obs *o);

/* Take the window's snapshot when a bucket has passed (call every second or so: the rollout
 * controller and the metrics scrape do). */
RD_API void rd_monitor_tick(rd_monitor *m, int64_t now_ms);

/* The cumulative counters of a series at one moment, to subtract later (a stage's start). */
typedef struct rd_monitor_mark rd_monitor_mark;
RD_API rd_monitor_mark *rd_monitor_mark_take(rd_monitor_series *s);
RD_API void rd_monitor_mark_free(rd_monitor_mark *k);

typedef struct rd_monitor_input_stats {
    const char *name;
    uint64_t n, missing, unknown; /* unknown: a level training never saw */
    double psi, psi_floor;        /* NaN below RD_PSI_MIN_ROWS or without a reference */
} rd_monitor_input_stats;

typedef struct rd_monitor_segment_stats {
    const char *name;
    uint64_t n, approve; /* answered, non-excluded decisions of applicants in the segment */
    double approve_rate; /* NaN when n is 0 */
} rd_monitor_segment_stats;

typedef struct rd_monitor_stats {
    const char *bundle, *variant, *role;
    double seconds; /* the span the counts cover */
    uint64_t n;     /* decisions */
    uint64_t approve, review, reject, other;
    uint64_t model, fallback, timeout, error_fallback, breaker_open, unavailable;
    uint64_t failed; /* requests refused with an error */
    /* answered decisions left out of every figure below (and of n), counted for SRM only; capped:
       those of them that were the candidate's approvals answered by the control */
    uint64_t excluded, capped;
    double approve_rate, review_rate, reject_rate, fallback_rate, error_rate, timeout_rate;
    double psi, psi_floor; /* score PSI vs the reference deciles; NaN: see psi_note */
    size_t psi_bins;
    /* the score histogram on the reference's bins: psi_bins counts, the bins' psi_bins - 1
       interior edges and the reference's counts (NULL without a reference) */
    const uint64_t *score_counts;
    const double *score_cuts, *score_ref;
    double ks, ks_critical;           /* score KS drift vs the reference quantiles; NaN: see ks_note */
    bool ks_alarm;                    /* ks > ks_critical and ks >= RD_KS_MIN_EFFECT */
    char psi_note[120], ks_note[120]; /* why a statistic is not computed ("" when it is) */
    double latency_p50, latency_p90, latency_p99; /* ms, from a log-linear histogram */
    size_t ninputs;
    rd_monitor_input_stats *inputs; /* in the arena */
    /* the attached set's segments (0 and NULL without one; names live as long as the monitor);
       when the set was replaced after the span began, the counts are 0, the rates NaN and
       segments_note says why ("" when valid) */
    size_t nsegments;
    rd_monitor_segment_stats *segments; /* in the arena */
    char segments_note[120];
} rd_monitor_stats;

/* The statistics since base (NULL: since the series began), or over the sliding window
 * (rd_monitor_window_stats). Strings and arrays in the arena. */
RD_API int rd_monitor_stats_since(rd_monitor_series *s, const rd_monitor_mark *base, int64_t now_ms,
                                  rd_arena *a, rd_monitor_stats *out, rd_err *err);
RD_API int rd_monitor_window_stats(rd_monitor_series *s, int64_t now_ms, rd_arena *a, rd_monitor_stats *out,
                                   rd_err *err);
/* Every series, in creation order. */
RD_API void rd_monitor_foreach(rd_monitor *m, void (*fn)(void *ud, rd_monitor_series *s), void *ud);
RD_API const char *rd_monitor_series_bundle(const rd_monitor_series *s);
RD_API const char *rd_monitor_series_variant(const rd_monitor_series *s);
RD_API rd_monitor_role rd_monitor_series_role(const rd_monitor_series *s);
/* Append stats as JSON (GET /v1/monitor). */
RD_API void rd_monitor_stats_json(rd_buf *b, const rd_monitor_stats *st);

/* Rates over time: the decisions of each bucket of the history (the counts between two ticks
 * of rd_monitor_tick), oldest first. A cheap ring of the decision counters only, longer than
 * the window (opts.history buckets). */
typedef struct rd_monitor_point {
    int64_t t_ms;   /* the bucket's end */
    double seconds; /* its length */
    uint64_t n;     /* answered decisions */
    uint64_t approve, review, reject, fallback, failed;
} rd_monitor_point;
/* Up to max points into out (the newest max when more are kept); returns how many. */
RD_API size_t rd_monitor_history(rd_monitor_series *s, rd_monitor_point *out, size_t max);
/* The history as JSON: [{"t_ms","seconds","n","approve_rate","review_rate","reject_rate",
 * "fallback_rate","failed"}] (rates null in a bucket without decisions). */
RD_API int rd_monitor_history_json(rd_buf *b, rd_monitor_series *s);

#endif
