/* A change request's life: propose, edit, submit, withdraw, approve, reject.
 *
 * Each operation is one store transaction (SQLite: BEGIN IMMEDIATE, so two processes, or two
 * HTTP threads with their own handles, serialise): the row is read, the rule checked and the
 * row and its audit entry written together. That is what makes "nobody approves their own
 * change" hold against a second token, another path or a concurrent edit: the check and the
 * approval see the same row, and an edit in between clears the approvals. */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "change_int.h"
#include "riskd/bundle.h"
#include "riskd/dlog.h"
#include "riskd/flags.h"
#include "riskd/json.h"
#include "riskd/rollout.h"

#define MAX_PAYLOAD (16u << 20)

static const char *const kind_names[RD_CHANGE_KIND_COUNT] = {"flags", "bundle", "rollout"};
static const char *const state_names[RD_CS_COUNT] = {"draft",     "proposed", "approved",
                                                     "published", "rejected", "withdrawn"};

const char *rd_change_kind_name(rd_change_kind k)
{
    return (unsigned)k < RD_CHANGE_KIND_COUNT ? kind_names[k] : "?";
}

int rd_change_kind_parse(const char *name)
{
    for (int i = 0; i < RD_CHANGE_KIND_COUNT; i++)
        if (!strcmp(name, kind_names[i]))
            return i;
    return -1;
}

const char *rd_change_state_name(rd_change_state st)
{
    return (unsigned)st < RD_CS_COUNT ? state_names[st] : "?";
}

int rd_change_state_parse(const char *name)
{
    for (int i = 0; i < RD_CS_COUNT; i++)
        if (!strcmp(name, state_names[i]))
            return i;
    return -1;
}

rd_change_state ch_state(const rd_change_row *r)
{
    int k = rd_change_state_parse(r->state);
    return k < 0 ? RD_CS_WITHDRAWN : (rd_change_state)k;
}

rd_change_kind ch_kind(const rd_change_row *r)
{
    int k = rd_change_kind_parse(r->kind);
    return k < 0 ? RD_CHANGE_FLAGS : (rd_change_kind)k;
}

int ch_load(rd_store *s, int64_t id, rd_change_row *r, rd_err *err)
{
    if (id <= 0)
        return rd_err_set(err, RD_EINVAL, "change %lld: ids count from 1", (long long)id);
    return rd_store_change_get(s, id, r, err);
}

/* ------------------------------------------------------------------ JSON arrays in a row */

int ch_array_append(char **arr, const char *elem, rd_err *err)
{
    const char *old = *arr && **arr ? *arr : "[]";
    size_t n = strlen(old), m = strlen(elem);
    char *out = rd_malloc(n + m + 2);
    if (!out)
        return rd_err_set(err, RD_ENOMEM, "out of memory");
    memcpy(out, old, n - 1); /* without the closing ']' */
    size_t k = n - 1;
    if (n > 2)
        out[k++] = ',';
    memcpy(out + k, elem, m);
    k += m;
    out[k++] = ']';
    out[k] = '\0';
    rd_free(*arr);
    *arr = out;
    return RD_OK;
}

static bool parse_array(const char *arr, rd_arena *a, rd_value *v)
{
    rd_err e;
    return arr && rd_json_parse(arr, strlen(arr), NULL, a, v, &e) == RD_OK && v->type == RD_VARRAY;
}

bool ch_array_has_user(const char *arr, const char *name)
{
    rd_arena a;
    rd_arena_init(&a, 0);
    rd_value v;
    bool found = false;
    if (parse_array(arr, &a, &v))
        for (uint32_t i = 0; i < v.len && !found; i++) {
            const rd_value *it = &v.u.items[i];
            if (it->type == RD_VOBJECT)
                it = rd_value_get(it, "user", 4);
            found = it && it->type == RD_VSTRING && !strcmp(it->u.s, name);
        }
    rd_arena_deinit(&a);
    return found;
}

size_t ch_array_len(const char *arr)
{
    rd_arena a;
    rd_arena_init(&a, 0);
    rd_value v;
    size_t n = parse_array(arr, &a, &v) ? v.len : 0;
    rd_arena_deinit(&a);
    return n;
}

