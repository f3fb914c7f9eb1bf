/* The decision path (shared/DESIGN.md §1): which model answers a request, within which
 * deadline, what answers when it cannot, and which models score it in shadow.
 *
 *   rd_slot      a loaded bundle as served: the bundle, its circuit breaker and any injected
 *                faults; refcounted and shared by the deciders that hold it, so a reload that
 *                keeps a bundle keeps its breaker
 *   rd_decider   the serving snapshot: flags + slots + routing configuration, checked as a
 *                whole when built, immutable and refcounted like rd_flagset
 *   rd_decide    one request -> one decision, plus the shadow work to do off the caller's clock
 *   rd_shadow    the shadow pool: worker threads, a bounded queue, per-pair statistics
 *   rd_decision_write_json   the one encoder of the decision record (server, CLI, log, replay)
 *
 * `riskd serve` and `riskd score` both decide through rd_decide, so online and batch run the
 * same code. */
#ifndef RISKD_DECIDE_H
#define RISKD_DECIDE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "riskd/arena.h"
#include "riskd/bundle.h"
#include "riskd/err.h"
#include "riskd/exposure.h"
#include "riskd/fallback.h"
#include "riskd/flags.h"
#include "riskd/value.h"

/* ------------------------------------------------------------------ circuit breaker */

typedef enum rd_breaker_mode {
    RD_BREAKER_WINDOW = 0,  /* failure rate over a time window (rollout-monitoring.md §2.8) */
    RD_BREAKER_CONSECUTIVE, /* fail_max failures in a row open it for reset_ms */
    RD_BREAKER_OFF,
} rd_breaker_mode;

typedef enum rd_breaker_state {
    RD_BREAKER_CLOSED = 0,
    RD_BREAKER_OPEN,
    RD_BREAKER_HALF_OPEN
} rd_breaker_state;

typedef struct rd_breaker_opts {
    rd_breaker_mode mode;
    int window_ms;            /* 10000: ten buckets of window_ms / 10 */
    int min_calls;            /* 20 calls in the window before the rate counts */
    double failure_rate;      /* 0.5: (errors + deadline overruns) / calls that open it */
    int open_ms;              /* 5000, doubled on each re-open from half-open ... */
    int open_max_ms;          /* ... up to 60000 */
    int half_open_calls;      /* 10 trial calls; closes if their failure rate < failure_rate */
    int half_open_timeout_ms; /* 10000: trials not finished by then re-open it */
    int fail_max;             /* consecutive mode: 5 */
    int reset_ms;             /* consecutive mode: 60000 open, then one trial */
    /* Called on every transition (under the breaker's lock: keep it short); may be NULL. */
    void (*on_transition)(void *ud, const char *bundle, rd_breaker_state from, rd_breaker_state to);
    void *ud;
} rd_breaker_opts;

/* The defaults above (window mode). */
RD_API void rd_breaker_opts_default(rd_breaker_opts *o);
RD_API const char *rd_breaker_state_name(rd_breaker_state s);

typedef struct rd_breaker rd_breaker;
/* A breaker on its own (a slot makes its own); now_ns from rd_clock_ns, passed in so tests
 * can drive time. allow returns a ticket: 0 (refused: answer with the fallback), 1 (a normal
 * call) or 2 and more (a trial of the current half-open period); record takes that ticket and
 * whether the call succeeded (a trial from an earlier period no longer counts). */
RD_API rd_breaker *rd_breaker_new(const rd_breaker_opts *o, const char *name);
RD_API void rd_breaker_free(rd_breaker *b);
RD_API int rd_breaker_allow(rd_breaker *b, int64_t now_ns);
RD_API void rd_breaker_record(rd_breaker *b, int ticket, bool ok, int64_t now_ns);
RD_API rd_breaker_state rd_breaker_get_state(const rd_breaker *b);
/* Transitions into state to since the breaker was made. */
RD_API uint64_t rd_breaker_transitions(const rd_breaker *b, rd_breaker_state to);

/* ------------------------------------------------------------------ faults (drills, tests) */

/* Faults injected into one bundle's calls: "BUNDLE:delay_ms=N", "BUNDLE:error_rate=P",
 * "BUNDLE:score=X", several joined by commas ("b:delay_ms=300,error_rate=0.1"), and
 * "for_ms=N": the faults last N ms from when the spec was read, then the bundle heals (an
 * outage drill: the breaker opens, then closes again). "decline=P@FEATURE<N" (op < <= > >= ==,
 * a numeric raw feature): of the primary decisions whose feature meets the condition, a share P
 * is declined (the score replaced by 0.99, the bands applied), drawn from the request id's hash
 * so a replay of the same traffic declines the same ones: an approval rate set per segment, for
 * the fair-lending drills (probability-scored bundles only; shadow scores are not touched). */
