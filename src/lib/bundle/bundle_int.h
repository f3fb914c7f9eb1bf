/* Internals of the bundle module, shared by loading (bundle.c) and building (build.c). */
#ifndef RISKD_BUNDLE_INT_H
#define RISKD_BUNDLE_INT_H

#include "riskd/arena.h"
#include "riskd/bundle.h"
#include "riskd/fallback.h"

/* A risk band: scores in [min, max) (NaN: unbounded) get its level and decision. */
typedef struct rd__band {
    double min, max;
    const char *level, *decision;
} rd__band;

struct rd_bundle {
    rd_arena arena; /* the manifest's values and every string below */
    rd_value manifest;
    const char *name;
    rd_model *model;
    rd_pipeline *pipeline;
    bool points;      /* output kind "score" of a scorecard: its points (higher is safer) */
    bool margin;      /* output kind "margin": the model's raw margin (higher is riskier) */
    bool probability; /* output kind "probability": the score is a probability, in [0, 1] */
    rd__band *bands;
    size_t nbands;
    size_t nreasons;
    const rd_value *reason_map; /* object input -> code, or NULL */
    const rd_value *samples;    /* array, or NULL */
    rd_fallback *fallback;      /* fallback.json, or NULL */
    int deadline_ms;            /* serving.deadline_ms, 0 when the manifest sets none */
    const char *pipeline_sha;   /* the pipeline file's SHA-256 (hex) */
    char digest[65];            /* rd_bundle_manifest_digest of the manifest: the bundle's identity */
    const char *signature;      /* signature.ed25519 as read (in the arena), or NULL */
    size_t signature_len;
    const rd_reference *reference; /* reference.json parsed (in the arena), or NULL */
};

/* Set b's output kind from its name ("probability", "score" or "margin") and check that
 * b->model gives it: a probability needs an objective whose output is one
 * (rd_model_outputs_probability), "score" is a scorecard's points or the output of a model
 * that gives no probability (regression, ranking, binary:logitraw, binary:hinge), a margin
 * needs one output group. where prefixes the messages. */
int rd__bundle_set_output(rd_bundle *b, const char *kind, const char *where, rd_err *err);

/* Parse and check a risk band list (a JSON array) into b->bands: contiguous, covering every
 * score from -inf to +inf. where prefixes the messages. */
int rd__bands_parse(rd_bundle *b, const rd_value *arr, const char *where, rd_err *err);

/* Parse reference.json (len bytes of text) for pipeline p into an rd_reference allocated in a,
 * inputs in p's input order (docs/formats.md). RD_EINVAL naming the field that is wrong (the
 * caller prefixes the file name), RD_EPARSE, RD_ELIMIT, RD_ENOMEM; *out set only on success. */
int rd__reference_parse(const char *text, size_t len, const rd_pipeline *p, rd_arena *a,
                        const rd_reference **out, rd_err *err);

/* The manifest's "digest" member checked against its content (b->digest set). */
int rd__bundle_check_digest(rd_bundle *b, rd_err *err);
/* dir/signature.ed25519 into b->signature when it is there. */
int rd__bundle_read_signature(rd_bundle *b, const char *dir, rd_err *err);
/* Write len bytes to dir/name through a temporary file renamed into place. */
int rd__bundle_write_atomic(const char *dir, const char *name, const char *data, size_t len, rd_err *err);

#endif
