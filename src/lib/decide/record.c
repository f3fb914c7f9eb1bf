/* The decision record: one encoder for the server, `riskd score`, and (next) the decision log
 * and replay, so a decision reads the same wherever it is written. */
#include <math.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>

#include "decide_int.h"
#include "riskd/clock.h"
#include "riskd/json.h"

void rd_decision_format_number(double x, bool float32, char *buf)
{
    if (float32)
        snprintf(buf, 32, "%.9g", (double)(float)x); /* round-trips the float the model computed */
    else
        rd_num_format(x, buf);
}

_Static_assert(RD_NUM_BUF <= 32, "rd_decision_format_number promises to write at most 32 bytes");

static void put_num(rd_buf *b, double x, bool float32)
{
    if (!isfinite(x)) { /* JSON has no such number: never an invalid body */
        rd_buf_puts(b, "null");
        return;
    }
    char s[32];
    rd_decision_format_number(x, float32, s);
    rd_buf_puts(b, s);
}

static void put_str(rd_buf *b, const char *s)
{
    if (s)
        rd_json_write_string(b, s, strlen(s));
    else
        rd_buf_puts(b, "null");
}

static void put_id(rd_buf *b, const rd_value *id)
{
    if (!id) {
        static atomic_uint_fast64_t seq;
        rd_buf_printf(b, "\"riskd-%llu\"", (unsigned long long)atomic_fetch_add(&seq, 1) + 1);
    } else {
        rd_json_write(b, id);
    }
}

static void put_inputs(rd_buf *b, const rd_pipeline *p, const uint32_t *idx, uint32_t n)
{
    rd_buf_putc(b, '[');
    for (uint32_t i = 0; p && i < n && i < RD_PIPELINE_REPORT_MAX; i++) {
        if (i)
            rd_buf_putc(b, ',');
        put_str(b, rd_pipeline_input_name(p, idx[i]));
    }
    rd_buf_putc(b, ']');
}

/* The request's names that are no input (unknown_inputs = warn): the caller sees at once
 * that "Age" was not "age". */
static void put_unrecognised(rd_buf *b, const rd_pipeline_report *r)
{
    rd_buf_puts(b, ",\"unrecognised\":[");
    for (uint32_t i = 0; i < r->nunrecognised && i < RD_PIPELINE_UNRECOGNISED_MAX; i++) {
        if (i)
            rd_buf_putc(b, ',');
        put_str(b, r->unrecognised[i]);
    }
    rd_buf_putc(b, ']');
}

/* A capped candidate approval answered by the control (docs/plans/guardrails.md §4.3): the
 * control's model answer reads source "control"; a fallback answer keeps source "fallback" and
 * says why the control answered. model_version is the control, variant the candidate's arm. */
static void put_control(rd_buf *b, const rd_decision *d, bool model)
{
    if (model)
        rd_buf_puts(b, ",\"source\":\"control\"");
    rd_buf_printf(
        b, ",\"control_reason\":\"%s\",\"candidate_version\":", rd_control_reason_name(d->control_reason));
    put_str(b, d->candidate ? rd_slot_name(d->candidate) : NULL);
}

static void put_model(rd_buf *b, const rd_decision *d)
{
    const rd_bundle *bd = d->slot->bundle;
    const rd_score *sc = &d->score;
    rd_buf_puts(b, ",\"score\":");
    put_num(b, sc->score, d->float32);
    rd_buf_puts(b, ",\"probability\":"); /* null for a regression's or a margin's output */
    put_num(b, rd_bundle_has_probability(bd) ? sc->probability : (double)NAN,
            rd_model_is_float32(rd_bundle_model(bd)));
    rd_buf_puts(b, ",\"risk_level\":");
    put_str(b, sc->risk_level);
    rd_buf_puts(b, ",\"decision\":");
    put_str(b, sc->decision);
    rd_buf_puts(b, ",\"model_version\":");
    put_str(b, rd_bundle_name(bd));
    rd_buf_puts(b, ",\"variant\":");
    put_str(b, d->variant);
    rd_buf_puts(b, ",\"reasons\":[");
    bool f32 = rd_model_is_float32(rd_bundle_model(bd)); /* XGBoost's impacts are float32 too */
    for (size_t i = 0; i < sc->nreasons; i++) {
        rd_buf_puts(b, i ? ",{\"feature\":" : "{\"feature\":");
        put_str(b, rd_bundle_reason_name(bd, sc->reasons[i].index));
        rd_buf_puts(b, ",\"code\":");
        put_str(b, rd_bundle_reason_code(bd, sc->reasons[i].index));
        rd_buf_puts(b, ",\"impact\":");
        put_num(b, sc->reasons[i].impact, f32);
        rd_buf_putc(b, '}');
    }
    const rd_pipeline *p = rd_bundle_pipeline(bd);
    rd_buf_puts(b, "],\"missing\":");
    put_inputs(b, p, sc->report.missing_inputs, sc->report.missing);
    rd_buf_puts(b, ",\"unknown\":");
    put_inputs(b, p, sc->report.unknown_inputs, sc->report.unknown);
    put_unrecognised(b, &sc->report);
    if (d->control_reason)
        put_control(b, d, true);
    else
        rd_buf_puts(b, ",\"source\":\"model\"");
}

