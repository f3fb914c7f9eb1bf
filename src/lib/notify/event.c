/* Events: the envelope every sink's payload is made from, its identity (a UUIDv7: time-ordered,
 * the idempotency key of every delivery), the scrubbing of people's free text, and the outbox
 * write that joins the caller's store transaction. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "outbox_int.h"
#include "riskd/clock.h"
#include "riskd/json.h"
#include "riskd/notify.h"

#define SUMMARY_CAP      300
#define ENVELOPE_VERSION 1
#define MAX_EVENT_BYTES  (64 * 1024)

/* ------------------------------------------------------------------ identity */

/* RFC 9562 UUIDv7: 48 bits of unix milliseconds, version 7, 74 random bits, variant 10. */
static int uuid7(int64_t ts_ms, uint8_t u[16], rd_err *err)
{
    int rc = rd_random_bytes(u + 6, 10, err);
    if (rc)
        return rc;
    for (int i = 0; i < 6; i++)
        u[i] = (uint8_t)((uint64_t)ts_ms >> (40 - 8 * i));
    u[6] = (uint8_t)((u[6] & 0x0f) | 0x70);
    u[8] = (uint8_t)((u[8] & 0x3f) | 0x80);
    return RD_OK;
}

void rd__notify_uuid_text(const uint8_t u[16], char out[37])
{
    static const char hex[] = "0123456789abcdef";
    size_t o = 0;
    for (int i = 0; i < 16; i++) {
        if (i == 4 || i == 6 || i == 8 || i == 10)
            out[o++] = '-';
        out[o++] = hex[u[i] >> 4];
        out[o++] = hex[u[i] & 15];
    }
    out[o] = 0;
}

static bool is_zero(const uint8_t *u, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (u[i])
            return false;
    return true;
}

