/* The store on PostgreSQL (libpq): several riskd nodes share one database.
 *
 * The tables are SQLite's (sqlite.c, sqlite_gov.c) with PostgreSQL types, versioned the same
 * way in riskd_meta (('app', 'riskd'), ('schema', N)) and migrated at open, one transaction
 * per version, under a session advisory lock (RD_PG_LOCK_MIGRATE) so that nodes opening
 * together migrate once. What differs (docs/formats.md, "The store on PostgreSQL"):
 *   - decisions is partitioned by range of ts_ms, one partition per UTC day
 *     (decisions_YYYYMMDD, made by the writer on demand: pg_log.c), with a node column and a
 *     unique key on (ts_ms, uid), the identity a record got when it was submitted, that makes
 *     a re-sent batch a no-op (schema 4; schema 1 to 3 keyed the record's fields, which merged
 *     distinct decisions); ids come from one identity sequence on the parent;
 *   - erasures holds the tombstones of erased applicants (schema 4), which the log's insert
 *     reads;
 *   - tokens.parent names the token a console session was opened with (schema 5);
 *   - the notification outbox (schema 6, pg_notify.c): notify_events (an identity id, uid
 *     UNIQUE as text), notify_sinks (one cursor per sink), notify_failures;
 *   - the exposure caps (schema 7, pg_exposure.c): exposure_stages (one row per stage
 *     instance, its caps NULL when none) and exposure_slices (one per node process);
 *   - text columns a list is ordered by are COLLATE "C", so lists come in SQLite's (byte)
 *     order whatever the database's locale;
 *   - a governance transaction takes an advisory transaction lock (RD_PG_LOCK_GOV), which
 *     serialises writers on every node as SQLite's BEGIN IMMEDIATE does;
 *   - riskd_json(text) reads a record as JSON, or NULL when it is not (SQLite's json_valid). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "pg_int.h"
#include "riskd/arena.h"

static const char schema_1[] =
    "BEGIN;"
    "CREATE TABLE riskd_meta(key text PRIMARY KEY, value text NOT NULL);"
    "CREATE TABLE decisions(id bigint GENERATED ALWAYS AS IDENTITY, ts_ms bigint NOT NULL,"
    " request_id text NOT NULL, kind text NOT NULL, model_version text, record text NOT NULL,"
    " node text NOT NULL) PARTITION BY RANGE (ts_ms);"
    /* the key's columns in the order that inserts fastest (measured: ts_ms first appends at the
       right edge of the index; request_id first scattered the wide entries: 27-41% fewer rows/s),
       and a narrow index for the lookups by request id (outcomes, erasure, replay) */
    "CREATE UNIQUE INDEX decisions_key ON decisions(ts_ms, request_id, node, kind,"
    " (coalesce(model_version, '')));"
    "CREATE INDEX decisions_request ON decisions(request_id);"
    "CREATE INDEX decisions_id ON decisions(id);"
    "CREATE TABLE blobs(sha256 text PRIMARY KEY, data bytea NOT NULL);"
    "INSERT INTO riskd_meta VALUES('app', 'riskd'), ('schema', '1');"
    "COMMIT;";

