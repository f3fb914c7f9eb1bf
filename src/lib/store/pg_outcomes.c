/* Outcomes on PostgreSQL: labels that arrive late, joined to the decision log (schema 2), with
 * the invariants of sqlite_outcomes.c:
 *   - one row per (request_id, outcome), only for a request id that had a primary decision
 *     when the label arrived; the latest such decision's columns are copied in then (its
 *     variant, decision, and score when the model answered, read with strtod from the
 *     record's text, so it is the very double decided);
 *   - a changed label or observation time updates the row and leaves a row in
 *     outcome_changes; the same again changes nothing;
 *   - a batch is one transaction, all or none; batches from several nodes are serialised by
 *     an advisory transaction lock (RD_PG_LOCK_OUTCOMES), as SQLite's BEGIN IMMEDIATE does,
 *     so two nodes recording the same label at once make one row, not a failure.
 * The statistics select the same rows with the same conditions; the KS is computed by the
 * front from the scores streamed here, so both backends give the same double. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pg_int.h"
#include "riskd/arena.h"

/* The latest primary decision with that id; its record's fields only when the record is JSON
 * and they are text (SQLite's ->> gives numbers as numbers, which riskd does not copy). */
static const char decision_sql[] =
    "WITH d AS (SELECT ts_ms, model_version, riskd_json(record) AS r FROM decisions"
    " WHERE request_id = $1 AND kind = 'primary' ORDER BY ts_ms DESC, id DESC LIMIT 1)"
    " SELECT ts_ms, model_version,"
    " CASE WHEN json_typeof(r -> 'variant') IN ('string', 'object', 'array') THEN r ->> 'variant' END,"
    " CASE WHEN json_typeof(r -> 'decision') IN ('string', 'object', 'array') THEN r ->> 'decision' END,"
    " CASE WHEN json_typeof(r -> 'source') IN ('string', 'object', 'array') THEN r ->> 'source' END,"
    " (r -> 'score')::text FROM d";

/* 0 ("not given") is stored as NULL, and read back as 0. */
static void param_ms(pg_params *p, int64_t ms)
{
    if (ms)
        rd__pg_int(p, ms);
    else
        rd__pg_null(p, RD_PG_INT8);
}

/* A pair already recorded (get's row): the same label and time, or a change. */
static int put_known(pg_store *s, const PGresult *get, const rd_outcome *o, int64_t now_ms,
                     rd_outcome_result *res, rd_err *err)
{
    int old_label = (int)rd__pg_i64(get, 0, 0);
    int64_t old_ms = rd__pg_i64(get, 0, 1);
    if (old_label == o->label && old_ms == o->observed_ms) {
        *res = RD_OUTCOME_SAME;
        return RD_OK;
    }
    pg_params up = {0};
    rd__pg_text(&up, o->request_id);
    rd__pg_text(&up, o->outcome);
    rd__pg_int(&up, o->label);
    param_ms(&up, o->observed_ms);
    rd__pg_int(&up, now_ms);
    int rc = rd__pg_exec(s,
                         "UPDATE outcomes SET label = $3, observed_ms = $4, received_ms = $5"
                         " WHERE request_id = $1 AND outcome = $2",
                         &up, NULL, "replacing an outcome", err);
    if (rc)
        return rc;
    pg_params ch = {0};
    rd__pg_int(&ch, now_ms);
    rd__pg_text(&ch, o->request_id);
    rd__pg_text(&ch, o->outcome);
    rd__pg_int(&ch, old_label);
    rd__pg_int(&ch, o->label);
    param_ms(&ch, old_ms);
    param_ms(&ch, o->observed_ms);
    *res = RD_OUTCOME_CHANGED;
    return rd__pg_exec(s,
                       "INSERT INTO outcome_changes(ts_ms, request_id, outcome, old_label, new_label,"
                       " old_observed_ms, new_observed_ms) VALUES($1, $2, $3, $4, $5, $6, $7)",
                       &ch, NULL, "recording an outcome's change", err);
}

/* The model's score from the record's text: NaN when absent, not a number, or not the model's. */
static double model_score(const char *source, const char *score)
{
    if (!source || !score || strcmp(source, "model") != 0)
        return (double)NAN;
    char *end;
    double x = strtod(score, &end);
    return end == score || *end ? (double)NAN : x;
}

/* A pair not recorded yet: joined to its decision and inserted, or unknown. */
static int put_new(pg_store *s, const rd_outcome *o, int64_t now_ms, rd_outcome_result *res, rd_err *err)
{
    pg_params q = {0};
    PGresult *d;
    rd__pg_text(&q, o->request_id);
    int rc = rd__pg_exec(s, decision_sql, &q, &d, "joining an outcome to its decision", err);
    if (rc)
        return rc;
    if (PQntuples(d) == 0) {
        PQclear(d);
        *res = RD_OUTCOME_UNKNOWN_REQ;
        return RD_OK;
    }
    pg_params p = {0};
    rd__pg_text(&p, o->request_id);
    rd__pg_text(&p, o->outcome);
    rd__pg_int(&p, o->label);
    param_ms(&p, o->observed_ms);
    rd__pg_int(&p, now_ms);
    rd__pg_int(&p, rd__pg_i64(d, 0, 0));
    rd__pg_text(&p, rd__pg_str(d, 0, 1));
    rd__pg_text(&p, rd__pg_str(d, 0, 2));
    rd__pg_text(&p, rd__pg_str(d, 0, 3));
    double x = model_score(rd__pg_str(d, 0, 4), rd__pg_str(d, 0, 5));
    if (isfinite(x))
        rd__pg_double(&p, x);
    else
        rd__pg_null(&p, RD_PG_FLOAT8);
    rc = rd__pg_exec(
        s,
        "INSERT INTO outcomes(request_id, outcome, label, observed_ms, received_ms, decided_ms,"
        " model_version, variant, decision, score) VALUES($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
        &p, NULL, "recording an outcome", err);
    PQclear(d); /* after the insert: its text parameters point into d */
    if (!rc)
        *res = RD_OUTCOME_NEW;
    return rc;
}

