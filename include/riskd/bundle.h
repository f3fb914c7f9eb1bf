/* Model bundles: a directory holding a model, its pipeline, its training reference and a
 * manifest with the checksums of them all (docs/formats.md, "Bundle"). A bundle is loaded
 * whole or not at all: every checksum is verified against the very bytes that are parsed,
 * and the model, pipeline and manifest must agree on the features.
 *
 * Named {product}_{model_type}_v{major}.{minor}, e.g. credit_xgb_v1.0: a minor version
 * changes features or parameters, a major one the label, the sample or the architecture. */
#ifndef RISKD_BUNDLE_H
#define RISKD_BUNDLE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "riskd/csv.h"
#include "riskd/err.h"
#include "riskd/fallback.h"
#include "riskd/hash.h"
#include "riskd/model.h"
#include "riskd/pipeline.h"
#include "riskd/value.h"

typedef struct rd_bundle rd_bundle;

#define RD_BUNDLE_MAX_REASONS 16

/* Split a bundle name into its parts: product ([a-z0-9_], starting with a letter),
 * model_type ([a-z0-9], starting with a letter), major and minor (0..99999, plain decimal
 * integers: no sign, no leading zero, so v01.0 and v1.00 are refused). RD_EINVAL with the
 * rule broken. */
RD_API int rd_bundle_name_parse(const char *name, char *product, size_t product_cap, char *model_type,
                                size_t type_cap, unsigned *major, unsigned *minor, rd_err *err);

/* Load the bundle in directory dir. Errors name the file and the fault:
 * "credit_xgb_v1.0/model.json: checksum mismatch (...)"; a manifest whose "digest" is missing
 * or differs from its content's is refused ("manifest.json: digest mismatch (...)"). A
 * signature.ed25519 beside the manifest is read with it (checked by
 * rd_bundle_verify_signature). */
RD_API int rd_bundle_load(const char *dir, rd_bundle **out, rd_err *err);
RD_API void rd_bundle_free(rd_bundle *b);

RD_API const char *rd_bundle_name(const rd_bundle *b);
/* The bundle's digest, its identity: the SHA-256 (hex) of its manifest's RFC 8785 canonical
 * JSON without the top-level "digest" member (rd_bundle_manifest_digest). The manifest lists
 * the SHA-256 of every other file, so the digest covers every byte that decides; it is what
 * /v1/score, /ready, inspect and the decision log name to say which bundle decided. */
RD_API const char *rd_bundle_digest(const rd_bundle *b);
RD_API const rd_model *rd_bundle_model(const rd_bundle *b);
RD_API const rd_pipeline *rd_bundle_pipeline(const rd_bundle *b);
/* The parsed manifest (borrowed). */
RD_API const rd_value *rd_bundle_manifest(const rd_bundle *b);
/* Whether the score is scorecard points (higher is safer) rather than a probability. */
RD_API bool rd_bundle_score_is_points(const rd_bundle *b);
/* Whether the score is a probability of the positive class (output.kind "probability"),
 * rather than points, a margin or another model output ("score" of a regression or ranking
 * model, higher riskier): only then do scores lie in [0, 1]. */
RD_API bool rd_bundle_score_is_probability(const rd_bundle *b);
/* Whether rd_score.probability is a probability: the model outputs one (a binary:logistic or
 * LightGBM binary model, a scorecard, a logistic regression), whatever the bundle's output
 * kind. A regression, a ranking or a logitraw model's output is none: records write null. */
RD_API bool rd_bundle_has_probability(const rd_bundle *b);
/* Reason codes per decision the manifest asks for. */
RD_API size_t rd_bundle_num_reasons(const rd_bundle *b);

/* The training reference (reference.json, docs/formats.md): what monitoring compares live
 * traffic with. PSI bins are [cuts[i-1], cuts[i]) with -inf and +inf at the ends, plus a
 * missing bin (rollout-monitoring.md §2.3); quantiles give the reference ECDF for KS (§2.4).
 * A bundle built before quantiles and level counts were stored loads with them absent
 * (nquantiles 0, has_unseen false): monitoring says which statistics it cannot compute. */
