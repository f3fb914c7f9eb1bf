/* The transition spool: DATA_DIR/rollout.spool, one JSON object per line, for the transitions
 * the store could not take (a locked or full database). A rollback must never go unrecorded
 * because the store was briefly unavailable.
 *
 * Invariants: a line is appended whole in one write and fsynced before rd_spool_append returns;
 * when the file does not end in a newline (a writer died mid-line), the next append starts on a
 * new line, so a torn line never swallows a complete one; a torn or unreadable line is dropped
 * by the next drain; a line leaves the file only after the store committed it (drain rewrites
 * the file through a temp file and a rename, so a crash leaves the old or the new file whole);
 * appends and drains are serialised by an flock on DATA_DIR/rollout.spool.lock. Delivery is
 * at least once: a transition the store already holds (a crash between its commit and the
 * rewrite) is recognised and not appended twice. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "riskd/audit.h"
#include "riskd/json.h"
#include "riskd/linespool.h"
#include "riskd/rollout.h"
#include "rollout_int.h"

#define MAX_SPOOL_BYTES (256u << 20)

static void put_str(rd_buf *b, const char *key, const char *v)
{
    rd_buf_printf(b, ",\"%s\":", key);
    rd_json_write_string(b, v, strlen(v));
}

/* The transition as one line (newline included). */
static void encode(rd_buf *b, const rd_transition *t)
{
    rd_buf_printf(b, "{\"v\":1,\"ts_ms\":%lld,\"from_stage\":%d,\"to_stage\":%d", (long long)t->ts_ms,
                  t->from_stage, t->to_stage);
    put_str(b, "flag", t->flag);
    put_str(b, "from_state", t->from_state);
    put_str(b, "to_state", t->to_state);
    put_str(b, "reason", t->reason);
    put_str(b, "detail", t->detail);
    put_str(b, "actor", t->actor);
    put_str(b, "flags_sha", t->flags_sha);
    rd_buf_puts(b, ",\"gates_json\":");
    if (t->gates_json)
        rd_json_write_string(b, t->gates_json, strlen(t->gates_json));
    else
        rd_buf_puts(b, "null");
    rd_buf_puts(b, "}\n");
}

static bool get_text(const rd_value *o, const char *key, char *dst, size_t cap)
{
    const rd_value *v = rd_value_get(o, key, strlen(key));
    if (!v || v->type != RD_VSTRING || v->len >= cap)
        return false;
    memcpy(dst, v->u.s, v->len + 1);
    return true;
}

static bool get_num(const rd_value *o, const char *key, double *out)
{
    const rd_value *v = rd_value_get(o, key, strlen(key));
    if (!v || v->type != RD_VNUMBER)
        return false;
    *out = v->u.n;
    return true;
}

/* A line back into t (gates_json borrowed from arena). */
static bool decode(const char *line, size_t len, rd_arena *arena, rd_transition *t)
{
    rd_value o;
    if (rd_json_parse(line, len, NULL, arena, &o, NULL) != RD_OK || o.type != RD_VOBJECT)
        return false;
    memset(t, 0, sizeof *t);
    double ts, from, to;
    if (!get_num(&o, "ts_ms", &ts) || !get_num(&o, "from_stage", &from) || !get_num(&o, "to_stage", &to) ||
        !get_text(&o, "flag", t->flag, sizeof t->flag) ||
        !get_text(&o, "from_state", t->from_state, sizeof t->from_state) ||
        !get_text(&o, "to_state", t->to_state, sizeof t->to_state) ||
        !get_text(&o, "reason", t->reason, sizeof t->reason) ||
        !get_text(&o, "detail", t->detail, sizeof t->detail) ||
        !get_text(&o, "actor", t->actor, sizeof t->actor) ||
        !get_text(&o, "flags_sha", t->flags_sha, sizeof t->flags_sha))
        return false;
    t->ts_ms = (int64_t)ts;
    t->from_stage = (int)from;
    t->to_stage = (int)to;
    const rd_value *g = rd_value_get(&o, "gates_json", 10);
    t->gates_json = g && g->type == RD_VSTRING ? g->u.s : NULL;
    return true;
}

