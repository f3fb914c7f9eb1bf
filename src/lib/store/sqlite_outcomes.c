/* Outcomes on SQLite: labels that arrive late, joined to the decision log (schema 2).
 *
 * Invariants:
 *   - outcomes holds one row per (request_id, outcome definition), and only for a request id
 *     that had a primary decision when the label arrived; the decision it joins (the latest
 *     primary with that id) is copied in then (decided_ms, model_version, variant, decision,
 *     and score when the model answered: a fallback rule's score is not the model's, so it is
 *     NULL), so the statistics read no JSON and survive the decision log's pruning;
 *   - a label never changes silently: a new label or observation time for a stored pair
 *     updates the row and leaves one row in outcome_changes; the same label and time again
 *     changes nothing (a resent batch is idempotent);
 *   - a batch is one transaction: all of it is recorded, or none. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "riskd/arena.h"
#include "sqlite_int.h"

enum { Q_GET, Q_DECISION, Q_INSERT, Q_UPDATE, Q_CHANGE, NQ };

static const char *const put_sql[NQ] = {
    [Q_GET] = "SELECT label, observed_ms FROM outcomes WHERE request_id = ?1 AND outcome = ?2",
    /* the latest primary decision with that id; its record's fields only when it is JSON */
    [Q_DECISION] = "WITH d AS (SELECT ts_ms, model_version, CASE WHEN json_valid(record) THEN record END AS r"
                   " FROM decisions WHERE request_id = ?1 AND kind = 'primary' ORDER BY ts_ms DESC, id DESC"
                   " LIMIT 1) SELECT ts_ms, model_version, r ->> '$.variant', r ->> '$.decision',"
                   " r ->> '$.source', r -> '$.score' FROM d",
    [Q_INSERT] = "INSERT INTO outcomes(request_id, outcome, label, observed_ms, received_ms, decided_ms,"
                 " model_version, variant, decision, score) VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
    [Q_UPDATE] = "UPDATE outcomes SET label = ?3, observed_ms = ?4, received_ms = ?5"
                 " WHERE request_id = ?1 AND outcome = ?2",
    [Q_CHANGE] =
        "INSERT INTO outcome_changes(ts_ms, request_id, outcome, old_label, new_label, old_observed_ms,"
        " new_observed_ms) VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7)",
};

/* 0 ("not given") is stored as NULL, and read back as 0. */
static void bind_ms(sqlite3_stmt *st, int i, int64_t ms)
{
    if (ms)
        sqlite3_bind_int64(st, i, ms);
    else
        sqlite3_bind_null(st, i);
}

static void bind_str(sqlite3_stmt *st, int i, const char *s)
{
    sqlite3_bind_text(st, i, s, -1, SQLITE_STATIC);
}

/* A text column's value, or NULL when it is not text. */
static const char *text_col(sqlite3_stmt *st, int i)
{
    return sqlite3_column_type(st, i) == SQLITE_TEXT ? (const char *)sqlite3_column_text(st, i) : NULL;
}

/* Copy the joined decision's columns (Q_DECISION's row) into the insert's parameters 6..10.
 * The score is the record's text read with strtod, so it is the very double decided (the
 * record writes 17 significant digits); a score that is absent, null or not a finite number
 * is NULL, as is any score of a fallback answer. */
static void bind_decision(sqlite3_stmt *ins, sqlite3_stmt *dec)
{
    sqlite3_bind_int64(ins, 6, sqlite3_column_int64(dec, 0));
    for (int c = 1; c <= 3; c++) {
        const char *v = text_col(dec, c);
        if (v)
            sqlite3_bind_text(ins, 6 + c, v, -1, SQLITE_TRANSIENT);
        else
            sqlite3_bind_null(ins, 6 + c);
    }
    const char *source = text_col(dec, 4), *score = text_col(dec, 5);
    double x = NAN;
    if (source && score && !strcmp(source, "model")) {
        char *end;
        x = strtod(score, &end);
        if (end == score || *end)
            x = NAN;
    }
    if (isfinite(x))
        sqlite3_bind_double(ins, 10, x);
    else
        sqlite3_bind_null(ins, 10);
}

static int step_done(sq_store *s, sqlite3_stmt *st, rd_err *err, const char *what)
{
    int rc = sqlite3_step(st) == SQLITE_DONE ? RD_OK : rd__sq_fail(s, err, what);
    sqlite3_reset(st);
    return rc;
}

