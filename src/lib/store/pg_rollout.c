/* The rollouts and rollout_transitions tables on PostgreSQL (schema 2, pg.c), with the same
 * semantics as sqlite_rollout.c: a rollout row changes only through rd_rollout_put's
 * compare-and-swap on its version (an UPDATE matching the version read, which under READ
 * COMMITTED re-reads a row another node updated meanwhile and then matches nothing; or an
 * INSERT ... ON CONFLICT DO NOTHING of a row that must not exist), so two controllers on two
 * nodes never overwrite each other's stage. Transitions are append-only; lists are read whole
 * before calling back (the status command lists a rollout's transitions from its callback). */
#include <stdio.h>
#include <string.h>

#include "pg_int.h"
#include "riskd/arena.h"
#include "riskd/clock.h"

#define ROW_COLS                                                                                             \
    "flag, plan_name, plan_path, plan_sha, plan_json, flags_path, state, stage, stage_name, "                \
    "stage_started_ms,"                                                                                      \
    " updated_ms, version"

static int read_row(pg_store *s, const PGresult *r, int i, rd_rollout_row *row, rd_err *err)
{
    memset(row, 0, sizeof *row);
    rd__pg_copy(r, i, 0, row->flag, sizeof row->flag);
    rd__pg_copy(r, i, 1, row->plan_name, sizeof row->plan_name);
    rd__pg_copy(r, i, 2, row->plan_path, sizeof row->plan_path);
    rd__pg_copy(r, i, 3, row->plan_sha, sizeof row->plan_sha);
    rd__pg_copy(r, i, 5, row->flags_path, sizeof row->flags_path);
    char state[32];
    rd__pg_copy(r, i, 6, state, sizeof state);
    int k = rd_rollout_state_parse(state);
    if (k < 0)
        return rd_err_set(err, RD_EINVAL, "%s: rollout \"%s\": unknown state \"%s\"", s->base.name, row->flag,
                          state);
    row->state = (rd_rollout_state)k;
    row->stage = (int)rd__pg_i64(r, i, 7);
    rd__pg_copy(r, i, 8, row->stage_name, sizeof row->stage_name);
    row->stage_started_ms = rd__pg_i64(r, i, 9);
    row->updated_ms = rd__pg_i64(r, i, 10);
    row->version = rd__pg_i64(r, i, 11);
    row->plan_json = rd__pg_dup(r, i, 4);
    return row->plan_json ? RD_OK : rd_err_set(err, RD_ENOMEM, "out of memory");
}

int rd__pg_rollout_get(rd_store *base, const char *flag, rd_rollout_row *out, rd_err *err)
{
    pg_store *s = (pg_store *)base;
    pg_params p = {0};
    PGresult *r;
    rd__pg_text(&p, flag);
    int rc =
        rd__pg_exec(s, "SELECT " ROW_COLS " FROM rollouts WHERE flag = $1", &p, &r, "reading a rollout", err);
    if (rc)
        return rc;
    rc = PQntuples(r) == 1
             ? read_row(s, r, 0, out, err)
             : rd_err_set(err, RD_ENOTFOUND, "%s: no rollout on flag \"%s\"", s->base.name, flag);
    PQclear(r);
    return rc;
}

/* The version stored for flag now (0: no row; -1: unknown), for a conflict's message. */
static int64_t stored_version(pg_store *s, const char *flag)
{
    pg_params p = {0};
    PGresult *r;
    rd_err ignored;
    rd__pg_text(&p, flag);
    if (rd__pg_exec(s, "SELECT version FROM rollouts WHERE flag = $1", &p, &r, "reading a rollout", &ignored))
        return -1;
    int64_t v = PQntuples(r) == 1 ? rd__pg_i64(r, 0, 0) : 0;
    PQclear(r);
    return v;
}