static int put_one(pg_store *s, const rd_outcome *o, int64_t now_ms, rd_outcome_result *res, rd_err *err)
{
    pg_params p = {0};
    PGresult *get;
    rd__pg_text(&p, o->request_id);
    rd__pg_text(&p, o->outcome);
    int rc = rd__pg_exec(s, "SELECT label, observed_ms FROM outcomes WHERE request_id = $1 AND outcome = $2",
                         &p, &get, "reading an outcome", err);
    if (rc)
        return rc;
    rc = PQntuples(get) == 1 ? put_known(s, get, o, now_ms, res, err) : put_new(s, o, now_ms, res, err);
    PQclear(get);
    return rc;
}

int rd__pg_outcomes_put(rd_store *base, const rd_outcome *o, size_t n, int64_t now_ms,
                        rd_outcome_result *results, rd_err *err)
{
    pg_store *s = (pg_store *)base;
    if (s->base.tx_depth > 0) /* as on SQLite: a batch is its own transaction */
        return rd_err_set(err, RD_EIO,
                          "%s: recording outcomes: cannot start a transaction within a transaction",
                          s->base.name);
    rd_outcome_result *res = rd_malloc(n * sizeof *res);
    if (!res)
        return rd_err_set(err, RD_ENOMEM, "out of memory");
    bool nested;
    int rc = rd__pg_tx_begin(s, RD_PG_LOCK_OUTCOMES, &nested, err);
    if (!rc) {
        for (size_t i = 0; !rc && i < n; i++)
            rc = put_one(s, &o[i], now_ms, &res[i], err);
        rc = rd__pg_tx_end(s, nested, rc, err);
    }
    if (!rc)
        memcpy(results, res, n * sizeof *res);
    rd_free(res);
    return rc;
}

/* SELECT what FROM outcomes with the query's conditions (only those asked for). */
static void query_sql(char *sql, size_t cap, const char *what, const char *extra, const rd__outcome_query *q,
                      pg_params *p)
{
    snprintf(sql, cap, "SELECT %s FROM outcomes WHERE model_version = $1 AND outcome = $2%s%s%s%s", what,
             q->variant ? " AND variant = $3" : "", q->from_ms ? " AND decided_ms >= $4" : "",
             q->to_ms ? " AND decided_ms < $5" : "", extra);
    rd__pg_text(p, q->model_version);
    rd__pg_text(p, q->outcome);
    rd__pg_text(p, q->variant);
    rd__pg_int(p, q->from_ms);
    rd__pg_int(p, q->to_ms);
}

int rd__pg_outcome_counts(rd_store *base, const rd__outcome_query *q, rd_outcome_stats *out, rd_err *err)
{
    pg_store *s = (pg_store *)base;
    char sql[512];
    pg_params p = {0};
    PGresult *r;
    query_sql(sql, sizeof sql,
              "count(*), count(*) FILTER (WHERE label = 1), count(*) FILTER (WHERE decision = 'approve'),"
              " count(*) FILTER (WHERE decision = 'approve' AND label = 1)",
              "", q, &p);
    int rc = rd__pg_exec(s, sql, &p, &r, "counting outcomes", err);
    if (rc)
        return rc;
    out->labelled = (uint64_t)rd__pg_i64(r, 0, 0);
    out->bads = (uint64_t)rd__pg_i64(r, 0, 1);
    out->approved = (uint64_t)rd__pg_i64(r, 0, 2);
    out->approved_bads = (uint64_t)rd__pg_i64(r, 0, 3);
    PQclear(r);
    return RD_OK;
}

typedef struct scores_ctx {
    int (*fn)(void *, double, int);
    void *ud;
} scores_ctx;

static int score_row(void *ud, const PGresult *r)
{
    scores_ctx *c = ud;
    /* float8 is printed in the shortest text that reads back as the same double (PostgreSQL
       12 and later), so strtod gives the stored score to the bit */
    return c->fn(c->ud, strtod(PQgetvalue(r, 0, 0), NULL), (int)rd__pg_i64(r, 0, 1));
}

int rd__pg_outcome_scores(rd_store *base, const rd__outcome_query *q, int (*fn)(void *, double, int),
                          void *ud, rd_err *err)
{
    pg_store *s = (pg_store *)base;
    char sql[512];
    pg_params p = {0};
    query_sql(sql, sizeof sql, "score, label", " AND score IS NOT NULL", q, &p);
    scores_ctx c = {fn, ud};
    return rd__pg_stream(s, sql, &p, score_row, &c, "reading outcome scores", err);
}

int rd__pg_outcome_names(rd_store *base, const char *model_version, int (*fn)(void *, const char *), void *ud,
                         rd_err *err)
{
    pg_store *s = (pg_store *)base;
    pg_params p = {0};
    PGresult *r;
    rd__pg_text(&p, model_version);
    int rc = rd__pg_exec(s,
                         "SELECT DISTINCT outcome FROM outcomes WHERE $1::text IS NULL OR model_version = $1"
                         " ORDER BY outcome",
                         &p, &r, "reading outcome names", err);
    for (int i = 0; !rc && i < PQntuples(r); i++)
        rc = fn(ud, PQgetvalue(r, i, 0));
    PQclear(r);
    return rc;
}