/* A pair already recorded: the same label and time, or a change (kept in outcome_changes). */
static int put_known(sq_store *s, sqlite3_stmt **q, const rd_outcome *o, int64_t now_ms,
                     rd_outcome_result *res, rd_err *err)
{
    sqlite3_stmt *get = q[Q_GET];
    int old_label = sqlite3_column_int(get, 0);
    int64_t old_ms = sqlite3_column_type(get, 1) == SQLITE_NULL ? 0 : sqlite3_column_int64(get, 1);
    sqlite3_reset(get);
    if (old_label == o->label && old_ms == o->observed_ms) {
        *res = RD_OUTCOME_SAME;
        return RD_OK;
    }
    sqlite3_stmt *up = q[Q_UPDATE], *ch = q[Q_CHANGE];
    bind_str(up, 1, o->request_id);
    bind_str(up, 2, o->outcome);
    sqlite3_bind_int(up, 3, o->label);
    bind_ms(up, 4, o->observed_ms);
    sqlite3_bind_int64(up, 5, now_ms);
    int rc = step_done(s, up, err, "replacing an outcome");
    if (rc)
        return rc;
    sqlite3_bind_int64(ch, 1, now_ms);
    bind_str(ch, 2, o->request_id);
    bind_str(ch, 3, o->outcome);
    sqlite3_bind_int(ch, 4, old_label);
    sqlite3_bind_int(ch, 5, o->label);
    bind_ms(ch, 6, old_ms);
    bind_ms(ch, 7, o->observed_ms);
    *res = RD_OUTCOME_CHANGED;
    return step_done(s, ch, err, "recording an outcome's change");
}

/* A pair not recorded yet: joined to its decision and inserted, or unknown. */
static int put_new(sq_store *s, sqlite3_stmt **q, const rd_outcome *o, int64_t now_ms, rd_outcome_result *res,
                   rd_err *err)
{
    sqlite3_stmt *dec = q[Q_DECISION], *ins = q[Q_INSERT];
    bind_str(dec, 1, o->request_id);
    int step = sqlite3_step(dec);
    if (step == SQLITE_DONE) {
        sqlite3_reset(dec);
        *res = RD_OUTCOME_UNKNOWN_REQ;
        return RD_OK;
    }
    if (step != SQLITE_ROW) {
        int rc = rd__sq_fail(s, err, "joining an outcome to its decision");
        sqlite3_reset(dec);
        return rc;
    }
    bind_str(ins, 1, o->request_id);
    bind_str(ins, 2, o->outcome);
    sqlite3_bind_int(ins, 3, o->label);
    bind_ms(ins, 4, o->observed_ms);
    sqlite3_bind_int64(ins, 5, now_ms);
    bind_decision(ins, dec); /* copies the text (TRANSIENT): dec can be reset */
    sqlite3_reset(dec);
    *res = RD_OUTCOME_NEW;
    return step_done(s, ins, err, "recording an outcome");
}

static int put_one(sq_store *s, sqlite3_stmt **q, const rd_outcome *o, int64_t now_ms, rd_outcome_result *res,
                   rd_err *err)
{
    sqlite3_stmt *get = q[Q_GET];
    bind_str(get, 1, o->request_id);
    bind_str(get, 2, o->outcome);
    int step = sqlite3_step(get);
    if (step == SQLITE_ROW)
        return put_known(s, q, o, now_ms, res, err); /* resets get */
    int rc = step == SQLITE_DONE ? RD_OK : rd__sq_fail(s, err, "reading an outcome");
    sqlite3_reset(get);
    return rc ? rc : put_new(s, q, o, now_ms, res, err);
}

int rd__sq_outcomes_put(rd_store *base, const rd_outcome *o, size_t n, int64_t now_ms,
                        rd_outcome_result *results, rd_err *err)
{
    sq_store *s = (sq_store *)base;
    sqlite3_stmt *q[NQ] = {0};
    rd_outcome_result *res = rd_malloc(n * sizeof *res);
    if (!res)
        return rd_err_set(err, RD_ENOMEM, "out of memory");
    int rc = RD_OK;
    for (int i = 0; !rc && i < NQ; i++)
        if (sqlite3_prepare_v2(s->db, put_sql[i], -1, &q[i], NULL) != SQLITE_OK)
            rc = rd__sq_fail(s, err, "preparing to record outcomes");
    bool began = false;
    if (!rc) {
        began = sqlite3_exec(s->db, "BEGIN IMMEDIATE", NULL, NULL, NULL) == SQLITE_OK;
        if (!began)
            rc = rd__sq_fail(s, err, "recording outcomes");
    }
    for (size_t i = 0; !rc && i < n; i++)
        rc = put_one(s, q, &o[i], now_ms, &res[i], err);
    if (!rc && sqlite3_exec(s->db, "COMMIT", NULL, NULL, NULL) != SQLITE_OK)
        rc = rd__sq_fail(s, err, "recording outcomes");
    if (rc && began)
        sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
    for (int i = 0; i < NQ; i++)
        sqlite3_finalize(q[i]);
    if (!rc)
        memcpy(results, res, n * sizeof *res);
    rd_free(res);
    return rc;
}