static int conflict(pg_store *s, const rd_rollout_row *row, rd_err *err)
{
    int64_t now = stored_version(s, row->flag);
    if (row->version == 0)
        return rd_err_set(err, RD_ECONFLICT,
                          "%s: rollout \"%s\" already exists (version %lld): read it first", s->base.name,
                          row->flag, (long long)now);
    if (now == 0)
        return rd_err_set(err, RD_ECONFLICT, "%s: rollout \"%s\" (version %lld) no longer exists",
                          s->base.name, row->flag, (long long)row->version);
    return rd_err_set(err, RD_ECONFLICT,
                      "%s: rollout \"%s\" changed since it was read (version %lld, now %lld): read it again",
                      s->base.name, row->flag, (long long)row->version, (long long)now);
}

int rd__pg_rollout_put(rd_store *base, rd_rollout_row *row, rd_err *err)
{
    pg_store *s = (pg_store *)base;
    static const char insert[] = "INSERT INTO rollouts(plan_name, plan_path, plan_sha, plan_json, "
                                 "flags_path, state, stage, stage_name,"
                                 " stage_started_ms, updated_ms, flag, version) VALUES($1, $2, $3, $4, $5, "
                                 "$6, $7, $8, $9, $10, $11, 1)"
                                 " ON CONFLICT (flag) DO NOTHING";
    static const char update[] =
        "UPDATE rollouts SET plan_name = $1, plan_path = $2, plan_sha = $3, plan_json = $4, flags_path = $5,"
        " state = $6, stage = $7, stage_name = $8, stage_started_ms = $9, updated_ms = $10,"
        " version = version + 1 WHERE flag = $11 AND version = $12";
    if (row->version < 0)
        return rd_err_set(err, RD_EINVAL, "rollout \"%s\": version %lld is negative", row->flag,
                          (long long)row->version);
    int64_t updated = row->updated_ms ? row->updated_ms : rd_clock_unix_ms();
    pg_params p = {0};
    rd__pg_text(&p, row->plan_name);
    rd__pg_text(&p, row->plan_path);
    rd__pg_text(&p, row->plan_sha);
    rd__pg_text(&p, row->plan_json ? row->plan_json : "");
    rd__pg_text(&p, row->flags_path);
    rd__pg_text(&p, rd_rollout_state_name(row->state));
    rd__pg_int(&p, row->stage);
    rd__pg_text(&p, row->stage_name);
    rd__pg_int(&p, row->stage_started_ms);
    rd__pg_int(&p, updated);
    rd__pg_text(&p, row->flag);
    if (row->version)
        rd__pg_int(&p, row->version);
    PGresult *r;
    int rc = rd__pg_exec(s, row->version == 0 ? insert : update, &p, &r, "writing a rollout", err);
    if (rc)
        return rc;
    uint64_t changed = rd__pg_changes(r);
    PQclear(r);
    if (changed == 0)
        return conflict(s, row, err);
    row->version++;
    row->updated_ms = updated;
    return RD_OK;
}

int rd__pg_rollout_list(rd_store *base, int (*fn)(void *, const rd_rollout_row *), void *ud, rd_err *err)
{
    pg_store *s = (pg_store *)base;
    PGresult *r;
    int rc = rd__pg_exec(s, "SELECT " ROW_COLS " FROM rollouts ORDER BY flag", NULL, &r,
                         "listing the rollouts", err);
    for (int i = 0; !rc && i < PQntuples(r); i++) {
        rd_rollout_row row;
        if ((rc = read_row(s, r, i, &row, err)) == RD_OK)
            rc = fn(ud, &row);
        rd_rollout_row_free(&row);
    }
    PQclear(r);
    return rc;
}