static void put_fallback(rd_buf *b, const rd_decision *d)
{
    const rd_fallback_result *r = &d->fallback;
    rd_buf_puts(b, ",\"score\":");
    if (r->has_score)
        put_num(b, r->score, false);
    else
        rd_buf_puts(b, "null");
    rd_buf_puts(b, ",\"probability\":null,\"risk_level\":");
    put_str(b, r->risk_level);
    rd_buf_puts(b, ",\"decision\":");
    put_str(b, r->decision);
    rd_buf_puts(b, ",\"model_version\":");
    put_str(b, d->slot ? rd_slot_name(d->slot) : NULL);
    rd_buf_puts(b, ",\"variant\":");
    put_str(b, d->variant);
    rd_buf_puts(b, ",\"reasons\":[{\"feature\":null,\"code\":");
    put_str(b, r->reason);
    rd_buf_puts(b, ",\"impact\":null}],\"missing\":");
    const rd_pipeline *p = d->slot && d->prepared ? rd_bundle_pipeline(d->slot->bundle) : NULL;
    put_inputs(b, p, d->score.report.missing_inputs, p ? d->score.report.missing : 0);
    rd_buf_puts(b, ",\"unknown\":");
    put_inputs(b, p, d->score.report.unknown_inputs, p ? d->score.report.unknown : 0);
    if (p)
        put_unrecognised(b, &d->score.report);
    else
        rd_buf_puts(b, ",\"unrecognised\":[]");
    rd_buf_printf(b, ",\"source\":\"fallback\",\"fallback_reason\":\"%s\",\"fallback_rule\":",
                  rd_fallback_reason_name(d->fallback_reason));
    put_str(b, r->name);
    rd_buf_printf(
        b, ",\"fallback_rules\":\"%s\",\"fallback_detail\":", d->fallback_from_bundle ? "bundle" : "service");
    put_str(b, d->fallback_detail);
    if (d->control_reason)
        put_control(b, d, false);
}

const char *rd_decision_id_text(const rd_decision *d, char *buf, size_t cap)
{
    const rd_value *id = d->request_id;
    if (id && id->type == RD_VSTRING)
        return id->u.s;
    if (id && id->type == RD_VNUMBER && cap >= RD_NUM_BUF) {
        rd_num_format(id->u.n, buf);
        return buf;
    }
    return "";
}

void rd_decision_write_json(rd_buf *b, const rd_decision *d)
{
    rd_buf_puts(b, "{\"request_id\":");
    put_id(b, d->request_id);
    if (d->source == RD_SOURCE_MODEL)
        put_model(b, d);
    else
        put_fallback(b, d);
    /* The bundle's identity (rd_bundle_digest): which bytes decided, beside model_version's name. */
    rd_buf_puts(b, ",\"model_digest\":");
    put_str(b, d->slot ? rd_bundle_digest(d->slot->bundle) : NULL);
    rd_buf_printf(b, ",\"latency_ms\":%.3f}", (double)(rd_clock_ns() - d->t0_ns) / 1e6);
}

static void put_upper(rd_buf *b, const char *s)
{
    char tmp[64];
    size_t n = s ? strlen(s) : 0;
    if (!s || n >= sizeof tmp) {
        put_str(b, s);
        return;
    }
    for (size_t i = 0; i <= n; i++)
        tmp[i] = (char)(s[i] >= 'a' && s[i] <= 'z' ? s[i] - 32 : s[i]);
    put_str(b, tmp);
}

void rd_decision_write_compat_json(rd_buf *b, const rd_decision *d, const rd_value *loan_id)
{
    bool model = d->source == RD_SOURCE_MODEL;
    const char *decision = model ? d->score.decision : d->fallback.decision;
    rd_buf_puts(b, "{\"loan_id\":");
    if (loan_id)
        rd_json_write(b, loan_id);
    else
        rd_buf_puts(b, "null");
    rd_buf_puts(b, ",\"score\":");
    if (model)
        put_num(b, d->score.score, d->float32);
    else if (d->fallback.has_score)
        put_num(b, d->fallback.score, false);
    else
        rd_buf_puts(b, "null");
    rd_buf_puts(b, ",\"risk_level\":");
    put_upper(b, model ? d->score.risk_level : d->fallback.risk_level);
    rd_buf_puts(b, ",\"model_version\":");
    put_str(b, d->slot ? rd_slot_name(d->slot) : NULL);
    rd_buf_puts(b, ",\"reject_reasons\":[");
    if (!decision || strcmp(decision, "approve") != 0) {
        if (model && d->slot)
            for (size_t i = 0; i < d->score.nreasons; i++) {
                if (i)
                    rd_buf_putc(b, ',');
                put_str(b, rd_bundle_reason_code(d->slot->bundle, d->score.reasons[i].index));
            }
        else
            put_str(b, d->fallback.reason);
    }
    rd_buf_puts(b, "],\"decision\":");
    put_str(b, decision);
    rd_buf_printf(b, ",\"source\":\"%s\",\"latency_ms\":%.3f}",
                  model && d->control_reason ? "control"
                  : model                    ? "model"
                                             : "fallback",
                  (double)(rd_clock_ns() - d->t0_ns) / 1e6);
}