/* Whether s is a UUID in canonical lowercase form (what the outbox's uid holds). */
bool rd__notify_uuid_valid(const char *s, size_t n)
{
    if (n != 36)
        return false;
    for (size_t i = 0; i < 36; i++) {
        bool dash = i == 8 || i == 13 || i == 18 || i == 23;
        if (dash ? s[i] != '-' : !((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
            return false;
    }
    return true;
}

/* ------------------------------------------------------------------ scrubbing */

/* The length of the token ("rdk_" + 12 hex + "_" + its secret) that starts at p, or 0: the
 * form auth.h issues, found wherever people paste one. */
static size_t token_at(const char *p, size_t left)
{
    if (left < 17 || memcmp(p, "rdk_", 4) != 0)
        return 0;
    size_t i = 4;
    while (i < 16 && ((p[i] >= '0' && p[i] <= '9') || ((p[i] | 0x20) >= 'a' && (p[i] | 0x20) <= 'f')))
        i++;
    if (i != 16 || p[i] != '_')
        return 0;
    for (i++; i < left; i++) {
        char c = p[i];
        if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '-' ||
              c == '_'))
            break;
    }
    return i;
}

/* Bytes of s that fit in cap without cutting a UTF-8 sequence. */
static size_t utf8_fit(const char *s, size_t n, size_t cap)
{
    if (n <= cap)
        return n;
    size_t k = cap;
    while (k > 0 && ((unsigned char)s[k] & 0xc0) == 0x80)
        k--;
    return k;
}

void rd_notify_scrub(const char *in, size_t cap, rd_buf *out)
{
    rd_buf t;
    rd_buf_init(&t);
    size_t n = in ? strlen(in) : 0;
    for (size_t i = 0; i < n;) {
        size_t tok = token_at(in + i, n - i);
        if (tok) {
            rd_buf_puts(&t, "rdk_\xe2\x80\xa6(redacted)");
            i += tok;
            continue;
        }
        unsigned char c = (unsigned char)in[i++];
        if (c == '\t' || c == '\n' || c == '\r')
            rd_buf_putc(&t, ' ');
        else if (c >= 0x20 && c != 0x7f)
            rd_buf_putc(&t, (char)c);
    }
    if (cap && t.len > cap) {
        size_t keep = utf8_fit(t.data, t.len, cap >= 3 ? cap - 3 : 0);
        rd_buf_append(out, t.data, keep);
        rd_buf_puts(out, "\xe2\x80\xa6");
    } else if (t.len) {
        rd_buf_append(out, t.data, t.len);
    }
    rd_buf_deinit(&t);
}

/* ------------------------------------------------------------------ the envelope */

static void put_str(rd_buf *b, const char *key, const char *v)
{
    rd_buf_printf(b, ",\"%s\":", key);
    rd_json_write_string(b, v, strlen(v));
}

static int put_data(rd_buf *b, const char *data_json, rd_err *err)
{
    if (!data_json) {
        rd_buf_puts(b, ",\"data\":{}");
        return RD_OK;
    }
    rd_arena a;
    rd_arena_init(&a, 0);
    rd_value v;
    rd_json_limits lim = {.max_bytes = MAX_EVENT_BYTES};
    int rc = rd_json_parse(data_json, strlen(data_json), &lim, &a, &v, err);
    if (!rc && v.type != RD_VOBJECT)
        rc = rd_err_set(err, RD_EINVAL, "an event's data must be a JSON object, not %s",
                        rd_vtype_name(v.type));
    if (!rc) {
        rd_buf_puts(b, ",\"data\":");
        rd_json_write(b, &v);
    }
    rd_arena_deinit(&a);
    return rc;
}

static int check_event(const rd_notify_event *e, rd_err *err)
{
    if (!e->type || !rd_notify_type_known(e->type))
        return rd_err_set(err, RD_EINVAL, "unknown event type \"%s\"", e->type ? e->type : "");
    if (!e->node || !*e->node)
        return rd_err_set(err, RD_EINVAL, "event %s: no node", e->type);
    if (!e->object_kind || !e->object_id)
        return rd_err_set(err, RD_EINVAL, "event %s: no object", e->type);
    bool alarm = rd_notify_type_alarm(e->type);
    if (alarm && (!e->alert_key || !e->alert_state ||
                  (strcmp(e->alert_state, "firing") != 0 && strcmp(e->alert_state, "resolved") != 0)))
        return rd_err_set(err, RD_EINVAL,
                          "event %s: an alarm needs an alert key and state firing or resolved", e->type);
    return RD_OK;
}

/* The envelope with a given identity and time (e->uid and e->ts_ms resolved). */
static int envelope(const rd_notify_event *e, const uint8_t uid[16], int64_t ts_ms, rd_buf *out, rd_err *err)
{
    int rc = check_event(e, err);
    if (rc)
        return rc;
    char id[37], when[32];
    rd__notify_uuid_text(uid, id);
    if (!rd_time_text(ts_ms, when))
        return rd_err_set(err, RD_EINVAL, "event %s: time %lld outside 1970..9999", e->type,
                          (long long)ts_ms);
    rd_buf_printf(out, "{\"id\":\"%s\"", id);
    put_str(out, "type", e->type);
    rd_buf_printf(out, ",\"version\":%d,\"time\":\"%s\"", ENVELOPE_VERSION, when);
    put_str(out, "node", e->node);
    if (e->actor && *e->actor)
        put_str(out, "actor", e->actor);
    rd_buf_puts(out, ",\"object\":{\"kind\":");
    rd_json_write_string(out, e->object_kind, strlen(e->object_kind));
    put_str(out, "id", e->object_id);
    rd_buf_putc(out, '}');
    rd_buf s;
    rd_buf_init(&s);
    rd_notify_scrub(e->summary ? e->summary : e->type, SUMMARY_CAP, &s);
    put_str(out, "summary", rd_buf_cstr(&s));
    rd_buf_deinit(&s);
    if (rd_notify_type_alarm(e->type)) {
        rd_buf_puts(out, ",\"alert\":{\"key\":");
        rd_json_write_string(out, e->alert_key, strlen(e->alert_key));
        put_str(out, "state", e->alert_state);
        rd_buf_putc(out, '}');
    }
    if ((rc = put_data(out, e->data_json, err)))
        return rc;
    rd_buf_putc(out, '}');
    if (out->oom)
        return rd_err_set(err, RD_ENOMEM, "out of memory");
    if (out->len > MAX_EVENT_BYTES)
        return rd_err_set(err, RD_ELIMIT, "event %s: %zu bytes, over the limit of %d", e->type, out->len,
                          MAX_EVENT_BYTES);
    return RD_OK;
}

static int resolve(const rd_notify_event *e, uint8_t uid[16], int64_t *ts_ms, rd_err *err)
{
    *ts_ms = e->ts_ms ? e->ts_ms : rd_clock_unix_ms();
    if (!is_zero(e->uid, 16)) {
        memcpy(uid, e->uid, 16);
        return RD_OK;
    }
    return uuid7(*ts_ms, uid, err);
}

int rd_notify_event_json(const rd_notify_event *e, rd_buf *out, rd_err *err)
{
    uint8_t uid[16];
    int64_t ts;
    int rc = resolve(e, uid, &ts, err);
    return rc ? rc : envelope(e, uid, ts, out, err);
}

/* ------------------------------------------------------------------ the outbox */

static int append_row(rd_store *s, const char *uid, int64_t ts_ms, const char *type, const char *node,
                      const char *object, const char *body, size_t len, bool *added, rd_err *err)
{
    rd_notify_row r = {.ts_ms = ts_ms,
                       .stored_ms = rd_clock_unix_ms(),
                       .type = type,
                       .node = node,
                       .object = object,
                       .body = body,
                       .body_len = len};
    snprintf(r.uid, sizeof r.uid, "%s", uid);
    int rc = rd_store_outbox_append(s, &r, added, err);
    /* wake the delivering node at commit (PostgreSQL: every node hears it) */
    return rc ? rc : rd_store_notify(s, "notify", err);
}

int rd_notify_enqueue(rd_store *s, const rd_notify_event *e, rd_err *err)
{
    rd_notify_event ev = *e;
    if (!ev.node)
        ev.node = rd_store_node(s);
    uint8_t uid[16];
    int64_t ts;
    int rc = resolve(&ev, uid, &ts, err);
    rd_buf b;
    rd_buf_init(&b);
    if (!rc)
        rc = envelope(&ev, uid, ts, &b, err);
    if (!rc) {
        char id[37], object[320];
        rd__notify_uuid_text(uid, id);
        snprintf(object, sizeof object, "%s/%s", ev.object_kind, ev.object_id);
        rc = append_row(s, id, ts, ev.type, ev.node, object, b.data, b.len, NULL, err);
    }
    rd_buf_deinit(&b);
    if (rc)
        rd_err_prefix(err, "notification %s", e->type ? e->type : "");
    return rc;
}

static const rd_value *member(const rd_value *o, const char *key, rd_vtype t)
{
    const rd_value *v = rd_value_get(o, key, strlen(key));
    return v && v->type == t ? v : NULL;
}

int rd__notify_envelope_read(const char *json, size_t len, rd_arena *a, rd_notify_envelope *out, rd_err *err)
{
    rd_value v;
    rd_json_limits lim = {.max_bytes = MAX_EVENT_BYTES};
    int rc = rd_json_parse(json, len, &lim, a, &v, err);
    if (rc)
        return rc;
    memset(out, 0, sizeof *out);
    out->root = v;
    const rd_value *id = member(&v, "id", RD_VSTRING), *type = member(&v, "type", RD_VSTRING),
                   *time = member(&v, "time", RD_VSTRING), *node = member(&v, "node", RD_VSTRING),
                   *obj = member(&v, "object", RD_VOBJECT);
    const rd_value *ok = obj ? member(obj, "kind", RD_VSTRING) : NULL,
                   *oi = obj ? member(obj, "id", RD_VSTRING) : NULL;
    if (v.type != RD_VOBJECT || !id || !type || !time || !node || !ok || !oi)
        return rd_err_set(err, RD_EINVAL, "not an event envelope (id, type, time, node, object)");
    if (!rd__notify_uuid_valid(id->u.s, id->len))
        return rd_err_set(err, RD_EINVAL, "event id \"%.40s\": not a UUID", id->u.s);
    if (!rd_notify_type_known(type->u.s))
        return rd_err_set(err, RD_EINVAL, "unknown event type \"%.60s\"", type->u.s);
    if (!rd_time_parse(time->u.s, time->len, &out->ts_ms))
        return rd_err_set(err, RD_EINVAL, "event time \"%.40s\": not RFC 3339 UTC with milliseconds",
                          time->u.s);
    out->id = id->u.s;
    out->type = type->u.s;
    out->node = node->u.s;
    out->object_kind = ok->u.s;
    out->object_id = oi->u.s;
    const rd_value *data = member(&v, "data", RD_VOBJECT);
    const rd_value *ck = data ? member(data, "change_kind", RD_VSTRING) : NULL;
    out->change_kind = ck ? ck->u.s : NULL;
    return RD_OK;
}

int rd_notify_enqueue_json(rd_store *s, const char *json, size_t len, bool *added, rd_err *err)
{
    rd_arena a;
    rd_arena_init(&a, 0);
    rd_notify_envelope e;
    int rc = rd__notify_envelope_read(json, len, &a, &e, err);
    if (!rc) {
        char object[320];
        snprintf(object, sizeof object, "%s/%s", e.object_kind, e.object_id);
        rc = append_row(s, e.id, e.ts_ms, e.type, e.node, object, json, len, added, err);
    }
    rd_arena_deinit(&a);
    return rc;
}