static const char schema_2[] =
    "BEGIN;"
    "CREATE TABLE outcomes(request_id text NOT NULL, outcome text COLLATE \"C\" NOT NULL, label integer NOT "
    "NULL,"
    " observed_ms bigint, received_ms bigint NOT NULL, decided_ms bigint, model_version text, variant text,"
    " decision text, score double precision, PRIMARY KEY(request_id, outcome));"
    "CREATE INDEX outcomes_model ON outcomes(model_version, outcome, decided_ms);"
    "CREATE TABLE outcome_changes(id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY, ts_ms bigint NOT NULL,"
    " request_id text NOT NULL, outcome text NOT NULL, old_label integer, new_label integer NOT NULL,"
    " old_observed_ms bigint, new_observed_ms bigint);"
    "CREATE INDEX outcome_changes_request ON outcome_changes(request_id);"
    "CREATE TABLE rollouts(flag text COLLATE \"C\" PRIMARY KEY, plan_name text NOT NULL, plan_path text NOT "
    "NULL,"
    " plan_sha text NOT NULL, plan_json text NOT NULL, flags_path text NOT NULL, state text NOT NULL,"
    " stage integer NOT NULL, stage_name text NOT NULL, stage_started_ms bigint NOT NULL,"
    " updated_ms bigint NOT NULL, version bigint NOT NULL, status text);"
    "CREATE TABLE rollout_transitions(id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,"
    " ts_ms bigint NOT NULL, flag text NOT NULL, from_stage integer NOT NULL, to_stage integer NOT NULL,"
    " from_state text NOT NULL, to_state text NOT NULL, reason text NOT NULL, detail text NOT NULL,"
    " actor text NOT NULL, gates text, flags_sha text NOT NULL);"
    "CREATE INDEX rollout_transitions_flag ON rollout_transitions(flag, id);"
    /* a record that is not JSON reads as NULL instead of failing the whole statement */
    "CREATE FUNCTION riskd_json(t text) RETURNS json LANGUAGE plpgsql IMMUTABLE STRICT AS"
    " $$BEGIN RETURN t::json; EXCEPTION WHEN others THEN RETURN NULL; END$$;"
    "UPDATE riskd_meta SET value = '2' WHERE key = 'schema';"
    "COMMIT;";

static const char schema_3[] =
    "BEGIN;"
    "CREATE TABLE audit(seq bigint PRIMARY KEY, ts_ms bigint NOT NULL, actor text NOT NULL,"
    " action text NOT NULL, object text NOT NULL, before_sha256 text NOT NULL, after_sha256 text NOT NULL,"
    " detail text NOT NULL, prev_hash text NOT NULL, hash text NOT NULL);"
    "CREATE FUNCTION riskd_audit_append_only() RETURNS trigger LANGUAGE plpgsql AS"
    " $$BEGIN RAISE EXCEPTION 'the audit chain is append-only'; END$$;"
    "CREATE TRIGGER audit_no_update BEFORE UPDATE ON audit FOR EACH ROW"
    " EXECUTE FUNCTION riskd_audit_append_only();"
    "CREATE TRIGGER audit_no_delete BEFORE DELETE ON audit FOR EACH ROW"
    " EXECUTE FUNCTION riskd_audit_append_only();"
    "CREATE TRIGGER audit_no_truncate BEFORE TRUNCATE ON audit FOR EACH STATEMENT"
    " EXECUTE FUNCTION riskd_audit_append_only();"
    "CREATE TABLE users(name text COLLATE \"C\" PRIMARY KEY, role text NOT NULL, disabled integer NOT NULL,"
    " created_ms bigint NOT NULL, created_by text NOT NULL);"
    "CREATE TABLE tokens(id text COLLATE \"C\" PRIMARY KEY, \"user\" text NOT NULL, hash text NOT NULL,"
    " scopes bigint NOT NULL, created_ms bigint NOT NULL, expires_ms bigint NOT NULL,"
    " revoked_ms bigint NOT NULL, last_used_ms bigint NOT NULL, created_by text NOT NULL);"
    "CREATE INDEX tokens_user ON tokens(\"user\");"
    "CREATE TABLE changes(id bigint PRIMARY KEY, kind text NOT NULL, target text NOT NULL,"
    " state text NOT NULL, title text NOT NULL, author text NOT NULL, created_ms bigint NOT NULL,"
    " updated_ms bigint NOT NULL, revision bigint NOT NULL, base_sha text NOT NULL, payload_sha text NOT "
    "NULL,"
    " editors text NOT NULL, approvals text NOT NULL, history text NOT NULL, published_ms bigint NOT NULL,"
    " published_by text NOT NULL, version bigint NOT NULL);"
    "CREATE INDEX changes_state ON changes(state, id);"
    "CREATE TABLE versions(kind text NOT NULL, target text NOT NULL, version bigint NOT NULL,"
    " sha text NOT NULL, replaced_sha text NOT NULL, how text NOT NULL, change_id bigint NOT NULL,"
    " author text NOT NULL, approvers text NOT NULL, published_by text NOT NULL, ts_ms bigint NOT NULL,"
    " PRIMARY KEY(kind, target, version));"
    "CREATE INDEX versions_sha ON versions(kind, target, sha);"
    "CREATE TABLE settings(key text PRIMARY KEY, value text NOT NULL);"
    "UPDATE riskd_meta SET value = '3' WHERE key = 'schema';"
    "COMMIT;";

