/* The rollouts and rollout_transitions tables of the SQLite store (schema 2, sqlite.c).
 *
 * Invariants: a rollout row changes only through rd_rollout_put's compare-and-swap on its
 * version (an UPDATE matching the version read, or an INSERT of a row that must not exist), so
 * two controllers, or a controller and the CLI, never overwrite each other's stage; the
 * transitions are append-only, their ids increasing in commit order. Statements are prepared
 * per call: these run once per evaluation interval, not per decision. */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "riskd/arena.h"
#include "sqlite_int.h"

static const char row_cols[] = "flag, plan_name, plan_path, plan_sha, plan_json, flags_path, state, stage, "
                               "stage_name, stage_started_ms, updated_ms, version";

static void copy_col(sqlite3_stmt *st, int i, char *dst, size_t cap)
{
    const char *v = (const char *)sqlite3_column_text(st, i);
    snprintf(dst, cap, "%s", v ? v : "");
}

/* A row from the columns of row_cols; plan_json is a new string. */
static int read_row(sq_store *s, sqlite3_stmt *st, rd_rollout_row *r, rd_err *err)
{
    memset(r, 0, sizeof *r);
    copy_col(st, 0, r->flag, sizeof r->flag);
    copy_col(st, 1, r->plan_name, sizeof r->plan_name);
    copy_col(st, 2, r->plan_path, sizeof r->plan_path);
    copy_col(st, 3, r->plan_sha, sizeof r->plan_sha);
    copy_col(st, 5, r->flags_path, sizeof r->flags_path);
    char state[32];
    copy_col(st, 6, state, sizeof state);
    int k = rd_rollout_state_parse(state);
    if (k < 0)
        return rd_err_set(err, RD_EINVAL, "%s: rollout \"%s\": unknown state \"%s\"", s->base.name, r->flag,
                          state);
    r->state = (rd_rollout_state)k;
    r->stage = sqlite3_column_int(st, 7);
    copy_col(st, 8, r->stage_name, sizeof r->stage_name);
    r->stage_started_ms = sqlite3_column_int64(st, 9);
    r->updated_ms = sqlite3_column_int64(st, 10);
    r->version = sqlite3_column_int64(st, 11);
    const char *plan = (const char *)sqlite3_column_text(st, 4);
    r->plan_json = rd_strndup(plan ? plan : "", plan ? (size_t)sqlite3_column_bytes(st, 4) : 0);
    return r->plan_json ? RD_OK : rd_err_set(err, RD_ENOMEM, "out of memory");
}

int rd__sq_rollout_get(rd_store *base, const char *flag, rd_rollout_row *out, rd_err *err)
{
    sq_store *s = (sq_store *)base;
    char sql[256];
    snprintf(sql, sizeof sql, "SELECT %s FROM rollouts WHERE flag = ?", row_cols);
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(s->db, sql, -1, &st, NULL) != SQLITE_OK)
        return rd__sq_fail(s, err, "reading a rollout");
    sqlite3_bind_text(st, 1, flag, -1, SQLITE_STATIC);
    int step = sqlite3_step(st), rc;
    if (step == SQLITE_ROW)
        rc = read_row(s, st, out, err);
    else if (step == SQLITE_DONE)
        rc = rd_err_set(err, RD_ENOTFOUND, "%s: no rollout on flag \"%s\"", s->base.name, flag);
    else
        rc = rd__sq_fail(s, err, "reading a rollout");
    sqlite3_finalize(st);
    return rc;
}

static int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* The version stored for flag now (0: no row), for a conflict's message. */
static int64_t stored_version(sq_store *s, const char *flag)
{
    sqlite3_stmt *st;
    int64_t v = -1;
    if (sqlite3_prepare_v2(s->db, "SELECT version FROM rollouts WHERE flag = ?", -1, &st, NULL) != SQLITE_OK)
        return -1;
    sqlite3_bind_text(st, 1, flag, -1, SQLITE_STATIC);
    int step = sqlite3_step(st);
    v = step == SQLITE_ROW ? sqlite3_column_int64(st, 0) : step == SQLITE_DONE ? 0 : -1;
    sqlite3_finalize(st);
    return v;
}