/* ------------------------------------------------------------------ events */

int ch_event(rd_store *s, rd_change_row *r, const rd_principal *who, const char *event, const char *note,
             const char *before_sha, const char *after_sha, int64_t now_ms, rd_err *err)
{
    rd_buf b;
    rd_buf_init(&b);
    rd_buf_printf(&b, "{\"ts_ms\":%lld,\"actor\":", (long long)now_ms);
    const char *actor = rd_principal_name(who);
    rd_json_write_string(&b, actor, strlen(actor));
    rd_buf_puts(&b, ",\"event\":");
    rd_json_write_string(&b, event, strlen(event));
    rd_buf_printf(&b, ",\"revision\":%lld,\"state\":\"%s\"", (long long)r->revision, r->state);
    if (note && *note) {
        rd_buf_puts(&b, ",\"note\":");
        rd_json_write_string(&b, note, strlen(note));
    }
    rd_buf_puts(&b, "}");
    int rc =
        b.oom ? rd_err_set(err, RD_ENOMEM, "out of memory") : ch_array_append(&r->history_json, b.data, err);
    if (!rc) {
        /* the audit detail: the same event, with the change's kind and target */
        rd_buf_reset(&b);
        rd_buf_printf(&b, "{\"change\":%lld,\"kind\":\"%s\",\"target\":", (long long)r->id, r->kind);
        rd_json_write_string(&b, r->target, strlen(r->target));
        rd_buf_printf(&b, ",\"revision\":%lld,\"state\":\"%s\"", (long long)r->revision, r->state);
        if (note && *note) {
            rd_buf_puts(&b, ",\"note\":");
            rd_json_write_string(&b, note, strlen(note));
        }
        rd_buf_puts(&b, "}");
        char action[48], object[48];
        snprintf(action, sizeof action, "change.%s", event);
        snprintf(object, sizeof object, "change/%lld", (long long)r->id);
        rd_audit_entry e = {.ts_ms = now_ms,
                            .actor = actor,
                            .action = action,
                            .object = object,
                            .before_sha256 = before_sha,
                            .after_sha256 = after_sha,
                            .detail_json = rd_buf_cstr(&b)};
        rc = b.oom ? rd_err_set(err, RD_ENOMEM, "out of memory") : rd_audit_append(s, &e, NULL, err);
    }
    rd_buf_deinit(&b);
    /* the notification is written with the event, or neither is */
    return rc ? rc : ch_notify(s, r, who, event, note, now_ms, err);
}

/* ------------------------------------------------------------------ targets and payloads */

bool rd_change_target_in_store(const char *target) { return target && !strcmp(target, RD_FLAGS_STORE); }

int ch_canonical_path(const char *path, char *out, size_t cap, rd_err *err)
{
    char real[PATH_MAX];
    if (rd_change_target_in_store(path)) {
        snprintf(out, cap, "%s", path);
        return RD_OK;
    }
    if (realpath(path, real)) {
        snprintf(out, cap, "%s", real);
        return RD_OK;
    }
    if (errno != ENOENT)
        return rd_err_set(err, RD_EIO, "%s: %s", path, strerror(errno));
    /* a file to be created: its directory must exist */
    char dir[PATH_MAX];
    snprintf(dir, sizeof dir, "%s", path);
    char *slash = strrchr(dir, '/');
    const char *base = slash ? slash + 1 : path;
    if (slash)
        *slash = '\0';
    if (!realpath(slash ? (dir[0] ? dir : "/") : ".", real))
        return rd_err_set(err, RD_EIO, "%s: %s", path, strerror(errno));
    if ((size_t)snprintf(out, cap, "%s/%s", real, base) >= cap)
        return rd_err_set(err, RD_EINVAL, "%s: path too long", path);
    return RD_OK;
}

void ch_served_flags(rd_store *s, char *out, size_t cap)
{
    rd_err e;
    if (rd_store_setting_get(s, "served.flags", out, cap, &e) != RD_OK)
        out[0] = '\0';
}

