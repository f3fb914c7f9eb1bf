/* Staged rollout of a candidate bundle against a control by a routing flag
 * (shared/reference/rollout-monitoring.md §2.1-2.2, docs/schema/rollout.json).
 *
 *   rd_plan         a rollout plan: the routing and shadow flags, control and candidate, the
 *                   stages with their traffic, hold time, minimum samples and gates
 *   rd_flagfile     the flag file rewritten for a stage: the routing flag's targeting (and the
 *                   shadow flag's default variant) replaced, every other byte kept, written
 *                   atomically and only if the file still holds the version read (CAS on the
 *                   file's SHA-256, writers serialised by a lock file)
 *   rd_rollout_*    the rollout's state and transitions in the store, and a spool for
 *                   transitions recorded while the store cannot be written
 *   rd_controller   evaluates the gates every interval and moves the stage */
#ifndef RISKD_ROLLOUT_H
#define RISKD_ROLLOUT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "riskd/arena.h"
#include "riskd/err.h"
#include "riskd/exposure.h"
#include "riskd/flags.h"
#include "riskd/hash.h"
#include "riskd/monitor.h"
#include "riskd/store.h"
#include "riskd/value.h"

#define RD_ROLLOUT_TOTAL   100000 /* stage weights are out of this (§2.1) */
#define RD_PLAN_MAX_STAGES 16
#define RD_PLAN_MAX_GATES  24

/* ------------------------------------------------------------------ plans */

/* The built-in metrics a gate can name (rd_gate_metric_name, docs/schema/rollout.json). */
typedef enum rd_gate_metric {
    RD_M_SHADOW_AGREEMENT = 0, /* share of shadow scores whose decision equals the primary's */
    RD_M_APPROVE_RATE,
    RD_M_REVIEW_RATE,
    RD_M_REJECT_RATE,
    RD_M_ERROR_RATE,    /* answered by fallback because the model failed, or refused */
    RD_M_FALLBACK_RATE, /* answered by fallback rules, whatever the reason */
    RD_M_TIMEOUT_RATE,
    RD_M_LATENCY_P99_MS,
    RD_M_SCORE_PSI,            /* vs the training reference, noise floor beside it */
    RD_M_SCORE_KS,             /* KS drift vs the training reference */
    RD_M_INPUT_PSI_MAX,        /* the largest per-input PSI */
    RD_M_BREAKER_OPEN_SECONDS, /* how long the candidate's breaker has been open (not closed) */
    RD_M_SRM,                  /* sample-ratio mismatch p-value of the stage's assignment (§2.5) */
    RD_M_BAD_RATE,             /* outcomes: one-sided sequential test of bad rate vs control (§2.7) */
    /* fair lending (issue 21, docs/plans/guardrails.md §2, §6): on a plan segment */
    RD_M_ADVERSE_IMPACT_RATIO, /* approval rate of the segment / that of the reference segment */
    RD_M_SEGMENT_APPROVE_RATE, /* approval rate of the segment (difference: with Newcombe's interval) */
    RD_M_COUNT
} rd_gate_metric;
RD_API const char *rd_gate_metric_name(rd_gate_metric m);
/* -1 when name is none of them. */
RD_API int rd_gate_metric_parse(const char *name);

typedef enum rd_gate_compare {
    RD_CMP_ABSOLUTE = 0, /* the candidate's value */
    RD_CMP_RATIO,        /* candidate / control, same window */
    RD_CMP_DIFFERENCE,   /* candidate - control, same window */
} rd_gate_compare;

typedef enum rd_gate_op { RD_OP_LT = 0, RD_OP_LE, RD_OP_GT, RD_OP_GE } rd_gate_op;

/* A gate (docs/schema/rollout.json): {"metric": "reject_rate", "compare": "ratio",
 * "pass": {"<": 1.2}, "fail": {">=": 1.5}}. Between pass and fail it holds. "fail" omitted: a
 * value that does not pass fails. srm and bad_rate judge by their test (alpha) instead. */
