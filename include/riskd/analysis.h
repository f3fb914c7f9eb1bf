/* The analyses a risk team signs a model change off on (shared/reference/rollout-monitoring.md
 * §2.3-2.9), over the decision log of a data directory or over plain CSV files, so they serve
 * teams whose decisions were made elsewhere too:
 *
 *   rd_ab        per variant of a routing flag: units, approval rate, mean score, bad rate among
 *                approved once outcomes exist; each compared with the control (z-test, Welch t,
 *                CI, Holm across the metrics), SRM per stage, the sample size still needed
 *   rd_drift     a bundle's training reference against a window of applications: score and
 *                per-input PSI (noise floor, 0.10/0.25 bands) and KS (effect-size floor), missing
 *                and unseen-level rates
 *   rd_skew      online decisions joined row by row to an offline CSV of the same applications
 *                by request id; the bundle's pipeline run on both; per input the mismatch rate
 *                and largest difference, and score differences for the same bundle
 *   rd_swapset   champion vs challenger at their decision cut-offs: the 2x2 table of approve /
 *                decline, swap-ins and swap-outs with counts, mean scores and bad rates
 *
 * Each fills a result (allocated in the caller's arena) that three writers render: a terminal
 * table (rd_*_text), JSON (rd_*_json; schemas in docs/schema/{ab,drift,skew,swapset}.json) and
 * one self-contained HTML file (rd_report_html, from the JSON). A statistic computed from too
 * little data is never a number: it is null in JSON and says "insufficient data" with the count
 * it needs. Memory is constant in the number of log rows except where a statistic needs the rows
 * (skew keeps the offline file's rows, swapset the challenger's scores for the constant-approval
 * cut-off); KS drift is exact on the reference's 1,000 quantiles (a fixed grid of counters). */
#ifndef RISKD_ANALYSIS_H
#define RISKD_ANALYSIS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "riskd/arena.h"
#include "riskd/bundle.h"
#include "riskd/err.h"
#include "riskd/rollout.h"
#include "riskd/store.h"

/* Progress: units done of total (0: unknown), called every few thousand rows; may be NULL. */
typedef void (*rd_an_progress)(void *ud, uint64_t done, uint64_t total);

/* Where the rows come from: the decision log of store (primary records decided in
 * [from_ms, to_ms), 0: open) or the CSV file csv (store NULL). */
typedef struct rd_an_source {
    rd_store *store;
    int64_t from_ms, to_ms;
    const char *outcome; /* the outcome definition joined as the label (log); NULL: the only one
                            recorded in the window, none when none is (an error naming them when
                            several are) */
    const char *csv;
    rd_an_progress progress;
    void *ud;
} rd_an_source;

/* A statistic that may be missing: ok false -> note says why ("insufficient data: 1000 rows
 * needed, 212 in the window"). */
typedef struct rd_an_note {
    bool ok;
    char note[160];
} rd_an_note;

/* ------------------------------------------------------------------ ab */

typedef struct rd_ab_opts {
    /* log: the routing flag (decisions whose record names it as route_flag); --stage keeps the
       spans when the flag's rollout was at that stage (rollout transitions in the store) */
    const char *flag;
    const char *stage;
    /* csv: the columns (label optional: 0/1, empty when not known yet) */
    const char *variant_col, *decision_col, *score_col, *label_col;
    const char *weights; /* csv: "control=50,candidate=50" for SRM (NULL: SRM not checked) */
    const char *control; /* the control variant (NULL: log: the flag's defaultVariant; csv: the
                            first variant seen) */
    double alpha;        /* 0.05 */
    double power;        /* 0.8 */
    uint64_t min_bads;   /* bads among the approved needed to compare bad rates: 100 */
    /* the log: the fair-lending table of a rollout plan's segments (riskd ab --segments PLAN):
       each segment's approval rate per variant, its adverse impact ratio against the plan's
       reference segment, and the difference from the control with Newcombe's interval (the
       figures the plan's segment gates judge, rd_segment_figures_compute). NULL: none */
    const rd_plan *segments;
    uint64_t segment_min; /* applicants per group and arm below which a figure is insufficient (100) */
} rd_ab_opts;
RD_API void rd_ab_opts_default(rd_ab_opts *o);

typedef struct rd_ab_variant {
    const char *name;
    uint64_t units, approve, review, reject, other;
    double approval_rate;
    uint64_t scored; /* units with a score */
    double mean_score, sd_score;
    uint64_t labelled, approved_labelled, approved_bads;
    double bad_rate_approved; /* NaN when no approved unit is labelled */
} rd_ab_variant;

typedef enum rd_ab_metric { RD_AB_APPROVAL = 0, RD_AB_MEAN_SCORE, RD_AB_BAD_RATE } rd_ab_metric;
RD_API const char *rd_ab_metric_name(rd_ab_metric m); /* approval_rate, mean_score, bad_rate_approved */