/* The SHA-256 of the file at path now, "" when it does not exist. */
static int current_sha(const char *path, char sha[RD_SHA256_HEX], rd_err *err)
{
    if (access(path, F_OK) != 0 && errno == ENOENT) {
        sha[0] = '\0';
        return RD_OK;
    }
    return rd_sha256_file(path, sha, err);
}

int ch_check_payload(rd_change_kind kind, const char *text, size_t len, rd_err *err)
{
    if (len > MAX_PAYLOAD)
        return rd_err_set(err, RD_ELIMIT, "the new file is %zu bytes, more than %u", len, MAX_PAYLOAD);
    int rc = RD_OK;
    if (kind == RD_CHANGE_FLAGS) {
        rd_flagset *fs;
        if ((rc = rd_flagset_parse(text, len, NULL, &fs, err)) == RD_OK)
            rd_flagset_unref(fs);
        else
            rd_err_prefix(err, "the new flag set would be refused");
    } else if (kind == RD_CHANGE_ROLLOUT) {
        rd_plan *p;
        if ((rc = rd_plan_parse(text, len, &p, err)) == RD_OK)
            rd_plan_free(p);
        else
            rd_err_prefix(err, "the rollout plan would be refused");
    }
    return rc == RD_EPARSE || rc == RD_ETYPE ? (err->code = RD_EINVAL) : rc;
}

/* Keep the bundle's signature (RD_BUNDLE_SIGNATURE_FILE) in the blobs; key its SHA-256. */
static int keep_signature(rd_store *s, const char *dir, char key[RD_SHA256_HEX], rd_err *err)
{
    char path[PATH_MAX], *text;
    size_t len;
    snprintf(path, sizeof path, "%s/%s", dir, RD_BUNDLE_SIGNATURE_FILE);
    int rc = rd_file_read(path, 4096, &text, &len, err);
    if (rc)
        return rc;
    rc = rd_store_blob_put(s, text, len, key, err);
    rd_free(text);
    return rc;
}

/* A bundle change's payload: {"name", "digest", "path"[, "signature"]} of the bundle directory,
 * loaded and verified as serving loads it. Its manifest and every file are kept in the store's
 * blobs, with its signature when it has one ("signature": that blob's key), inside the
 * proposal's transaction: a node that shares no filesystem with this one fetches the bundle
 * from there once it is published (bundle_cache.h). */
static int bundle_payload(rd_store *s, const char *dir, rd_buf *out, char name[256], rd_err *err)
{
    rd_bundle *b;
    int rc = rd_bundle_load(dir, &b, err);
    if (rc) {
        rd_err_prefix(err, "the bundle would be refused");
        return rc == RD_EIO ? rc : RD_EINVAL;
    }
    char sig[RD_SHA256_HEX] = "";
    rc = rd_dlog_keep_bundle(s, dir, rd_bundle_digest(b), err);
    if (!rc && rd_bundle_signed(b))
        rc = keep_signature(s, dir, sig, err);
    if (rc) {
        rd_err_prefix(err, "%s: cannot keep the bundle in the store", dir);
        rd_bundle_free(b);
        return rc;
    }
    snprintf(name, 256, "%s", rd_bundle_name(b));
    rd_buf_puts(out, "{\"name\":");
    rd_json_write_string(out, rd_bundle_name(b), strlen(rd_bundle_name(b)));
    rd_buf_printf(out, ",\"digest\":\"%s\",\"path\":", rd_bundle_digest(b));
    rd_json_write_string(out, dir, strlen(dir));
    if (sig[0])
        rd_buf_printf(out, ",\"signature\":\"%s\"", sig);
    rd_buf_puts(out, "}");
    rd_bundle_free(b);
    return out->oom ? rd_err_set(err, RD_ENOMEM, "out of memory") : RD_OK;
}

/* The registered digest of bundle name ("" when none). */
static void bundle_current(rd_store *s, const char *name, char sha[RD_SHA256_HEX])
{
    rd_version_row v;
    rd_err e;
    sha[0] = '\0';
    if (rd_store_version_find(s, "bundle", name, NULL, &v, &e) == RD_OK)
        snprintf(sha, RD_SHA256_HEX, "%s", v.sha);
}