typedef struct rd_gate {
    rd_gate_metric metric;
    rd_gate_compare compare;
    bool has_pass, has_fail;
    rd_gate_op pass_op, fail_op;
    double pass, fail;
    int failure_limit;    /* failed evaluations tolerated before the gate fails: 0 */
    uint64_t min_samples; /* candidate decisions (outcomes for bad_rate) before it can judge */
    char outcome[32];     /* bad_rate: the outcome definition ("dpd30") */
    double alpha;         /* bad_rate: 0.05; srm: 0.001 */
    double nstar;         /* bad_rate: the units expected at the stage's end (5000) */
    bool sliding;         /* over the sliding window, else since the stage began */
    /* segment metrics (adverse_impact_ratio, segment_approve_rate): */
    char segment[64];   /* the plan segment judged ("" for other metrics) */
    char reference[64]; /* adverse_impact_ratio: the segment divided by (default: the plan's reference) */
    int seg, ref;       /* their indexes into the plan's segments (-1: none) */
    bool interval;      /* judged on the confidence interval at 1 - alpha (segment_approve_rate with
                           compare difference, the default there): fails when the whole interval is
                           past fail, passes when the whole interval passes, else holds */
    /* min_samples of a segment gate: applicants per group and arm (default RD_SEGMENT_MIN_DEFAULT),
       below which it is inconclusive, never passed; alpha: the interval's (0.05) */
} rd_gate;
/* Whether v satisfies op x. */
RD_API bool rd_gate_op_holds(rd_gate_op op, double v, double x);

/* A stage's caps on what its candidate approves (docs/plans/guardrails.md §2): the amount, in the
 * currency of the plan's exposure.amount_field, and the number of approvals. Shared by every node
 * serving the rollout (rd_exposure below). */
typedef struct rd_stage_caps {
    bool has_amount, has_count;
    double max_amount;        /* max_approved_amount as written, in the field's currency */
    int64_t max_amount_units; /* max_amount in units of the plan's exposure.unit (rd_exposure_cap_units) */
    int64_t max_count;        /* max_approved_count */
} rd_stage_caps;

typedef struct rd_stage {
    char name[64];
    bool shadow;        /* the shadow flag names the candidate during this stage */
    uint32_t candidate; /* candidate weight out of RD_ROLLOUT_TOTAL */
    bool has_segment;
    char *segment;        /* JSONLogic (text) of requests routed to the candidate whatever the
                             weights (staff), NULL for none */
    int64_t hold_ms;      /* held at least this long before advancing */
    int64_t deadline_ms;  /* 0: 2 x hold */
    uint64_t min_samples; /* candidate decisions before advancing (shadow stage: shadow scores) */
    size_t ngates;
    rd_gate gates[RD_PLAN_MAX_GATES];
    rd_stage_caps caps; /* none unless the plan has an exposure */
} rd_stage;

/* A plan segment (fair lending): applicants whose request meets a JSONLogic rule over
 * {"context": ..., "features": ...}, e.g. an age band. Segment attributes must be held and used
 * lawfully (docs/formats.md, "Fair-lending segments"). */
#define RD_PLAN_MAX_SEGMENTS 16
typedef struct rd_plan_segment {
    char name[64];  /* [A-Za-z0-9_.-]{1,63}, unique */
    char *rule;     /* the JSONLogic rule as compact JSON (owned) */
    bool reference; /* the segment adverse impact ratios divide by (at most one) */
} rd_plan_segment;

/* The plan's "exposure": where a request's amount is read, and how a node reserves the caps. */
typedef struct rd_plan_exposure {
    bool on;
    char amount_field[128]; /* "features.Amount" or "context.<path>"; "" for count caps only */
    double unit;            /* the amount of one integer unit: 0.01 */
    double slice;           /* the share of a cap a node reserves at a time: 0.05 */
} rd_plan_exposure;

