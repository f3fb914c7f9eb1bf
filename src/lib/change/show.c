/* The JSON views of change requests and versions, and the flag diff a reviewer reads. */
#include <stdio.h>
#include <string.h>

#include "change_int.h"
#include "riskd/json.h"

/* ------------------------------------------------------------------ the flag diff */

static const rd_value *member(const rd_value *obj, const char *key)
{
    return obj && obj->type == RD_VOBJECT ? rd_value_get(obj, key, strlen(key)) : NULL;
}

static void key_list(rd_buf *out, const rd_value *from, const rd_value *other)
{
    bool first = true;
    rd_buf_putc(out, '[');
    for (uint32_t i = 0; from && i < from->len; i++) {
        const rd_member *m = &from->u.members[i];
        if (other && rd_value_get(other, m->key, m->key_len))
            continue;
        if (!first)
            rd_buf_putc(out, ',');
        rd_json_write_string(out, m->key, m->key_len);
        first = false;
    }
    rd_buf_putc(out, ']');
}

static void changed_flags(rd_buf *out, const rd_value *before, const rd_value *after)
{
    bool first = true;
    rd_buf_putc(out, '{');
    for (uint32_t i = 0; after && i < after->len; i++) {
        const rd_member *m = &after->u.members[i];
        const rd_value *old = before ? rd_value_get(before, m->key, m->key_len) : NULL;
        if (!old || rd_value_equal(old, &m->val))
            continue;
        if (!first)
            rd_buf_putc(out, ',');
        rd_json_write_string(out, m->key, m->key_len);
        rd_buf_puts(out, ":{\"before\":");
        rd_json_write(out, old);
        rd_buf_puts(out, ",\"after\":");
        rd_json_write(out, &m->val);
        rd_buf_putc(out, '}');
        first = false;
    }
    rd_buf_putc(out, '}');
}

static bool same(const rd_value *a, const rd_value *b)
{
    return (!a && !b) || (a && b && rd_value_equal(a, b));
}

/* The top-level members other than "flags" that differ ($evaluators, metadata, anything else a
 * file holds): {key: {"before", "after"}}, null for a side without it. An edit of $evaluators
 * alone can re-route every request: a reviewer must see it as plainly as a flag's. */
static void one_side(rd_buf *out, const rd_value *v)
{
    if (v)
        rd_json_write(out, v);
    else
        rd_buf_puts(out, "null");
}

static void section(rd_buf *out, bool *first, const rd_member *m, const rd_value *old, const rd_value *now)
{
    rd_buf_puts(out, *first ? "" : ",");
    rd_json_write_string(out, m->key, m->key_len);
    rd_buf_puts(out, ":{\"before\":");
    one_side(out, old);
    rd_buf_puts(out, ",\"after\":");
    one_side(out, now);
    rd_buf_putc(out, '}');
    *first = false;
}

static void changed_sections(rd_buf *out, const rd_value *before, const rd_value *after)
{
    bool first = true;
    rd_buf_putc(out, '{');
    for (uint32_t i = 0; after->type == RD_VOBJECT && i < after->len; i++) {
        const rd_member *m = &after->u.members[i];
        const rd_value *old = before->type == RD_VOBJECT ? rd_value_get(before, m->key, m->key_len) : NULL;
        if (strcmp(m->key, "flags") && !same(old, &m->val))
            section(out, &first, m, old, &m->val);
    }
    for (uint32_t i = 0; before->type == RD_VOBJECT && i < before->len; i++) {
        const rd_member *m = &before->u.members[i];
        if (strcmp(m->key, "flags") &&
            !(after->type == RD_VOBJECT && rd_value_get(after, m->key, m->key_len)))
            section(out, &first, m, &m->val, NULL);
    }
    rd_buf_putc(out, '}');
}

int rd_flags_diff_json(const char *before, size_t before_len, const char *after, size_t after_len,
                       rd_buf *out, rd_err *err)
{
    rd_arena a;
    rd_arena_init(&a, 0);
    rd_value b = RD_NULL_VALUE, n;
    int rc = before ? rd_json_parse(before, before_len, NULL, &a, &b, err) : RD_OK;
    if (!rc)
        rc = rd_json_parse(after, after_len, NULL, &a, &n, err);
    if (!rc) {
        const rd_value *fb = member(&b, "flags"), *fa = member(&n, "flags");
        rd_buf_puts(out, "{\"added\":");
        key_list(out, fa, fb);
        rd_buf_puts(out, ",\"removed\":");
        key_list(out, fb, fa);
        rd_buf_puts(out, ",\"changed\":");
        changed_flags(out, fb, fa);
        rd_buf_printf(out, ",\"evaluators_changed\":%s,\"metadata_changed\":%s,\"sections\":",
                      same(member(&b, "$evaluators"), member(&n, "$evaluators")) ? "false" : "true",
                      same(member(&b, "metadata"), member(&n, "metadata")) ? "false" : "true");
        changed_sections(out, &b, &n);
        rd_buf_putc(out, '}');
        if (out->oom)
            rc = rd_err_set(err, RD_ENOMEM, "out of memory");
    }
    rd_arena_deinit(&a);
    return rc;
}

/* ------------------------------------------------------------------ a change */

static void str_m(rd_buf *b, const char *key, const char *v)
{
    rd_buf_printf(b, ",\"%s\":", key);
    rd_json_write_string(b, v, strlen(v));
}

