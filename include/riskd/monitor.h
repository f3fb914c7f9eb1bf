/* Monitoring (shared/reference/rollout-monitoring.md §2.3-2.7): the statistics a rollout is
 * judged on, and their online accumulation on the scoring path.
 *
 *   rd_psi, rd_ks_*, rd_srm, rd_cs_*   the statistics, pure functions, each checked against
 *                                       scipy (tests/interop/monitor_stats.py)
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
#include "riskd/value.h"

/* ------------------------------------------------------------------ statistics */

#define RD_PSI_EPS          1e-4  /* a zero share is replaced by this, on either side (§2.3) */
#define RD_PSI_MIN_ROWS     1000  /* PSI is computed from this many current rows (§2.3) */
#define RD_PSI_ALPHA        0.001 /* the noise floor's level */
#define RD_SRM_ALPHA        0.001 /* §2.5 */
#define RD_SRM_MIN_UNITS    8     /* §2.5: every arm needs this many units before SRM can fail */
#define RD_KS_ALPHA         0.001 /* §2.4 */
#define RD_KS_MIN_EFFECT    0.05  /* §2.4: D must also reach this */
#define RD_CS_DEFAULT_NSTAR 5000

/* PSI = sum (a_i - e_i) ln(a_i / e_i) over nbins, e_i = ref[i] / sum(ref), a_i = cur[i] /
 * sum(cur), a share that is 0 replaced by eps (no renormalisation). NaN when either total is 0. */
RD_API double rd_psi(const double *ref, const double *cur, size_t nbins, double eps);
/* What PSI reaches by noise alone with probability alpha, for n reference and m current rows
 * over nbins bins: (1/n + 1/m) * chi2.isf(alpha, nbins - 1). NaN when nbins < 2 or n or m is
 * not above 0. */
RD_API double rd_psi_noise_floor(double n, double m, size_t nbins, double alpha);

/* Chi-squared survival function and its inverse (GSL's incomplete gamma; the inverse solved
 * to its accuracy), df > 0; NaN outside the domain (df <= 0, p outside [0, 1], NaN). The first
 * call turns GSL's aborting error handler off, process-wide. */
RD_API double rd_chi2_sf(double x, double df);
RD_API double rd_chi2_isf(double p, double df);

/* KS drift against a reference given by K sorted quantiles q[0..K-1] (repeats allowed): the
 * statistic scipy.stats.ks_2samp(q, current) computes, from the current sample counted on the
 * grid of the distinct quantiles u_0 < ... < u_{J-1}: cell 2j+1 holds values equal to u_j,
 * cell 2j values strictly between u_{j-1} and u_j (cell 0: below u_0, cell 2J: above u_{J-1}).
 * That is exact: the ECDF difference can only peak at a grid point or just before one. */
typedef struct rd_ks_grid {
    size_t k;    /* quantiles */
    size_t j;    /* distinct values */
    double *u;   /* j distinct values, ascending */
    double *cdf; /* cdf[i]: share of the K quantiles <= u[i] */
} rd_ks_grid;
/* Build the grid of q (sorted ascending, k >= 1); RD_EINVAL when q is not sorted or not finite. */
RD_API int rd_ks_grid_init(rd_ks_grid *g, const double *q, size_t k, rd_err *err);
RD_API void rd_ks_grid_free(rd_ks_grid *g);
/* The cell of x, in [0, 2j]; NaN has none (returns SIZE_MAX). */
RD_API size_t rd_ks_cell(const rd_ks_grid *g, double x);
/* D from cells[2j + 1] counts (m = their sum); NaN when m == 0. */
RD_API double rd_ks_stat(const rd_ks_grid *g, const uint64_t *cells);
/* The large-sample critical value c(alpha) sqrt((n + m) / (n m)), c(alpha) = sqrt(-ln(alpha/2)/2). */
RD_API double rd_ks_critical(double n, double m, double alpha);
/* KS discrimination: max_s |F_bad(s) - F_good(s)| over n scored outcomes (label 1 = bad,
 * 0 = good; other labels and NaN scores are skipped); NaN when either class is empty (or out
 * of memory). scipy.stats.ks_2samp(bad_scores, good_scores).statistic. */