typedef struct rd_ref_dist {
    size_t ncuts;
    const double *cuts;      /* interior edges, ascending, distinct */
    const double *counts;    /* ncuts + 1 reference counts, one per bin (never NULL) */
    double missing;          /* reference rows with no value */
    size_t nquantiles;       /* 0: none stored (an older bundle) */
    const double *quantiles; /* ascending, repeats allowed: at (i + 0.5) / 1000, i < 1000, or every
                                value when fewer were present (docs/formats.md) */
} rd_ref_dist;

typedef struct rd_ref_input {
    const char *name;
    bool numeric;
    double n;         /* reference rows with a value */
    double missing;   /* reference rows without one */
    rd_ref_dist dist; /* numeric inputs */
    size_t nlevels;   /* categorical inputs: one bin per level seen in training ... */
    const char *const *levels;
    const double *level_counts;
    bool has_unseen; /* ... plus "unseen" (stored since format 2) and missing */
    double unseen;
} rd_ref_input;

typedef struct rd_reference {
    int format;  /* 1: deciles only; 2: quantiles, level counts with unseen, rows */
    double rows; /* the reference N */
    const char *score_kind;
    rd_ref_dist score;
    size_t ninputs;
    const rd_ref_input *inputs; /* in the pipeline's input order; one the file does not describe
                                   has n 0, no levels and one empty bin */
} rd_reference;

/* The bundle's training reference; NULL when it has none. */
RD_API const rd_reference *rd_bundle_reference(const rd_bundle *b);

/* One decision's outcome. */
typedef struct rd_score {
    double score;           /* what the bands are over: the probability of the positive class, the
                               points, the margin or the model's output (the manifest's output.kind) */
    double probability;     /* the probability of the positive class; for a model that gives none
                               (output.kind score or margin of a regression, ranking,
                               binary:logitraw ...) the model's output */
    const char *risk_level; /* the risk band's level (borrowed from the bundle) */
    const char *decision;   /* the band's decision, or NULL when the band names none */
    rd_pipeline_report report;
    size_t nreasons;
    rd_reason_code reasons[RD_BUNDLE_MAX_REASONS]; /* index: the pipeline input */
} rd_score;

/* Score one raw record (an object of input values): pipeline, model, risk band, and the
 * top k reasons (k <= RD_BUNDLE_MAX_REASONS; 0 skips them, TreeSHAP being the costly
 * part). A record the pipeline refuses gives its error (RD_ETYPE, RD_EINVAL). Thread-safe. */
RD_API int rd_bundle_score(const rd_bundle *b, const rd_value *record, size_t k, rd_score *out, rd_err *err);

/* Score one record in two steps, so a record prepared once can be scored by several
 * bundles that share the pipeline (shadows), and the model alone runs under a deadline:
 * rd_bundle_prepare fills x[rd_bundle_num_features] and the report (RD_ETYPE, RD_EINVAL for a
 * record the pipeline refuses: the caller's fault); rd_bundle_score_prepared predicts, bands
 * and explains x, keeping out->report as prepare left it. deadline: monotonic ns (0: none);
 * RD_ETIMEOUT when it passes, RD_ENOMEM (the model's fault), RD_EINVAL for an output or impact
 * that is not a finite number (inputs at the edge of the doubles: the record's fault). rd_bundle_score is the
 * two in one. */
RD_API size_t rd_bundle_num_features(const rd_bundle *b);
RD_API int rd_bundle_prepare(const rd_bundle *b, const rd_value *record, double *x,
                             rd_pipeline_report *report, rd_err *err);
RD_API int rd_bundle_score_prepared(const rd_bundle *b, const double *x, size_t k, int64_t deadline,
                                    rd_score *out, rd_err *err);