/* The target of a new change, canonical; its current sha into base. */
static int resolve_target(rd_store *s, const rd_change_spec *spec, char *target, size_t cap,
                          char base[RD_SHA256_HEX], rd_err *err)
{
    const char *t = spec->target;
    char served[1024];
    if ((!t || !*t) && spec->kind == RD_CHANGE_FLAGS) {
        ch_served_flags(s, served, sizeof served);
        t = served[0] ? served : NULL;
    }
    if (!t || !*t)
        return rd_err_set(err, RD_EINVAL,
                          spec->kind == RD_CHANGE_FLAGS
                              ? "which flag file does this change? give its path (--target), or start riskd "
                                "serve with require_approval = on once so the store knows the served one"
                              : "a %s change needs a target path",
                          rd_change_kind_name(spec->kind));
    int rc = ch_canonical_path(t, target, cap, err);
    if (rc)
        return rc;
    bool in_store = rd_change_target_in_store(target);
    if (in_store && spec->kind != RD_CHANGE_FLAGS)
        return rd_err_set(err, RD_EINVAL,
                          "\"%s\" names the flag set kept in the store: only a flags change targets it",
                          RD_FLAGS_STORE);
    if (spec->kind == RD_CHANGE_FLAGS && !in_store && access(target, F_OK) != 0)
        return rd_err_set(err, RD_EINVAL, "%s: no such flag file (a flags change replaces a served file)", t);
    if (spec->kind == RD_CHANGE_BUNDLE)
        return RD_OK;
    ch_served_flags(s, served, sizeof served);
    if (served[0] && spec->kind == RD_CHANGE_FLAGS && strcmp(target, served) != 0)
        return rd_err_set(err, RD_EINVAL, "%s is not the served flag file (%s)", target, served);
    if (served[0] && spec->kind == RD_CHANGE_ROLLOUT && !strcmp(target, served))
        return rd_err_set(err, RD_EINVAL,
                          "%s is the served flag file: a rollout change targets its plan file", target);
    /* against what was published, not what the file holds: a hand edit since is neither the
       reviewer's base nor something a later rollback may bring back */
    rd_version_row v;
    rd_err e;
    if (rd_store_version_find(s, rd_change_kind_name(spec->kind), target, NULL, &v, &e) == RD_OK) {
        snprintf(base, RD_SHA256_HEX, "%s", v.sha);
        return RD_OK;
    }
    if (in_store)
        return rd_err_set(err, RD_ENOTFOUND,
                          "the store holds no flag set yet: load the first one with riskd flags import FILE "
                          "--store URL");
    return current_sha(target, base, err);
}

/* Keep what the target holds now, so the diff and a rollback to it work after it moved on. */
static int keep_base(rd_store *s, const char *target, const char *base, rd_err *err)
{
    if (!base[0] || rd_change_target_in_store(target) || rd_store_blob_has(s, base))
        return RD_OK;
    char *text;
    size_t len;
    char sha[RD_SHA256_HEX];
    int rc = rd_file_read(target, MAX_PAYLOAD, &text, &len, err);
    if (rc)
        return rc;
    rd_sha256_hex(text, len, sha);
    if (!strcmp(sha, base)) /* else the file holds something else: the diff shows none */
        rc = rd_store_blob_put(s, text, len, sha, err);
    rd_free(text);
    return rc;
}

/* A fresh row for spec by who. */
static void new_row(rd_change_row *r, const rd_change_spec *spec, const rd_principal *who, int64_t now_ms)
{
    memset(r, 0, sizeof *r);
    snprintf(r->kind, sizeof r->kind, "%s", rd_change_kind_name(spec->kind));
    snprintf(r->state, sizeof r->state, "%s", spec->draft ? "draft" : "proposed");
    snprintf(r->title, sizeof r->title, "%s", spec->title ? spec->title : "");
    snprintf(r->author, sizeof r->author, "%s", rd_principal_name(who));
    r->created_ms = r->updated_ms = now_ms;
    r->revision = 1;
}