RD_API double rd_ks_discrimination(const double *score, const int *label, size_t n);

/* Sample ratio mismatch (§2.5): Pearson chi2 of the observed counts against the weights,
 * df = arms with weight > 0, minus 1; p = chi2.sf (scipy.stats.chisquare). */
typedef enum rd_verdict { RD_VERDICT_PASS = 0, RD_VERDICT_FAIL, RD_VERDICT_INCONCLUSIVE } rd_verdict;
RD_API const char *rd_verdict_name(rd_verdict v);
typedef struct rd_srm_result {
    double chi2, p;
    rd_verdict verdict; /* FAIL: p < alpha with every weighted arm >= min units, or any unit in a
                           0-weight arm; INCONCLUSIVE: an arm below min units, a weight that is
                           negative or not a number, no weighted arm; one weighted arm: PASS, p 1 */
    char why[160];
} rd_srm_result;
RD_API void rd_srm(const uint64_t *observed, const double *weights, size_t k, double alpha,
                   rd_srm_result *out);

/* Asymptotic confidence sequence half-width (§2.7) for an estimate with standard error se
 * after n units, tuned for nstar units, at level alpha; one_sided: harm only (rho from 2 alpha).
 * NaN when se < 0, n or nstar is not above 0, or alpha (2 alpha one-sided) is outside (0, 1). */
RD_API double rd_cs_halfwidth(double se, double n, double nstar, double alpha, bool one_sided);
/* One-sided sequential test that the candidate's rate of bad (x1 of n1) exceeds the control's
 * (x0 of n0): delta = p1 - p0, se unpooled, n = n1 + n0; FAIL when delta - halfwidth > 0, PASS
 * otherwise, INCONCLUSIVE (NaN fields) when an arm has no units or x > n. nstar <= 0:
 * RD_CS_DEFAULT_NSTAR. */
typedef struct rd_seq_result {
    double delta, se, halfwidth, lower;
    rd_verdict verdict;
} rd_seq_result;
RD_API void rd_seq_rate_harm(uint64_t x1, uint64_t n1, uint64_t x0, uint64_t n0, double nstar, double alpha,
                             rd_seq_result *out);

/* ------------------------------------------------------------------ online accumulation */

typedef struct rd_monitor rd_monitor;
typedef struct rd_monitor_series rd_monitor_series;

typedef struct rd_monitor_opts {
    int bucket_ms; /* the sliding window's bucket: 60000 */
    int buckets;   /* buckets in the window: 10 */
    int shards;    /* counter shards (threads hash to one): 8 */
    bool inputs;   /* per-input bins (one lookup per feature and request): on */
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

/* What one decision adds. */
typedef struct rd_monitor_obs {
    bool answered;            /* a model or fallback answer; false: the request failed (error) */
    bool fallback;            /* answered by fallback rules */
    int fallback_reason;      /* rd_fallback_reason when fallback */
    double score;             /* rd_score.score when the model answered (NaN otherwise) */
    const char *decision;     /* "approve" / "review" / "reject" / other / NULL */
    double latency_ms;        /* NaN: none (a shadow score runs off the request's clock) */
    const rd_value *features; /* the raw inputs (per-input bins), may be NULL */
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

typedef struct rd_monitor_stats {
    const char *bundle, *variant, *role;
    double seconds; /* the span the counts cover */
    uint64_t n;     /* decisions */
    uint64_t approve, review, reject, other;
    uint64_t model, fallback, timeout, error_fallback, breaker_open, unavailable;
    uint64_t failed; /* requests refused with an error */
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

#endif
