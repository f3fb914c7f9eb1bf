/* Manual rollout commands (riskd rollout pause|resume|promote|rollback, and later the admin
 * API): they change the store's row, which the controller inside `riskd serve` follows at its
 * next tick; promote and rollback also rewrite the flag file, first, so the traffic moves even
 * when the store cannot be written (the transition then waits in the spool). */
#include <stdio.h>
#include <string.h>

#include "riskd/change.h"
#include "riskd/clock.h"
#include "riskd/rollout.h"

static const char *const cmd_names[] = {"pause", "resume", "promote", "rollback"};

static int write_stage(rd_store *s, const char *actor, const rd_plan *p, const rd_rollout_row *row,
                       const rd_stage *st, bool rolled_back, const char *expected, char sha[RD_SHA256_HEX],
                       rd_err *err)
{
    rd_buf t;
    rd_buf_init(&t);
    int rc = rd_plan_stage_targeting(p, st, rolled_back, &t);
    if (rc == RD_OK) {
        const char *shadow_var =
            p->shadow_flag[0] ? (st->shadow && !rolled_back ? p->shadow_on : p->shadow_off) : NULL;
        rd_err e;
        bool restored;
        if (s)
            rd_change_restore_published(s, row->flags_path, actor, rd_clock_unix_ms(), &restored, &e);
        rc = rd_flagtarget_update(s, row->flags_path, expected, p->route_flag, rd_buf_cstr(&t),
                                  p->shadow_flag[0] ? p->shadow_flag : NULL, shadow_var, st->name, actor, sha,
                                  err);
    } else {
        rd_err_set(err, rc, "out of memory");
    }
    rd_buf_deinit(&t);
    return rc;
}