typedef struct rd_ab_compare {
    const char *variant; /* against the control */
    rd_ab_metric metric;
    rd_an_note status;           /* !ok: insufficient data, the fields below NaN */
    double control_value, value; /* rates or means */
    double diff, lo, hi;         /* value - control_value and its (1 - alpha) CI */
    double rel, rel_lo, rel_hi;  /* relative lift (delta method; NaN for rates near 0) */
    double stat, df;             /* z (df NaN) or Welch t */
    double p, p_holm;            /* two-sided; Holm across every comparison reported */
    bool significant;            /* p_holm < alpha */
    double n_needed;             /* units per arm for this difference at the power (NaN: none) */
    char sentence[320];          /* the comparison in plain words */
} rd_ab_compare;

typedef struct rd_ab_srm {
    const char *stage;      /* the rollout stage's name, the flag's metadata.stage, or "flags <sha>" */
    const char *flags_sha;  /* the flag revision (log) or NULL (csv) */
    int64_t from_ms, to_ms; /* the first and last decision of the revision */
    size_t narms;
    const char **arms;
    const double *weights; /* configured */
    const uint64_t *observed;
    double chi2, p;
    const char *verdict; /* pass | fail | inconclusive */
    char why[200];
} rd_ab_srm;

typedef struct rd_ab_point { /* the cumulative approval-rate difference at a time */
    int64_t t_ms;
    const char *variant;
    uint64_t units, control_units;
    double diff, lo, hi; /* NaN while insufficient */
} rd_ab_point;

/* One segment of the fair-lending table. */
typedef struct rd_ab_segment_arm {
    const char *variant;
    uint64_t n, approve; /* applicants of the segment in the variant, and approved */
    double rate, air;    /* approval rate; adverse impact ratio against the reference (NaN: none) */
} rd_ab_segment_arm;
typedef struct rd_ab_segment_cmp {
    const char *variant; /* against the control */
    rd_segment_figures *fig;
    bool four_fifths; /* its adverse impact ratio is under 0.8 */
} rd_ab_segment_cmp;
typedef struct rd_ab_segment {
    const char *name;
    bool reference;
    size_t narms;
    rd_ab_segment_arm *arms; /* the control first, as the variants */
    size_t ncmp;
    rd_ab_segment_cmp *cmp;
} rd_ab_segment;
typedef struct rd_ab_segments {
    const char *plan, *reference; /* the plan's name, its reference segment (NULL: none) */
    double alpha;
    uint64_t min_size;
    size_t n;
    rd_ab_segment *segs;
} rd_ab_segments;

typedef struct rd_ab_result {
    const char *flag, *control, *outcome, *stage;
    const char *source; /* "log:DIR" or the CSV path */
    int64_t from_ms, to_ms;
    uint64_t rows, skipped; /* rows read; rows without a variant or with a malformed record */
    double alpha, power;
    size_t nvariants;
    rd_ab_variant *variants; /* the control first */
    size_t ncompare;
    rd_ab_compare *compare;
    size_t nsrm;
    rd_ab_srm *srm;
    char srm_note[200]; /* units SRM could not place ("" when none): no flag revision, too many */
    size_t npoints;
    rd_ab_point *points;
    /* score histograms per variant for the plot (from a uniform sample of up to 10,000 scores
       per variant): nbins + 1 edges, counts[variant][bin] */
    size_t nbins;
    double *edges;
    uint64_t **hist;
    const rd_ab_segments *segments; /* --segments: the fair-lending table (NULL: not asked) */
} rd_ab_result;

/* RD_ENOTFOUND: the flag routes no decision in the window (the message names those that do);
 * RD_EINVAL: a CSV without a named column, a decision or label spelled otherwise (line named),
 * a control that is no variant, weights naming no variant; RD_EIO. */
RD_API int rd_ab(const rd_an_source *src, const rd_ab_opts *o, rd_arena *a, rd_ab_result *out, rd_err *err);
RD_API void rd_ab_json(rd_buf *b, const rd_ab_result *r);
RD_API void rd_ab_text(rd_buf *b, const rd_ab_result *r);

/* ------------------------------------------------------------------ drift */

typedef enum rd_psi_band { RD_PSI_NONE = 0, RD_PSI_STABLE, RD_PSI_MODERATE, RD_PSI_MAJOR } rd_psi_band;
RD_API const char *rd_psi_band_name(rd_psi_band b); /* null | stable | moderate | major */
/* < 0.10 stable, 0.10-0.25 moderate, >= 0.25 major (NaN: none). */
RD_API rd_psi_band rd_psi_band_of(double psi);

typedef struct rd_drift_bin {
    const char *label; /* "[0.1, 0.5)", "rent", "(unseen)", "(missing)" */
    double ref, cur;   /* shares */
} rd_drift_bin;