int rd_spool_append(const char *data_dir, const rd_transition *t, rd_err *err)
{
    rd_buf line;
    rd_buf_init(&line);
    encode(&line, t);
    char path[PATH_MAX];
    snprintf(path, sizeof path, "%s/rollout.spool", data_dir);
    /* encode ends the line; the spool adds its own newline */
    int rc = line.oom ? rd_err_set(err, RD_ENOMEM, "out of memory")
                      : rd_linespool_append(path, line.data, line.len - 1, 0, err);
    rd_buf_deinit(&line);
    return rc;
}

size_t rd_spool_pending(const char *data_dir)
{
    char path[PATH_MAX];
    snprintf(path, sizeof path, "%s/rollout.spool", data_dir);
    return rd_linespool_count(path, MAX_SPOOL_BYTES);
}

typedef struct seen_ctx {
    const rd_transition *t;
    bool found;
} seen_ctx;

static int same_transition(void *ud, const rd_transition *o)
{
    seen_ctx *c = ud;
    const rd_transition *t = c->t;
    if (o->ts_ms == t->ts_ms && o->from_stage == t->from_stage && o->to_stage == t->to_stage &&
        !strcmp(o->from_state, t->from_state) && !strcmp(o->to_state, t->to_state) &&
        !strcmp(o->reason, t->reason) && !strcmp(o->actor, t->actor) && !strcmp(o->detail, t->detail))
        c->found = true;
    return c->found;
}

/* Whether the store already holds t (committed before a crash cut the spool's rewrite). */
static bool already_stored(rd_store *s, const rd_transition *t)
{
    seen_ctx c = {.t = t};
    rd_transition_list(s, t->flag, 64, same_transition, &c, NULL);
    return c.found;
}

/* A transition into the store with its audit entry, in one transaction: every stage change,
 * the controller's automatic rollbacks included, is on the audit chain (and one that waited
 * in the spool gets its entry when it is drained, with its own time). */
static int transition_store(rd_store *s, const rd_transition *t, rd_err *err)
{
    int rc = rd_store_begin(s, err);
    if (rc)
        return rc;
    rc = rd_transition_append(s, t, err);
    rd_buf d;
    rd_buf_init(&d);
    rd_buf_printf(&d, "{\"flag\":");
    rd_json_write_string(&d, t->flag, strlen(t->flag));
    rd_buf_printf(&d,
                  ",\"from_stage\":%d,\"to_stage\":%d,\"from_state\":\"%s\",\"to_state\":\"%s\",\"detail\":",
                  t->from_stage, t->to_stage, t->from_state, t->to_state);
    rd_json_write_string(&d, t->detail, strlen(t->detail));
    rd_buf_putc(&d, '}');
    char action[96], object[300];
    snprintf(action, sizeof action, "rollout.%s", t->reason);
    snprintf(object, sizeof object, "rollout/%s", t->flag);
    rd_audit_entry e = {.ts_ms = t->ts_ms,
                        .actor = t->actor,
                        .action = action,
                        .object = object,
                        .after_sha256 = t->flags_sha,
                        .detail_json = rd_buf_cstr(&d)};
    if (!rc)
        rc = d.oom ? rd_err_set(err, RD_ENOMEM, "out of memory") : rd_audit_append(s, &e, NULL, err);
    rd_buf_deinit(&d);
    if (!rc) /* the notification is written with the transition, or neither is */
        rc = rd__rollout_notify(s, t, err);
    if (!rc)
        return rd_store_commit(s, err);
    rd_store_rollback(s);
    return rc;
}

