/* The admin API: everything under /v1/admin/ (docs/api.md, "The admin API").
 *
 * Routed from the library's action table (rd_admin_actions: a method and a path pattern whose
 * {x} is one segment): a path no action has is 404, a path some action has with another method
 * 405 with Allow. Then, for every action, in one place and in this order: the failed-
 * authentication limiter (429), the bearer token checked against the store (401), the role's
 * permission for the action and the token's admin scope (403). Without an Authorization
 * header, the console's session cookie stands for the token (session.c): its origin and CSRF
 * checks (403) come before the limiter. The session actions (no permission) are session.c's. Only then does a
 * handler run, and a handler only translates: the request's JSON into a library call made with the caller as
 * principal, the result (or the library's refusal, mapped by rd_err_http_status) into the response. Every
 * rule (who may approve what, which state a change may move to) is the library's, inside its store
 * transaction.
 *
 * The handlers share the admin store handle under its lock (auth.c). A publish or a rollback
 * reloads what serves before it is answered (srv_reload_now), outside that lock. */
#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "riskd/audit.h"
#include "riskd/change.h"
#include "riskd/dlog.h"
#include "riskd/clock.h"
#include "riskd/json.h"
#include "riskd/riskd.h"
#include "riskd/rollout.h"
#include "riskd/text.h"
#include "server.h"

#define MAX_SEGMENTS  8
#define DEFAULT_LIMIT 100
#define MAX_LIMIT     10000

/* One admin request being handled. */
typedef struct admin_ctx {
    srv_req *r;
    const rd_admin_action_def *def;
    const char *param; /* the {x} segment, percent-decoded; NULL when the pattern has none */
    rd_value body;     /* an object (empty when no body was sent) */
    rd_store *s;       /* the admin store, locked while the handler runs */
    int64_t now;
    bool reload;          /* a publish or rollback: reload what serves once the lock is released */
    bool reload_rollouts; /* ... and the plan files */
} admin_ctx;

