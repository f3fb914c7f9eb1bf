/* Publishing, rollback, and what may serve.
 *
 * Order of a publish: inside one store transaction, the version, the change's new state and
 * the audit entry are written; then the file is replaced (compare-and-swap on the version the
 * change was made against, under the rollout controller's lock); then the transaction
 * commits. A refused write rolls the transaction back, so the store never records a version
 * that did not serve. If the commit itself fails after the write, the file is put back. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "change_int.h"
#include "riskd/json.h"
#include "riskd/rollout.h"

static int finish(rd_store *s, int rc, rd_err *err)
{
    if (rc == RD_OK)
        return rd_store_commit(s, err);
    rd_store_rollback(s);
    return rc;
}

/* Write a new file that must not exist yet (a rollout plan proposed before its file). */
static int create_file(const char *path, const char *text, size_t len, rd_err *err)
{
    char tmp[PATH_MAX + 32];
    snprintf(tmp, sizeof tmp, "%s.tmp.%ld", path, (long)getpid());
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0)
        return rd_err_set(err, RD_EIO, "%s: cannot create: %s", tmp, strerror(errno));
    ssize_t w = write(fd, text, len);
    int rc =
        w == (ssize_t)len && fsync(fd) == 0 ? RD_OK : rd_err_set(err, RD_EIO, "%s: %s", tmp, strerror(errno));
    close(fd);
    if (!rc && link(tmp, path) < 0) /* link refuses to replace: a file made meanwhile wins */
        rc = errno == EEXIST ? rd_err_set(err, RD_ECONFLICT, "%s: created by someone else meanwhile", path)
                             : rd_err_set(err, RD_EIO, "%s: %s", path, strerror(errno));
    unlink(tmp);
    return rc;
}

/* Put the file at path from content expected (its sha, "" for none) to blob sha. The flag set
 * kept in the store has no file: its new version, written by the caller in this transaction,
 * is the write; every node is told at commit. */
static int write_target(rd_store *s, const char *path, const char *expected, const char *sha, rd_err *err)
{
    if (rd_change_target_in_store(path))
        return RD_OK;
    char *text;
    size_t len;
    int rc = rd_store_blob_get(s, sha, &text, &len, err);
    if (rc)
        return rc;
    rc =
        expected[0] ? rd_file_replace_cas(path, expected, text, len, err) : create_file(path, text, len, err);
    rd_free(text);
    return rc;
}

/* The newest version of kind/target (RD_ENOTFOUND when none). */
static int newest(rd_store *s, const char *kind, const char *target, rd_version_row *v, rd_err *err)
{
    return rd_store_version_find(s, kind, target, NULL, v, err);
}

/* The approvers of r as "bob,carol". */
static void approvers(const rd_change_row *r, char *out, size_t cap)
{
    rd_arena a;
    rd_arena_init(&a, 0);
    rd_value v;
    rd_err e;
    size_t k = 0;
    out[0] = '\0';
    if (rd_json_parse(r->approvals_json, strlen(r->approvals_json), NULL, &a, &v, &e) == RD_OK &&
        v.type == RD_VARRAY)
        for (uint32_t i = 0; i < v.len; i++) {
            const rd_value *u = rd_value_get(&v.u.items[i], "user", 4);
            if (u && u->type == RD_VSTRING && k + u->len + 2 < cap)
                k += (size_t)snprintf(out + k, cap - k, "%s%s", k ? "," : "", u->u.s);
        }
    rd_arena_deinit(&a);
}