int rd__pg_transition_append(rd_store *base, const rd_transition *t, rd_err *err)
{
    pg_store *s = (pg_store *)base;
    pg_params p = {0};
    rd__pg_int(&p, t->ts_ms ? t->ts_ms : rd_clock_unix_ms());
    rd__pg_text(&p, t->flag);
    rd__pg_int(&p, t->from_stage);
    rd__pg_int(&p, t->to_stage);
    rd__pg_text(&p, t->from_state);
    rd__pg_text(&p, t->to_state);
    rd__pg_text(&p, t->reason);
    rd__pg_text(&p, t->detail);
    rd__pg_text(&p, t->actor);
    rd__pg_text(&p, t->gates_json);
    rd__pg_text(&p, t->flags_sha);
    return rd__pg_exec(
        s,
        "INSERT INTO rollout_transitions(ts_ms, flag, from_stage, to_stage, from_state, to_state,"
        " reason, detail, actor, gates, flags_sha) VALUES($1, $2, $3, $4, $5, $6, $7, $8, $9, $10,"
        " $11)",
        &p, NULL, "recording a rollout transition", err);
}

int rd__pg_transition_list(rd_store *base, const char *flag, size_t limit,
                           int (*fn)(void *, const rd_transition *), void *ud, rd_err *err)
{
    pg_store *s = (pg_store *)base;
    pg_params p = {0};
    PGresult *r;
    rd__pg_text(&p, flag);
    if (limit)
        rd__pg_int(&p, (int64_t)limit);
    else
        rd__pg_null(&p, RD_PG_INT8);
    int rc =
        rd__pg_exec(s,
                    "SELECT id, ts_ms, flag, from_stage, to_stage, from_state, to_state, reason, detail,"
                    " actor, gates, flags_sha FROM rollout_transitions WHERE $1::text IS NULL OR flag = $1"
                    " ORDER BY id DESC LIMIT $2",
                    &p, &r, "reading the rollout transitions", err);
    for (int i = 0; !rc && i < PQntuples(r); i++) {
        rd_transition t = {.id = rd__pg_i64(r, i, 0),
                           .ts_ms = rd__pg_i64(r, i, 1),
                           .from_stage = (int)rd__pg_i64(r, i, 3),
                           .to_stage = (int)rd__pg_i64(r, i, 4),
                           .gates_json = rd__pg_str(r, i, 10)};
        rd__pg_copy(r, i, 2, t.flag, sizeof t.flag);
        rd__pg_copy(r, i, 5, t.from_state, sizeof t.from_state);
        rd__pg_copy(r, i, 6, t.to_state, sizeof t.to_state);
        rd__pg_copy(r, i, 7, t.reason, sizeof t.reason);
        rd__pg_copy(r, i, 8, t.detail, sizeof t.detail);
        rd__pg_copy(r, i, 9, t.actor, sizeof t.actor);
        rd__pg_copy(r, i, 11, t.flags_sha, sizeof t.flags_sha);
        rc = fn(ud, &t);
    }
    PQclear(r);
    return rc;
}

/* ------------------------------------------------------------------ the controller's status */

int rd__pg_rollout_set_status(rd_store *base, const char *flag, const char *json, rd_err *err)
{
    pg_store *s = (pg_store *)base;
    pg_params p = {0};
    rd__pg_text(&p, json);
    rd__pg_text(&p, flag);
    return rd__pg_exec(s, "UPDATE rollouts SET status = $1 WHERE flag = $2", &p, NULL,
                       "writing the rollout's status", err);
}

int rd__pg_rollout_get_status(rd_store *base, const char *flag, char **json, rd_err *err)
{
    pg_store *s = (pg_store *)base;
    pg_params p = {0};
    PGresult *r;
    *json = NULL;
    rd__pg_text(&p, flag);
    int rc = rd__pg_exec(s, "SELECT status FROM rollouts WHERE flag = $1", &p, &r,
                         "reading the rollout's status", err);
    if (rc)
        return rc;
    if (PQntuples(r) == 1 && !PQgetisnull(r, 0, 0)) {
        *json = rd__pg_dup(r, 0, 0);
        rc = *json ? RD_OK : rd_err_set(err, RD_ENOMEM, "out of memory");
    } else {
        rc = rd_err_set(err, RD_ENOTFOUND, "rollout %s: no evaluation recorded yet", flag);
    }
    PQclear(r);
    return rc;
}
