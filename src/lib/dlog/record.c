/* Decision records for the log: everything a replay needs, numbers in their shortest
 * round-trip form (so the doubles read back are the very bits decided). The inputs named by
 * log_redact are hashed or left out here, where the record is made, so no caller can log them
 * in clear by forgetting a step (redact.c). */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "dlog_int.h"
#include "riskd/clock.h"
#include "riskd/json.h"

static void str(rd_buf *b, const char *s)
{
    if (s)
        rd_json_write_string(b, s, strlen(s));
    else
        rd_buf_puts(b, "null");
}

/* A name that is "" means none. */
static void opt(rd_buf *b, const char *s) { str(b, s && *s ? s : NULL); }

/* A number that reads back to the same bits: integers in plain digits, the others with 17
 * significant digits (one printf; the shortest form would take up to three round trips, and
 * the log is written for every decision). */
static void num(rd_buf *b, double x)
{
    if (!isfinite(x)) {
        rd_buf_puts(b, "null");
        return;
    }
    char s[40];
    if (fabs(x) < 1e15 && x == (double)(int64_t)x) /* range first: the cast is UB beyond */
        rd_num_format(x, s);
    else
        snprintf(s, sizeof s, "%.17g", x);
    rd_buf_puts(b, s);
}

static void value(rd_buf *b, const rd_value *v)
{
    if (v)
        rd_json_write(b, v);
    else
        rd_buf_puts(b, "null");
}

static void head(rd_buf *b, const char *kind, const rd_value *id, const rd_dlog_meta *m)
{
    rd_buf_printf(b, "{\"v\":1,\"kind\":\"%s\",\"request_id\":", kind);
    value(b, id);
    rd_buf_printf(b, ",\"ts_ms\":%lld,\"node\":", (long long)m->ts_ms);
    str(b, m->node);
}

static void bundle(rd_buf *b, const rd_bundle *bd)
{
    if (!bd) {
        rd_buf_puts(b, "null");
        return;
    }
    rd_buf_puts(b, "{\"name\":");
    str(b, rd_bundle_name(bd));
    rd_buf_puts(b, ",\"digest\":");
    str(b, rd_bundle_digest(bd));
    rd_buf_putc(b, '}');
}

/* A model's answer: the score, the probability (null when the model's output is none), the
 * band. The primary's record and a shadow's write it alike. */
static void scored(rd_buf *b, const char *source, const rd_bundle *bd, const rd_score *sc)
{
    rd_buf_printf(b, ",\"source\":\"%s\",\"score\":", source);
    num(b, sc->score);
    rd_buf_puts(b, ",\"probability\":");
    num(b, rd_bundle_has_probability(bd) ? sc->probability : (double)NAN);
    rd_buf_puts(b, ",\"risk_level\":");
    str(b, sc->risk_level);
    rd_buf_puts(b, ",\"decision\":");
    str(b, sc->decision);
}

static void model_answer(rd_buf *b, const rd_decision *d)
{
    const rd_bundle *bd = rd_slot_bundle(d->slot);
    scored(b, d->control_reason ? "control" : "model", bd, &d->score);
    rd_buf_printf(b, ",\"k\":%zu,\"reasons\":[", d->k);
    for (size_t i = 0; i < d->score.nreasons; i++) {
        rd_buf_puts(b, i ? ",{\"feature\":" : "{\"feature\":");
        str(b, rd_bundle_reason_name(bd, d->score.reasons[i].index));
        rd_buf_puts(b, ",\"code\":");
        str(b, rd_bundle_reason_code(bd, d->score.reasons[i].index));
        rd_buf_puts(b, ",\"impact\":");
        num(b, d->score.reasons[i].impact);
        rd_buf_putc(b, '}');
    }
    rd_buf_puts(b, "],\"fallback\":null");
}

static void fallback_answer(rd_buf *b, const rd_decision *d)
{
    const rd_fallback_result *r = &d->fallback;
    rd_buf_puts(b, ",\"source\":\"fallback\",\"score\":");
    if (r->has_score)
        num(b, r->score);
    else
        rd_buf_puts(b, "null");
    rd_buf_puts(b, ",\"probability\":null,\"risk_level\":");
    str(b, r->risk_level);
    rd_buf_puts(b, ",\"decision\":");
    str(b, r->decision);
    rd_buf_printf(b, ",\"k\":%zu,\"reasons\":[{\"feature\":null,\"code\":", d->k);
    str(b, r->reason);
    rd_buf_printf(b, ",\"impact\":null}],\"fallback\":{\"reason\":\"%s\",\"rule\":",
                  rd_fallback_reason_name(d->fallback_reason));
    str(b, r->name);
    rd_buf_printf(b, ",\"rules\":\"%s\",\"sha256\":", d->fallback_from_bundle ? "bundle" : "service");
    str(b, d->fallback_rules ? rd_fallback_sha256(d->fallback_rules) : NULL);
    rd_buf_puts(b, ",\"detail\":");
    str(b, d->fallback_detail);
    rd_buf_putc(b, '}');
}

/* Why the control answered ("control": null when it did not): the candidate whose approval
 * was capped, and its answer (always an approval: only those are capped). */
static void control(rd_buf *b, const rd_decision *d)
{
    if (!d->control_reason) {
        rd_buf_puts(b, ",\"control\":null");
        return;
    }
    rd_buf_printf(
        b, ",\"control\":{\"reason\":\"%s\",\"candidate\":", rd_control_reason_name(d->control_reason));
    bundle(b, d->candidate ? rd_slot_bundle(d->candidate) : NULL);
    rd_buf_printf(
        b, ",\"source\":\"%s\",\"score\":", d->candidate_source == RD_SOURCE_MODEL ? "model" : "fallback");
    num(b, d->candidate_score);
    rd_buf_puts(b, ",\"decision\":\"approve\",\"detail\":");
    str(b, d->exposure.why);
    rd_buf_putc(b, '}');
}