/* The version a publish of r makes (kind, target, sha, replaced). */
static int version_of(rd_store *s, const rd_change_row *r, rd_version_row *v, rd_err *err)
{
    memset(v, 0, sizeof *v);
    snprintf(v->kind, sizeof v->kind, "%s", r->kind);
    snprintf(v->target, sizeof v->target, "%s", r->target);
    snprintf(v->sha, sizeof v->sha, "%s", r->payload_sha);
    snprintf(v->replaced_sha, sizeof v->replaced_sha, "%s", r->base_sha);
    if (ch_kind(r) != RD_CHANGE_BUNDLE)
        return RD_OK;
    /* a bundle's version is keyed by its name, and holds its digest */
    char *text;
    size_t len;
    int rc = rd_store_blob_get(s, r->payload_sha, &text, &len, err);
    if (rc)
        return rc;
    rd_arena a;
    rd_arena_init(&a, 0);
    rd_value p;
    if ((rc = rd_json_parse(text, len, NULL, &a, &p, err)) == RD_OK) {
        const rd_value *name = rd_value_get(&p, "name", 4), *digest = rd_value_get(&p, "digest", 6);
        if (name && digest && name->type == RD_VSTRING && digest->type == RD_VSTRING) {
            snprintf(v->target, sizeof v->target, "%s", name->u.s);
            snprintf(v->sha, sizeof v->sha, "%s", digest->u.s);
        } else {
            rc = rd_err_set(err, RD_EINVAL, "change %lld: its bundle payload is damaged", (long long)r->id);
        }
    }
    rd_arena_deinit(&a);
    rd_free(text);
    return rc;
}

static int publish_checks(rd_store *s, const rd_change_row *r, rd_err *err)
{
    if (ch_state(r) != RD_CS_APPROVED)
        return rd_err_set(err, RD_ECONFLICT, "change %lld is %s: only an approved change is published",
                          (long long)r->id, r->state);
    int need, rc = rd_change_required(s, ch_kind(r), &need, err);
    if (rc)
        return rc;
    size_t have = ch_array_len(r->approvals_json);
    if (have < (size_t)need)
        return rd_err_set(err, RD_ECONFLICT, "change %lld has %zu approval(s) of the %d now required",
                          (long long)r->id, have, need);
    return RD_OK;
}

int rd_change_publish(rd_store *s, const rd_principal *who, int64_t id, int64_t now_ms, int64_t *version,
                      rd_err *err)
{
    int rc = rd_principal_require(who, RD_PERM_PUBLISH, "publish a change", err);
    if (rc || (rc = rd_store_begin(s, err)))
        return rc;
    rd_change_row r;
    if ((rc = ch_load(s, id, &r, err)))
        return finish(s, rc, err);
    rd_version_row v;
    rc = publish_checks(s, &r, err);
    if (!rc)
        rc = version_of(s, &r, &v, err);
    if (!rc && (ch_kind(&r) == RD_CHANGE_BUNDLE || rd_change_target_in_store(r.target))) {
        /* what is current is a version (a bundle's registration, the flag set kept in the
           store): the compare-and-swap is on it, published against what was current when
           proposed, else someone else's came first (a file's is write_target's, below) */
        rd_version_row cur;
        rd_err e;
        const char *now_sha = newest(s, v.kind, v.target, &cur, &e) == RD_OK ? cur.sha : "";
        if (strcmp(now_sha, r.base_sha) != 0)
            rc = rd_err_set(err, RD_ECONFLICT,
                            "%s %s: another version was published since change %lld was proposed: propose it "
                            "again on the current one",
                            v.kind, v.target, (long long)r.id);
    }
    if (!rc) {
        snprintf(v.how, sizeof v.how, "publish");
        v.change_id = r.id;
        snprintf(v.author, sizeof v.author, "%s", r.author);
        approvers(&r, v.approvers, sizeof v.approvers);
        snprintf(v.published_by, sizeof v.published_by, "%s", rd_principal_name(who));
        v.ts_ms = now_ms;
        rc = rd_store_version_append(s, &v, err);
    }
    if (!rc) /* every node reloads what it serves, once this commits */
        rc = rd_store_notify(s, v.kind, err);
    if (!rc) {
        snprintf(r.state, sizeof r.state, "published");
        r.published_ms = r.updated_ms = now_ms;
        snprintf(r.published_by, sizeof r.published_by, "%s", rd_principal_name(who));
        r.version = v.version;
        char note[64];
        snprintf(note, sizeof note, "version %lld", (long long)v.version);
        rc = ch_event(s, &r, who, "publish", note, v.replaced_sha, v.sha, now_ms, err);
    }
    if (!rc)
        rc = rd_store_change_put(s, &r, err);
    bool wrote = false;
    if (!rc && ch_kind(&r) != RD_CHANGE_BUNDLE) {
        rc = write_target(s, r.target, r.base_sha, r.payload_sha, err);
        if (rc == RD_ECONFLICT)
            rd_err_prefix(err,
                          "change %lld was made against another version: propose it again on the current one",
                          (long long)r.id);
        wrote = rc == RD_OK;
    }
    rc = finish(s, rc, err);
    if (rc && wrote &&
        !rd_change_target_in_store(r.target)) { /* the store did not take it: the file goes back */
        if (r.base_sha[0])
            write_target(s, r.target, r.payload_sha, r.base_sha, &(rd_err){0});
        else
            unlink(r.target); /* it did not exist before */
    }
    if (!rc && version)
        *version = v.version;
    rd_store_change_row_free(&r);
    return rc;
}

