/* Erasure of one applicant's records, and the retention floor that holds it back
 * (docs/governance.md, "Personal data in the decision log").
 *
 * The rules, all here: only a principal with the erase permission erases; nothing is erased
 * while any of the applicant's decisions is younger than the retention floor (a creditor must
 * keep an application's records for a period: Regulation B's 25 months), and then nothing at
 * all, not a part; the floor is a store setting only a principal with the users permission
 * changes, audited; an erasure and its audit entry commit together, and the entry names the
 * applicant by the SHA-256 of the targetingKey, never the key. The store finds the records and
 * overwrites their bytes, and keeps a tombstone (that SHA-256 and the erasure's time) so that a
 * record in flight when it ran (queued, or spooled on any node) is not stored when it arrives. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "riskd/audit.h"
#include "riskd/auth.h"
#include "riskd/dlog.h"
#include "riskd/json.h"

#define SETTING "retention_floor_days"
#define DAY_MS  86400000LL

int rd_dlog_retention_get(rd_store *s, int *days, rd_err *err)
{
    char v[32];
    rd_err e;
    int rc = rd_store_setting_get(s, SETTING, v, sizeof v, &e);
    if (rc == RD_ENOTFOUND) {
        *days = RD_RETENTION_FLOOR_DEFAULT;
        return RD_OK;
    }
    if (rc) {
        if (err)
            *err = e;
        return rc;
    }
    char *end;
    long n = strtol(v, &end, 10);
    if (end == v || *end || n < 0 || n > RD_RETENTION_FLOOR_MAX)
        return rd_err_set(err, RD_EINVAL, "%s: the setting %s holds \"%s\", not a number of days",
                          rd_store_name(s), SETTING, v);
    *days = (int)n;
    return RD_OK;
}

int rd_dlog_retention_set(rd_store *s, const rd_principal *who, int days, int64_t now_ms, rd_err *err)
{
    int rc = rd_principal_require(who, RD_PERM_USERS, "change the retention floor", err);
    if (rc)
        return rc;
    if (days < 0 || days > RD_RETENTION_FLOOR_MAX)
        return rd_err_set(err, RD_EINVAL, "the retention floor is 0 to %d days, not %d",
                          RD_RETENTION_FLOOR_MAX, days);
    if ((rc = rd_store_begin(s, err)))
        return rc;
    int was = 0;
    char v[32], detail[96];
    snprintf(v, sizeof v, "%d", days);
    rc = rd_dlog_retention_get(s, &was, err);
    snprintf(detail, sizeof detail, "{\"from\":%d,\"to\":%d}", was, days);
    rd_audit_entry e = {.ts_ms = now_ms,
                        .actor = rd_principal_name(who),
                        .action = "settings.retention_floor",
                        .object = "setting/" SETTING,
                        .detail_json = detail};
    if (!rc)
        rc = rd_store_setting_put(s, SETTING, v, err);
    if (!rc)
        rc = rd_audit_append(s, &e, NULL, err);
    if (!rc)
        return rd_store_commit(s, err);
    rd_store_rollback(s);
    return rc;
}

/* ------------------------------------------------------------------ erasure */

typedef struct found {
    int64_t *ids;
    char **req;
    size_t n, cap;
    int64_t oldest, newest;
} found;

static int add(void *ud, const rd_applicant_row *r)
{
    found *f = ud;
    if (f->n == f->cap) {
        size_t cap = f->cap ? 2 * f->cap : 16;
        int64_t *ids = rd_realloc(f->ids, cap * sizeof *ids);
        if (ids)
            f->ids = ids;
        char **req = ids ? rd_realloc(f->req, cap * sizeof *req) : NULL;
        if (!req)
            return RD_ENOMEM;
        f->req = req;
        f->cap = cap;
    }
    if (!(f->req[f->n] =
              rd_strndup(r->request_id ? r->request_id : "", r->request_id ? strlen(r->request_id) : 0)))
        return RD_ENOMEM;
    f->ids[f->n++] = r->id;
    if (f->n == 1 || r->ts_ms < f->oldest)
        f->oldest = r->ts_ms;
    if (f->n == 1 || r->ts_ms > f->newest)
        f->newest = r->ts_ms;
    return 0;
}

static void found_free(found *f)
{
    for (size_t i = 0; i < f->n; i++)
        rd_free(f->req[i]);
    rd_free(f->req);
    rd_free(f->ids);
}

static void utc(int64_t ms, char buf[32])
{
    time_t t = (time_t)(ms / 1000);
    struct tm tm;
    char day[24];
    strftime(day, sizeof day, "%Y-%m-%dT%H:%M:%S", gmtime_r(&t, &tm));
    snprintf(buf, 32, "%s.%03dZ", day, (int)(ms % 1000));
}

static int scan(rd_store *s, const char *key, int64_t after, found *f, int64_t *last, rd_err *err)
{
    int rc = rd_store_applicant_scan(s, key, after, add, f, last, err);
    return rc == RD_ENOMEM ? rd_err_set(err, rc, "out of memory") : rc;
}