typedef struct rd_plan {
    char name[128];
    char route_flag[256];
    char shadow_flag[256];             /* "" for none */
    char shadow_on[128];               /* the shadow flag's variant that shadows the candidate */
    char shadow_off[128];              /* ... and the one that shadows nothing */
    char control[128], candidate[128]; /* bundle names */
    char control_variant[128], candidate_variant[128]; /* the routing flag's variants naming them */
    int64_t interval_ms;                               /* 60000 */
    size_t nstages;
    rd_stage stages[RD_PLAN_MAX_STAGES];
    size_t nsegments;
    rd_plan_segment segments[RD_PLAN_MAX_SEGMENTS];
    int reference;              /* the segment marked "reference" (-1: none) */
    rd_plan_exposure exposure;  /* off: no stage has caps */
    char sha256[RD_SHA256_HEX]; /* of the plan file's bytes */
} rd_plan;

/* Parse a plan (JSON text). Errors name the stage and field ("stages[2] (5%).gates[0].metric:
 * \"rejct_rate\" is not a metric (did you mean \"reject_rate\"?)"); unknown keys refused with
 * a did-you-mean. Weights must not decrease from stage to stage (monotone widening). */
RD_API int rd_plan_parse(const char *text, size_t len, rd_plan **out, rd_err *err);
RD_API int rd_plan_load(const char *path, rd_plan **out, rd_err *err);
RD_API void rd_plan_free(rd_plan *p);

/* Check the plan against the flag set that will serve it and the bundles loaded (names, n):
 * the routing flag exists, its variants name control and candidate, its targeting is a
 * fractional that lists the candidate first with a total of RD_ROLLOUT_TOTAL (else: a stage
 * change would reorder or rescale buckets, refused without reshuffle); the shadow flag has
 * the on/off variants; control and candidate are loaded (bundles NULL: not checked; flags
 * NULL: the flags are not checked). */
RD_API int rd_plan_check(const rd_plan *p, const rd_flagset *flags, const char *const *bundles, size_t n,
                         bool reshuffle, rd_err *err);

/* A warning of rd_plan_reachability: a stage whose minimum samples (or PSI's 1,000 rows) its
 * traffic cannot bring within its deadline at expected_rps requests per second. */
typedef void (*rd_plan_warn_fn)(void *ud, const char *msg);
/* Returns the number of warnings. */
RD_API size_t rd_plan_reachability(const rd_plan *p, double expected_rps, rd_plan_warn_fn fn, void *ud);

/* A duration as plans write it ("500ms", "90s", "10m", "2h", "1d"): the largest unit that
 * divides ms exactly. buf holds at least 24 bytes; returns buf. */
RD_API const char *rd_duration_format(int64_t ms, char *buf, size_t cap);

/* ------------------------------------------------------------------ the flag file */

/* What a stage writes into the routing flag: its targeting as JSON text,
 *   weights only      {"fractional": [[cand, w], [ctrl, 100000 - w]]}
 *   with a segment    {"if": [SEGMENT, cand, {"fractional": ...}]}
 * where cand/ctrl are the variants; rolled_back: candidate 0 and no segment. */
RD_API int rd_plan_stage_targeting(const rd_plan *p, const rd_stage *s, bool rolled_back, rd_buf *out);

/* Rewrite path: set flags.<route_flag>.targeting to targeting (JSON text) and, when shadow_flag
 * is not NULL, flags.<shadow_flag>.defaultVariant to shadow_variant, keeping every other byte.
 * Only if the file's SHA-256 is still expected_sha (NULL: whatever it holds): RD_ECONFLICT
 * otherwise (someone else wrote it since; the caller re-reads). The result must parse as a
 * flag set (strict); written to a temp file, fsynced, renamed, the directory fsynced.
 * new_sha receives the SHA-256 of what was written. Writers take path.lock (flock). */
RD_API int rd_flagfile_update(const char *path, const char *expected_sha, const char *route_flag,
                              const char *targeting, const char *shadow_flag, const char *shadow_variant,
                              char new_sha[RD_SHA256_HEX], rd_err *err);
/* What rd_flagfile_update writes, without writing: text (len bytes, a flag file) with the same
 * replacements, appended to out. Lets a caller try every stage's targeting first. Errors as
 * rd_flagfile_update's: RD_EINVAL when a flag is absent, targeting is not one JSON object, or
 * the result would not parse strictly as a flag set ("the result would be refused: ..."). */