/* ------------------------------------------------------------------ rollback */

static int rollback_dest(rd_store *s, const char *kind, const char *target, int64_t to,
                         const rd_version_row *top, rd_version_row *dest, rd_err *err)
{
    if (to)
        return rd_store_version_get(s, kind, target, to, dest, err);
    /* a bundle's first registration rolled back is revoked: a version with no digest, which
       no node serves (bundle_cache.h); a file always holds something */
    if (!top->replaced_sha[0] && strcmp(kind, "bundle") != 0)
        return rd_err_set(err, RD_EINVAL,
                          "%s %s: version %lld replaced nothing: there is nothing to roll back to", kind,
                          target, (long long)top->version);
    memset(dest, 0, sizeof *dest);
    snprintf(dest->sha, sizeof dest->sha, "%s", top->replaced_sha);
    return RD_OK;
}

static int rollback_audit(rd_store *s, const rd_principal *who, const rd_version_row *v, const char *why,
                          rd_err *err)
{
    rd_buf d;
    rd_buf_init(&d);
    rd_buf_printf(&d, "{\"kind\":\"%s\",\"target\":", v->kind);
    rd_json_write_string(&d, v->target, strlen(v->target));
    rd_buf_printf(&d, ",\"version\":%lld", (long long)v->version);
    if (why && *why) {
        rd_buf_puts(&d, ",\"why\":");
        rd_json_write_string(&d, why, strlen(why));
    }
    rd_buf_puts(&d, "}");
    char object[1100];
    snprintf(object, sizeof object, "%s:%s", v->kind, v->target);
    rd_audit_entry e = {.ts_ms = v->ts_ms,
                        .actor = rd_principal_name(who),
                        .action = "version.rollback",
                        .object = object,
                        .before_sha256 = v->replaced_sha,
                        .after_sha256 = v->sha,
                        .detail_json = rd_buf_cstr(&d)};
    int rc = d.oom ? rd_err_set(err, RD_ENOMEM, "out of memory") : rd_audit_append(s, &e, NULL, err);
    rd_buf_deinit(&d);
    return rc ? rc : ch_notify_rollback(s, who, v, why, err);
}

int rd_change_rollback(rd_store *s, const rd_principal *who, rd_change_kind kind, const char *target,
                       int64_t to, const char *why, int64_t now_ms, int64_t *version, rd_err *err)
{
    int rc = rd_principal_require(who, RD_PERM_ROLLBACK, "roll back", err);
    if (rc)
        return rc;
    char t[1024], served[1024];
    const char *kname = rd_change_kind_name(kind);
    if (kind == RD_CHANGE_FLAGS && (!target || !*target)) {
        ch_served_flags(s, served, sizeof served);
        target = served;
    }
    if (!target || !*target)
        return rd_err_set(err, RD_EINVAL, "roll back which %s? give the target", kname);
    if (kind == RD_CHANGE_BUNDLE)
        snprintf(t, sizeof t, "%s", target);
    else if ((rc = ch_canonical_path(target, t, sizeof t, err)))
        return rc;
    if ((rc = rd_store_begin(s, err)))
        return rc;
    rd_version_row top, dest, v;
    char cur[RD_SHA256_HEX] = "";
    rc = newest(s, kname, t, &top, err);
    if (rc == RD_ENOTFOUND)
        rc = rd_err_set(err, RD_ENOTFOUND, "%s %s: nothing was ever published there", kname, t);
    if (!rc)
        rc = rollback_dest(s, kname, t, to, &top, &dest, err);
    if (!rc && kind != RD_CHANGE_BUNDLE && !rd_change_target_in_store(t))
        rc = rd_sha256_file(t, cur, err);
    else if (!rc)
        snprintf(cur, sizeof cur, "%s", top.sha);
    if (!rc && !strcmp(cur, dest.sha))
        rc = rd_err_set(err, RD_EINVAL, "%s %s already holds that version", kname, t);
    if (!rc) {
        memset(&v, 0, sizeof v);
        snprintf(v.kind, sizeof v.kind, "%s", kname);
        snprintf(v.target, sizeof v.target, "%s", t);
        snprintf(v.sha, sizeof v.sha, "%s", dest.sha);
        /* what it replaced is the published version: a hand edit the file held is overwritten,
           never recorded, so no later rollback can bring it back */
        snprintf(v.replaced_sha, sizeof v.replaced_sha, "%s", top.sha);
        snprintf(v.how, sizeof v.how, "rollback");
        v.change_id = top.change_id;
        snprintf(v.published_by, sizeof v.published_by, "%s", rd_principal_name(who));
        v.ts_ms = now_ms;
        rc = rd_store_version_append(s, &v, err);
    }
    if (!rc) /* every node reloads what it serves, once this commits */
        rc = rd_store_notify(s, v.kind, err);
    if (!rc)
        rc = rollback_audit(s, who, &v, why, err);
    bool wrote = false;
    if (!rc && kind != RD_CHANGE_BUNDLE)
        wrote = (rc = write_target(s, t, cur, dest.sha, err)) == RD_OK;
    rc = finish(s, rc, err);
    if (rc && wrote)
        write_target(s, t, dest.sha, cur, &(rd_err){0});
    if (!rc && version)
        *version = v.version;
    return rc;
}