static const char schema_4[] =
    "BEGIN;"
    /* the log's key is the identity each record got when it was submitted (rd_log_row.uid), no
       longer its fields, which two distinct decisions can share (review16 #10); ts_ms first: a
       unique key of a partitioned table holds the partition key, and it appends at the right
       edge. Rows logged before have none (NULL: never a conflict) */
    "ALTER TABLE decisions ADD COLUMN uid uuid;"
    "CREATE UNIQUE INDEX decisions_uid ON decisions(ts_ms, uid);"
    "DROP INDEX decisions_key;"
    /* erasure tombstones (review16 #12): an applicant's key, by its SHA-256 as the audit names
       it, and when it was erased; the log's insert skips a primary decision of that key made
       before then (pg_log.c) */
    "CREATE TABLE erasures(key_sha256 text PRIMARY KEY, erased_ms bigint NOT NULL);"
    "CREATE INDEX erasures_ms ON erasures(erased_ms);"
    /* whether rec (a primary record) is of an applicant erased after ts: the key as the
       erasure's scan reads it (a string at context.targetingKey), hashed */
    "CREATE FUNCTION riskd_erased(rec text, ts bigint) RETURNS boolean LANGUAGE sql STABLE AS"
    " $$SELECT EXISTS (SELECT 1 FROM erasures WHERE erased_ms > ts AND key_sha256 ="
    " encode(sha256(convert_to((SELECT CASE WHEN json_typeof(j #> '{context,targetingKey}') = 'string'"
    " THEN j #>> '{context,targetingKey}' END FROM (SELECT riskd_json(rec) AS j) x), 'UTF8')), 'hex'))$$;"
    "UPDATE riskd_meta SET value = '4' WHERE key = 'schema';"
    "COMMIT;";

static const char schema_5[] =
    "BEGIN;"
    /* a console session is a token of its own whose parent is the token it was opened with
       (src/lib/auth/session.c); '' for every other token, and for those issued before */
    "ALTER TABLE tokens ADD COLUMN parent text NOT NULL DEFAULT '';"
    "UPDATE riskd_meta SET value = '5' WHERE key = 'schema';"
    "COMMIT;";

static const char schema_6[] =
    "BEGIN;"
    /* the notification outbox (pg_notify.c): one row per event, appended under the governance
       lock so ids follow commit order; uid is the event's UUID in its canonical text (the front
       checks it), its idempotency key. Sink names are COLLATE "C": lists in SQLite's order */
    "CREATE TABLE notify_events(id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,"
    " uid text COLLATE \"C\" NOT NULL UNIQUE, ts_ms bigint NOT NULL, type text NOT NULL, node text NOT NULL,"
    " object text NOT NULL, body text NOT NULL, stored_ms bigint NOT NULL);"
    "CREATE INDEX notify_events_stored ON notify_events(stored_ms);"
    "CREATE TABLE notify_sinks(name text COLLATE \"C\" PRIMARY KEY, kind text NOT NULL,"
    " last_id bigint NOT NULL, attempts integer NOT NULL DEFAULT 0, next_ms bigint NOT NULL DEFAULT 0,"
    " last_error text NOT NULL DEFAULT '', last_ok_ms bigint NOT NULL DEFAULT 0, updated_ms bigint NOT NULL);"
    "CREATE TABLE notify_failures(sink text COLLATE \"C\" NOT NULL, event_id bigint NOT NULL,"
    " failed_ms bigint NOT NULL, attempts integer NOT NULL, status integer NOT NULL, error text NOT NULL,"
    " PRIMARY KEY(sink, event_id));"
    "UPDATE riskd_meta SET value = '6' WHERE key = 'schema';"
    "COMMIT;";