typedef struct rd_drift_var {
    const char *name;
    bool numeric;
    uint64_t n, missing, unseen; /* current rows; missing; categorical levels training never saw */
    double missing_rate, ref_missing_rate, unseen_rate; /* unseen_rate NaN for numbers */
    double psi, psi_floor;                              /* NaN: psi_note */
    rd_psi_band band;
    bool psi_alarm; /* psi >= max(0.10, floor) */
    char psi_note[160];
    double ks, ks_critical; /* numeric only; NaN: ks_note */
    bool ks_alarm;          /* ks > critical (alpha 0.001) and ks >= 0.05 */
    char ks_note[160];
    size_t nbins;
    rd_drift_bin *bins;
    /* the ECDFs for the plot: npts points x, reference and current shares <= x */
    size_t npts;
    double *ecdf_x, *ecdf_ref, *ecdf_cur;
} rd_drift_var;

typedef struct rd_drift_result {
    const char *bundle, *digest, *source;
    int64_t from_ms, to_ms;
    uint64_t rows, skipped; /* rows read; rows the pipeline refused (not counted) */
    uint64_t scores_logged, scores_computed;
    double reference_rows;
    rd_drift_var score;
    size_t ninputs;
    rd_drift_var *inputs; /* sorted by PSI, largest first (NaN last) */
    char note[320];       /* what the reader noticed ("" when nothing): inputs the CSV lacks */
} rd_drift_result;

/* The bundle's reference against the rows: the log's primary records (their features; the
 * score logged when the record's bundle is this one, else computed) or the CSV's applications
 * (scored by the bundle). RD_EINVAL: a bundle without a reference, a CSV none of whose columns
 * is an input; RD_EIO. */
RD_API int rd_drift(const rd_an_source *src, const rd_bundle *b, rd_arena *a, rd_drift_result *out,
                    rd_err *err);
RD_API void rd_drift_json(rd_buf *b, const rd_drift_result *r);
RD_API void rd_drift_text(rd_buf *b, const rd_drift_result *r);

/* ------------------------------------------------------------------ skew */

typedef struct rd_skew_opts {
    const char *offline; /* the CSV of the same applications, raw values */
    const char *id_col;  /* its request-id column */
    double threshold;    /* the mismatch rate that alarms: 0.001 */
    uint64_t min_rows;   /* joined rows the rate is judged over: 1000 */
    size_t max_examples; /* mismatching rows listed: 20 */
} rd_skew_opts;
RD_API void rd_skew_opts_default(rd_skew_opts *o);

typedef struct rd_skew_input {
    const char *name; /* the pipeline's raw input */
    uint64_t compared, mismatches;
    double rate;         /* mismatches / compared */
    double max_diff;     /* the largest |online - offline| of a numeric prepared value
                            (NaN: none numeric, or only missing-vs-present) */
    bool alarm;          /* rate > threshold over >= min_rows compared, or mismatches > threshold x min_rows
                            (no number of further rows could bring the rate under the threshold) */
    const char *columns; /* the prepared columns that differed ("Home=rent, Home=own"), NULL: none */
    const char *note;    /* why the rate is not judged ("insufficient data: ..."), or that the
                            offline file lacks the input; NULL */
} rd_skew_input;

typedef struct rd_skew_example {
    const char *request_id, *input;
    const char *online_raw, *offline_raw; /* as received / as in the file (JSON text) */
    const char *column;                   /* the first prepared column that differs */
    double online, offline;               /* its prepared values (NaN: missing) */
} rd_skew_example;

typedef struct rd_skew_result {
    const char *bundle, *digest, *source, *offline, *id_col;
    int64_t from_ms, to_ms;
    const char *missing_inputs; /* the inputs the offline file has no column for ("Income, Age"),
                                   NULL: none; compared as missing offline, so they differ */
    uint64_t online_rows, offline_rows, joined, unmatched_offline;
    uint64_t refused_online, refused_offline; /* joined rows the pipeline refused on one side */
    double threshold;
    uint64_t min_rows;
    size_t ninputs;
    rd_skew_input *inputs;                    /* mismatching first, by rate */
    uint64_t score_compared, score_differing; /* decisions by this very bundle (digest) */
    double score_max_diff;
    size_t nexamples;
    rd_skew_example *examples;
    bool differences; /* any input alarms or any score differs by more than 1e-6 */
    char verdict[240];
} rd_skew_result;

/* Join src's primary records (src->store is required) to o->offline by o->id_col, prepare both
 * sides with b's pipeline and compare (rollout-monitoring.md §2.9). The offline file is kept in
 * memory, the log streamed. Strings of the result live in a (or in b, which must outlive it).
 * RD_EINVAL: the id column missing (the message lists the columns, with a did-you-mean), no
 * column that is an input of b (or a required input missing: rd_pipeline_check_columns), an
 * empty or repeated request id in the file (the line named), ids that join nothing ("none of
 * the 1200 ids in F matches a decision in the window"); RD_EPARSE (a malformed line); RD_EIO. */