typedef struct rd_fault {
    char bundle[128];
    int delay_ms;      /* added before the model runs (cut off by the deadline like the model) */
    double error_rate; /* probability that a call fails */
    bool has_score;
    double score;             /* the model's score replaced by X (bands applied to it) */
    double decline;           /* share of the matching primary decisions declined (0: none) */
    char decline_feature[64]; /* the raw feature the condition reads */
    int decline_op;           /* 0 <, 1 <=, 2 >, 3 >=, 4 == */
    double decline_at;        /* the condition's number */
    int for_ms;               /* 0: for good */
    int64_t until_ns;         /* rd_clock_ns when the faults end (for_ms), 0: never */
} rd_fault;

/* Whether the faults are in force at now_ns. */
RD_API bool rd_fault_active(const rd_fault *f, int64_t now_ns);
/* Parse one spec into *f, or merge it into *f when f->bundle already names the same bundle
 * (the caller looks that up). RD_EINVAL with the fault named. */
RD_API int rd_fault_parse(const char *spec, rd_fault *f, rd_err *err);
/* "delay_ms=300,error_rate=0.1" (for logs and /ready). */
RD_API void rd_fault_describe(const rd_fault *f, char *buf, size_t cap);

/* ------------------------------------------------------------------ slots */

typedef struct rd_slot rd_slot;

/* Serve bundle b (taken: freed with the slot). user is the caller's (the server's metric
 * series, say), freed by user_free (may be NULL) with the slot. */
RD_API int rd_slot_new(rd_bundle *b, const rd_breaker_opts *bo, void *user, void (*user_free)(void *),
                       rd_slot **out, rd_err *err);
RD_API rd_slot *rd_slot_ref(rd_slot *s);
RD_API void rd_slot_unref(rd_slot *s);
RD_API const rd_bundle *rd_slot_bundle(const rd_slot *s);
RD_API const char *rd_slot_name(const rd_slot *s);
RD_API void *rd_slot_user(const rd_slot *s);
RD_API rd_breaker *rd_slot_breaker(const rd_slot *s);

/* ------------------------------------------------------------------ the decider */

typedef struct rd_decider rd_decider;

#define RD_DECIDE_MAX_SHADOWS 8

typedef struct rd_decide_opts {
    const char *route_flag;     /* the string flag naming the bundle; NULL or "": none */
    const char *shadow_flag;    /* the object flag {"bundles": [...]}; NULL or "": none */
    const char *default_bundle; /* NULL or "": the only bundle when there is one */
    int deadline_ms;            /* 0: none (batch); a bundle's serving.deadline_ms wins */
    int64_t fixed_time;         /* $flagd.timestamp; 0: now */
    rd_fallback *fallback;      /* service-wide rules (a reference is taken); NULL: none */
    const rd_fault *faults;     /* copied */
    size_t nfaults;
    bool flags_only;          /* no bundles configured: the flags serve OFREP alone, routing is unchecked */
    bool route_required;      /* route_flag was named explicitly: it must be in the flag set */
    const char *flags_sha256; /* the flag file's SHA-256, recorded with each decision; NULL: none */
} rd_decide_opts;

/* Build a decider over flags (may be NULL; a reference is taken) and slots (references are
 * taken; any order). Refused as a whole (RD_EINVAL, naming the flag, variant or bundle):
 * a routing flag variant that is not a string or names a bundle that is not loaded; a
 * default_bundle not loaded; a shadow_flag that is not in the flag set, or a variant of it
 * that is not {"bundles": [names of loaded bundles]}; a fault naming no loaded bundle. */
RD_API int rd_decider_new(const rd_decide_opts *o, rd_flagset *flags, rd_slot *const *slots, size_t n,
                          rd_decider **out, rd_err *err);
RD_API rd_decider *rd_decider_ref(rd_decider *d);
RD_API void rd_decider_unref(rd_decider *d);