/* SELECT what FROM outcomes with the query's conditions (only those asked for, so SQLite picks
 * the index outcomes_model(model_version, outcome, decided_ms)). */
static int prepare_query(sq_store *s, const char *what, const char *extra, const rd__outcome_query *q,
                         sqlite3_stmt **st, rd_err *err)
{
    char sql[512];
    snprintf(sql, sizeof sql, "SELECT %s FROM outcomes WHERE model_version = ?1 AND outcome = ?2%s%s%s%s",
             what, q->variant ? " AND variant = ?3" : "", q->from_ms ? " AND decided_ms >= ?4" : "",
             q->to_ms ? " AND decided_ms < ?5" : "", extra);
    if (sqlite3_prepare_v2(s->db, sql, -1, st, NULL) != SQLITE_OK)
        return rd__sq_fail(s, err, "reading outcomes");
    bind_str(*st, 1, q->model_version);
    bind_str(*st, 2, q->outcome);
    if (q->variant)
        bind_str(*st, 3, q->variant);
    sqlite3_bind_int64(*st, 4, q->from_ms);
    sqlite3_bind_int64(*st, 5, q->to_ms);
    return RD_OK;
}

int rd__sq_outcome_counts(rd_store *base, const rd__outcome_query *q, rd_outcome_stats *out, rd_err *err)
{
    sq_store *s = (sq_store *)base;
    sqlite3_stmt *st;
    int rc = prepare_query(s,
                           "count(*), coalesce(sum(label = 1), 0), coalesce(sum(decision = 'approve'), 0),"
                           " coalesce(sum(decision = 'approve' AND label = 1), 0)",
                           "", q, &st, err);
    if (rc)
        return rc;
    if (sqlite3_step(st) == SQLITE_ROW) {
        out->labelled = (uint64_t)sqlite3_column_int64(st, 0);
        out->bads = (uint64_t)sqlite3_column_int64(st, 1);
        out->approved = (uint64_t)sqlite3_column_int64(st, 2);
        out->approved_bads = (uint64_t)sqlite3_column_int64(st, 3);
    } else {
        rc = rd__sq_fail(s, err, "counting outcomes");
    }
    sqlite3_finalize(st);
    return rc;
}

int rd__sq_outcome_scores(rd_store *base, const rd__outcome_query *q, int (*fn)(void *, double, int),
                          void *ud, rd_err *err)
{
    sq_store *s = (sq_store *)base;
    sqlite3_stmt *st;
    int rc = prepare_query(s, "score, label", " AND score IS NOT NULL", q, &st, err);
    if (rc)
        return rc;
    int step;
    while (!rc && (step = sqlite3_step(st)) == SQLITE_ROW)
        rc = fn(ud, sqlite3_column_double(st, 0), sqlite3_column_int(st, 1));
    if (!rc && step != SQLITE_DONE)
        rc = rd__sq_fail(s, err, "reading outcome scores");
    sqlite3_finalize(st);
    return rc;
}

int rd__sq_outcome_names(rd_store *base, const char *model_version, int (*fn)(void *, const char *), void *ud,
                         rd_err *err)
{
    sq_store *s = (sq_store *)base;
    sqlite3_stmt *st;
    const char *sql = model_version
                          ? "SELECT DISTINCT outcome FROM outcomes WHERE model_version = ?1 ORDER BY outcome"
                          : "SELECT DISTINCT outcome FROM outcomes ORDER BY outcome";
    if (sqlite3_prepare_v2(s->db, sql, -1, &st, NULL) != SQLITE_OK)
        return rd__sq_fail(s, err, "reading outcome names");
    if (model_version)
        bind_str(st, 1, model_version);
    int rc = RD_OK, step;
    while (!rc && (step = sqlite3_step(st)) == SQLITE_ROW) {
        const char *name = text_col(st, 0);
        if (name)
            rc = fn(ud, name);
    }
    if (!rc && step != SQLITE_DONE)
        rc = rd__sq_fail(s, err, "reading outcome names");
    sqlite3_finalize(st);
    return rc;
}