static const char schema_7[] =
    "BEGIN;"
    /* exposure caps (pg_exposure.c), in integer units of the plan's unit: no CHECK on
       reserved <= cap (a cap lowered by a plan edit must be storable); the guard is the
       reservation's UPDATE. Keys COLLATE "C": lists in SQLite's order */
    "CREATE TABLE exposure_stages(flag text COLLATE \"C\" NOT NULL, stage text COLLATE \"C\" NOT NULL,"
    " stage_started_ms bigint NOT NULL, plan_sha text NOT NULL, field text NOT NULL,"
    " unit double precision NOT NULL, cap_amount bigint, cap_count bigint,"
    " reserved_amount bigint NOT NULL DEFAULT 0, reserved_count bigint NOT NULL DEFAULT 0,"
    " exhausted_ms bigint NOT NULL DEFAULT 0, created_ms bigint NOT NULL, updated_ms bigint NOT NULL,"
    " PRIMARY KEY(flag, stage, stage_started_ms));"
    "CREATE TABLE exposure_slices(flag text COLLATE \"C\" NOT NULL, stage text COLLATE \"C\" NOT NULL,"
    " stage_started_ms bigint NOT NULL, node text COLLATE \"C\" NOT NULL, boot text COLLATE \"C\" NOT NULL,"
    " reserved_amount bigint NOT NULL DEFAULT 0, reserved_count bigint NOT NULL DEFAULT 0,"
    " returned_amount bigint NOT NULL DEFAULT 0, returned_count bigint NOT NULL DEFAULT 0,"
    " spent_amount bigint NOT NULL DEFAULT 0, spent_count bigint NOT NULL DEFAULT 0,"
    " capped bigint NOT NULL DEFAULT 0, state text NOT NULL, opened_ms bigint NOT NULL,"
    " updated_ms bigint NOT NULL, PRIMARY KEY(flag, stage, stage_started_ms, node, boot));"
    "CREATE INDEX exposure_slices_node ON exposure_slices(node, state);"
    "UPDATE riskd_meta SET value = '7' WHERE key = 'schema';"
    "COMMIT;";

/* The schema version of the database: 0 for one without tables (in the current schema);
 * RD_EINVAL for a foreign or newer one. */
static int schema_version(pg_store *s, int *version, rd_err *err)
{
    PGresult *r;
    *version = 0;
    int rc =
        rd__pg_exec(s,
                    "SELECT count(*), count(*) FILTER (WHERE c.relname = 'riskd_meta')"
                    " FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace"
                    " WHERE n.nspname = current_schema() AND c.relkind IN ('r', 'p')",
                    NULL, &r, "reading the schema", err);
    if (rc)
        return rc;
    int64_t tables = rd__pg_i64(r, 0, 0), meta = rd__pg_i64(r, 0, 1);
    PQclear(r);
    if (tables == 0)
        return RD_OK;
    if (!meta)
        return rd_err_set(
            err, RD_EINVAL,
            "%s: not a riskd database (it has %lld tables but no riskd_meta): give riskd its own "
            "database",
            s->base.name, (long long)tables);
    if ((rc = rd__pg_exec(s,
                          "SELECT coalesce(max(value) FILTER (WHERE key = 'app'), ''),"
                          " coalesce(max(value) FILTER (WHERE key = 'schema'), '') FROM riskd_meta",
                          NULL, &r, "reading the schema", err)))
        return rc;
    /* another program's table of that name: never migrated into */
    bool ours = PQntuples(r) == 1 && !strcmp(PQgetvalue(r, 0, 0), "riskd");
    *version = PQntuples(r) == 1 ? atoi(PQgetvalue(r, 0, 1)) : -1;
    PQclear(r);
    if (!ours)
        return rd_err_set(err, RD_EINVAL,
                          "%s: not a riskd database (its riskd_meta does not say app = riskd): give riskd "
                          "its own database",
                          s->base.name);
    if (*version <= 0)
        return rd_err_set(err, RD_EINVAL, "%s: riskd_meta has no schema version", s->base.name);
    if (*version > RD_STORE_SCHEMA)
        return rd_err_set(err, RD_EINVAL,
                          "%s: schema version %d is newer than this riskd's (%d): run the riskd that wrote "
                          "it, or a newer one",
                          s->base.name, *version, RD_STORE_SCHEMA);
    return RD_OK;
}

/* One migration: its statements in one transaction (BEGIN ... COMMIT in the script). */
static int run_script(pg_store *s, const char *sql, rd_err *err)
{
    PGresult *r = rd__pg_exec_raw(s, sql);
    if (PQresultStatus(r) == PGRES_COMMAND_OK) {
        PQclear(r);
        return RD_OK;
    }
    int rc = rd__pg_fail(s, r, "migrating the schema", err);
    rd__pg_rollback_now(s, false); /* a failed statement left the script's transaction open */
    return rc;
}