/* RD_ECONFLICT when the newest decision is inside the floor. */
static int check_floor(const found *f, int days, int64_t now_ms, rd_err *err)
{
    int64_t until = f->newest + (int64_t)days * DAY_MS;
    if (until <= now_ms)
        return RD_OK;
    char newest[32], from[32];
    utc(f->newest, newest);
    utc(until, from);
    return rd_err_set(
        err, RD_ECONFLICT,
        "the applicant's %zu decisions are inside the retention floor of %d days (the newest was "
        "made %s): nothing erased; they can be erased from %s",
        f->n, days, newest, from);
}

static int audit(rd_store *s, const rd_principal *who, const found *f, const rd_applicant_erased *e, int days,
                 const char *reason, int64_t now_ms, const char *object, rd_err *err)
{
    char oldest[32], newest[32];
    utc(f->oldest, oldest);
    utc(f->newest, newest);
    rd_buf d;
    rd_buf_init(&d);
    rd_buf_printf(&d,
                  "{\"count\":%llu,\"shadows\":%llu,\"outcomes\":%llu,\"oldest\":\"%s\",\"newest\":\"%s\","
                  "\"floor_days\":%d,\"reason\":",
                  (unsigned long long)e->decisions, (unsigned long long)e->shadows,
                  (unsigned long long)e->outcomes, oldest, newest, days);
    if (reason && *reason)
        rd_json_write_string(&d, reason, strlen(reason));
    else
        rd_buf_puts(&d, "null");
    rd_buf_putc(&d, '}');
    rd_audit_entry a = {.ts_ms = now_ms,
                        .actor = rd_principal_name(who),
                        .action = "decisions.erase",
                        .object = object,
                        .detail_json = rd_buf_cstr(&d)};
    int rc = d.oom ? rd_err_set(err, RD_ENOMEM, "out of memory") : rd_audit_append(s, &a, NULL, err);
    rd_buf_deinit(&d);
    return rc;
}

int rd_dlog_erase(rd_store *s, const rd_principal *who, const char *targeting_key, int64_t now_ms,
                  const char *reason, rd_dlog_erased *out, rd_err *err)
{
    int rc = rd_principal_require(who, RD_PERM_ERASE, "erase an applicant's decisions", err);
    if (rc)
        return rc;
    if (!targeting_key || !*targeting_key)
        return rd_err_set(err, RD_EINVAL, "erasure needs the applicant's targetingKey");
    char hex[RD_SHA256_HEX], object[80];
    rd_sha256_hex(targeting_key, strlen(targeting_key), hex);
    snprintf(object, sizeof object, "applicant/%s", hex);
    found f = {0};
    int64_t last = 0;
    int days = RD_RETENTION_FLOOR_DEFAULT;
    rd_applicant_erased e = {0};
    bool scrubbed = false;
    /* the long scan outside the write lock (a serving node's log writer goes on meanwhile); a
     * refusal needs no lock at all */
    if ((rc = rd_dlog_retention_get(s, &days, err)) || (rc = scan(s, targeting_key, 0, &f, &last, err)))
        goto done;
    if (!f.n) {
        rc = rd_err_set(err, RD_ENOTFOUND, "no decision in %s has that targetingKey (%s)", rd_store_name(s),
                        object);
        goto done;
    }
    if ((rc = check_floor(&f, days, now_ms, err)))
        goto done;
    if ((rc = rd_store_begin(s, err)))
        goto done;
    /* the tombstone first: from its commit on, no record of the applicant made before now is
     * stored (one in some node's queue or spool); PostgreSQL waits here for the log inserts
     * under way, so the scan below sees them. Then, under the lock: what was logged since the
     * scan, and the floor as it is now */
    if (!(rc = rd_store_erasure_mark(s, hex, now_ms, err)) &&
        !(rc = scan(s, targeting_key, last, &f, &last, err)) &&
        !(rc = rd_dlog_retention_get(s, &days, err)) && !(rc = check_floor(&f, days, now_ms, err)) &&
        !(rc = rd_store_applicant_erase(s, f.ids, f.n, (const char *const *)f.req, f.n, &e, err)) &&
        !(rc = audit(s, who, &f, &e, days, reason, now_ms, object, err)))
        rc = rd_store_commit(s, err);
    else
        rd_store_rollback(s);
    if (rc)
        goto done;
    rd_err ignored;
    rd_store_scrub(s, &scrubbed, &ignored); /* erased either way: the next checkpoint finishes it */
    if (out) {
        *out = (rd_dlog_erased){.decisions = e.decisions,
                                .shadows = e.shadows,
                                .outcomes = e.outcomes,
                                .oldest_ms = f.oldest,
                                .newest_ms = f.newest,
                                .scrubbed = scrubbed};
        memcpy(out->object, object, sizeof object);
    }
done:
    found_free(&f);
    return rc;
}