RD_API int rd_flagfile_rewrite(const char *text, size_t len, const char *route_flag, const char *targeting,
                               const char *shadow_flag, const char *shadow_variant, rd_buf *out, rd_err *err);
/* Replace the whole content of the existing file path by text (len bytes), under the same lock
 * and compare-and-swap as rd_flagfile_update (expected_sha NULL: whatever it holds), mode
 * kept; nothing checks what text is (the caller did). Publishing a change uses it. */
RD_API int rd_file_replace_cas(const char *path, const char *expected_sha, const char *text, size_t len,
                               rd_err *err);
/* A flag file write of a rollout (a stage change, the controller's or a command's) recorded as
 * a version of the file and on the audit chain (rd_change_record_write, how "rollout"): a plan
 * approved as a whole needs no approval per stage, but every write is accounted for, and with
 * require_approval the server serves the file it wrote. s NULL: nothing recorded; a failure is
 * ignored (a rollback must not wait for the store). */
RD_API void rd_rollout_note_write(rd_store *s, const char *path, const char *before_sha,
                                  const char *after_sha, const char *flag, const char *stage,
                                  const char *actor);
/* The SHA-256 of the file's bytes now. */
RD_API int rd_flagfile_sha(const char *path, char sha[RD_SHA256_HEX], rd_err *err);
/* The same for a flag target: a file's path, or RD_FLAGS_STORE (change.h: the flag set kept in
 * store s, its newest version). */
RD_API int rd_flagtarget_sha(rd_store *s, const char *target, char sha[RD_SHA256_HEX], rd_err *err);
/* A stage's write to a flag target, recorded (a version and an audit entry, how "rollout",
 * the stage and actor in its detail). A file: rd_flagfile_update, then rd_rollout_note_write
 * when s is given. The store: in one governance transaction, the newest version read, checked
 * against expected_sha (NULL: any), rewritten as rd_flagfile_rewrite does, kept as the next
 * version, and every node told. new_sha receives what it holds now. */
RD_API int rd_flagtarget_update(rd_store *s, const char *target, const char *expected_sha,
                                const char *route_flag, const char *targeting, const char *shadow_flag,
                                const char *shadow_variant, const char *stage, const char *actor,
                                char new_sha[RD_SHA256_HEX], rd_err *err);

/* ------------------------------------------------------------------ state in the store */

typedef enum rd_rollout_state {
    RD_ROLLOUT_RUNNING = 0,
    RD_ROLLOUT_HOLDING, /* a gate has no data past the deadline, or a metric source erred */
    RD_ROLLOUT_PAUSED,
    RD_ROLLOUT_PROMOTED,
    RD_ROLLOUT_ROLLED_BACK,
} rd_rollout_state;
RD_API const char *rd_rollout_state_name(rd_rollout_state s);
RD_API int rd_rollout_state_parse(const char *name); /* -1: none */

/* One rollout's row (table rollouts, key: the routing flag). */
typedef struct rd_rollout_row {
    char flag[256];
    char plan_name[128];
    char plan_path[1024];
    char plan_sha[RD_SHA256_HEX];
    char flags_path[1024];
    rd_rollout_state state;
    int stage; /* index into the plan's stages */
    char stage_name[64];
    int64_t stage_started_ms;
    int64_t updated_ms;
    int64_t version; /* bumped by every write: rd_rollout_put is a CAS on it */
    char *plan_json; /* the plan's text (rd_free) */
} rd_rollout_row;

/* Create the table when missing (the store's schema migration calls it). */
RD_API int rd_rollout_get(rd_store *s, const char *flag, rd_rollout_row *out, rd_err *err); /* RD_ENOTFOUND */
/* Write row when the stored version is still row->version (0: the row must not exist); the
 * stored version becomes row->version + 1 (and row->version is updated). RD_ECONFLICT when
 * another writer got there first. */