int rd_spool_drain(const char *data_dir, rd_store *s, size_t *drained, rd_err *err)
{
    *drained = 0;
    char path[PATH_MAX];
    snprintf(path, sizeof path, "%s/rollout.spool", data_dir);
    int lfd = rd_linespool_lock(path, err);
    if (lfd < 0)
        return RD_EIO;
    char *text = NULL;
    size_t len = 0;
    int rc = RD_OK, store_rc = RD_OK;
    if (access(path, F_OK) != 0) {
        rd_linespool_unlock(lfd);
        return RD_OK;
    }
    if ((rc = rd_file_read(path, MAX_SPOOL_BYTES, &text, &len, err)) != RD_OK) {
        rd_linespool_unlock(lfd);
        return rc;
    }
    rd_buf rest;
    rd_buf_init(&rest);
    rd_arena arena;
    rd_arena_init(&arena, 0);
    rd_err serr = {0};
    bool changed = false;
    for (size_t start = 0; start < len;) {
        const char *nl = memchr(text + start, '\n', len - start);
        if (!nl) { /* a torn last line: its writer died before the newline */
            changed = true;
            break;
        }
        size_t end = (size_t)(nl - text), n = end - start;
        rd_transition t;
        bool keep = store_rc != RD_OK; /* after a failed commit, every line stays, in order */
        if (!keep && (n == 0 || !decode(text + start, n, &arena, &t))) {
            changed = true; /* an empty or torn line: dropped */
        } else if (!keep) {
            if (already_stored(s, &t) || (store_rc = transition_store(s, &t, &serr)) == RD_OK) {
                (*drained)++;
                changed = true;
            }
            keep = store_rc != RD_OK;
        }
        if (keep)
            rd_buf_append(&rest, text + start, n + 1);
        rd_arena_reset(&arena);
        start = end + 1;
    }
    if (rest.oom)
        rc = rd_err_set(err, RD_ENOMEM, "out of memory");
    else if (changed)
        rc = rd_linespool_rewrite(path, rest.data, rest.len, err);
    if (rc == RD_OK && store_rc != RD_OK)
        rc = rd_err_set(err, store_rc, "%s: %zu transitions left in the spool: %s", path,
                        rd_spool_pending(data_dir), serr.msg);
    rd_arena_deinit(&arena);
    rd_buf_deinit(&rest);
    rd_free(text);
    rd_linespool_unlock(lfd);
    return rc;
}

int rd_transition_record(rd_store *s, const char *data_dir, const rd_transition *t, rd_err *err)
{
    rd_err serr = {0}, perr = {0};
    int rc = RD_EUNAVAILABLE;
    if (s) {
        size_t drained;
        /* what is spooled goes first, so the store keeps the order */
        if (data_dir && rd_spool_pending(data_dir) > 0)
            rc = rd_spool_drain(data_dir, s, &drained, &serr);
        if (!data_dir || rd_spool_pending(data_dir) == 0)
            rc = transition_store(s, t, &serr);
        if (rc == RD_OK)
            return RD_OK;
    } else {
        snprintf(serr.msg, sizeof serr.msg, "no store");
    }
    if (!data_dir)
        return rd_err_set(err, rc, "rollout transition of \"%s\" not recorded: %s", t->flag, serr.msg);
    int prc = rd_spool_append(data_dir, t, &perr);
    if (prc == RD_OK)
        return RD_OK;
    return rd_err_set(err, prc, "rollout transition of \"%s\" not recorded: store: %s; spool: %s", t->flag,
                      serr.msg, perr.msg);
}

void rd_transition_json(const rd_transition *t, rd_buf *b)
{
    rd_buf_printf(
        b,
        "{\"ts_ms\":%lld,\"from_stage\":%d,\"to_stage\":%d,\"from_state\":\"%s\",\"to_state\":\"%s\","
        "\"reason\":",
        (long long)t->ts_ms, t->from_stage, t->to_stage, t->from_state, t->to_state);
    rd_json_write_string(b, t->reason, strlen(t->reason));
    rd_buf_puts(b, ",\"detail\":");
    rd_json_write_string(b, t->detail, strlen(t->detail));
    rd_buf_puts(b, ",\"actor\":");
    rd_json_write_string(b, t->actor, strlen(t->actor));
    rd_buf_puts(b, ",\"gates\":");
    rd_buf_puts(b, t->gates_json && *t->gates_json ? t->gates_json : "null");
    rd_buf_putc(b, '}');
}