static void head_json(rd_store *s, rd_buf *b, const rd_change_row *r)
{
    int need = 1;
    rd_err e;
    rd_change_required(s, ch_kind(r), &need, &e);
    rd_buf_printf(b, "{\"id\":%lld", (long long)r->id);
    str_m(b, "kind", r->kind);
    str_m(b, "target", r->target);
    str_m(b, "state", r->state);
    str_m(b, "title", r->title);
    str_m(b, "author", r->author);
    rd_buf_printf(b, ",\"revision\":%lld,\"created_ms\":%lld,\"updated_ms\":%lld", (long long)r->revision,
                  (long long)r->created_ms, (long long)r->updated_ms);
    str_m(b, "base_sha256", r->base_sha);
    str_m(b, "payload_sha256", r->payload_sha);
    rd_buf_printf(b, ",\"editors\":%s,\"approvals\":%s,\"approvals_required\":%d", r->editors_json,
                  r->approvals_json, need);
    rd_buf_printf(b, ",\"version\":%lld,\"published_ms\":%lld", (long long)r->version,
                  (long long)r->published_ms);
    str_m(b, "published_by", r->published_by);
}

/* The diff of a flags change against its base (null when the base is not kept). */
static int diff_json(rd_store *s, const rd_change_row *r, const char *payload, size_t len, rd_buf *b,
                     rd_err *err)
{
    if (ch_kind(r) != RD_CHANGE_FLAGS)
        return rd_buf_puts(b, "null");
    char *base = NULL;
    size_t blen = 0;
    rd_err e;
    if (r->base_sha[0] && rd_store_blob_get(s, r->base_sha, &base, &blen, &e) != RD_OK)
        return rd_buf_puts(b, "null");
    int rc = rd_flags_diff_json(base, blen, payload, len, b, err);
    rd_free(base);
    return rc;
}

int rd_change_show_json(rd_store *s, int64_t id, bool with_payload, rd_buf *out, rd_err *err)
{
    rd_change_row r;
    int rc = ch_load(s, id, &r, err);
    if (rc)
        return rc;
    char *payload;
    size_t len;
    if ((rc = rd_store_blob_get(s, r.payload_sha, &payload, &len, err)) == RD_OK) {
        head_json(s, out, &r);
        rd_buf_printf(out, ",\"history\":%s,\"diff\":", r.history_json);
        rc = diff_json(s, &r, payload, len, out, err);
        if (!rc && with_payload) {
            rd_buf_puts(out, ",\"payload\":");
            rd_json_write_string(out, payload, len);
        }
        rd_buf_putc(out, '}');
        rd_free(payload);
    }
    rd_store_change_row_free(&r);
    if (!rc && out->oom)
        rc = rd_err_set(err, RD_ENOMEM, "out of memory");
    return rc;
}

typedef struct list_ctx {
    rd_store *s;
    rd_buf *out;
    size_t n;
} list_ctx;

static int list_one(void *ud, const rd_change_row *r)
{
    list_ctx *c = ud;
    if (c->n++)
        rd_buf_putc(c->out, ',');
    head_json(c->s, c->out, r);
    rd_buf_putc(c->out, '}');
    return c->out->oom ? RD_ENOMEM : RD_OK;
}

int rd_change_list_json(rd_store *s, const char *state, size_t limit, rd_buf *out, rd_err *err)
{
    if (state && rd_change_state_parse(state) < 0)
        return rd_err_set(err, RD_EINVAL,
                          "state \"%s\": one of draft, proposed, approved, published, rejected, withdrawn",
                          state);
    list_ctx c = {s, out, 0};
    rd_buf_putc(out, '[');
    int rc = rd_store_change_list(s, state, limit, list_one, &c, err);
    rd_buf_putc(out, ']');
    if (rc == RD_ENOMEM || (!rc && out->oom))
        rc = rd_err_set(err, RD_ENOMEM, "out of memory");
    return rc;
}

static int version_one(void *ud, const rd_version_row *v)
{
    list_ctx *c = ud;
    rd_buf *b = c->out;
    if (c->n++)
        rd_buf_putc(b, ',');
    rd_buf_printf(b, "{\"version\":%lld", (long long)v->version);
    str_m(b, "kind", v->kind);
    str_m(b, "target", v->target);
    str_m(b, "sha256", v->sha);
    str_m(b, "replaced_sha256", v->replaced_sha);
    str_m(b, "how", v->how);
    rd_buf_printf(b, ",\"change\":%lld", (long long)v->change_id);
    str_m(b, "author", v->author);
    str_m(b, "approvers", v->approvers);
    str_m(b, "published_by", v->published_by);
    rd_buf_printf(b, ",\"ts_ms\":%lld}", (long long)v->ts_ms);
    return b->oom ? RD_ENOMEM : RD_OK;
}

int rd_change_versions_json(rd_store *s, const char *kind, const char *target, size_t limit, rd_buf *out,
                            rd_err *err)
{
    if (kind && rd_change_kind_parse(kind) < 0)
        return rd_err_set(err, RD_EINVAL, "kind \"%s\": one of flags, bundle, rollout", kind);
    char t[1024];
    if (target && kind && strcmp(kind, "bundle") != 0 && ch_canonical_path(target, t, sizeof t, err) == RD_OK)
        target = t;
    list_ctx c = {s, out, 0};
    rd_buf_putc(out, '[');
    int rc = rd_store_version_list(s, kind, target, limit, version_one, &c, err);
    rd_buf_putc(out, ']');
    if (rc == RD_ENOMEM || (!rc && out->oom))
        rc = rd_err_set(err, RD_ENOMEM, "out of memory");
    return rc;
}