RD_API int rd_rollout_put(rd_store *s, rd_rollout_row *row, rd_err *err);
RD_API void rd_rollout_row_free(rd_rollout_row *row);
/* Every rollout, by flag. */
RD_API int rd_rollout_list(rd_store *s, int (*fn)(void *ud, const rd_rollout_row *r), void *ud, rd_err *err);

/* The controller's last evaluation (rd_controller_status_json), kept beside the row for
 * `riskd rollout status`; rd_rollout_get_status returns it (rd_free) or RD_ENOTFOUND. */
RD_API int rd_rollout_set_status(rd_store *s, const char *flag, const char *json, rd_err *err);
RD_API int rd_rollout_get_status(rd_store *s, const char *flag, char **json, rd_err *err);

/* A transition: from stage/state to stage/state, why ("gates passed", "gate reject_rate failed",
 * "manual", "deadline"), by whom ("controller", "cli:USER"), and the gate values as JSON. */
typedef struct rd_transition {
    int64_t id; /* assigned */
    int64_t ts_ms;
    char flag[256];
    int from_stage, to_stage;
    char from_state[16], to_state[16];
    char reason[64];  /* advance | rollback | deadline | manual | promote | pause | resume | start */
    char detail[512]; /* the gate that decided, in words */
    char actor[128];
    const char *gates_json;        /* every gate's value, threshold, noise floor, verdict */
    char flags_sha[RD_SHA256_HEX]; /* the flag file written ("" when none) */
} rd_transition;

RD_API int rd_transition_append(rd_store *s, const rd_transition *t, rd_err *err);
/* Newest first, at most limit (0: all). gates_json valid during the call only. */
RD_API int rd_transition_list(rd_store *s, const char *flag, size_t limit,
                              int (*fn)(void *ud, const rd_transition *t), void *ud, rd_err *err);
/* A transition as JSON: {"ts_ms","from_stage","to_stage","from_state","to_state","reason","detail",
 * "actor","gates"} (gates: the gates_json kept, null when none). */
RD_API void rd_transition_json(const rd_transition *t, rd_buf *b);

/* The spool: transitions that could not be written to the store, one JSON line each in
 * DATA_DIR/rollout.spool (appended and fsynced). Drained into the store in order when it is
 * writable again (a line is removed only after its commit). */
RD_API int rd_spool_append(const char *data_dir, const rd_transition *t, rd_err *err);
/* *drained receives how many were moved; what is left stays in the file. */
RD_API int rd_spool_drain(const char *data_dir, rd_store *s, size_t *drained, rd_err *err);
RD_API size_t rd_spool_pending(const char *data_dir);

/* A transition recorded: to the store, or when that fails, to the spool (never lost). */
RD_API int rd_transition_record(rd_store *s, const char *data_dir, const rd_transition *t, rd_err *err);

/* ------------------------------------------------------------------ the controller */

/* One rollout, driven inside `riskd serve`: every interval it evaluates the current stage's
 * gates on the monitor's statistics since the stage began (or the sliding window), and
 *   - rolls back (candidate weight 0, no segment, shadow off) on a failed gate, at once;
 *   - advances when the hold time has passed, every gate passes and the candidate has its
 *     minimum samples (entering the last stage: promoted);
 *   - past the deadline: holds and alerts when a gate has no data (never rolls back on no data
 *     alone), rolls back ("deadline") when the gates have data but do not pass;
 *   - otherwise holds.
 * Each stage change is one governance transaction: the row's version checked against the
 * controller's (a fencing token: a controller whose row another writer moved is refused, adopts
 * the stored row and records nothing), the row, the flag target and the transition written, all
 * or nothing (a local flag file, which no transaction holds, is written after the check; a
 * rollback of one is made even when the store cannot be written, its record then waiting in the
 * spool). The state lives in the store (rd_rollout_row): `riskd rollout
 * pause|resume|promote|rollback` change it from another process and the controller follows at
 * its next tick. */
typedef struct rd_controller rd_controller;