static void reply(admin_ctx *x, int status, const char *code, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static void reply(admin_ctx *x, int status, const char *code, const char *fmt, ...)
{
    char msg[400];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    srv_reply_error(x->r, status, code, "%s", msg);
}
/* The error reply written, and -1 (a macro, so the analyzer sees the -1). */
#define fail(x, status, ...) (reply((x), (status), __VA_ARGS__), -1)

/* The library refused (or failed): its code decides the status. */
static int lib_fail(admin_ctx *x, int rc, const rd_err *err)
{
    if (rc == RD_EIO || rc == RD_EINTERNAL)
        srv_log(SRV_ERROR, "admin API: the store failed", "action", x->def->name, "error", err->msg, "code",
                rd_err_name(rc), NULL);
    return fail(x, rc == RD_ENOMEM ? 503 : rd_err_http_status(rc), rd_err_name(rc), "%s", err->msg);
}

/* ------------------------------------------------------------------ reading requests */

/* The path's segments after the leading slash: [start, len) pairs; -1 when there are too many
 * or one is empty ("//", a trailing slash). */
typedef struct seg {
    const char *p;
    size_t n;
} seg;

static int split(const char *path, seg *v, size_t cap)
{
    size_t n = 0;
    if (*path != '/')
        return -1;
    for (const char *p = path + 1;; n++) {
        size_t len = strcspn(p, "/");
        if (!len || n == cap)
            return -1;
        v[n] = (seg){p, len};
        if (!p[len])
            return (int)n + 1;
        p += len + 1;
    }
}

/* Whether the request's segments fit def's pattern; the {x} segment into *param. */
static bool path_matches(const rd_admin_action_def *def, const seg *req, int nreq, const seg **param)
{
    seg pat[MAX_SEGMENTS];
    int n = split(def->path, pat, MAX_SEGMENTS);
    if (n != nreq)
        return false;
    *param = NULL;
    for (int i = 0; i < n; i++) {
        if (pat[i].n >= 2 && pat[i].p[0] == '{' && pat[i].p[pat[i].n - 1] == '}') {
            *param = &req[i];
            continue;
        }
        if (pat[i].n != req[i].n || memcmp(pat[i].p, req[i].p, req[i].n) != 0)
            return false;
    }
    return true;
}

/* The body's members: each must be one of names (did-you-mean otherwise); out[i] receives
 * member names[i] or NULL. */
static int members(admin_ctx *x, const char *const *names, size_t n, const rd_value **out)
{
    for (size_t i = 0; i < n; i++)
        out[i] = NULL;
    for (uint32_t m = 0; m < x->body.len; m++) {
        const rd_member *mem = &x->body.u.members[m];
        size_t k = 0;
        while (k < n && (strcmp(mem->key, names[k]) != 0 || mem->key_len != strlen(names[k])))
            k++;
        if (k < n) {
            out[k] = &mem->val;
            continue;
        }
        const char *near = NULL;
        for (size_t j = 0; j < n && !near; j++)
            near = rd_near_miss(mem->key, names[j]) ? names[j] : NULL;
        if (near)
            return fail(x, 400, "INVALID_ARGUMENT", "unknown member \"%.64s\" (did you mean \"%s\"?)",
                        mem->key, near);
        char list[256] = "";
        for (size_t j = 0, at = 0; j < n && at < sizeof list; j++)
            at += (size_t)snprintf(list + at, sizeof list - at, "%s%s", j ? ", " : "", names[j]);
        return fail(x, 400, "INVALID_ARGUMENT", "unknown member \"%.64s\" (%s %s)", mem->key,
                    n ? "this request takes" : "this request takes no members", list);
    }
    return 0;
}

/* A string member (NUL-free); *out NULL when absent and not required. */
static int str_member(admin_ctx *x, const rd_value *v, const char *name, bool required, const char **out)
{
    *out = NULL;
    if (!v) {
        if (required)
            return fail(x, 400, "INVALID_ARGUMENT", "%s: required", name);
        return 0;
    }
    if (v->type != RD_VSTRING)
        return fail(x, 400, "TYPE_MISMATCH", "%s: expected a string, got %s", name, rd_vtype_name(v->type));
    if (strlen(v->u.s) != v->len)
        return fail(x, 400, "INVALID_ARGUMENT", "%s: must not hold a NUL character", name);
    *out = v->u.s;
    return 0;
}

/* An integer member in [lo, hi]; *out keeps its value when absent. */
static int int_member(admin_ctx *x, const rd_value *v, const char *name, int64_t lo, int64_t hi, int64_t *out)
{
    if (!v)
        return 0;
    if (v->type != RD_VNUMBER)
        return fail(x, 400, "TYPE_MISMATCH", "%s: expected an integer, got %s", name, rd_vtype_name(v->type));
    if (!(v->u.n >= (double)lo && v->u.n <= (double)hi) || v->u.n != (double)(int64_t)v->u.n)
        return fail(x, 400, "INVALID_ARGUMENT", "%s: expected an integer from %lld to %lld", name,
                    (long long)lo, (long long)hi);
    *out = (int64_t)v->u.n;
    return 0;
}

static int bool_member(admin_ctx *x, const rd_value *v, const char *name, bool *out)
{
    if (!v)
        return 0;
    if (v->type != RD_VBOOL)
        return fail(x, 400, "TYPE_MISMATCH", "%s: expected true or false, got %s", name,
                    rd_vtype_name(v->type));
    *out = v->u.b;
    return 0;
}

/* The query parameters: each must be one of names; out[i] receives parameter names[i]. */
static int params(admin_ctx *x, const char *const *names, size_t n, const char **out)
{
    srv_req *r = x->r;
    for (size_t i = 0; i < n; i++)
        out[i] = NULL;
    if (r->args_overflow)
        return fail(x, 400, "INVALID_ARGUMENT", "too many query parameters");
    for (size_t i = 0; i < r->nargs; i++) {
        size_t k = 0;
        while (k < n && strcmp(r->args[i].key, names[k]) != 0)
            k++;
        if (k == n) {
            const char *near = NULL;
            for (size_t j = 0; j < n && !near; j++)
                near = rd_near_miss(r->args[i].key, names[j]) ? names[j] : NULL;
            char list[160] = "";
            for (size_t j = 0, at = 0; j < n && at < sizeof list; j++)
                at += (size_t)snprintf(list + at, sizeof list - at, "%s%s", j ? ", " : "", names[j]);
            if (near)
                return fail(x, 400, "INVALID_ARGUMENT", "%.64s: not a parameter (did you mean %s?)",
                            r->args[i].key, near);
            return fail(x, 400, "INVALID_ARGUMENT", "%.64s: not a parameter (%s%s)", r->args[i].key,
                        n ? "parameters: " : "this request takes none", list);
        }
        if (out[k])
            return fail(x, 400, "INVALID_ARGUMENT", "%s: given twice", names[k]);
        out[k] = r->args[i].value;
    }
    return 0;
}

/* A decimal integer parameter in [lo, hi]; *out keeps its value when s is NULL. */
static int int_param(admin_ctx *x, const char *s, const char *name, int64_t lo, int64_t hi, int64_t *out)
{
    if (!s)
        return 0;
    char *end;
    long long v = strtoll(s, &end, 10);
    if (!*s || *end || strspn(s, "0123456789") != strlen(s) || strlen(s) > 18 || v < lo || v > hi)
        return fail(x, 400, "INVALID_ARGUMENT", "%s: \"%.32s\" is not an integer from %lld to %lld", name, s,
                    (long long)lo, (long long)hi);
    *out = v;
    return 0;
}

/* The {id} of a change: a positive integer. */
static int change_id(admin_ctx *x, int64_t *id)
{
    *id = 0;
    if (int_param(x, x->param, "change id", 1, INT64_C(999999999999999999), id))
        return -1;
    return 0;
}

/* A name from a list, with a did-you-mean; -1 (reply written) when it is none of them. */
static int one_of(admin_ctx *x, const char *what, const char *v, const char *const *names, int n)
{
    for (int i = 0; i < n; i++)
        if (!strcmp(v, names[i]))
            return i;
    const char *near = NULL;
    for (int i = 0; i < n && !near; i++)
        near = rd_near_miss(v, names[i]) ? names[i] : NULL;
    char list[160] = "";
    for (int j = 0, at = 0; j < n && at < (int)sizeof list; j++)
        at += snprintf(list + at, sizeof list - (size_t)at, "%s%s", j ? ", " : "", names[j]);
    if (near)
        reply(x, 400, "INVALID_ARGUMENT", "%s: \"%.64s\" is none (did you mean %s?)", what, v, near);
    else
        reply(x, 400, "INVALID_ARGUMENT", "%s: \"%.64s\" is none of %s", what, v, list);
    return -1;
}

/* The library's names of the kinds, states and roles (one list each, the library's). */
static const char *kind_names[RD_CHANGE_KIND_COUNT], *state_names[RD_CS_COUNT], *role_names[RD_ROLE_COUNT];
static pthread_once_t names_once = PTHREAD_ONCE_INIT;

static void names_init(void)
{
    for (int k = 0; k < RD_CHANGE_KIND_COUNT; k++)
        kind_names[k] = rd_change_kind_name((rd_change_kind)k);
    for (int k = 0; k < RD_CS_COUNT; k++)
        state_names[k] = rd_change_state_name((rd_change_state)k);
    for (int k = 0; k < RD_ROLE_COUNT; k++)
        role_names[k] = rd_role_name((rd_role)k);
}

static int kind_of(admin_ctx *x, const char *v)
{
    return one_of(x, "kind", v, kind_names, RD_CHANGE_KIND_COUNT);
}

/* ------------------------------------------------------------------ writing responses */

static void put_str(rd_buf *b, const char *key, const char *v, bool first)
{
    rd_buf_printf(b, "%s\"%s\":", first ? "" : ",", key);
    rd_json_write_string(b, v, strlen(v));
}

/* The change's show JSON as the response (status 200 or 201). */
static int show(admin_ctx *x, int64_t id, bool payload, int status)
{
    rd_err err;
    int rc = rd_change_show_json(x->s, id, payload, x->r->out, &err);
    if (rc) {
        rd_buf_reset(x->r->out);
        return lib_fail(x, rc, &err);
    }
    x->r->status = status;
    return 0;
}

/* ------------------------------------------------------------------ users and tokens */

typedef struct list_ctx {
    rd_buf *b;
    size_t n;
} list_ctx;

static int user_one(void *ud, const rd_user_info *u)
{
    list_ctx *c = ud;
    rd_buf *b = c->b;
    rd_buf_puts(b, c->n++ ? ",{" : "{");
    put_str(b, "name", u->name, true);
    put_str(b, "role", rd_role_name(u->role), false);
    rd_buf_printf(b, ",\"disabled\":%s,\"created_ms\":%lld", u->disabled ? "true" : "false",
                  (long long)u->created_ms);
    put_str(b, "created_by", u->created_by, false);
    rd_buf_printf(b, ",\"active_tokens\":%zu,\"active_sessions\":%zu}", u->active_tokens, u->active_sessions);
    return 0;
}

static int users_list(admin_ctx *x)
{
    const char *p[1];
    if (params(x, NULL, 0, p))
        return -1;
    list_ctx c = {x->r->out, 0};
    rd_err err;
    rd_buf_putc(c.b, '[');
    int rc = rd_user_list(x->s, user_one, &c, &err);
    if (rc) {
        rd_buf_reset(c.b);
        return lib_fail(x, rc, &err);
    }
    rd_buf_putc(c.b, ']');
    return 0;
}

/* scopes (a list "admin,score") into *bits; absent: the default. */
static int scopes_of(admin_ctx *x, const rd_value *v, uint32_t *bits)
{
    const char *s;
    *bits = RD_SCOPES_DEFAULT;
    if (str_member(x, v, "scopes", false, &s))
        return -1;
    rd_err err;
    if (s && rd_scopes_parse(s, bits, &err))
        return fail(x, 400, "INVALID_ARGUMENT", "scopes: %s", err.msg);
    return 0;
}

/* The token's public id: "rdk_" + 12 hex digits. */
static void token_id(const char *token, char id[RD_TOKEN_ID_MAX])
{
    const char *p = !strncmp(token, "rdk_", 4) ? token + 4 : token;
    size_t n = strcspn(p, "_");
    snprintf(id, RD_TOKEN_ID_MAX, "%.*s", (int)(n < RD_TOKEN_ID_MAX - 1 ? n : RD_TOKEN_ID_MAX - 1), p);
}

static int user_add(admin_ctx *x)
{
    static const char *const names[] = {"name", "role", "scopes", "expires_ms"};
    const rd_value *m[4];
    const char *name, *role;
    uint32_t scopes;
    int64_t expires = 0;
    if (members(x, names, 4, m) || str_member(x, m[0], "name", true, &name) ||
        str_member(x, m[1], "role", true, &role) || scopes_of(x, m[2], &scopes) ||
        int_member(x, m[3], "expires_ms", 0, INT64_C(9007199254740991), &expires))
        return -1;
    int ri = one_of(x, "role", role, role_names, RD_ROLE_COUNT);
    if (ri < 0)
        return -1;
    char token[RD_TOKEN_MAX];
    rd_err err;
    int rc = rd_user_add(x->s, &x->r->who, name, (rd_role)ri, scopes, expires, x->now, token, &err);
    if (rc)
        return lib_fail(x, rc, &err);
    rd_buf *b = x->r->out;
    rd_buf_putc(b, '{');
    put_str(b, "name", name, true);
    put_str(b, "role", rd_role_name((rd_role)ri), false);
    put_str(b, "token", token, false);
    rd_buf_putc(b, '}');
    explicit_bzero(token, sizeof token);
    x->r->status = 201;
    return 0;
}

static int user_disable(admin_ctx *x)
{
    static const char *const names[] = {"disabled"};
    const rd_value *m[1];
    bool disabled = true;
    if (members(x, names, 1, m) || bool_member(x, m[0], "disabled", &disabled))
        return -1;
    rd_err err;
    int rc = rd_user_disable(x->s, &x->r->who, x->param, disabled, x->now, &err);
    if (rc)
        return lib_fail(x, rc, &err);
    srv_auth_cache_clear(); /* its tokens stop working on the scoring side at once */
    rd_buf_putc(x->r->out, '{');
    put_str(x->r->out, "name", x->param, true);
    rd_buf_printf(x->r->out, ",\"disabled\":%s}", disabled ? "true" : "false");
    return 0;
}

static int token_issue(admin_ctx *x)
{
    static const char *const names[] = {"scopes", "expires_ms"};
    const rd_value *m[2];
    uint32_t scopes;
    int64_t expires = 0;
    if (members(x, names, 2, m) || scopes_of(x, m[0], &scopes) ||
        int_member(x, m[1], "expires_ms", 0, INT64_C(9007199254740991), &expires))
        return -1;
    char token[RD_TOKEN_MAX], id[RD_TOKEN_ID_MAX];
    rd_err err;
    int rc = rd_token_issue(x->s, &x->r->who, x->param, scopes, expires, x->now, token, &err);
    if (rc)
        return lib_fail(x, rc, &err);
    token_id(token, id);
    rd_buf *b = x->r->out;
    rd_buf_putc(b, '{');
    put_str(b, "id", id, true);
    put_str(b, "user", x->param, false);
    put_str(b, "token", token, false);
    rd_buf_putc(b, '}');
    explicit_bzero(token, sizeof token);
    x->r->status = 201;
    return 0;
}

static int token_revoke(admin_ctx *x)
{
    const rd_value *m[1];
    if (members(x, NULL, 0, m))
        return -1;
    rd_err err;
    int rc = rd_token_revoke(x->s, &x->r->who, x->param, x->now, &err);
    if (rc)
        return lib_fail(x, rc, &err);
    srv_auth_cache_clear();
    rd_buf_putc(x->r->out, '{');
    put_str(x->r->out, "id", x->param, true);
    rd_buf_puts(x->r->out, ",\"revoked\":true}");
    return 0;
}

static int settings_set(admin_ctx *x)
{
    static const char *const names[] = {"approvals"};
    const rd_value *m[1];
    if (members(x, names, 1, m))
        return -1;
    if (!m[0])
        return fail(x, 400, "INVALID_ARGUMENT",
                    "approvals: required ({\"flags\": N, \"bundle\": N, \"rollout\": N})");
    if (m[0]->type != RD_VOBJECT)
        return fail(x, 400, "TYPE_MISMATCH", "approvals: expected an object, got %s",
                    rd_vtype_name(m[0]->type));
    int64_t n[RD_CHANGE_KIND_COUNT] = {0};
    bool given[RD_CHANGE_KIND_COUNT] = {false};
    for (uint32_t i = 0; i < m[0]->len; i++) {
        const rd_member *mem = &m[0]->u.members[i];
        int k = one_of(x, "approvals", mem->key, kind_names, RD_CHANGE_KIND_COUNT);
        if (k < 0)
            return -1;
        char what[48];
        snprintf(what, sizeof what, "approvals.%s", kind_names[k]);
        if (mem->val.type != RD_VNUMBER)
            return fail(x, 400, "TYPE_MISMATCH", "%s: expected an integer from 1 to 5, got %s", what,
                        rd_vtype_name(mem->val.type));
        n[k] = 1;
        if (int_member(x, &mem->val, what, 1, 5, &n[k]))
            return -1;
        given[k] = true;
    }
    rd_err err;
    int rc = rd_store_begin(x->s, &err);
    if (rc)
        return lib_fail(x, rc, &err);
    for (int k = 0; k < RD_CHANGE_KIND_COUNT && !rc; k++)
        if (given[k])
            rc = rd_change_set_required(x->s, &x->r->who, (rd_change_kind)k, (int)n[k], x->now, &err);
    if (rc) {
        rd_store_rollback(x->s);
        return lib_fail(x, rc, &err);
    }
    if ((rc = rd_store_commit(x->s, &err)))
        return lib_fail(x, rc, &err);
    rd_buf *b = x->r->out;
    rd_buf_puts(b, "{\"approvals\":{");
    for (int k = 0; k < RD_CHANGE_KIND_COUNT; k++) {
        int need = 1;
        if ((rc = rd_change_required(x->s, (rd_change_kind)k, &need, &err))) {
            rd_buf_reset(b);
            return lib_fail(x, rc, &err);
        }
        rd_buf_printf(b, "%s\"%s\":%d", k ? "," : "", kind_names[k], need);
    }
    rd_buf_puts(b, "}}");
    return 0;
}

/* ------------------------------------------------------------------ change requests */

static int changes_list(admin_ctx *x)
{
    static const char *const names[] = {"state", "limit"};
    const char *p[2];
    int64_t limit = DEFAULT_LIMIT;
    if (params(x, names, 2, p) || int_param(x, p[1], "limit", 1, MAX_LIMIT, &limit))
        return -1;
    if (p[0] && one_of(x, "state", p[0], state_names, RD_CS_COUNT) < 0)
        return -1;
    rd_err err;
    int rc = rd_change_list_json(x->s, p[0], (size_t)limit, x->r->out, &err);
    if (rc) {
        rd_buf_reset(x->r->out);
        return lib_fail(x, rc, &err);
    }
    return 0;
}

static int change_show(admin_ctx *x)
{
    static const char *const names[] = {"payload"};
    static const char *const yes_no[] = {"0", "1", "false", "true"};
    const char *p[1];
    int64_t id;
    if (change_id(x, &id) || params(x, names, 1, p))
        return -1;
    int with = p[0] ? one_of(x, "payload", p[0], yes_no, 4) : 0;
    if (with < 0)
        return -1;
    return show(x, id, with % 2 == 1, 200);
}

static int change_propose(admin_ctx *x)
{
    static const char *const names[] = {"kind", "target", "payload", "title", "draft"};
    const rd_value *m[5];
    const char *kind, *target, *payload, *title;
    bool draft = false;
    if (members(x, names, 5, m) || str_member(x, m[0], "kind", true, &kind) ||
        str_member(x, m[1], "target", false, &target) || str_member(x, m[2], "payload", false, &payload) ||
        str_member(x, m[3], "title", false, &title) || bool_member(x, m[4], "draft", &draft))
        return -1;
    int k = kind_of(x, kind);
    if (k < 0)
        return -1;
    if (k == RD_CHANGE_BUNDLE && payload)
        return fail(x, 400, "INVALID_ARGUMENT",
                    "payload: a bundle change has none (target names the bundle directory, read as it is)");
    if (k != RD_CHANGE_BUNDLE && !payload)
        return fail(x, 400, "INVALID_ARGUMENT",
                    "payload: required (the new %s file's text, as a JSON string)", kind_names[k]);
    rd_change_spec spec = {.kind = (rd_change_kind)k,
                           .target = target,
                           .payload = payload,
                           .payload_len = payload ? m[2]->len : 0,
                           .title = title ? title : "",
                           .draft = draft};
    int64_t id;
    rd_err err;
    int rc = rd_change_propose(x->s, &x->r->who, &spec, x->now, &id, &err);
    if (rc)
        return lib_fail(x, rc, &err);
    return show(x, id, false, 201);
}

static int change_edit(admin_ctx *x)
{
    static const char *const names[] = {"payload", "title"};
    const rd_value *m[2];
    const char *payload, *title;
    int64_t id;
    if (change_id(x, &id) || members(x, names, 2, m) || str_member(x, m[0], "payload", false, &payload) ||
        str_member(x, m[1], "title", false, &title))
        return -1;
    if (!payload && !title)
        return fail(x, 400, "INVALID_ARGUMENT", "an edit needs payload, title or both");
    rd_err err;
    int rc = rd_change_edit(x->s, &x->r->who, id, payload, payload ? m[0]->len : 0, title, x->now, &err);
    return rc ? lib_fail(x, rc, &err) : show(x, id, false, 200);
}

static int change_submit(admin_ctx *x)
{
    const rd_value *m[1];
    int64_t id;
    if (change_id(x, &id) || members(x, NULL, 0, m))
        return -1;
    rd_err err;
    int rc = rd_change_submit(x->s, &x->r->who, id, x->now, &err);
    return rc ? lib_fail(x, rc, &err) : show(x, id, false, 200);
}

/* withdraw and reject: {"reason"} */
static int change_close(admin_ctx *x, bool reject)
{
    static const char *const names[] = {"reason"};
    const rd_value *m[1];
    const char *why;
    int64_t id;
    if (change_id(x, &id) || members(x, names, 1, m) || str_member(x, m[0], "reason", false, &why))
        return -1;
    rd_err err;
    int rc = reject ? rd_change_reject(x->s, &x->r->who, id, why, x->now, &err)
                    : rd_change_withdraw(x->s, &x->r->who, id, why, x->now, &err);
    return rc ? lib_fail(x, rc, &err) : show(x, id, false, 200);
}

static int change_withdraw(admin_ctx *x) { return change_close(x, false); }
static int change_reject(admin_ctx *x) { return change_close(x, true); }

static int change_approve(admin_ctx *x)
{
    static const char *const names[] = {"revision", "note"};
    const rd_value *m[2];
    const char *note;
    int64_t id, revision = 0;
    if (change_id(x, &id) || members(x, names, 2, m) ||
        int_member(x, m[0], "revision", 1, INT64_C(9007199254740991), &revision) ||
        str_member(x, m[1], "note", false, &note))
        return -1;
    rd_err err;
    int rc = rd_change_approve(x->s, &x->r->who, id, revision, note, x->now, &err);
    return rc ? lib_fail(x, rc, &err) : show(x, id, false, 200);
}

static int change_publish(admin_ctx *x)
{
    const rd_value *m[1];
    int64_t id, version;
    if (change_id(x, &id) || members(x, NULL, 0, m))
        return -1;
    rd_change_row row;
    rd_err err;
    int rc = rd_change_publish(x->s, &x->r->who, id, x->now, &version, &err);
    if (rc)
        return lib_fail(x, rc, &err);
    x->reload = true;
    x->reload_rollouts = true; /* unless the change says it is not a rollout's */
    if (rd_store_change_get(x->s, id, &row, &err) == RD_OK) {
        x->reload_rollouts = !strcmp(row.kind, "rollout");
        rd_store_change_row_free(&row);
    }
    if (rd_change_show_json(x->s, id, false, x->r->out, &err) == RD_OK)
        return 0;
    /* Committed: the answer says so even when reading the change back failed (a client told
       500 would retry and be told "change N is published", unable to tell what happened). */
    srv_log(SRV_WARN, "admin API: published, but reading the change back failed", "error", err.msg, "code",
            rd_err_name(err.code), NULL);
    rd_buf_reset(x->r->out);
    rd_buf_printf(x->r->out, "{\"id\":%lld,\"state\":\"published\",\"version\":%lld}", (long long)id,
                  (long long)version);
    return 0;
}

static int versions_list(admin_ctx *x)
{
    static const char *const names[] = {"kind", "target", "limit"};
    const char *p[3];
    int64_t limit = DEFAULT_LIMIT;
    if (params(x, names, 3, p) || int_param(x, p[2], "limit", 1, MAX_LIMIT, &limit) ||
        (p[0] && kind_of(x, p[0]) < 0))
        return -1;
    rd_err err;
    int rc = rd_change_versions_json(x->s, p[0], p[1] && *p[1] ? p[1] : NULL, (size_t)limit, x->r->out, &err);
    if (rc) {
        rd_buf_reset(x->r->out);
        return lib_fail(x, rc, &err);
    }
    return 0;
}

static int rollback(admin_ctx *x)
{
    static const char *const names[] = {"kind", "target", "to", "reason"};
    const rd_value *m[4];
    const char *kind, *target, *why;
    int64_t to = 0, version = 0;
    if (members(x, names, 4, m) || str_member(x, m[0], "kind", false, &kind) ||
        str_member(x, m[1], "target", false, &target) ||
        int_member(x, m[2], "to", 1, INT64_C(9007199254740991), &to) ||
        str_member(x, m[3], "reason", false, &why))
        return -1;
    int k = kind ? kind_of(x, kind) : RD_CHANGE_FLAGS;
    if (k < 0)
        return -1;
    char served[1024] = "";
    rd_err err;
    if (!target && k == RD_CHANGE_FLAGS &&
        rd_store_setting_get(x->s, "served.flags", served, sizeof served, &err))
        served[0] = '\0';
    int rc = rd_change_rollback(x->s, &x->r->who, (rd_change_kind)k, target, to, why, x->now, &version, &err);
    if (rc)
        return lib_fail(x, rc, &err);
    x->reload = true;
    x->reload_rollouts = k == RD_CHANGE_ROLLOUT;
    rd_buf *b = x->r->out;
    rd_buf_putc(b, '{');
    put_str(b, "kind", kind_names[k], true);
    put_str(b, "target", target ? target : served, false);
    rd_buf_printf(b, ",\"version\":%lld}", (long long)version);
    return 0;
}

/* ------------------------------------------------------------------ audit */

typedef struct json_list {
    rd_buf *b;
    size_t n;
} json_list;

static int entry_one(void *ud, const char *json, size_t len)
{
    json_list *c = ud;
    if (c->n++)
        rd_buf_putc(c->b, ',');
    rd_buf_append(c->b, json, len);
    return 0;
}

static int audit_list(admin_ctx *x)
{
    static const char *const names[] = {"limit", "from"};
    const char *p[2];
    int64_t limit = DEFAULT_LIMIT, from = 0;
    if (params(x, names, 2, p) || int_param(x, p[0], "limit", 1, MAX_LIMIT, &limit) ||
        int_param(x, p[1], "from", 1, INT64_C(999999999999999999), &from))
        return -1;
    json_list c = {x->r->out, 0};
    rd_err err;
    rd_buf_putc(c.b, '[');
    int rc = from ? rd_audit_each(x->s, from, (size_t)limit, entry_one, &c, &err)
                  : rd_audit_latest(x->s, (size_t)limit, entry_one, &c, &err);
    if (rc) {
        rd_buf_reset(c.b);
        return lib_fail(x, rc, &err);
    }
    rd_buf_putc(c.b, ']');
    return 0;
}

static int audit_verify(admin_ctx *x)
{
    const char *p[1];
    if (params(x, NULL, 0, p))
        return -1;
    rd_audit_verify_result v;
    rd_err err;
    int rc = rd_audit_verify(x->s, 0, NULL, NULL, NULL, &v, &err);
    if (rc)
        return lib_fail(x, rc, &err);
    rd_buf *b = x->r->out;
    rd_buf_printf(b, "{\"intact\":%s,\"entries\":%llu,\"first_bad\":%lld", v.first_bad ? "false" : "true",
                  (unsigned long long)v.entries, (long long)v.first_bad);
    put_str(b, "problem", v.problem, false);
    rd_buf_printf(b, ",\"head_seq\":%lld", (long long)v.head_seq);
    put_str(b, "head_hash", v.head_hash, false);
    rd_buf_putc(b, '}');
    return 0;
}

/* ------------------------------------------------------------------ rollouts */

static int rollouts_status(admin_ctx *x)
{
    const char *p[1];
    if (params(x, NULL, 0, p))
        return -1;
    srv_route_rollouts(x->r);
    return 0;
}

static int rollout_cmd(admin_ctx *x, rd_rollout_cmd cmd, const char *name)
{
    static const char *const names[] = {"reason"};
    const rd_value *m[1];
    const char *why;
    if (members(x, names, 1, m) || str_member(x, m[0], "reason", false, &why))
        return -1;
    rd_err err;
    int rc = rd_rollout_command(x->s, x->r->cfg->data_dir, x->param, cmd, rd_principal_name(&x->r->who), why,
                                x->now, &err);
    if (rc)
        return lib_fail(x, rc, &err);
    /* the flag file was (or may have been) rewritten: a resume from a rollback goes back to the
       first stage's weights */
    x->reload = cmd == RD_CMD_ROLLBACK || cmd == RD_CMD_PROMOTE || cmd == RD_CMD_RESUME;
    rd_rollout_row row = {0};
    const char *state = "unknown";
    if (rd_rollout_get(x->s, x->param, &row, &err) == RD_OK)
        state = rd_rollout_state_name(row.state);
    rd_buf *b = x->r->out;
    rd_buf_putc(b, '{');
    put_str(b, "flag", x->param, true);
    put_str(b, "command", name, false);
    put_str(b, "state", state, false);
    rd_buf_putc(b, '}');
    rd_rollout_row_free(&row);
    return 0;
}

static int rollout_pause(admin_ctx *x) { return rollout_cmd(x, RD_CMD_PAUSE, "pause"); }
static int rollout_resume(admin_ctx *x) { return rollout_cmd(x, RD_CMD_RESUME, "resume"); }
static int rollout_rollback(admin_ctx *x) { return rollout_cmd(x, RD_CMD_ROLLBACK, "rollback"); }
static int rollout_promote(admin_ctx *x) { return rollout_cmd(x, RD_CMD_PROMOTE, "promote"); }

typedef struct transitions_ctx {
    rd_buf *b;
    size_t n;
} transitions_ctx;

static int transition_one(void *ud, const rd_transition *t)
{
    transitions_ctx *c = ud;
    if (c->n++)
        rd_buf_putc(c->b, ',');
    rd_transition_json(t, c->b);
    return c->b->oom ? 1 : 0;
}

/* GET /v1/admin/rollouts/{flag}/transitions?limit=N: newest first, each with the gates that
 * decided it (which gate failed, with its value and threshold). */
static int rollout_transitions(admin_ctx *x)
{
    static const char *const names[] = {"limit"};
    const char *p[1];
    int64_t limit = DEFAULT_LIMIT;
    if (params(x, names, 1, p) || int_param(x, p[0], "limit", 1, MAX_LIMIT, &limit))
        return -1;
    rd_rollout_row row = {0};
    rd_err err;
    int rc = rd_rollout_get(x->s, x->param, &row, &err);
    rd_rollout_row_free(&row);
    if (rc)
        return lib_fail(x, rc, &err);
    transitions_ctx c = {x->r->out, 0};
    rd_buf_puts(c.b, "{\"flag\":");
    rd_json_write_string(c.b, x->param, strlen(x->param));
    rd_buf_puts(c.b, ",\"transitions\":[");
    if ((rc = rd_transition_list(x->s, x->param, (size_t)limit, transition_one, &c, &err)) < 0) {
        rd_buf_reset(c.b);
        return lib_fail(x, rc, &err);
    }
    rd_buf_puts(c.b, "]}");
    if (c.b->oom)
        return fail(x, 503, "OUT_OF_MEMORY", "the transitions could not be held in memory");
    return 0;
}

/* ------------------------------------------------------------------ what this node serves */

/* GET /v1/admin/flags: the flag set in force on this node, as its document. */
static int flags_show(admin_ctx *x)
{
    const char *p[1];
    if (params(x, NULL, 0, p))
        return -1;
    const srv_snapshot *s = x->r->snap;
    rd_buf *b = x->r->out;
    if (!s->flags_text) {
        rd_buf_puts(b, "{\"id\":null,\"flags\":0,\"document\":null}");
        return 0;
    }
    char etag[68];
    srv_flagset_etag(s, etag);
    rd_buf_puts(b, "{\"id\":");
    rd_json_write_string(b, s->flagset_id, strlen(s->flagset_id));
    put_str(b, "etag", etag, false);
    put_str(b, "sha256", s->flags_sha, false);
    rd_buf_printf(b, ",\"since_ms\":%lld,\"version\":%lld,\"flags\":%zu,\"document\":",
                  (long long)s->flags_since_ms, (long long)s->flags_version, rd_flagset_count(s->flags));
    rd_buf_append(b, s->flags_text->data, s->flags_text->len); /* the file as it serves: JSON */
    rd_buf_putc(b, '}');
    return 0;
}

/* GET /v1/admin/bundles: the bundles loaded, with their breakers and what their manifests say. */
static int bundles_list(admin_ctx *x)
{
    const char *p[1];
    if (params(x, NULL, 0, p))
        return -1;
    srv_bundles_json(x->r->out, x->r->snap->dec, true);
    return 0;
}

/* GET /v1/admin/monitor: /v1/monitor's statistics with each series' rates over time. */
static int monitor_show(admin_ctx *x)
{
    const char *p[1];
    if (params(x, NULL, 0, p))
        return -1;
    srv_monitor_json(x->r, true);
    return x->r->status >= 400 ? -1 : 0;
}

/* GET /v1/admin/node: this node's version, uptime, snapshot, TLS and decision log. */
static int node_show(admin_ctx *x)
{
    const char *p[1];
    if (params(x, NULL, 0, p))
        return -1;
    const srv_config *cfg = x->r->cfg;
    rd_buf *b = x->r->out;
    double up = srv_uptime_s();
    rd_buf_putc(b, '{');
    put_str(b, "node", cfg->node, true);
    put_str(b, "version", rd_version(), false);
    rd_buf_printf(b, ",\"started_ms\":%lld,\"uptime_s\":%.0f,\"generation\":%llu,\"tls\":%s",
                  (long long)(x->now - (int64_t)(up * 1000)), up, (unsigned long long)x->r->snap->generation,
                  cfg->tls_cert[0] ? "true" : "false");
    rd_buf_puts(b, ",\"log\":");
    if (x->r->dlog) {
        rd_dlog_stats st;
        rd_dlog_get_stats(x->r->dlog, &st);
        rd_buf_printf(
            b,
            "{\"submitted\":%llu,\"committed\":%llu,\"failed\":%llu,\"queued\":%zu,\"commits\":%llu,"
            "\"spooled\":%llu,\"spool_records\":%llu,\"store_down\":%s}",
            (unsigned long long)st.submitted, (unsigned long long)st.committed, (unsigned long long)st.failed,
            st.queued, (unsigned long long)st.commits, (unsigned long long)st.spooled,
            (unsigned long long)st.spool_records, st.store_down ? "true" : "false");
    } else {
        rd_buf_puts(b, "null");
    }
    srv_rollouts_ready_json(b);
    srv_notify_ready_json(b);
    srv_cluster_ready_json(b, x->r->snap);
    rd_buf_putc(b, '}');
    return 0;
}

/* ------------------------------------------------------------------ decisions */

typedef struct decisions_ctx {
    rd_buf *b;
    size_t n, limit;
    int64_t first_ms, first_id; /* the first row's (the audit entry's span) */
    int64_t last_ms, last_id;   /* the last row's: the next page's cursor */
} decisions_ctx;

static int decision_one(void *ud, const rd_log_row *row)
{
    decisions_ctx *c = ud;
    if (c->n == c->limit)
        return 1; /* enough: stop the scan */
    if (c->n++)
        rd_buf_putc(c->b, ',');
    rd_buf_append(c->b, row->record, row->record_len);
    if (c->n == 1) {
        c->first_ms = row->ts_ms;
        c->first_id = row->id;
    }
    c->last_ms = row->ts_ms;
    c->last_id = row->id;
    return c->b->oom ? -1 : 0;
}

/* A page cursor, "MS.ID" (the last row's decision time and log id): digits only. */
static int cursor_param(admin_ctx *x, const char *s, int64_t *ms, int64_t *id)
{
    const char *dot = s ? strchr(s, '.') : NULL;
    bool ok = dot && dot > s && dot[1] && strspn(s, "0123456789") == (size_t)(dot - s) &&
              strspn(dot + 1, "0123456789") == strlen(dot + 1) && dot - s <= 15 && strlen(dot + 1) <= 18;
    if (ok) {
        *ms = strtoll(s, NULL, 10);
        *id = strtoll(dot + 1, NULL, 10);
        ok = *id > 0;
    }
    if (!ok)
        return fail(x, 400, "INVALID_ARGUMENT",
                    "before: expected the cursor a page answered (\"next\": MS.ID, digits), got \"%.40s\"",
                    s ? s : "");
    return 0;
}

/* Who read which decisions, never what they hold: the audit entry of a read or a replay. */
/* What a read covered, for its audit entry: a newest-first page says which rows it sent (its
 * first and last row's time and id, the cursor it started from), so an auditor can find them. */
typedef struct read_span {
    const char *before; /* the cursor sent, NULL for none */
    int64_t first_ms, first_id, last_ms, last_id;
    bool newest;
} read_span;

static int audit_read(admin_ctx *x, const char *action, size_t count, int64_t from, int64_t to,
                      const char *request_id, const read_span *sp)
{
    rd_buf d;
    rd_buf_init(&d);
    rd_buf_putc(&d, '{'); /* the members in key order */
    if (sp && sp->before) {
        rd_buf_puts(&d, "\"before\":");
        rd_json_write_string(&d, sp->before, strlen(sp->before));
        rd_buf_putc(&d, ',');
    }
    rd_buf_printf(&d, "\"count\":%zu", count);
    if (sp && count)
        rd_buf_printf(&d, ",\"first\":\"%lld.%lld\"", (long long)sp->first_ms, (long long)sp->first_id);
    rd_buf_printf(&d, ",\"from_ms\":%lld", (long long)from);
    if (sp && count)
        rd_buf_printf(&d, ",\"last\":\"%lld.%lld\"", (long long)sp->last_ms, (long long)sp->last_id);
    if (sp)
        rd_buf_printf(&d, ",\"order\":\"%s\"", sp->newest ? "newest" : "log");
    if (request_id) {
        rd_buf_puts(&d, ",\"request_id\":");
        rd_json_write_string(&d, request_id, strlen(request_id));
    }
    rd_buf_printf(&d, ",\"to_ms\":%lld}", (long long)to);
    rd_audit_entry e = {.ts_ms = x->now,
                        .actor = rd_principal_name(&x->r->who),
                        .action = action,
                        .object = "decisions",
                        .detail_json = rd_buf_cstr(&d)};
    rd_err err;
    int rc = d.oom ? RD_ENOMEM : rd_audit_append(x->s, &e, NULL, &err);
    rd_buf_deinit(&d);
    if (rc) {
        rd_buf_reset(x->r->out);
        return lib_fail(x, rc, &err); /* not answered when it cannot be recorded */
    }
    return 0;
}

/* GET /v1/admin/decisions: by request id or a time range, in log order (an array); or with
 * order=newest, newest first in pages ({"decisions": [...], "next": cursor or null}), the
 * latest of the whole log when nothing narrows it. */
static int decisions_read(admin_ctx *x)
{
    static const char *const names[] = {"request_id", "from", "to", "limit", "order", "before"};
    const char *p[6];
    int64_t from = 0, to = 0, limit = DEFAULT_LIMIT, before_ms = 0, before_id = 0;
    if (params(x, names, 6, p) || int_param(x, p[1], "from", 0, INT64_C(999999999999999), &from) ||
        int_param(x, p[2], "to", 0, INT64_C(999999999999999), &to) ||
        int_param(x, p[3], "limit", 1, MAX_LIMIT, &limit))
        return -1;
    if (p[4] && strcmp(p[4], "newest") && strcmp(p[4], "log"))
        return fail(x, 400, "INVALID_ARGUMENT", "order: expected newest or log, got \"%.40s\"", p[4]);
    bool newest = p[4] && !strcmp(p[4], "newest");
    if (p[5] && !newest)
        return fail(x, 400, "INVALID_ARGUMENT", "before is a page cursor of order=newest");
    if (p[5] && cursor_param(x, p[5], &before_ms, &before_id))
        return -1;
    if (!newest && !p[0] && !from && !to)
        return fail(x, 400, "INVALID_ARGUMENT",
                    "name the decisions: request_id=ID, or a time range from=MS&to=MS (unix milliseconds), "
                    "or order=newest for the latest");
    if (from && to && from >= to)
        return fail(x, 400, "INVALID_ARGUMENT", "from must come before to: the range holds no time");
    rd_log_filter f = {.from_ms = from,
                       .to_ms = to,
                       .request_id = p[0] && *p[0] ? p[0] : NULL,
                       .newest_first = newest,
                       .before_ms = before_ms,
                       .before_id = before_id,
                       .limit = newest ? (size_t)limit + 1 : 0}; /* one more: is there a next page */
    decisions_ctx c = {x->r->out, 0, (size_t)limit, 0, 0, 0, 0};
    rd_err err;
    rd_buf_puts(c.b, newest ? "{\"decisions\":[" : "[");
    int rc = rd_store_log_scan(x->s, &f, decision_one, &c, &err);
    if (rc < 0 && c.b->oom)
        return fail(x, 503, "OUT_OF_MEMORY", "the decisions could not be held in memory");
    if (rc < 0) {
        rd_buf_reset(c.b);
        return lib_fail(x, rc, &err);
    }
    rd_buf_putc(c.b, ']');
    if (newest) {
        if (rc == 1) /* stopped at the limit: a row is left */
            rd_buf_printf(c.b, ",\"next\":\"%lld.%lld\"}", (long long)c.last_ms, (long long)c.last_id);
        else
            rd_buf_puts(c.b, ",\"next\":null}");
    }
    read_span sp = {.before = p[5],
                    .first_ms = c.first_ms,
                    .first_id = c.first_id,
                    .last_ms = c.last_ms,
                    .last_id = c.last_id,
                    .newest = newest};
    return audit_read(x, "decisions.read", c.n, from, to, f.request_id, &sp);
}

/* A request's logged rows, copied out of the scan: replaying one reads the log again (a shadow
 * row's primary), which a scan in progress on the same connection cannot share. */
#define REPLAY_MAX_ROWS 64
typedef struct replay_rows {
    rd_arena *arena;
    rd_log_row row[REPLAY_MAX_ROWS];
    size_t n;
    bool oom, truncated; /* more rows than REPLAY_MAX_ROWS: the answer says so, never "identical" */
} replay_rows;

static int replay_keep(void *ud, const rd_log_row *r)
{
    replay_rows *k = ud;
    if (k->n == REPLAY_MAX_ROWS) {
        k->truncated = true;
        return 1;
    }
    rd_log_row *o = &k->row[k->n];
    *o = (rd_log_row){.id = r->id, .ts_ms = r->ts_ms, .label = -1};
    o->request_id = rd_arena_strndup(k->arena, r->request_id, strlen(r->request_id));
    o->kind = rd_arena_strndup(k->arena, r->kind, strlen(r->kind));
    o->model_version =
        r->model_version ? rd_arena_strndup(k->arena, r->model_version, strlen(r->model_version)) : NULL;
    o->record = rd_arena_strndup(k->arena, r->record, r->record_len);
    o->record_len = r->record_len;
    if (!o->request_id || !o->kind || !o->record || (r->model_version && !o->model_version)) {
        k->oom = true;
        return 1;
    }
    k->n++;
    return 0;
}

/* POST /v1/admin/decisions/replay {"request_id"}: each logged row of the request (the primary
 * decision and its shadow scores) re-run from what was kept, as `riskd replay` does:
 * identical, or what differs. Audited as a read. */
static int decisions_replay(admin_ctx *x)
{
    static const char *const names[] = {"request_id"};
    const rd_value *m[1];
    const char *id;
    if (members(x, names, 1, m) || str_member(x, m[0], "request_id", true, &id))
        return -1;
    replay_rows k = {.arena = x->r->arena};
    rd_err err;
    rd_log_filter f = {.request_id = id};
    int rc = rd_store_log_scan(x->s, &f, replay_keep, &k, &err);
    if (k.oom)
        return fail(x, 503, "OUT_OF_MEMORY", "the decisions could not be held in memory");
    if (rc < 0)
        return lib_fail(x, rc, &err);
    if (!k.n)
        return fail(x, 404, "NOT_FOUND", "no decision with request id \"%.80s\" is in the log", id);
    char work[SRV_PATH_MAX + 16];
    snprintf(work, sizeof work, "%s/replay", x->r->cfg->data_dir);
    rd_replay *rp;
    if ((rc = rd_replay_new(x->s, work, &rp, &err)))
        return lib_fail(x, rc, &err);
    rd_buf *b = x->r->out;
    bool all = true;
    rd_buf_puts(b, "{\"request_id\":");
    rd_json_write_string(b, id, strlen(id));
    rd_buf_puts(b, ",\"results\":[");
    for (size_t i = 0; i < k.n; i++) {
        rd_replay_result res;
        rc = rd_replay_one(rp, &k.row[i], &res, &err);
        rd_buf_printf(b, "%s{\"kind\":", i ? "," : "");
        rd_json_write_string(b, k.row[i].kind, strlen(k.row[i].kind));
        rd_buf_puts(b, ",\"model_version\":");
        if (k.row[i].model_version)
            rd_json_write_string(b, k.row[i].model_version, strlen(k.row[i].model_version));
        else
            rd_buf_puts(b, "null");
        if (rc) { /* not a difference: something it needs was not kept, or the record is not one */
            all = false;
            rd_buf_puts(b, ",\"identical\":false,\"error\":{\"code\":");
            rd_json_write_string(b, rd_err_name(rc), strlen(rd_err_name(rc)));
            put_str(b, "message", err.msg, false);
            rd_buf_puts(b, "}}");
            continue;
        }
        all = all && res.identical;
        rd_buf_printf(b, ",\"identical\":%s,\"fallback\":%s", res.identical ? "true" : "false",
                      res.fallback ? "true" : "false");
        put_str(b, "diff", res.diff, false);
        if (res.not_replayable[0])
            put_str(b, "not_replayable", res.not_replayable, false);
        rd_buf_putc(b, '}');
    }
    rd_replay_free(rp);
    rd_buf_printf(b, "],\"identical\":%s,\"truncated\":%s}", all && !k.truncated ? "true" : "false",
                  k.truncated ? "true" : "false");
    if (b->oom)
        return fail(x, 503, "OUT_OF_MEMORY", "the answer could not be held in memory");
    return audit_read(x, "decisions.replay", k.n, 0, 0, id, NULL);
}

/* Erase one applicant's records (the library refuses inside the retention floor). The answer
 * names the applicant by the hash the audit entry uses, never by the key sent. */
static int decisions_erase(admin_ctx *x)
{
    static const char *const names[] = {"targeting_key", "reason"};
    const rd_value *m[2];
    const char *key, *why;
    if (members(x, names, 2, m) || str_member(x, m[0], "targeting_key", true, &key) ||
        str_member(x, m[1], "reason", false, &why))
        return -1;
    rd_dlog_erased out;
    rd_err err;
    int rc = rd_dlog_erase(x->s, &x->r->who, key, x->now, why, &out, &err);
    if (rc)
        return lib_fail(x, rc, &err);
    rd_buf *b = x->r->out;
    rd_buf_printf(b, "{\"erased\":%llu,\"decisions\":%llu,\"shadows\":%llu,\"outcomes\":%llu",
                  (unsigned long long)(out.decisions + out.shadows), (unsigned long long)out.decisions,
                  (unsigned long long)out.shadows, (unsigned long long)out.outcomes);
    put_str(b, "applicant", out.object, false);
    rd_buf_putc(b, '}');
    return 0;
}

/* ------------------------------------------------------------------ the router */

typedef int (*admin_fn)(admin_ctx *x);

static const admin_fn handlers[RD_ACT_COUNT] = {
    [RD_ACT_USERS_LIST] = users_list,
    [RD_ACT_USER_ADD] = user_add,
    [RD_ACT_USER_DISABLE] = user_disable,
    [RD_ACT_TOKEN_ISSUE] = token_issue,
    [RD_ACT_TOKEN_REVOKE] = token_revoke,
    [RD_ACT_SETTINGS_SET] = settings_set,
    [RD_ACT_CHANGES_LIST] = changes_list,
    [RD_ACT_CHANGE_SHOW] = change_show,
    [RD_ACT_CHANGE_PROPOSE] = change_propose,
    [RD_ACT_CHANGE_EDIT] = change_edit,
    [RD_ACT_CHANGE_SUBMIT] = change_submit,
    [RD_ACT_CHANGE_WITHDRAW] = change_withdraw,
    [RD_ACT_CHANGE_APPROVE] = change_approve,
    [RD_ACT_CHANGE_REJECT] = change_reject,
    [RD_ACT_CHANGE_PUBLISH] = change_publish,
    [RD_ACT_VERSIONS_LIST] = versions_list,
    [RD_ACT_ROLLBACK] = rollback,
    [RD_ACT_AUDIT_LIST] = audit_list,
    [RD_ACT_AUDIT_VERIFY] = audit_verify,
    [RD_ACT_ROLLOUTS_STATUS] = rollouts_status,
    [RD_ACT_ROLLOUT_PAUSE] = rollout_pause,
    [RD_ACT_ROLLOUT_RESUME] = rollout_resume,
    [RD_ACT_ROLLOUT_ROLLBACK] = rollout_rollback,
    [RD_ACT_DECISIONS_READ] = decisions_read,
    [RD_ACT_DECISIONS_ERASE] = decisions_erase,
    [RD_ACT_DECISIONS_REPLAY] = decisions_replay,
    [RD_ACT_FLAGS_SHOW] = flags_show,
    [RD_ACT_BUNDLES_LIST] = bundles_list,
    [RD_ACT_NODE_SHOW] = node_show,
    [RD_ACT_ROLLOUT_TRANSITIONS] = rollout_transitions,
    [RD_ACT_ROLLOUT_PROMOTE] = rollout_promote,
    [RD_ACT_MONITOR_SHOW] = monitor_show,
    /* the session actions are session.c's (srv_route_session) */
};

/* The action of method and path, its {x} segment into *param ({NULL, 0}: none); NULL with the
 * 404 or 405 written. */
static const rd_admin_action_def *route(srv_req *r, seg *param)
{
    size_t n;
    const rd_admin_action_def *acts = rd_admin_actions(&n);
    seg req[MAX_SEGMENTS];
    int nreq = split(r->path, req, MAX_SEGMENTS);
    char allow[128] = "";
    size_t at = 0;
    for (size_t i = 0; nreq > 0 && i < n; i++) {
        const seg *p;
        if (!path_matches(&acts[i], req, nreq, &p))
            continue;
        if (!strcmp(acts[i].method, r->method)) {
            *param = p ? *p : (seg){NULL, 0}; /* p points into req, gone with this frame */
            return &acts[i];
        }
        if (!strstr(allow, acts[i].method) && at < sizeof allow)
            at += (size_t)snprintf(allow + at, sizeof allow - at, "%s%s", at ? ", " : "", acts[i].method);
    }
    if (at) {
        char *a = rd_arena_strndup(r->arena, allow, at);
        r->allow = a ? a : "GET";
        srv_reply_error(r, 405, "METHOD_NOT_ALLOWED", "%s %s: allowed: %s", r->method, r->path, allow);
    } else {
        srv_reply_error(r, 404, "NOT_FOUND", "no admin route %s %s (docs/api.md lists them)", r->method,
                        r->path);
    }
    return NULL;
}

/* Who may: the role's permission for the action, and the token's admin scope. */
static bool authorized(srv_req *r, const rd_admin_action_def *def)
{
    const rd_principal *p = &r->who;
    if (!rd_role_allows(p->role, def->action)) {
        srv_reply_error(r, 403, "FORBIDDEN", "%s (%s) may not %s: the role lacks the %s permission", p->user,
                        rd_role_name(p->role), def->name, rd_perm_name(def->perm));
        return false;
    }
    if (!(p->scopes & RD_SCOPE_ADMIN)) {
        char have[64];
        srv_reply_error(r, 403, "FORBIDDEN",
                        "%s may not %s with token %s: the token lacks the admin scope (it has: %s)", p->user,
                        def->name, p->token_id, rd_scopes_format(p->scopes, have, sizeof have));
        return false;
    }
    return true;
}

static void handle(srv_req *r, const rd_admin_action_def *def, const seg *param)
{
    pthread_once(&names_once, names_init);
    admin_ctx x = {.r = r, .def = def, .body = {.type = RD_VOBJECT}, .now = rd_clock_unix_ms()};
    if (param->p && !(x.param = srv_percent_decode(r->arena, param->p, param->n, NULL))) {
        srv_reply_error(r, 503, "OUT_OF_MEMORY", "out of memory");
        return;
    }
    if (r->len) {
        rd_err err;
        if (srv_req_json(r, &x.body, &err) < 0)
            return;
        if (x.body.type != RD_VOBJECT) {
            srv_reply_error(r, 400, "INVALID_ARGUMENT", "the body must be a JSON object, not %s",
                            rd_vtype_name(x.body.type));
            return;
        }
    }
    bool store = def->action != RD_ACT_ROLLOUTS_STATUS;
    if (store && !(x.s = srv_admin_lock())) {
        srv_admin_unlock();
        srv_reply_error(r, 503, "UNAVAILABLE", "the admin store is not open");
        return;
    }
    handlers[def->action](&x);
    if (store)
        srv_admin_unlock();
    if (strcmp(def->method, "GET") != 0 && r->status < 300)
        srv_notify_kick(); /* a change's notification may be in the outbox */
    if (x.reload && r->status < 300) {
        if (x.reload_rollouts)
            srv_rollouts_reload_now(1000);
        srv_reload_now(); /* in force before the answer leaves */
    }
}

/* Who is calling: the bearer token, or, without an Authorization header, the console's session
 * cookie (session.c), whose request must come from this server's pages and, for a change, carry
 * the session's CSRF token, both checked before the store is asked about the token. false with
 * the refusal written. */
static bool authenticated(srv_req *r, const rd_admin_action_def *def)
{
    const char *cookie = r->authorization ? NULL : srv_session_cookie(r);
    if (!cookie)
        return !srv_auth_require(r, 0, true, "the admin API");
    if (srv_session_refused(r, cookie, strcmp(def->method, "GET") != 0))
        return false;
    srv_auth_fail f;
    if (!srv_auth_session(r, cookie, &f))
        return true;
    srv_reply_error(r, f.status, f.code, "%s", f.msg);
    r->retry_after_s = f.retry_after_s;
    return false;
}

/* Admin answers hold applicants' inputs, users and changes, and a browser may now ask for them
 * with a cookie: no cache keeps a copy. */
static const char *const admin_no_store[] = {"Cache-Control", "no-store", NULL};

void srv_route_admin(srv_req *r)
{
    r->headers[1] = admin_no_store;
    seg param = {NULL, 0};
    const rd_admin_action_def *def = route(r, &param);
    if (def && !def->perm) /* the console's sign-in: on the caller's own credentials */
        srv_route_session(r, def->action);
    else if (def && authenticated(r, def) && authorized(r, def))
        handle(r, def, &param);
    srv_metrics_admin(def ? (int)def->action : -1, r->status);
}