int rd__sq_rollout_put(rd_store *base, rd_rollout_row *r, rd_err *err)
{
    sq_store *s = (sq_store *)base;
    static const char insert[] =
        "INSERT INTO rollouts(plan_name, plan_path, plan_sha, plan_json, flags_path, state, stage, "
        "stage_name,"
        " stage_started_ms, updated_ms, flag, version) VALUES(?1,?2,?3,?4,?5,?6,?7,?8,?9,?10,?11,1)"
        " ON CONFLICT(flag) DO NOTHING";
    static const char update[] =
        "UPDATE rollouts SET plan_name = ?1, plan_path = ?2, plan_sha = ?3, plan_json = ?4, flags_path = ?5,"
        " state = ?6, stage = ?7, stage_name = ?8, stage_started_ms = ?9, updated_ms = ?10, version = "
        "version + 1"
        " WHERE flag = ?11 AND version = ?12";
    if (r->version < 0)
        return rd_err_set(err, RD_EINVAL, "rollout \"%s\": version %lld is negative", r->flag,
                          (long long)r->version);
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(s->db, r->version == 0 ? insert : update, -1, &st, NULL) != SQLITE_OK)
        return rd__sq_fail(s, err, "writing a rollout");
    int64_t updated = r->updated_ms ? r->updated_ms : now_ms();
    sqlite3_bind_text(st, 1, r->plan_name, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, r->plan_path, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 3, r->plan_sha, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 4, r->plan_json ? r->plan_json : "", -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 5, r->flags_path, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 6, rd_rollout_state_name(r->state), -1, SQLITE_STATIC);
    sqlite3_bind_int(st, 7, r->stage);
    sqlite3_bind_text(st, 8, r->stage_name, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 9, r->stage_started_ms);
    sqlite3_bind_int64(st, 10, updated);
    sqlite3_bind_text(st, 11, r->flag, -1, SQLITE_STATIC);
    if (r->version)
        sqlite3_bind_int64(st, 12, r->version);
    int rc = sqlite3_step(st) == SQLITE_DONE ? RD_OK : rd__sq_fail(s, err, "writing a rollout");
    sqlite3_finalize(st);
    if (rc)
        return rc;
    if (sqlite3_changes(s->db) == 0) {
        int64_t now = stored_version(s, r->flag);
        if (r->version == 0)
            return rd_err_set(err, RD_ECONFLICT,
                              "%s: rollout \"%s\" already exists (version %lld): read it first", s->base.name,
                              r->flag, (long long)now);
        if (now == 0)
            return rd_err_set(err, RD_ECONFLICT, "%s: rollout \"%s\" (version %lld) no longer exists",
                              s->base.name, r->flag, (long long)r->version);
        return rd_err_set(
            err, RD_ECONFLICT,
            "%s: rollout \"%s\" changed since it was read (version %lld, now %lld): read it again",
            s->base.name, r->flag, (long long)r->version, (long long)now);
    }
    r->version++;
    r->updated_ms = updated;
    return RD_OK;
}

int rd__sq_rollout_list(rd_store *base, int (*fn)(void *, const rd_rollout_row *), void *ud, rd_err *err)
{
    sq_store *s = (sq_store *)base;
    char sql[256];
    snprintf(sql, sizeof sql, "SELECT %s FROM rollouts ORDER BY flag", row_cols);
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(s->db, sql, -1, &st, NULL) != SQLITE_OK)
        return rd__sq_fail(s, err, "listing the rollouts");
    int rc = RD_OK, step;
    while (!rc && (step = sqlite3_step(st)) == SQLITE_ROW) {
        rd_rollout_row r;
        if ((rc = read_row(s, st, &r, err)) == RD_OK)
            rc = fn(ud, &r);
        rd_rollout_row_free(&r);
    }
    if (!rc && step != SQLITE_DONE)
        rc = rd__sq_fail(s, err, "listing the rollouts");
    sqlite3_finalize(st);
    return rc;
}