typedef struct rd_controller_env {
    rd_monitor *monitor;
    rd_store *store;        /* the controller's own handle (one thread); NULL: state in memory */
    const char *data_dir;   /* the spool's directory */
    const char *flags_path; /* the flag file the routing flag lives in */
    double speed;           /* --rollout-speed: hold times, intervals and deadlines divided by it */
    /* shadow scores of shadow (on primary's decisions) and how many agreed, since the service
       started (cumulative); NULL: no shadow pool */
    void (*shadow_pair)(void *ud, const char *primary, const char *shadow, uint64_t *scored, uint64_t *same);
    /* how long the bundle's breaker has been open (not closed), seconds; NULL: never */
    double (*breaker_open_seconds)(void *ud, const char *bundle);
    void (*flags_written)(void *ud);                               /* reload now; may be NULL */
    void (*on_transition)(void *ud, const rd_transition *t);       /* logs, metrics; may be NULL */
    void (*on_alert)(void *ud, const char *flag, const char *msg); /* may be NULL */
    void *ud;
    /* the rollout's exposure caps on this node (rd_exposure_new; NULL: none): the controller
       tells it the stage in force after every change, and records once per stage instance the
       moment its cap is reached (reason exposure_cap; the state does not change) */
    rd_exposure *exposure;
} rd_controller_env;

/* Start (or resume, from the store's row for the plan's flag) the rollout of plan (taken).
 * A new rollout writes stage 0 into the flag file. A resume writes neither the flags when they
 * already route as the stored stage says, nor the row when it already says what this node runs
 * (the same plan, stage and paths): every node resumes at its start, and must not move the
 * version under the leader's fence. */
RD_API int rd_controller_new(rd_plan *plan, const char *plan_path, const rd_controller_env *env,
                             int64_t now_ms, rd_controller **out, rd_err *err);
/* The rollout thread, every iteration: the exposure's ledger (reserve, return, report, totals:
 * rd_exposure_sync) and its status for /v1/rollouts. */
RD_API int rd_controller_exposure_sync(rd_controller *c, int64_t now_ms, rd_err *err);
/* That status as of the last sync (rd_exposure_status_json's object, or null): any thread. */
RD_API void rd_controller_exposure_json(rd_controller *c, rd_buf *b);
RD_API void rd_controller_free(rd_controller *c);
RD_API const char *rd_controller_flag(const rd_controller *c);
RD_API const char *rd_controller_plan_path(const rd_controller *c);
/* Evaluate when the interval has passed since the last evaluation (call it often). Thread:
 * the controller's. */
RD_API int rd_controller_tick(rd_controller *c, int64_t now_ms, rd_err *err);
/* On a node that does not lead (several nodes, rd_store_leader_try): take the row the leader
 * wrote, so this node's status says what the leader did. Never writes. */
RD_API void rd_controller_follow(rd_controller *c);
/* Replace the plan by an edited one (taken; already checked by the caller with rd_plan_check):
 * the current stage is kept by name; RD_EINVAL (the running plan kept, plan freed) when the
 * edit drops the current stage or changes the flag, control or candidate. lead: this node runs
 * the controller (rd_store_leader_try): the row, and the flags when the current stage's traffic
 * changed, are written now, fenced as a transition; otherwise the plan is taken in memory only
 * and the write waits for this node's first tick as leader. */
RD_API int rd_controller_replace_plan(rd_controller *c, rd_plan *plan, bool lead, rd_err *err);
/* The status: {"flag", "plan", "state", "stage", "stage_index", "stages", "time_in_stage_s",
 * "speed", "candidate_weight", "gates": [{metric, compare, window, value, candidate, control,
 * pass, fail, noise_floor, n, min_samples, verdict, note}], "alert", "last_transition"}. */
RD_API void rd_controller_status_json(rd_controller *c, int64_t now_ms, rd_buf *b);
RD_API void rd_controller_state(rd_controller *c, rd_rollout_state *state, int *stage);

/* What `riskd rollout pause|resume|promote|rollback` do (the CLI and the admin API call it):
 * on the store's row for flag, as actor. rollback and promote rewrite the flag file first (a
 * rollback recorded in the spool when the store cannot be written); resume continues a paused
 * or holding rollout, or restarts a rolled-back one from its first stage. */
