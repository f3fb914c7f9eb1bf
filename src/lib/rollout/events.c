/* The notifications of rollout transitions (notify.h): each is written with the transition, in
 * its transaction, so an automatic rollback at 3 a.m. is announced exactly when it is stored,
 * a spooled one included (when the spool is drained, with its own time). */
#include <stdio.h>
#include <string.h>

#include "riskd/json.h"
#include "riskd/notify.h"
#include "rollout_int.h"

/* The type a transition announces, or NULL. */
static const char *type_of(const rd_transition *t)
{
    static const struct {
        const char *reason, *type;
    } by_reason[] = {{"start", "rollout.started"},    {"advance", "rollout.advanced"},
                     {"promote", "rollout.promoted"}, {"hold", "rollout.held"},
                     {"resume", "rollout.resumed"},   {"pause", "rollout.paused"},
                     {"conflict", "rollout.paused"},  {"exposure_cap", "rollout.exposure_capped"}};
    if (!strcmp(t->to_state, "rolled_back"))
        return "rollout.rolled_back";
    for (size_t i = 0; i < sizeof by_reason / sizeof *by_reason; i++)
        if (!strcmp(t->reason, by_reason[i].reason))
            return by_reason[i].type;
    return NULL;
}

/* The gates whose verdict is "fail", each whole (metric, value, thresholds, noise floor, n). */
static void failing_gates(const char *gates_json, rd_buf *b)
{
    rd_buf_puts(b, ",\"failing_gates\":[");
    rd_arena a;
    rd_arena_init(&a, 0);
    rd_value v;
    size_t n = 0;
    if (gates_json && rd_json_parse(gates_json, strlen(gates_json), NULL, &a, &v, NULL) == RD_OK &&
        v.type == RD_VARRAY)
        for (size_t i = 0; i < v.len; i++) {
            const rd_value *g = &v.u.items[i], *verdict = rd_value_get(g, "verdict", 7);
            if (verdict && verdict->type == RD_VSTRING && !strcmp(verdict->u.s, "fail")) {
                rd_buf_puts(b, n++ ? "," : "");
                rd_json_write(b, g);
            }
        }
    rd_buf_putc(b, ']');
    rd_arena_deinit(&a);
}

/* A stage's name: from the plan the rollout row keeps, else the row's current stage; "" when
 * neither knows it (a first start is recorded before its row). */
static const char *stage_name(const rd_plan *plan, const rd_rollout_row *row, int index)
{
    if (plan && index >= 0 && (size_t)index < plan->nstages)
        return plan->stages[index].name;
    if (row && row->stage == index)
        return row->stage_name;
    return "";
}

static void stage_json(rd_buf *b, const char *key, int index, const rd_plan *plan, const rd_rollout_row *row)
{
    rd_buf_printf(b, ",\"%s\":{\"index\":%d", key, index);
    const char *name = stage_name(plan, row, index);
    if (*name) {
        rd_buf_puts(b, ",\"name\":");
        rd_json_write_string(b, name, strlen(name));
    }
    if (plan && index >= 0 && (size_t)index < plan->nstages)
        rd_buf_printf(b, ",\"candidate_percent\":%g",
                      100.0 * plan->stages[index].candidate / (double)RD_ROLLOUT_TOTAL);
    rd_buf_putc(b, '}');
}

static void data_json(const rd_transition *t, const rd_plan *plan, const rd_rollout_row *row, rd_buf *b)
{
    rd_buf_puts(b, "{\"flag\":");
    rd_json_write_string(b, t->flag, strlen(t->flag));
    if (row) {
        rd_buf_puts(b, ",\"plan\":");
        rd_json_write_string(b, row->plan_name, strlen(row->plan_name));
    }
    rd_buf_puts(b, ",\"reason\":");
    rd_json_write_string(b, t->reason, strlen(t->reason));
    rd_buf_printf(b, ",\"from_state\":\"%s\",\"to_state\":\"%s\"", t->from_state, t->to_state);
    stage_json(b, "from_stage", t->from_stage, plan, row);
    stage_json(b, "to_stage", t->to_stage, plan, row);
    rd_buf s;
    rd_buf_init(&s);
    rd_notify_scrub(t->detail, 512, &s);
    rd_buf_puts(b, ",\"detail\":");
    rd_json_write_string(b, s.len ? s.data : "", s.len);
    rd_buf_deinit(&s);
    failing_gates(t->gates_json, b);
    rd_buf_putc(b, '}');
}