int rd__sq_transition_append(rd_store *base, const rd_transition *t, rd_err *err)
{
    sq_store *s = (sq_store *)base;
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(
            s->db,
            "INSERT INTO rollout_transitions(ts_ms, flag, from_stage, to_stage, from_state, to_state,"
            " reason, detail, actor, gates, flags_sha) VALUES(?,?,?,?,?,?,?,?,?,?,?)",
            -1, &st, NULL) != SQLITE_OK)
        return rd__sq_fail(s, err, "recording a rollout transition");
    sqlite3_bind_int64(st, 1, t->ts_ms ? t->ts_ms : now_ms());
    sqlite3_bind_text(st, 2, t->flag, -1, SQLITE_STATIC);
    sqlite3_bind_int(st, 3, t->from_stage);
    sqlite3_bind_int(st, 4, t->to_stage);
    sqlite3_bind_text(st, 5, t->from_state, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 6, t->to_state, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 7, t->reason, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 8, t->detail, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 9, t->actor, -1, SQLITE_STATIC);
    if (t->gates_json)
        sqlite3_bind_text(st, 10, t->gates_json, -1, SQLITE_STATIC);
    else
        sqlite3_bind_null(st, 10);
    sqlite3_bind_text(st, 11, t->flags_sha, -1, SQLITE_STATIC);
    int rc = sqlite3_step(st) == SQLITE_DONE ? RD_OK : rd__sq_fail(s, err, "recording a rollout transition");
    sqlite3_finalize(st);
    return rc;
}

int rd__sq_transition_list(rd_store *base, const char *flag, size_t limit,
                           int (*fn)(void *, const rd_transition *), void *ud, rd_err *err)
{
    sq_store *s = (sq_store *)base;
    char sql[320];
    snprintf(
        sql, sizeof sql,
        "SELECT id, ts_ms, flag, from_stage, to_stage, from_state, to_state, reason, detail, actor, gates,"
        " flags_sha FROM rollout_transitions%s ORDER BY id DESC LIMIT ?2",
        flag ? " WHERE flag = ?1" : "");
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(s->db, sql, -1, &st, NULL) != SQLITE_OK)
        return rd__sq_fail(s, err, "reading the rollout transitions");
    if (flag)
        sqlite3_bind_text(st, 1, flag, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 2, limit ? (sqlite3_int64)limit : -1);
    int rc = RD_OK, step;
    while (!rc && (step = sqlite3_step(st)) == SQLITE_ROW) {
        rd_transition t = {.id = sqlite3_column_int64(st, 0),
                           .ts_ms = sqlite3_column_int64(st, 1),
                           .from_stage = sqlite3_column_int(st, 3),
                           .to_stage = sqlite3_column_int(st, 4),
                           .gates_json = (const char *)sqlite3_column_text(st, 10)};
        copy_col(st, 2, t.flag, sizeof t.flag);
        copy_col(st, 5, t.from_state, sizeof t.from_state);
        copy_col(st, 6, t.to_state, sizeof t.to_state);
        copy_col(st, 7, t.reason, sizeof t.reason);
        copy_col(st, 8, t.detail, sizeof t.detail);
        copy_col(st, 9, t.actor, sizeof t.actor);
        copy_col(st, 11, t.flags_sha, sizeof t.flags_sha);
        rc = fn(ud, &t);
    }
    if (!rc && step != SQLITE_DONE)
        rc = rd__sq_fail(s, err, "reading the rollout transitions");
    sqlite3_finalize(st);
    return rc;
}
