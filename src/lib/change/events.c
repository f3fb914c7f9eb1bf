/* The notifications of change requests (notify.h): proposed, revised, approved, rejected,
 * withdrawn, published and rolled back, each written into the outbox in the transaction that
 * records the event itself. What a notification carries is what an approver needs to act (who,
 * what kind, which target, how many approvals): never the payload, a token or its id. */
#include <stdio.h>
#include <string.h>

#include "change_int.h"
#include "riskd/json.h"
#include "riskd/notify.h"

static const struct {
    const char *event, *type, *verb;
} kEvents[] = {
    {"propose", "change.proposed", "proposed"},   {"submit", "change.proposed", "proposed"},
    {"edit", "change.revised", "revised"},        {"approve", "change.approved", "approved"},
    {"reject", "change.rejected", "rejected"},    {"withdraw", "change.withdrawn", "withdrew"},
    {"publish", "change.published", "published"},
};

static void put_str(rd_buf *b, const char *key, const char *v)
{
    rd_buf_printf(b, ",\"%s\":", key);
    rd_json_write_string(b, v, strlen(v));
}

static void put_text(rd_buf *b, const char *key, const char *v, size_t cap)
{
    rd_buf t;
    rd_buf_init(&t);
    rd_notify_scrub(v, cap, &t);
    rd_buf_printf(b, ",\"%s\":", key);
    rd_json_write_string(b, t.len ? t.data : "", t.len);
    rd_buf_deinit(&t);
}

/* The target as people read it: the flag set kept in the store, a file, a bundle name. */
static const char *target_words(const rd_change_row *r)
{
    return rd_change_target_in_store(r->target) ? "the store" : r->target;
}

static void summary(rd_buf *b, const rd_change_row *r, const char *actor, const char *verb, const char *event,
                    size_t approvals, int need)
{
    rd_buf_printf(b, "%s %s change %lld (%s, %s", actor, verb, (long long)r->id, r->kind, target_words(r));
    rd_buf_printf(b, ", revision %lld)", (long long)r->revision);
    if (!strcmp(event, "propose") || !strcmp(event, "submit") || !strcmp(event, "edit"))
        rd_buf_printf(b, ": %s; needs %d approval%s", r->title, need, need == 1 ? "" : "s");
    else if (!strcmp(event, "approve"))
        rd_buf_printf(b, ": %zu of %d approval%s%s", approvals, need, need == 1 ? "" : "s",
                      !strcmp(r->state, "approved") ? ", ready to publish" : "");
    else if (!strcmp(event, "publish"))
        rd_buf_printf(b, " as version %lld", (long long)r->version);
}

int ch_notify(rd_store *s, const rd_change_row *r, const rd_principal *who, const char *event,
              const char *note, int64_t now_ms, rd_err *err)
{
    size_t i = 0, n = sizeof kEvents / sizeof *kEvents;
    while (i < n && strcmp(kEvents[i].event, event) != 0)
        i++;
    if (i == n || !strcmp(r->state, "draft")) /* a draft (or its edits): nobody waits for it yet */
        return RD_OK;
    int need = 0;
    int rc = rd_change_required(s, ch_kind(r), &need, err);
    if (rc)
        return rc;
    size_t approvals = ch_array_len(r->approvals_json);
    const char *actor = rd_principal_name(who);
    rd_buf d, sum;
    rd_buf_init(&d);
    rd_buf_init(&sum);
    rd_buf_printf(&d, "{\"change_kind\":\"%s\"", r->kind);
    put_str(&d, "target", r->target);
    put_text(&d, "title", r->title, 200);
    put_str(&d, "author", r->author);
    rd_buf_printf(&d, ",\"revision\":%lld,\"state\":\"%s\",\"approvals\":%zu,\"approvals_required\":%d",
                  (long long)r->revision, r->state, approvals, need);
    rd_buf_printf(&d, ",\"payload_sha256\":\"%.12s\"", r->payload_sha);
    if (r->version)
        rd_buf_printf(&d, ",\"version\":%lld", (long long)r->version);
    if (note && *note && strcmp(note, r->title) != 0) /* a proposal's note is its title */
        put_text(&d, "note", note, 300);
    rd_buf_putc(&d, '}');
    summary(&sum, r, actor, kEvents[i].verb, event, approvals, need);
    char id[24];
    snprintf(id, sizeof id, "%lld", (long long)r->id);
    rd_notify_event e = {.type = kEvents[i].type,
                         .ts_ms = now_ms,
                         .actor = actor,
                         .object_kind = "change",
                         .object_id = id,
                         .summary = rd_buf_cstr(&sum),
                         .data_json = rd_buf_cstr(&d)};
    rc = d.oom || sum.oom ? rd_err_set(err, RD_ENOMEM, "out of memory") : rd_notify_enqueue(s, &e, err);
    rd_buf_deinit(&d);
    rd_buf_deinit(&sum);
    return rc;
}

int ch_notify_rollback(rd_store *s, const rd_principal *who, const rd_version_row *v, const char *why,
                       rd_err *err)
{
    const char *actor = rd_principal_name(who);
    bool store = rd_change_target_in_store(v->target);
    rd_buf d, sum;
    rd_buf_init(&d);
    rd_buf_init(&sum);
    rd_buf_printf(&d, "{\"change_kind\":\"%s\"", v->kind);
    put_str(&d, "target", v->target);
    rd_buf_printf(&d, ",\"version\":%lld,\"to_sha256\":\"%.12s\",\"replaced_sha256\":\"%.12s\"",
                  (long long)v->version, v->sha, v->replaced_sha);
    if (v->change_id)
        rd_buf_printf(&d, ",\"change_id\":%lld", (long long)v->change_id);
    if (why && *why)
        put_text(&d, "why", why, 300);
    rd_buf_putc(&d, '}');
    rd_buf_printf(&sum, "%s rolled back %s %s: version %lld now serves %.12s", actor, v->kind,
                  store ? "the store" : v->target, (long long)v->version, v->sha[0] ? v->sha : "nothing");
    if (why && *why)
        rd_buf_printf(&sum, " (%s)", why);
    char id[1100];
    if (v->change_id)
        snprintf(id, sizeof id, "%lld", (long long)v->change_id);
    else
        snprintf(id, sizeof id, "%s:%s", v->kind, v->target);
    rd_notify_event e = {.type = "change.rolled_back",
                         .ts_ms = v->ts_ms,
                         .actor = actor,
                         .object_kind = v->change_id ? "change" : "version",
                         .object_id = id,
                         .summary = rd_buf_cstr(&sum),
                         .data_json = rd_buf_cstr(&d)};
    int rc = d.oom || sum.oom ? rd_err_set(err, RD_ENOMEM, "out of memory") : rd_notify_enqueue(s, &e, err);
    rd_buf_deinit(&d);
    rd_buf_deinit(&sum);
    return rc;
}