static void stage_words(const rd_plan *plan, const rd_rollout_row *row, int index, char *out, size_t cap)
{
    const char *name = stage_name(plan, row, index);
    if (*name)
        snprintf(out, cap, "stage %d (%s)", index, name);
    else
        snprintf(out, cap, "stage %d", index);
}

static void summary(const rd_transition *t, const char *type, const rd_plan *plan, const rd_rollout_row *row,
                    rd_buf *b)
{
    const char *by = t->actor[0] ? t->actor : "riskd";
    char stage[96], from[96];
    stage_words(plan, row, t->to_stage, stage, sizeof stage);
    stage_words(plan, row, t->from_stage, from, sizeof from);
    if (!strcmp(type, "rollout.rolled_back"))
        rd_buf_printf(b, "rollout %s rolled back at %s by %s: %s", t->flag, from, by, t->detail);
    else if (!strcmp(type, "rollout.advanced") || !strcmp(type, "rollout.promoted"))
        rd_buf_printf(b, "rollout %s %s to %s by %s: %s", t->flag,
                      !strcmp(type, "rollout.promoted") ? "promoted" : "advanced", stage, by, t->detail);
    else if (!strcmp(type, "rollout.held"))
        rd_buf_printf(b, "rollout %s held at %s: %s", t->flag, stage, t->detail);
    else if (!strcmp(type, "rollout.exposure_capped"))
        rd_buf_printf(b, "rollout %s reached its exposure cap at %s: %s", t->flag, stage, t->detail);
    else if (!strcmp(type, "rollout.started"))
        rd_buf_printf(b, "rollout %s started at %s by %s", t->flag, stage, by);
    else
        rd_buf_printf(b, "rollout %s %s at %s by %s: %s", t->flag,
                      !strcmp(type, "rollout.resumed") ? "resumed" : "paused", stage, by, t->detail);
}

int rd__rollout_notify(rd_store *s, const rd_transition *t, rd_err *err)
{
    const char *type = type_of(t);
    if (!type)
        return RD_OK;
    rd_rollout_row row = {0};
    bool have = rd_rollout_get(s, t->flag, &row, NULL) == RD_OK;
    rd_buf data, sum;
    rd_buf_init(&data);
    rd_buf_init(&sum);
    rd_plan *plan = NULL;
    if (have && row.plan_json)
        rd_plan_parse(row.plan_json, strlen(row.plan_json), &plan, NULL);
    data_json(t, plan, have ? &row : NULL, &data);
    summary(t, type, plan, have ? &row : NULL, &sum);
    rd_plan_free(plan);
    char key[300];
    snprintf(key, sizeof key, "rollout/%s", t->flag);
    bool alarm = rd_notify_type_alarm(type);
    rd_notify_event e = {.type = type,
                         .ts_ms = t->ts_ms,
                         .actor = t->actor[0] ? t->actor : NULL,
                         .object_kind = "rollout",
                         .object_id = t->flag,
                         .summary = rd_buf_cstr(&sum),
                         .alert_key = alarm ? key : NULL,
                         .alert_state =
                             alarm ? (!strcmp(type, "rollout.resumed") ? "resolved" : "firing") : NULL,
                         .data_json = rd_buf_cstr(&data)};
    int rc =
        data.oom || sum.oom ? rd_err_set(err, RD_ENOMEM, "out of memory") : rd_notify_enqueue(s, &e, err);
    rd_buf_deinit(&data);
    rd_buf_deinit(&sum);
    if (have)
        rd_rollout_row_free(&row);
    return rc;
}