/* The risk band of a score: its level and decision (NULL when the band names none). */
RD_API void rd_bundle_band(const rd_bundle *b, double score, const char **level, const char **decision);
/* Whether two bundles prepare records identically (the same pipeline file, by checksum). */
RD_API bool rd_bundle_same_pipeline(const rd_bundle *a, const rd_bundle *b);
/* The bundle's fallback rules (fallback.json), or NULL when it has none. */
RD_API const rd_fallback *rd_bundle_fallback(const rd_bundle *b);
/* Refuse rules (RD_EINVAL, naming the input) that read features.NAME where NAME is an input
 * of none of the n pipelines: such a rule would silently never fire. */
RD_API int rd_bundle_check_rules(const rd_fallback *rules, const rd_pipeline *const *pipelines, size_t n,
                                 rd_err *err);
/* The manifest's serving.deadline_ms, or 0 when it sets none (the service's applies). */
RD_API int rd_bundle_deadline_ms(const rd_bundle *b);

/* A CSV record (fields from rd_csv_next) as the object of strings keyed by column name that
 * rd_bundle_score takes, built in members (rd_csv_num_columns entries); it borrows fields. */
RD_API void rd_bundle_csv_record(const rd_csv *c, char **fields, rd_member *members, rd_value *out);

/* The input a reason names, and its code (the manifest's reason_codes map, else the name). */
RD_API const char *rd_bundle_reason_name(const rd_bundle *b, uint32_t input);
RD_API const char *rd_bundle_reason_code(const rd_bundle *b, uint32_t input);

/* Re-score the sample rows the manifest embeds and compare with their recorded outputs
 * (float32 models exactly, float64 ones within 1e-12 relative, reasons exactly). *checked
 * receives the number of samples. */
RD_API int rd_bundle_verify(const rd_bundle *b, size_t *checked, rd_err *err);

/* ---------------------------------------------------------------- identity and signatures
 * docs/formats.md ("Bundle") and docs/adr/0005-bundle-digest.md. */

/* The digest of a parsed manifest: the SHA-256 (hex) of its RFC 8785 canonical JSON with the
 * top-level "digest" member left out. canonical, when not NULL, receives that text (whose
 * SHA-256 is the digest). RD_EINVAL when manifest is not an object or holds a number JSON
 * cannot (NaN), RD_ENOMEM. Thread-safe. */
RD_API int rd_bundle_manifest_digest(const rd_value *manifest, char hex[RD_SHA256_HEX], rd_buf *canonical,
                                     rd_err *err);

/* Append to out the len bytes of manifest text with its top-level "digest" member set to hex:
 * its value replaced where it stands, or the member added last; every other byte as it was.
 * RD_EINVAL when the text is not a JSON object or its "digest" is not a plain string. */
RD_API int rd_bundle_manifest_set_digest(const char *text, size_t len, const char *hex, rd_buf *out,
                                         rd_err *err);

/* Seal dir/manifest.json: compute its digest and write it into the manifest (replaced
 * atomically): for a bundle built before manifests carried one, or after a deliberate edit.
 * It does not load the bundle (load it after: sealing vouches for nothing but the manifest's
 * bytes). hex receives the digest. RD_EIO, RD_EINVAL, RD_ENOMEM. */
RD_API int rd_bundle_seal(const char *dir, char hex[RD_SHA256_HEX], rd_err *err);

/* Ed25519 keys: the public key, or the secret key's 32-byte seed. Key files hold the base64
 * of the 32 bytes on one line; a public key file may list several (one a line, '#' starts a
 * comment), any of which is trusted. */
#define RD_BUNDLE_KEY_BYTES      32
#define RD_BUNDLE_SIGNATURE_FILE "signature.ed25519"
typedef struct rd_bundle_key {
    uint8_t bytes[RD_BUNDLE_KEY_BYTES];
} rd_bundle_key;

/* A new key pair from the system's random source. RD_EIO when it cannot be read. */
RD_API int rd_bundle_keygen(rd_bundle_key *pub, rd_bundle_key *secret, rd_err *err);
/* Write a key file (secret: mode 0600); an existing file is never overwritten (RD_EINVAL). */
RD_API int rd_bundle_key_write(const char *path, const rd_bundle_key *key, bool secret, rd_err *err);
/* Read the keys of a key file into keys[0..cap); *n receives their number (at least one).
 * RD_EINVAL naming the line of a key that is not the base64 of 32 bytes, or more than cap
 * keys; RD_EIO. */