typedef enum rd_rollout_cmd {
    RD_CMD_PAUSE = 0,
    RD_CMD_RESUME,
    RD_CMD_PROMOTE,
    RD_CMD_ROLLBACK
} rd_rollout_cmd;
RD_API int rd_rollout_command(rd_store *s, const char *data_dir, const char *flag, rd_rollout_cmd cmd,
                              const char *actor, const char *why, int64_t now_ms, rd_err *err);

/* ------------------------------------------------------------------ fair-lending figures (issue 21)
 *
 * One segment of applicants (a JSONLogic rule over context and features, e.g. an age band)
 * against a reference segment, in the candidate arm and the control arm over the same window:
 * what the segment gates judge and `riskd ab --segments` reports, from one function so both give
 * the same numbers (docs/plans/guardrails.md §2.2). The arithmetic is Python's: rate = x / n,
 * air = rate / ref_rate, so a direct computation reproduces it bit for bit. */
#define RD_SEGMENT_MIN_DEFAULT 100 /* applicants per group and arm below which a gate is inconclusive */

typedef struct rd_segment_counts {
    uint64_t n, approve; /* applicants decided, and approved */
} rd_segment_counts;

typedef struct rd_segment_figures {
    rd_segment_counts cand_seg, cand_ref, ctrl_seg, ctrl_ref;
    double cand_rate, cand_ref_rate, ctrl_rate, ctrl_ref_rate; /* approve / n (NaN when n is 0) */
    double cand_air, ctrl_air;  /* adverse impact ratio: rate / ref_rate (NaN when ref_rate is 0) */
    double air_diff, air_ratio; /* cand_air - ctrl_air, cand_air / ctrl_air */
    double diff, lo, hi;        /* cand_rate - ctrl_rate and its Newcombe interval at 1 - alpha */
    bool sized;                 /* every group has at least min_size applicants: else inconclusive */
    char note[192];             /* why not sized ("" when sized) */
} rd_segment_figures;

/* The figures of one segment against its reference. min_size 0: RD_SEGMENT_MIN_DEFAULT. The names
 * (for the note) may be NULL. */
RD_API void rd_segment_figures_compute(rd_segment_counts cand_seg, rd_segment_counts cand_ref,
                                       rd_segment_counts ctrl_seg, rd_segment_counts ctrl_ref,
                                       uint64_t min_size, double alpha, const char *segment,
                                       const char *reference, rd_segment_figures *out);
/* The plan's reads of the request against the pipeline that will decide it (the candidate's): the
 * exposure's amount_field "features.X" must be a numeric input (a misspelt field would make
 * every approval "not fit" and hand the stage to the control without a word), and every
 * "features.X" a segment rule reads must be an input (else the segment never has an applicant
 * and its gates stay inconclusive). RD_EINVAL naming the field, with a did-you-mean. Context
 * paths are the caller's and not checked. */
RD_API int rd_plan_check_inputs(const rd_plan *p, const rd_pipeline *pipeline, rd_err *err);

/* A plan's segment rules compiled, evaluated per decision by whoever records it in the monitor
 * (the server: the scoring path). Immutable: any thread may evaluate. */
typedef struct rd_segment_rules rd_segment_rules;
RD_API int rd_segment_rules_new(const rd_plan *p, rd_segment_rules **out, rd_err *err);
RD_API void rd_segment_rules_free(rd_segment_rules *r);
/* Bit i set: the request ({"context": ..., "features": ...}) meets segment i's rule. A rule
 * that fails to evaluate (a type it cannot compare) is not met. */
RD_API uint32_t rd_segment_rules_mask(const rd_segment_rules *r, const rd_value *context,
                                      const rd_value *features, rd_arena *scratch);
/* The monitor's segment set for a plan (the segments' names), carrying its compiled rules
 * (rd_monitor_segments_user) so that a scoring thread evaluates the rules of the set it counts
 * for. NULL (and RD_OK) for a plan without segments. */