/* ------------------------------------------------------------------ what may serve */

/* Keep the bytes of path in the blobs when they are still sha (best effort). */
static void keep_file(rd_store *s, const char *path, const char *sha)
{
    char *text, now[RD_SHA256_HEX];
    size_t len;
    rd_err e;
    if (rd_store_blob_has(s, sha) || rd_file_read(path, 64u << 20, &text, &len, &e) != RD_OK)
        return;
    rd_sha256_hex(text, len, now);
    if (!strcmp(now, sha))
        rd_store_blob_put(s, text, len, now, &e);
    rd_free(text);
}

int rd_change_restore_published(rd_store *s, const char *path, const char *actor, int64_t now_ms,
                                bool *restored, rd_err *err)
{
    char t[1024], flag[8], cur[RD_SHA256_HEX];
    rd_version_row v;
    rd_err e;
    *restored = false;
    if (rd_change_target_in_store(path)) /* the store holds no hand edit */
        return RD_OK;
    if (rd_store_setting_get(s, "approval.required", flag, sizeof flag, &e) != RD_OK ||
        strcmp(flag, "1") != 0)
        return RD_OK;
    int rc = ch_canonical_path(path, t, sizeof t, err);
    if (rc || rd_store_version_find(s, "flags", t, NULL, &v, &e) != RD_OK)
        return rc;
    if ((rc = rd_sha256_file(t, cur, err)) || !strcmp(cur, v.sha))
        return rc;
    if ((rc = rd_store_begin(s, err)))
        return rc;
    char detail[256];
    snprintf(
        detail, sizeof detail,
        "{\"why\":\"the file held an unpublished edit: put back to version %lld before a rollout wrote it\"}",
        (long long)v.version);
    char object[1100];
    snprintf(object, sizeof object, "flags:%s", t);
    rd_audit_entry a = {.ts_ms = now_ms,
                        .actor = actor,
                        .action = "flags.restore",
                        .object = object,
                        .before_sha256 = cur,
                        .after_sha256 = v.sha,
                        .detail_json = detail};
    rc = rd_audit_append(s, &a, NULL, err);
    if (!rc)
        rc = write_target(s, t, cur, v.sha, err);
    rc = finish(s, rc, err);
    *restored = rc == RD_OK;
    return rc;
}

/* target as the store keys it: a file's real path; a bundle's name as it is. */
static int key_of(rd_change_kind kind, const char *target, char out[1024], rd_err *err)
{
    if (kind == RD_CHANGE_BUNDLE) {
        snprintf(out, 1024, "%s", target);
        return RD_OK;
    }
    return ch_canonical_path(target, out, 1024, err);
}