RD_API rd_flagset *rd_decider_flags(const rd_decider *d);
RD_API size_t rd_decider_count(const rd_decider *d);
/* Slot i, in name order. */
RD_API rd_slot *rd_decider_slot(const rd_decider *d, size_t i);
RD_API rd_slot *rd_decider_find(const rd_decider *d, const char *name, size_t len);
/* The bundle for requests the routing flag does not place (default_bundle, or the only one). */
RD_API rd_slot *rd_decider_default(const rd_decider *d);
/* The routing and shadow flags' indexes in the flag set, -1 when absent. */
RD_API long rd_decider_route_index(const rd_decider *d);
RD_API long rd_decider_shadow_index(const rd_decider *d);
/* Whether a request that names no bundle gets one (a routing flag or a default bundle). */
RD_API bool rd_decider_can_pick(const rd_decider *d);
RD_API const rd_fallback *rd_decider_fallback(const rd_decider *d);
RD_API const rd_fault *rd_decider_faults(const rd_decider *d, size_t *n);
/* The routing and shadow flags' keys ("" for none), and the flag file's SHA-256 ("" when unknown). */
RD_API const char *rd_decider_route_flag(const rd_decider *d);
RD_API const char *rd_decider_shadow_flag(const rd_decider *d);
RD_API const char *rd_decider_flags_sha256(const rd_decider *d);

/* ------------------------------------------------------------------ one decision */

typedef struct rd_decide_req {
    const rd_value *request_id; /* string or number; NULL: one is made ("riskd-N") */
    const rd_value *context;    /* object or NULL */
    const rd_value *features;   /* object */
    const char *bundle;         /* pin a bundle (replays, tests); NULL: route */
    size_t bundle_len;
    int reasons; /* reason codes; -1: the bundle's */
    /* features naming no input of the pipeline: refused, listed in the answer (warn) or
     * ignored; DEFAULT: the pipeline's unknown_inputs, else refused (rd_pipeline_check) */
    rd_unknown_policy unknown_inputs;
    int64_t t0_ns; /* when the request arrived (rd_clock_ns), for latency_ms; 0: now. The deadline
                      counts from the decision's start (the request complete) */
    /* the exposure caps of the rollout of the decider's route_flag (docs/plans/guardrails.md
     * §4.2); NULL: no caps (riskd score, replay, tests) */
    rd_exposure *exposure;
} rd_decide_req;

typedef enum rd_source { RD_SOURCE_MODEL = 0, RD_SOURCE_FALLBACK } rd_source;

typedef enum rd_fallback_reason {
    RD_FB_NONE = 0,
    RD_FB_TIMEOUT,      /* the deadline passed */
    RD_FB_ERROR,        /* the model failed */
    RD_FB_BREAKER_OPEN, /* its circuit breaker refused the call */
    RD_FB_UNAVAILABLE,  /* no bundle could be picked */
} rd_fallback_reason;
RD_API const char *rd_fallback_reason_name(rd_fallback_reason r);

/* Why the control answered a request routed to the candidate. */
typedef enum rd_control_reason {
    RD_CONTROL_NONE = 0,
    RD_CONTROL_EXPOSURE_CAP, /* the candidate's approval did not fit the stage's exposure cap */
} rd_control_reason;
/* "exposure_cap" ("" for NONE). */
RD_API const char *rd_control_reason_name(rd_control_reason r);

typedef struct rd_decision {
    const rd_value *request_id; /* the request's, or one made up ("riskd-<start>-<n>", unique) */
    int64_t t0_ns;
    int64_t eval_time;      /* the unix time flags were evaluated at ($flagd.timestamp) */
    const rd_slot *slot;    /* the bundle routed to; NULL when none could be */
    const char *variant;    /* the routing flag's variant; NULL when it did not pick */
    rd_reason route_reason; /* the routing flag's evaluation reason (for its metrics) */
    bool routed;            /* the routing flag was evaluated */
    rd_source source;
    rd_fallback_reason fallback_reason;
    char fallback_detail[256];   /* why the model did not answer ("" for a model answer) */
    rd_fallback_result fallback; /* the rule that answered (source FALLBACK) */
    bool fallback_from_bundle;   /* the bundle's rules (else the service's) */
    const rd_fallback *fallback_rules;
    rd_score score; /* source MODEL: the model's answer */
    bool float32;   /* print the score as the float the model computed */
    bool points;    /* the score is scorecard points */
    /* shadow work: the prepared row (in the request's arena) and the bundles to score it */
    const double *x;
    bool prepared; /* the pipeline ran: score.report lists the missing and unknown inputs */
    size_t nshadows;
    const rd_slot *shadows[RD_DECIDE_MAX_SHADOWS];
    rd_reason shadow_reason;
    bool shadowed; /* the shadow flag was evaluated */
    size_t k;      /* reason codes asked */
    /* Answered by the control instead of the routed candidate (slot is then the control's;
     * routed, variant, route_reason and eval_time stay the candidate's routing). source stays
     * MODEL or FALLBACK: the records print "control" for a capped model answer. */
    rd_control_reason control_reason;
    const rd_slot *candidate;    /* ... whose approval was capped */
    rd_source candidate_source;  /* model, or the candidate bundle's fallback rules */
    double candidate_score;      /* its score (NaN for a rule without one) */
    rd_exposure_ticket exposure; /* what the cap said (state NONE without one) */
} rd_decision;