/* Whether log_redact names the top-level member the amount field reads ("features.Amount":
 * "Amount"; "context.loan.amount": "loan"): then the amount, and the units that would reveal
 * it, are not logged. */
static bool amount_redacted(const char *field, const rd_dlog_redact *r)
{
    if (!field || !r)
        return false;
    const char *key = !strncmp(field, "features.", 9)  ? field + 9
                      : !strncmp(field, "context.", 8) ? field + 8
                                                       : field;
    const char *dot = strchr(key, '.');
    return rd__redact_find(r, key, dot ? (size_t)(dot - key) : strlen(key)) != (size_t)-1;
}

/* What the exposure cap said ("exposure": null with no cap in force). units: what a charged
 * approval cost, or what a capped one would have (null for a peek, without an amount cap, or
 * for an amount that could not be read). */
static void exposure(rd_buf *b, const rd_exposure_ticket *t, const rd_dlog_meta *m)
{
    if (t->state == RD_EXPOSURE_NONE) {
        rd_buf_puts(b, ",\"exposure\":null");
        return;
    }
    rd_buf_puts(b, ",\"exposure\":{\"stage\":");
    str(b, t->stage);
    rd_buf_printf(b,
                  ",\"stage_started_ms\":%lld,\"state\":\"%s\",\"amount\":", (long long)t->stage_started_ms,
                  rd_exposure_state_name(t->state));
    bool hide = amount_redacted(t->field, m->redact);
    num(b, hide || !t->field ? (double)NAN : t->amount);
    rd_buf_puts(b, ",\"units\":");
    bool units = !hide && t->field && isfinite(t->amount) &&
                 (t->state == RD_EXPOSURE_CHARGED || t->state == RD_EXPOSURE_CAPPED);
    if (units)
        rd_buf_printf(b, "%lld", (long long)t->amount_units);
    else
        rd_buf_puts(b, "null");
    rd_buf_putc(b, '}');
}

void rd_dlog_record_json(rd_buf *b, const rd_decider *dec, const rd_decision *d, const rd_dlog_meta *m)
{
    head(b, "primary", d->request_id, m);
    rd_buf_printf(b, ",\"eval_time\":%lld,\"context\":", (long long)d->eval_time);
    bool seen[RD_REDACT_MAX] = {0}; /* log_redact's names this request had */
    rd__redact_write_inputs(b, m->context, m->redact, seen);
    rd_buf_puts(b, ",\"features\":");
    rd__redact_write_inputs(b, m->features, m->redact, seen);
    rd__redact_write_summary(b, m->redact, seen);
    rd_buf_puts(b, ",\"flags\":{\"sha256\":");
    opt(b, rd_decider_flags_sha256(dec));
    const rd_flagset *fs = rd_decider_flags(dec);
    const rd_value *meta = fs ? rd_flagset_metadata(fs) : NULL;
    rd_buf_puts(b, ",\"set_id\":");
    value(b, meta && meta->type == RD_VOBJECT ? rd_value_get(meta, "flagSetId", 9) : NULL);
    rd_buf_puts(b, ",\"version\":");
    value(b, meta && meta->type == RD_VOBJECT ? rd_value_get(meta, "version", 7) : NULL);
    rd_buf_puts(b, ",\"route_flag\":");
    opt(b, rd_decider_route_index(dec) >= 0 ? rd_decider_route_flag(dec) : NULL);
    rd_buf_puts(b, ",\"shadow_flag\":");
    opt(b, rd_decider_shadow_index(dec) >= 0 ? rd_decider_shadow_flag(dec) : NULL);
    rd_buf_printf(b, ",\"lenient\":%s},\"routed\":%s,\"variant\":", m->lenient ? "true" : "false",
                  d->routed ? "true" : "false");
    str(b, d->variant);
    rd_buf_puts(b, ",\"route_reason\":");
    str(b, d->routed ? rd_reason_name(d->route_reason) : NULL);
    rd_buf_puts(b, ",\"bundle\":");
    bundle(b, d->slot ? rd_slot_bundle(d->slot) : NULL);
    if (d->source == RD_SOURCE_MODEL)
        model_answer(b, d);
    else
        fallback_answer(b, d);
    control(b, d);
    exposure(b, &d->exposure, m);
    rd_buf_puts(b, ",\"shadows\":[");
    for (size_t i = 0; i < d->nshadows; i++) {
        if (i)
            rd_buf_putc(b, ',');
        str(b, rd_slot_name(d->shadows[i]));
    }
    rd_buf_puts(b, "],\"latency_ms\":");
    num(b, (double)(rd_clock_ns() - d->t0_ns) / 1e6);
    rd_buf_putc(b, '}');
}

void rd_dlog_shadow_json(rd_buf *b, const char *request_id, const char *primary, const rd_bundle *shadow,
                         int rc, const rd_score *sc, const rd_dlog_meta *m)
{
    rd_value id = rd_value_string(request_id, (uint32_t)strlen(request_id));
    head(b, "shadow", &id, m);
    rd_buf_puts(b, ",\"primary\":");
    str(b, primary);
    rd_buf_puts(b, ",\"bundle\":");
    bundle(b, shadow);
    if (rc) {
        rd_buf_printf(b, ",\"source\":null,\"error\":\"%s\"}", rd_err_name(rc));
        return;
    }
    scored(b, "model", shadow, sc);
    rd_buf_putc(b, '}');
}