int rd_change_served_ok(rd_store *s, rd_change_kind kind, const char *target, const char *sha, bool *ok,
                        char *why, size_t cap, rd_err *err)
{
    const char *kname = rd_change_kind_name(kind);
    char t[1024];
    int krc = key_of(kind, target, t, err);
    if (krc)
        return krc;
    target = t;
    rd_version_row v;
    rd_err e;
    *ok = false;
    int rc = newest(s, kname, target, &v, &e);
    if (rc == RD_ENOTFOUND) {
        snprintf(why, cap, "%s %s was never published (propose it as a change request)", kname, target);
        return RD_OK;
    }
    if (rc) {
        *err = e;
        return rc;
    }
    *ok = v.sha[0] && !strcmp(v.sha, sha);
    if (!*ok && !v.sha[0])
        snprintf(why, cap, "%s %s was revoked (version %lld): it serves nowhere", kname, target,
                 (long long)v.version);
    else if (!*ok)
        snprintf(why, cap,
                 "%s %s holds sha256 %.12s..., not its published version %lld (%.12s...): edited by hand? "
                 "publish it through a change request",
                 kname, target, sha, (long long)v.version, v.sha);
    return RD_OK;
}

int rd_change_record_write(rd_store *s, rd_change_kind kind, const char *target, const char *before_sha,
                           const char *after_sha, const char *how, const char *actor, const char *detail_json,
                           int64_t now_ms, rd_err *err)
{
    const char *kname = rd_change_kind_name(kind);
    char t[1024];
    int rc = key_of(kind, target, t, err);
    if (rc)
        return rc;
    target = t;
    rc = rd_store_begin(s, err);
    if (rc)
        return rc;
    rd_version_row v, top;
    memset(&v, 0, sizeof v);
    snprintf(v.kind, sizeof v.kind, "%s", kname);
    snprintf(v.target, sizeof v.target, "%s", target);
    snprintf(v.sha, sizeof v.sha, "%s", after_sha);
    snprintf(v.replaced_sha, sizeof v.replaced_sha, "%s", before_sha ? before_sha : "");
    snprintf(v.how, sizeof v.how, "%s", how);
    snprintf(v.published_by, sizeof v.published_by, "%s", actor);
    v.ts_ms = now_ms;
    rd_err e;
    if (newest(s, kname, target, &top, &e) == RD_OK)
        v.change_id = top.change_id;
    if (kind != RD_CHANGE_BUNDLE && !rd_change_target_in_store(target)) /* for a rollback, diff, Git */
        keep_file(s, target, after_sha);
    rc = rd_store_version_append(s, &v, err);
    if (!rc) /* every node reloads what it serves (the store target's only announcement) */
        rc = rd_store_notify(s, kname, err);
    char action[48], object[1100];
    snprintf(action, sizeof action, "%s.%s", kname, how);
    snprintf(object, sizeof object, "%s:%s", kname, target);
    rd_audit_entry a = {.ts_ms = now_ms,
                        .actor = actor,
                        .action = action,
                        .object = object,
                        .before_sha256 = before_sha,
                        .after_sha256 = after_sha,
                        .detail_json = detail_json};
    if (!rc)
        rc = rd_audit_append(s, &a, NULL, err);
    return finish(s, rc, err);
}

int rd_change_adopt(rd_store *s, rd_change_kind kind, const char *target, const char *sha, const char *actor,
                    int64_t now_ms, bool *adopted, rd_err *err)
{
    const char *kname = rd_change_kind_name(kind);
    rd_version_row v;
    rd_err e;
    *adopted = false;
    char t[1024];
    int rc = key_of(kind, target, t, err);
    if (rc)
        return rc;
    target = t;
    rc = rd_store_begin(s, err);
    if (rc)
        return rc;
    rc = newest(s, kname, target, &v, &e);
    if (rc == RD_OK) { /* versions exist: nothing to adopt */
        rd_store_rollback(s);
        return RD_OK;
    }
    if (rc != RD_ENOTFOUND) {
        rd_store_rollback(s);
        *err = e;
        return rc;
    }
    rc = rd_change_record_write(
        s, kind, target, "", sha, "adopt", actor,
        "{\"why\":\"require_approval was turned on: the version in force is the baseline\"}", now_ms, err);
    rc = finish(s, rc, err);
    *adopted = rc == RD_OK;
    return rc;
}