RD_API int rd_bundle_keys_read(const char *path, rd_bundle_key *keys, size_t cap, size_t *n, rd_err *err);

/* Sign the bundle in dir: it is loaded and its samples re-predicted (a bundle that does not
 * verify is not signed), then dir/signature.ed25519 receives the base64 Ed25519 signature,
 * by secret, of the digest's 64 lower-case hex characters (replaced atomically). hex
 * receives the digest signed. */
RD_API int rd_bundle_sign(const char *dir, const rd_bundle_key *secret, char hex[RD_SHA256_HEX], rd_err *err);

/* Whether the bundle came with a signature.ed25519 (not whether it verifies). */
RD_API bool rd_bundle_signed(const rd_bundle *b);

/* Check the bundle's signature (read when it was loaded) against its digest: RD_OK when one
 * of keys[0..nkeys) made it; RD_EINVAL when it is missing, malformed or made by another key
 * (or for another digest), the message saying which. Thread-safe. */
RD_API int rd_bundle_verify_signature(const rd_bundle *b, const rd_bundle_key *keys, size_t nkeys,
                                      rd_err *err);

/* Building a bundle from a model, a pipeline spec and a data set. */
typedef struct rd_bundle_build_opts {
    const char *name;          /* {product}_{model_type}_v{major}.{minor}: out_dir's base name */
    const char *model_path;    /* XGBoost JSON, LightGBM text, scorecard or logistic JSON */
    const char *pipeline_path; /* pipeline.json; NULL for a scorecard: derived from its bins */
    const char *data_path;     /* CSV of raw applications (the training sample) */
    const char *label;         /* label column, or NULL: no training metrics */
    const char *positive;      /* the label value of the positive class (default "1") */
    const char *risk_bands;    /* JSON array of bands, or NULL: from the score quantiles */
    const char *out_dir;       /* the bundle directory to create (must not exist), named name */
    const char *created_by;    /* NULL: $USER */
    size_t samples;            /* sample rows embedded for verify (default 20) */
    size_t reasons;            /* reason codes per decision (default 4) */
    const char *fallback_path; /* fallback rules to pack as fallback.json, or NULL */
    int deadline_ms;           /* serving.deadline_ms in the manifest; 0: none */
    /* output.kind: "probability" (default; the model's objective must give one), "score"
     * (a scorecard's points, the default for a scorecard, or the output of a regression or
     * ranking model) or "margin" (the raw margin); NULL: the default */
    const char *output_kind;
    const char *test_data_path; /* a holdout CSV (needs label): metrics on it too, or NULL */
    /* progress over the data set, in bytes; may be NULL */
    void (*progress)(void *ud, uint64_t done, uint64_t total);
    void *progress_ud;
    /* each warning, as it is found (also recorded in the manifest's checks.warnings); may be
     * NULL. msg is borrowed for the call. */
    void (*warn)(void *ud, const char *msg);
    void *warn_ud;
} rd_bundle_build_opts;

/* Build the bundle into opts->out_dir (written aside, then renamed into place, then loaded
 * and verified); its manifest carries its digest. A row of the data set the pipeline refuses
 * fails the build with its line; an out_dir whose base name is not the name is refused.
 * Refused with RD_EINVAL and a message saying what to do (docs/mistakes.md): a pipeline input
 * or the label that is not a column of the data (near matches, a lower-cased header, a
 * file separated by ';' are named), a positive value the label never takes, a label with
 * one class, an output kind the model's objective does not give (a probability from
 * binary:logitraw, a regression, a ranking), risk bands with a gap or an overlap or cuts
 * outside the score's range ((0, 1] for a probability, the training scores' range for the
 * others). Warned (opts->warn and the manifest): an AUC below 0.5, an input missing in more
 * than half the rows. */
RD_API int rd_bundle_build(const rd_bundle_build_opts *opts, rd_err *err);

#endif