int rd_rollout_command(rd_store *s, const char *data_dir, const char *flag, rd_rollout_cmd cmd,
                       const char *actor, const char *why, int64_t now_ms, rd_err *err)
{
    rd_rollout_row row = {0};
    int rc = rd_rollout_get(s, flag, &row, err);
    if (rc == RD_ENOTFOUND)
        return rd_err_set(err, RD_ENOTFOUND,
                          "no rollout of flag \"%s\" in %s (riskd rollout status lists them)", flag,
                          rd_store_name(s));
    if (rc)
        return rc;
    rd_plan *p = NULL;
    if ((rc = rd_plan_parse(row.plan_json ? row.plan_json : "", row.plan_json ? strlen(row.plan_json) : 0, &p,
                            err))) {
        rd_rollout_row_free(&row);
        return rc;
    }
    rd_rollout_state from_state = row.state, to_state;
    int from_stage = row.stage, to_stage = row.stage;
    if (row.stage < 0 || (size_t)row.stage >= p->nstages)
        row.stage = to_stage = from_stage = 0;
    char sha[RD_SHA256_HEX] = "";
    const char *state_name = rd_rollout_state_name(row.state);
    switch (cmd) {
    case RD_CMD_PAUSE:
        if (row.state != RD_ROLLOUT_RUNNING && row.state != RD_ROLLOUT_HOLDING)
            rc = rd_err_set(err, RD_EINVAL,
                            "rollout %s is %s: only a running or holding rollout can be paused", flag,
                            state_name);
        to_state = RD_ROLLOUT_PAUSED;
        break;
    case RD_CMD_RESUME:
        if (row.state == RD_ROLLOUT_PROMOTED || row.state == RD_ROLLOUT_RUNNING) {
            rc = rd_err_set(err, RD_EINVAL, "rollout %s is %s: nothing to resume", flag, state_name);
        } else if (row.state == RD_ROLLOUT_ROLLED_BACK) {
            /* start again from the first stage; the flag file after the row's CAS, so a
               rollback the controller made meanwhile is never undone by this */
            to_stage = 0;
        }
        to_state = RD_ROLLOUT_RUNNING;
        break;
    case RD_CMD_PROMOTE:
        if (row.state == RD_ROLLOUT_PROMOTED)
            rc = rd_err_set(err, RD_EINVAL, "rollout %s is already promoted", flag);
        to_stage = (int)p->nstages - 1;
        to_state = RD_ROLLOUT_PROMOTED;
        break; /* the flag file after the row's CAS (as resume) */
    default:
        rd_plan_free(p);
        rd_rollout_row_free(&row);
        return rd_err_set(err, RD_EINVAL, "rollout %s: unknown command %d", flag, (int)cmd);
    case RD_CMD_ROLLBACK:
        if (row.state == RD_ROLLOUT_ROLLED_BACK)
            rc = rd_err_set(err, RD_EINVAL, "rollout %s is already rolled back", flag);
        to_state = RD_ROLLOUT_ROLLED_BACK;
        if (!rc)
            rc = write_stage(s, actor, p, &row, &p->stages[row.stage], true, NULL, sha, err);
        break;
    }
    if (rc) {
        rd_plan_free(p);
        rd_rollout_row_free(&row);
        return rc;
    }
    rd_transition t = {.ts_ms = now_ms, .from_stage = from_stage, .to_stage = to_stage};
    snprintf(t.flag, sizeof t.flag, "%s", flag);
    snprintf(t.from_state, sizeof t.from_state, "%s", rd_rollout_state_name(from_state));
    snprintf(t.to_state, sizeof t.to_state, "%s", rd_rollout_state_name(to_state));
    snprintf(t.reason, sizeof t.reason, "%s", cmd_names[cmd]);
    snprintf(t.detail, sizeof t.detail, "manual: %s", why && *why ? why : "(no reason given)");
    snprintf(t.actor, sizeof t.actor, "%s", actor && *actor ? actor : "cli");
    snprintf(t.flags_sha, sizeof t.flags_sha, "%s", sha);
    row.state = to_state;
    if (to_stage != row.stage || cmd == RD_CMD_RESUME || cmd == RD_CMD_ROLLBACK)
        row.stage_started_ms = now_ms;
    row.stage = to_stage;
    snprintf(row.stage_name, sizeof row.stage_name, "%s", p->stages[to_stage].name);
    row.updated_ms = now_ms;
    rd_err put_err;
    int put = rd_rollout_put(s, &row, &put_err);
    bool moves = cmd == RD_CMD_PROMOTE || (cmd == RD_CMD_RESUME && from_state == RD_ROLLOUT_ROLLED_BACK);
    if (put == RD_ECONFLICT) {
        /* the controller (or another command) changed the rollout since it was read: nothing
           was done (a rollback already rewrote the flag file: kept, and said) */
        rc = rd_err_set(
            err, RD_ECONFLICT,
            "the rollout changed while this command ran (%s)%s: check `riskd rollout status` and try "
            "again",
            put_err.msg, cmd == RD_CMD_ROLLBACK ? "; the flag file was rolled back all the same" : "");
        if (cmd == RD_CMD_ROLLBACK)
            rd_transition_record(s, data_dir, &t, NULL);
    } else if (put != RD_OK && cmd == RD_CMD_ROLLBACK) {
        /* the flag file already moved: the traffic is safe; say that the row lags */
        int rec = rd_transition_record(s, data_dir, &t, NULL);
        rc = rd_err_set(
            err, put,
            "the flag file was rewritten (rollback), but the rollout's state could not be stored (%s); "
            "the transition is %s",
            put_err.msg,
            rec == RD_OK ? "recorded (in the spool until the store is writable)" : "NOT recorded");
    } else if (put != RD_OK) {
        rc = rd_err_set(err, put, "%s", put_err.msg);
    } else {
        if (moves &&
            (rc = write_stage(s, actor, p, &row, &p->stages[to_stage], false, NULL, sha, err)) != RD_OK)
            rd_err_prefix(err,
                          "the rollout's state says %s, but the flag file could not be rewritten: run the "
                          "command again",
                          rd_rollout_state_name(to_state));
        snprintf(t.flags_sha, sizeof t.flags_sha, "%s", sha);
        if (rc == RD_OK)
            rc = rd_transition_record(s, data_dir, &t, err);
    }
    rd_plan_free(p);
    rd_rollout_row_free(&row);
    return rc;
}