RD_API int rd_segment_set_new(const rd_plan *p, rd_monitor_segments **out, rd_err *err);

/* The figures as JSON members (no braces): "candidate":{...},"control":{...},"air":...,"diff":... */
RD_API void rd_segment_figures_json(rd_buf *b, const rd_segment_figures *f);

/* ------------------------------------------------------------------ exposure caps: the ledger
 *
 * The management half of rd_exposure (riskd/exposure.h has the scoring half;
 * docs/plans/guardrails.md §3.1). One rd_exposure per rollout and node. Everything below runs
 * on one thread, the rollout's (the "ledger thread"): it follows the stage in force, reserves
 * slices of the stage's caps from the store ahead of need, gives back what a retired purse did
 * not spend, and reports what was spent. The scoring threads only spend what the node holds. */
typedef struct rd_exposure_env {
    rd_store *store;  /* the ledger thread's own handle; NULL: in memory, this process holds the
                         whole cap at once (unit tests, no persistence, a single node) */
    const char *node; /* this node's name in the store ("" or NULL: "local") */
} rd_exposure_env;

/* An exposure for plan's routing flag (the plan's exposure and the stages' caps are copied;
 * follow takes a newer plan). Nothing is in force until rd_exposure_follow. RD_EINVAL: a stage
 * caps the amount and the plan's amount_field is not "context.<path>" or "features.<path>".
 * A unit or slice of 0 means the default (0.01, 0.05). */
RD_API int rd_exposure_new(const rd_plan *plan, const rd_exposure_env *env, int64_t now_ms, rd_exposure **out,
                           rd_err *err);
/* The stage in force is row's: caps apply in running, holding and paused, at a stage with caps,
 * keyed by (stage name, row->stage_started_ms). Another key retires the purse (what it holds is
 * given back by the next sync) and opens an empty one; promoted or rolled back retires it and
 * nothing is in force. The same key with a cap lowered (or a cap added or removed, or another
 * unit or field) re-opens the purse at once; a cap raised applies from the next reservation. In
 * memory, the purse is filled at once. plan: the plan in force (it may be a replaced one). */
RD_API void rd_exposure_follow(rd_exposure *x, const rd_plan *plan, const rd_rollout_row *row);
/* The ledger's work, rate-limited by itself (call it every 100 ms or so): once, this node's
 * slices of earlier boots are marked lost; retired purses are given back (retried with a
 * backoff of 1 s to 10 s); the purse is refilled when it holds less than half a slice, or less
 * than an approval refused since the last refill needed (a zero grant or an error waits 1 s);
 * what was spent is reported and the stage's totals read, each at most every second. Returns the
 * first error met (the rest still ran); the scoring path goes on spending what it holds. */
RD_API int rd_exposure_sync(rd_exposure *x, int64_t now_ms, rd_err *err);
/* Shutdown: nothing in force any more, and the purses given back now (once, errors ignored:
 * what could not be given back stays held in the store until another boot marks it lost). */
RD_API void rd_exposure_close(rd_exposure *x, int64_t now_ms);
RD_API void rd_exposure_free(rd_exposure *x);
/* Whether the cap of the stage in force was exhausted: a would-be approval found nothing left
 * to reserve (in the store: its exhausted_ms; in memory: this process ran out). detail (may be
 * NULL) gets a sentence for the transition ("exposure cap reached in 5%: ..."). */
RD_API bool rd_exposure_reached(rd_exposure *x, char *detail, size_t cap);
/* The exposure of the stage in force as a JSON object, amounts in the field's currency:
 * {"field","unit","stage","stage_started_ms","cap_amount","cap_count","used_amount","used_count",
 *  "reserved_amount","reserved_count","held_amount","lost_amount","capped","reached_ms",
 *  "node":{"name","left_amount","left_count","spent_amount","spent_count","capped","closed"}}
 * (a cap absent: null), or null when no cap is in force. The store's figures are those of the
 * last read (sync, every second). */
RD_API void rd_exposure_status_json(rd_exposure *x, rd_buf *b);

#endif