static int make_payload(rd_store *s, const rd_change_spec *spec, rd_change_row *r, rd_err *err)
{
    rd_buf b;
    rd_buf_init(&b);
    const char *text = spec->payload;
    size_t len = spec->payload_len;
    int rc = RD_OK;
    if (spec->kind == RD_CHANGE_BUNDLE) {
        char name[256];
        if ((rc = bundle_payload(s, r->target, &b, name, err)) == RD_OK) {
            bundle_current(s, name, r->base_sha);
            text = b.data;
            len = b.len;
        }
    } else if (!text) {
        rc = rd_err_set(err, RD_EINVAL, "a %s change needs the new file", r->kind);
    } else {
        rc = ch_check_payload(spec->kind, text, len, err);
    }
    char sha[RD_SHA256_HEX];
    if (!rc && (rc = rd_store_blob_put(s, text, len, sha, err)) == RD_OK)
        snprintf(r->payload_sha, sizeof r->payload_sha, "%s", sha);
    if (!rc && spec->kind == RD_CHANGE_BUNDLE) {
        /* a bundle's identity is its digest: that is what the base is compared with */
        rd_arena a;
        rd_arena_init(&a, 0);
        rd_value v;
        if (rd_json_parse(b.data, b.len, NULL, &a, &v, err) == RD_OK) {
            const rd_value *d = rd_value_get(&v, "digest", 6);
            if (d && !strcmp(d->u.s, r->base_sha))
                rc = rd_err_set(err, RD_EINVAL, "%s: this very bundle is already registered", r->target);
        }
        rd_arena_deinit(&a);
    } else if (!rc && !strcmp(r->payload_sha, r->base_sha)) {
        rc = rd_err_set(err, RD_EINVAL, "%s: the new file is the one in force: nothing to change", r->target);
    }
    rd_buf_deinit(&b);
    return rc;
}

static int finish(rd_store *s, int rc, rd_err *err)
{
    if (rc == RD_OK)
        return rd_store_commit(s, err);
    rd_store_rollback(s);
    return rc;
}

int rd_change_propose(rd_store *s, const rd_principal *who, const rd_change_spec *spec, int64_t now_ms,
                      int64_t *id, rd_err *err)
{
    int rc = rd_principal_require(who, RD_PERM_PROPOSE, "propose a change", err);
    if (rc)
        return rc;
    if ((unsigned)spec->kind >= RD_CHANGE_KIND_COUNT)
        return rd_err_set(err, RD_EINVAL, "unknown change kind");
    rd_change_row r;
    new_row(&r, spec, who, now_ms);
    if ((rc = resolve_target(s, spec, r.target, sizeof r.target, r.base_sha, err)))
        return rc;
    if ((rc = rd_store_begin(s, err)))
        return rc;
    rc = spec->kind == RD_CHANGE_BUNDLE ? RD_OK : keep_base(s, r.target, r.base_sha, err);
    if (!rc)
        rc = make_payload(s, spec, &r, err);
    if (!rc) {
        const char *who_name = rd_principal_name(who);
        char editors[RD_USER_MAX + 8];
        snprintf(editors, sizeof editors, "[\"%s\"]", who_name); /* user names need no escaping */
        r.editors_json = rd_strndup(editors, strlen(editors));
        r.approvals_json = rd_strndup("[]", 2);
        r.history_json = rd_strndup("[]", 2);
        if (!r.editors_json || !r.approvals_json || !r.history_json)
            rc = rd_err_set(err, RD_ENOMEM, "out of memory");
    }
    if (!rc)
        rc = rd_store_change_put(s, &r, err); /* the id, which the event names */
    if (!rc)
        rc = ch_event(s, &r, who, spec->draft ? "draft" : "propose", r.title, r.base_sha, r.payload_sha,
                      now_ms, err);
    if (!rc)
        rc = rd_store_change_put(s, &r, err);
    rc = finish(s, rc, err);
    if (!rc && id)
        *id = r.id;
    rd_store_change_row_free(&r);
    return rc;
}

/* ------------------------------------------------------------------ operations on a change */

typedef int (*change_op)(rd_store *s, rd_change_row *r, const rd_principal *who, void *arg, int64_t now_ms,
                         rd_err *err);