RD_API int rd_skew(const rd_an_source *src, const rd_bundle *b, const rd_skew_opts *o, rd_arena *a,
                   rd_skew_result *out, rd_err *err);
RD_API void rd_skew_json(rd_buf *b, const rd_skew_result *r);
RD_API void rd_skew_text(rd_buf *b, const rd_skew_result *r);

/* ------------------------------------------------------------------ swap set */

typedef struct rd_swap_opts {
    /* log: the champion is the primary's bundle, the challenger a shadow's; NULL: the only one */
    const char *champion, *challenger;
    /* csv: the score columns */
    const char *champion_col, *challenger_col, *label_col;
    /* the cut-offs (NaN: log: the logged decision, approve or not; csv: required) */
    double champion_cutoff, challenger_cutoff;
    /* csv: approve at or above the cut-off (scorecard points), else below it; log: from each
       bundle's output kind (points: above) */
    bool approve_above;
    /* log: where kept bundles are laid out to read their output kind (riskd: DATA_DIR/replay);
       NULL: every bundle is taken for a probability (approve below the cut-off) */
    const char *work_dir;
    /* labelled units a cell's bad rate needs (below: null, "insufficient data"): 30 */
    uint64_t min_labelled;
} rd_swap_opts;
RD_API void rd_swap_opts_default(rd_swap_opts *o);

typedef enum rd_swap_cell { RD_SWAP_KEEP_IN = 0, RD_SWAP_OUT, RD_SWAP_IN, RD_SWAP_KEEP_OUT } rd_swap_cell;
RD_API const char *rd_swap_cell_name(rd_swap_cell c); /* keep_in swap_out swap_in keep_out */

typedef struct rd_swap_stats {
    uint64_t count, labelled, bads;
    double share;                          /* of the units */
    double mean_champion, mean_challenger; /* scores */
    double bad_rate;                       /* NaN when fewer than min_labelled are labelled */
    const char *note;                      /* why bad_rate is NaN, or NULL */
} rd_swap_stats;

typedef struct rd_swap_result {
    const char *champion, *challenger, *source, *outcome;
    const char *champion_rule, *challenger_rule; /* "logged decision", "score < 0.12", "score >= 600" */
    int64_t from_ms, to_ms;
    uint64_t units, unpaired; /* joined pairs; primaries without the challenger's shadow score (or,
                                 under a cut-off, without a score of their own); CSV rows without
                                 both scores */
    uint64_t min_labelled;
    rd_swap_stats cell[4];
    double champion_approval, challenger_approval;
    bool challenger_above;  /* the challenger approves at or above a cut-off (points), else below */
    double constant_cutoff; /* the challenger cut-off that approves as many as the champion (NaN: none):
                               the challenger's scores sorted ascending s[0..n), k the champion's
                               approvals: s[k] when approving below (s[n-k] at or above), the
                               next double above s[n-1] when no score is the answer */
} rd_swap_result;

/* Champion against challenger at their decision cut-offs (rollout-monitoring.md §3 item 5).
 * Log (src->store): each primary decision of the champion paired with the challenger's shadow
 * record of the same request id; approve = the logged decision "approve" (review and reject
 * decline) unless the side's cut-off is given: then approve below it, or at or above it for a
 * points bundle (the kept bundle's output kind, through o->work_dir); labels from the outcome
 * an_outcome picks. CSV (src->csv): the two score columns, both cut-offs required, the label
 * column optional (0, 1 or empty). Memory: the pairs (a few words each) and the shadow scores.
 * RD_EINVAL: no shadow record in the window, several challengers (or champions) and none
 * chosen (the message lists them), a name that scores nothing, a missing column, a cut-off
 * missing on CSV input, a score or label that is not one (line named); RD_ENOTFOUND: an
 * unknown outcome, a kept bundle missing; RD_EIO. */
RD_API int rd_swapset(const rd_an_source *src, const rd_swap_opts *o, rd_arena *a, rd_swap_result *out,
                      rd_err *err);
RD_API void rd_swapset_json(rd_buf *b, const rd_swap_result *r);
RD_API void rd_swapset_text(rd_buf *b, const rd_swap_result *r);

/* ------------------------------------------------------------------ HTML */

/* One self-contained HTML file (no network fetch: styles, script and data inline) rendering the
 * JSON of report kind ("ab", "drift", "skew", "swapset") with plots: score distributions,
 * PSI per input as bars, the swap-set table, the approval-rate difference over time. */
RD_API void rd_report_html(rd_buf *b, const char *kind, const char *json, size_t len);

#endif