static int lock_migrations(pg_store *s, bool lock, rd_err *err)
{
    pg_params p = {0};
    rd__pg_int(&p, RD_PG_LOCK_MIGRATE);
    return rd__pg_exec(s, lock ? "SELECT pg_advisory_lock($1)" : "SELECT pg_advisory_unlock($1)", &p, NULL,
                       "locking the migrations", err);
}

int rd__pg_migrate(pg_store *s, rd_err *err)
{
    int version, rc;
    if (s->read_only) {
        if ((rc = schema_version(s, &version, err)))
            return rc;
        s->schema = version;
        return version ? RD_OK : rd_err_set(err, RD_EINVAL, "%s: holds no riskd data", s->base.name);
    }
    /* a node that opens while another migrates waits here, then finds the schema current */
    if ((rc = lock_migrations(s, true, err)))
        return rc;
    rc = schema_version(s, &version, err);
    if (!rc && version < 1)
        rc = run_script(s, schema_1, err);
    if (!rc && version < 2)
        rc = run_script(s, schema_2, err);
    if (!rc && version < 3)
        rc = run_script(s, schema_3, err);
    if (!rc && version < 4)
        rc = run_script(s, schema_4, err);
    if (!rc && version < 5)
        rc = run_script(s, schema_5, err);
    if (!rc && version < 6)
        rc = run_script(s, schema_6, err);
    if (!rc && version < 7)
        rc = run_script(s, schema_7, err);
    if (!rc)
        s->schema = RD_STORE_SCHEMA;
    rd_err ignored;
    lock_migrations(s, false, &ignored); /* a lost connection has freed it already */
    if (rc || version == RD_STORE_SCHEMA)
        return rc;
    /* a session that ran DDL inserts slower for the rest of its life (measured: up to half the
       decision log's rows per second): the handle goes on with a new one */
    PQreset(s->conn);
    if (PQstatus(s->conn) != CONNECTION_OK)
        return rd__pg_fail(s, NULL, "connecting", err);
    s->gen++;
    return rd__pg_session(s, err);
}

static void pg_close(rd_store *base)
{
    pg_store *s = (pg_store *)base;
    PQfinish(s->conn); /* ends the session: its leadership locks go with it */
    rd_free(s->uri);
    rd_free(s);
}

/* The URL is checked before connecting: a malformed one is the caller's mistake, not an outage. */
static int check_uri(const char *uri, rd_err *err)
{
    char *msg = NULL, line[300];
    PQconninfoOption *opts = PQconninfoParse(uri, &msg);
    if (opts) {
        PQconninfoFree(opts);
        return RD_OK;
    }
    snprintf(line, sizeof line, "%s", msg ? msg : "out of memory");
    line[strcspn(line, "\n")] = '\0';
    PQfreemem(msg);
    return rd_err_set(err, RD_EINVAL, "store: a postgresql:// URL that libpq cannot read: %s", line);
}

static int pg_open(const char *where, const rd_store_opts *o, rd_store **out, rd_err *err)
{
    size_t n = strlen(where);
    char *uri = rd_malloc(n + sizeof "postgresql:");
    if (!uri)
        return rd_err_set(err, RD_ENOMEM, "out of memory");
    memcpy(uri, "postgresql:", sizeof "postgresql:" - 1);
    memcpy(uri + sizeof "postgresql:" - 1, where, n + 1);
    int rc = check_uri(uri, err);
    if (rc) {
        rd_free(uri);
        return rc;
    }
    pg_store *s = rd_calloc(1, sizeof *s);
    if (!s) {
        rd_free(uri);
        return rd_err_set(err, RD_ENOMEM, "out of memory");
    }
    s->base.ops = &rd__pg_store;
    s->read_only = o->read_only;
    s->timeout_ms = o->timeout_ms > 0 ? o->timeout_ms : RD_PG_TIMEOUT_MS;
    s->gen = 1;
    s->uri = uri;
    s->conn = rd__pg_connect(uri, s->timeout_ms, s->base.name, sizeof s->base.name);
    if (!s->conn)
        rc = rd_err_set(err, RD_ENOMEM, "out of memory");
    else if (PQstatus(s->conn) != CONNECTION_OK &&
             (rc = rd__pg_fail(s, NULL, "connecting", err)) == RD_ESTORE && o->lazy) {
        /* asked again at the first call (rd__pg_ready), with its backoff */
        rd__pg_message(s->conn, NULL, s->lost, sizeof s->lost);
        s->broken = s->unchecked = true;
        *out = &s->base;
        return RD_OK;
    }
    if (!rc)
        rc = rd__pg_session(s, err);
    if (!rc)
        rc = rd__pg_migrate(s, err);
    if (rc) {
        pg_close(&s->base);
        return rc;
    }
    *out = &s->base;
    return RD_OK;
}