/* Run op on change id inside one transaction, and write the row back when it succeeds. */
static int with_change(rd_store *s, int64_t id, const rd_principal *who, change_op op, void *arg,
                       int64_t now_ms, rd_err *err)
{
    int rc = rd_store_begin(s, err);
    if (rc)
        return rc;
    rd_change_row r;
    if ((rc = ch_load(s, id, &r, err)) == RD_OK) {
        rc = op(s, &r, who, arg, now_ms, err);
        if (!rc) {
            r.updated_ms = now_ms;
            rc = rd_store_change_put(s, &r, err);
        }
        rd_store_change_row_free(&r);
    }
    return finish(s, rc, err);
}

static int refuse_state(const rd_change_row *r, const char *doing, rd_err *err)
{
    return rd_err_set(err, RD_ECONFLICT, "change %lld is %s: it cannot be %s", (long long)r->id, r->state,
                      doing);
}

static void set_state(rd_change_row *r, rd_change_state st)
{
    snprintf(r->state, sizeof r->state, "%s", rd_change_state_name(st));
}

typedef struct edit_arg {
    const char *payload;
    size_t len;
    const char *title;
} edit_arg;

static int op_edit(rd_store *s, rd_change_row *r, const rd_principal *who, void *arg, int64_t now_ms,
                   rd_err *err)
{
    edit_arg *a = arg;
    rd_change_state st = ch_state(r);
    if (st != RD_CS_DRAFT && st != RD_CS_PROPOSED && st != RD_CS_APPROVED)
        return refuse_state(r, "edited", err);
    char before[RD_SHA256_HEX];
    snprintf(before, sizeof before, "%s", r->payload_sha);
    if (a->payload) {
        rd_change_spec spec = {.kind = ch_kind(r), .payload = a->payload, .payload_len = a->len};
        if (spec.kind == RD_CHANGE_BUNDLE)
            return rd_err_set(err, RD_EINVAL,
                              "a bundle change has no text to edit: withdraw it and propose again");
        char sha[RD_SHA256_HEX];
        int rc = ch_check_payload(spec.kind, a->payload, a->len, err);
        if (!rc)
            rc = rd_store_blob_put(s, a->payload, a->len, sha, err);
        if (rc)
            return rc;
        if (!strcmp(sha, r->base_sha))
            return rd_err_set(err, RD_EINVAL,
                              "change %lld: the new file is the one in force: withdraw the change "
                              "instead",
                              (long long)r->id);
        if (!strcmp(sha, r->payload_sha))
            return rd_err_set(err, RD_EINVAL, "change %lld: the edit changes nothing", (long long)r->id);
        snprintf(r->payload_sha, sizeof r->payload_sha, "%s", sha);
    }
    if (a->title)
        snprintf(r->title, sizeof r->title, "%s", a->title);
    r->revision++;
    bool had = ch_array_len(r->approvals_json) > 0;
    rd_free(r->approvals_json);
    r->approvals_json = rd_strndup("[]", 2);
    if (!r->approvals_json)
        return rd_err_set(err, RD_ENOMEM, "out of memory");
    if (st == RD_CS_APPROVED)
        set_state(r, RD_CS_PROPOSED);
    const char *name = rd_principal_name(who);
    if (!ch_array_has_user(r->editors_json, name)) {
        char q[RD_USER_MAX + 4];
        snprintf(q, sizeof q, "\"%s\"", name);
        int rc = ch_array_append(&r->editors_json, q, err);
        if (rc)
            return rc;
    }
    return ch_event(s, r, who, "edit", had ? "the approvals were cleared" : NULL, before, r->payload_sha,
                    now_ms, err);
}

int rd_change_edit(rd_store *s, const rd_principal *who, int64_t id, const char *payload, size_t len,
                   const char *title, int64_t now_ms, rd_err *err)
{
    int rc = rd_principal_require(who, RD_PERM_PROPOSE, "edit a change", err);
    edit_arg a = {payload, len, title};
    return rc ? rc : with_change(s, id, who, op_edit, &a, now_ms, err);
}