/* Decide one request. Returns RD_OK with *out filled (from the model or from fallback rules)
 * or an error the caller reports: RD_EINVAL / RD_ETYPE (the features the pipeline refuses),
 * RD_ENOBUNDLE (a pinned bundle not loaded), RD_EUNAVAILABLE (no model and no fallback
 * rules), RD_ETIMEOUT (the deadline passed and no fallback rules). Strings in *out borrow
 * from d and the request; scratch is the request's arena. Thread-safe. */
RD_API int rd_decide(const rd_decider *d, const rd_decide_req *q, rd_arena *scratch, rd_decision *out,
                     rd_err *err);

/* Append the decision record as JSON (docs/api.md, "POST /v1/score"): request_id, score,
 * probability, risk_level, decision, model_version, variant, reasons, missing, unknown,
 * source (and fallback_reason, fallback_rule for a fallback), latency_ms (now - t0). */
RD_API void rd_decision_write_json(rd_buf *b, const rd_decision *d);
/* The same decision in the shape of the textbook FastAPI scoring service (POST /score):
 * {loan_id, score, risk_level (the band's level upper-cased: HIGH/MEDIUM/LOW), model_version,
 * reject_reasons (the reason codes when the decision is not approve, else []), latency_ms},
 * plus decision and source, which its callers ignore. */
RD_API void rd_decision_write_compat_json(rd_buf *b, const rd_decision *d, const rd_value *loan_id);
/* A score as the record prints it: %.9g of the float for float32 models (XGBoost's own
 * precision), the shortest round-trip form otherwise. buf: at least 32 bytes. */
RD_API void rd_decision_format_number(double x, bool float32, char *buf);

/* ------------------------------------------------------------------ shadow */

typedef struct rd_shadow rd_shadow;

/* Per (primary, shadow) pair. */
typedef struct rd_shadow_pair_stats {
    const char *primary, *shadow;
    uint64_t scored, errors;
    uint64_t same_risk_level, same_decision;
    uint64_t swap_out; /* the primary approves, the shadow rejects */
    uint64_t swap_in;  /* the primary rejects, the shadow approves */
    /* the shadow's probability minus the primary's, cumulative per bound (Prometheus le) */
    const double *bounds;
    size_t nbounds;
    uint64_t diff_le[16];
    double diff_sum;
} rd_shadow_pair_stats;

/* threads workers, a queue of queue_cap decisions. */
RD_API int rd_shadow_new(int threads, size_t queue_cap, rd_shadow **out, rd_err *err);
/* Stop the workers (each finishes the decision it is scoring; what is still queued is dropped
 * and counted), and free. */
RD_API void rd_shadow_free(rd_shadow *s);
/* Queue the decision's shadow work (copies what it needs: the row, and the raw features when
 * a shadow's pipeline differs; holds a reference to d). Never blocks: when the queue is full
 * the work is dropped and counted, and false returned. No-op (true) without shadows. */
RD_API bool rd_shadow_submit(rd_shadow *s, const rd_decider *d, const rd_decision *dec,
                             const rd_value *features);
RD_API uint64_t rd_shadow_dropped(const rd_shadow *s);

/* One shadow score, as the sink sees it (on a shadow worker thread). */
typedef struct rd_shadow_done {
    const char *request_id; /* the primary decision's, as text */
    const rd_slot *primary, *shadow;
    int rc; /* RD_OK: score holds the shadow's answer */
    const rd_score *score;
} rd_shadow_done;
/* Call fn for every shadow score (the decision log records them). Set before any submit. */
RD_API void rd_shadow_set_sink(rd_shadow *s, void (*fn)(void *ud, const rd_shadow_done *d), void *ud);
/* A decision's request id as text (a number in its shortest form); buf of 64 bytes at least
 * for numbers, a string id is returned as it is. */
RD_API const char *rd_decision_id_text(const rd_decision *d, char *buf, size_t cap);
/* Decisions queued or being scored now. */
RD_API size_t rd_shadow_pending(const rd_shadow *s);
/* Call fn for each pair seen so far (a consistent-enough snapshot of its counters). */
RD_API void rd_shadow_foreach(rd_shadow *s, void (*fn)(void *ud, const rd_shadow_pair_stats *p), void *ud);

#endif