const rd_store_ops rd__pg_store = {
    .open = pg_open,
    .close = pg_close,
    .log_append = rd__pg_log_append,
    .log_scan = rd__pg_log_scan,
    .log_prune = rd__pg_log_prune,
    .applicant_scan = rd__pg_applicant_scan,
    .applicant_erase = rd__pg_applicant_erase,
    .scrub = rd__pg_scrub,
    .erasure_mark = rd__pg_erasure_mark,
    .blob_put = rd__pg_blob_put,
    .blob_has = rd__pg_blob_has,
    .blob_get = rd__pg_blob_get,
    .rollout_set_status = rd__pg_rollout_set_status,
    .rollout_get_status = rd__pg_rollout_get_status,
    .rollout_get = rd__pg_rollout_get,
    .rollout_put = rd__pg_rollout_put,
    .rollout_list = rd__pg_rollout_list,
    .transition_append = rd__pg_transition_append,
    .transition_list = rd__pg_transition_list,
    .outcomes_put = rd__pg_outcomes_put,
    .outcome_counts = rd__pg_outcome_counts,
    .outcome_scores = rd__pg_outcome_scores,
    .outcome_names = rd__pg_outcome_names,
    .begin = rd__pg_begin,
    .commit = rd__pg_commit,
    .rollback = rd__pg_rollback,
    .audit_insert = rd__pg_audit_insert,
    .audit_last = rd__pg_audit_last,
    .audit_count = rd__pg_audit_count,
    .audit_scan = rd__pg_audit_scan,
    .user_get = rd__pg_user_get,
    .user_put = rd__pg_user_put,
    .user_list = rd__pg_user_list,
    .token_get = rd__pg_token_get,
    .token_put = rd__pg_token_put,
    .token_mark_used = rd__pg_token_mark_used,
    .token_list = rd__pg_token_list,
    .change_get = rd__pg_change_get,
    .change_put = rd__pg_change_put,
    .change_list = rd__pg_change_list,
    .version_append = rd__pg_version_append,
    .version_list = rd__pg_version_list,
    .version_find = rd__pg_version_find,
    .setting_get = rd__pg_setting_get,
    .setting_put = rd__pg_setting_put,
    .outbox_append = rd__pg_outbox_append,
    .outbox_scan = rd__pg_outbox_scan,
    .outbox_last_id = rd__pg_outbox_last_id,
    .outbox_prune = rd__pg_outbox_prune,
    .sink_init = rd__pg_sink_init,
    .sink_get = rd__pg_sink_get,
    .sink_list = rd__pg_sink_list,
    .sink_move = rd__pg_sink_move,
    .failure_put = rd__pg_failure_put,
    .sink_failures = rd__pg_sink_failures,
    .sink_delete = rd__pg_sink_delete,
    .exposure_stage_put = rd__pg_exposure_stage_put,
    .exposure_stage_add = rd__pg_exposure_stage_add,
    .exposure_slice_grant = rd__pg_exposure_slice_grant,
    .exposure_slice_return = rd__pg_exposure_slice_return,
    .exposure_slice_report = rd__pg_exposure_slice_report,
    .exposure_slice_get = rd__pg_exposure_slice_get,
    .exposure_orphans = rd__pg_exposure_orphans,
    .exposure_list = rd__pg_exposure_list,
    .shared = true,
    .ping = rd__pg_ping,
    .notify = rd__pg_notify,
    .watch_open = rd__pg_watch_open,
    .leader_try = rd__pg_leader_try,
    .leader_release = rd__pg_leader_release,
};