static int op_submit(rd_store *s, rd_change_row *r, const rd_principal *who, void *arg, int64_t now_ms,
                     rd_err *err)
{
    (void)arg;
    if (ch_state(r) != RD_CS_DRAFT)
        return refuse_state(r, "submitted (only a draft is)", err);
    if (!ch_array_has_user(r->editors_json, rd_principal_name(who)))
        return rd_err_set(err, RD_EFORBIDDEN, "%s did not write change %lld: its author submits it",
                          rd_principal_name(who), (long long)r->id);
    set_state(r, RD_CS_PROPOSED);
    return ch_event(s, r, who, "submit", NULL, NULL, r->payload_sha, now_ms, err);
}

int rd_change_submit(rd_store *s, const rd_principal *who, int64_t id, int64_t now_ms, rd_err *err)
{
    int rc = rd_principal_require(who, RD_PERM_PROPOSE, "submit a change", err);
    return rc ? rc : with_change(s, id, who, op_submit, NULL, now_ms, err);
}

static int op_withdraw(rd_store *s, rd_change_row *r, const rd_principal *who, void *arg, int64_t now_ms,
                       rd_err *err)
{
    rd_change_state st = ch_state(r);
    if (st == RD_CS_PUBLISHED || st == RD_CS_REJECTED || st == RD_CS_WITHDRAWN)
        return refuse_state(r, "withdrawn", err);
    bool author = !strcmp(r->author, rd_principal_name(who));
    if (!author && !(who->perms & RD_PERM_APPROVE))
        return rd_err_set(err, RD_EFORBIDDEN,
                          "%s may not withdraw change %lld: only its author or an approver",
                          rd_principal_name(who), (long long)r->id);
    set_state(r, RD_CS_WITHDRAWN);
    return ch_event(s, r, who, "withdraw", arg, NULL, NULL, now_ms, err);
}

int rd_change_withdraw(rd_store *s, const rd_principal *who, int64_t id, const char *why, int64_t now_ms,
                       rd_err *err)
{
    int rc = rd_principal_require(who, RD_PERM_VIEW, "withdraw a change", err);
    return rc ? rc : with_change(s, id, who, op_withdraw, (void *)why, now_ms, err);
}

/* Nobody judges a change they wrote: the author, an editor, or (approve) an approver of this
 * revision already. The same user through another token is the same user. */
static int check_judge(const rd_change_row *r, const rd_principal *who, const char *doing, rd_err *err)
{
    const char *name = rd_principal_name(who);
    if (who->console)
        return rd_err_set(err, RD_EFORBIDDEN, "the console cannot %s a change: use a user's token", doing);
    if (!strcmp(r->author, name))
        return rd_err_set(err, RD_EFORBIDDEN, "%s wrote change %lld and may not %s it: a second person must",
                          name, (long long)r->id, doing);
    if (ch_array_has_user(r->editors_json, name))
        return rd_err_set(err, RD_EFORBIDDEN, "%s edited change %lld and may not %s it: a second person must",
                          name, (long long)r->id, doing);
    return RD_OK;
}

typedef struct approve_arg {
    int64_t revision;
    const char *note;
} approve_arg;

static int op_approve(rd_store *s, rd_change_row *r, const rd_principal *who, void *arg, int64_t now_ms,
                      rd_err *err)
{
    approve_arg *a = arg;
    rd_change_state st = ch_state(r);
    if (st == RD_CS_DRAFT)
        return rd_err_set(err, RD_ECONFLICT, "change %lld is a draft: its author submits it first",
                          (long long)r->id);
    if (st != RD_CS_PROPOSED)
        return refuse_state(r, "approved", err);
    int rc = check_judge(r, who, "approve", err);
    if (rc)
        return rc;
    if (a->revision && a->revision != r->revision)
        return rd_err_set(
            err, RD_ECONFLICT,
            "change %lld was edited after you read it (revision %lld, now %lld): review it again",
            (long long)r->id, (long long)a->revision, (long long)r->revision);
    const char *name = rd_principal_name(who);
    if (ch_array_has_user(r->approvals_json, name))
        return rd_err_set(err, RD_ECONFLICT, "%s approved revision %lld of change %lld already", name,
                          (long long)r->revision, (long long)r->id);
    char elem[256];
    snprintf(elem, sizeof elem, "{\"user\":\"%s\",\"revision\":%lld,\"ts_ms\":%lld,\"token\":\"%s\"}", name,
             (long long)r->revision, (long long)now_ms, who->token_id);
    if ((rc = ch_array_append(&r->approvals_json, elem, err)))
        return rc;
    int need;
    if ((rc = rd_change_required(s, ch_kind(r), &need, err)))
        return rc;
    if (ch_array_len(r->approvals_json) >= (size_t)need)
        set_state(r, RD_CS_APPROVED);
    return ch_event(s, r, who, "approve", a->note, NULL, r->payload_sha, now_ms, err);
}

int rd_change_approve(rd_store *s, const rd_principal *who, int64_t id, int64_t revision, const char *note,
                      int64_t now_ms, rd_err *err)
{
    int rc = rd_principal_require(who, RD_PERM_APPROVE, "approve a change", err);
    approve_arg a = {revision, note};
    return rc ? rc : with_change(s, id, who, op_approve, &a, now_ms, err);
}

static int op_reject(rd_store *s, rd_change_row *r, const rd_principal *who, void *arg, int64_t now_ms,
                     rd_err *err)
{
    rd_change_state st = ch_state(r);
    if (st != RD_CS_PROPOSED && st != RD_CS_APPROVED && st != RD_CS_DRAFT)
        return refuse_state(r, "rejected", err);
    int rc = check_judge(r, who, "reject", err);
    if (rc)
        return rc;
    set_state(r, RD_CS_REJECTED);
    return ch_event(s, r, who, "reject", arg, NULL, NULL, now_ms, err);
}

int rd_change_reject(rd_store *s, const rd_principal *who, int64_t id, const char *why, int64_t now_ms,
                     rd_err *err)
{
    int rc = rd_principal_require(who, RD_PERM_APPROVE, "reject a change", err);
    return rc ? rc : with_change(s, id, who, op_reject, (void *)why, now_ms, err);
}

/* ------------------------------------------------------------------ required approvals */

int rd_change_required(rd_store *s, rd_change_kind kind, int *n, rd_err *err)
{
    char key[48], val[32];
    snprintf(key, sizeof key, "approvals.%s", rd_change_kind_name(kind));
    rd_err e;
    int rc = rd_store_setting_get(s, key, val, sizeof val, &e);
    *n = 1;
    if (rc == RD_ENOTFOUND)
        return RD_OK;
    if (rc) {
        *err = e;
        return rc;
    }
    long v = strtol(val, NULL, 10);
    *n = v < 1 ? 1 : v > 5 ? 5 : (int)v; /* never fewer than one person besides the author */
    return RD_OK;
}

int rd_change_set_required(rd_store *s, const rd_principal *who, rd_change_kind kind, int n, int64_t now_ms,
                           rd_err *err)
{
    int rc = rd_principal_require(who, RD_PERM_USERS, "change the required approvals", err);
    if (rc)
        return rc;
    if ((unsigned)kind >= RD_CHANGE_KIND_COUNT)
        return rd_err_set(err, RD_EINVAL, "unknown change kind");
    if (n < 1 || n > 5)
        return rd_err_set(err, RD_EINVAL,
                          "approvals: %d is not in 1..5 (a change always needs a second person)", n);
    int old;
    if ((rc = rd_store_begin(s, err)))
        return rc;
    char key[48], val[16], detail[96];
    snprintf(key, sizeof key, "approvals.%s", rd_change_kind_name(kind));
    snprintf(val, sizeof val, "%d", n);
    rc = rd_change_required(s, kind, &old, err);
    if (!rc)
        rc = rd_store_setting_put(s, key, val, err);
    snprintf(detail, sizeof detail, "{\"kind\":\"%s\",\"before\":%d,\"after\":%d}", rd_change_kind_name(kind),
             old, n);
    rd_audit_entry e = {.ts_ms = now_ms,
                        .actor = rd_principal_name(who),
                        .action = "settings.approvals",
                        .object = key,
                        .detail_json = detail};
    if (!rc)
        rc = rd_audit_append(s, &e, NULL, err);
    return finish(s, rc, err);
}
