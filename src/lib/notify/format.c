/* Payloads: an event envelope (as stored in the outbox) to the HTTP request one sink kind takes
 * (docs/plans/notifications.md §3.2), its signature, and what an answer means (§3.4).
 *
 * Invariants:
 * - Pure functions of the envelope, the sink and the options: the same event gives the same
 *   bytes for every attempt, so a receiver's deduplication by the event id sees one message.
 * - A webhook's body is the envelope itself (byte for byte when there is no console link), and
 *   X-Riskd-Signature is the HMAC of exactly the bytes sent.
 * - Text reaches each chat kind escaped for its markup: Slack's mrkdwn entities (& < >), and for
 *   WeCom the characters of its markdown, tags and mentions (< > [ ] `) turned into their
 *   full-width look-alikes, so a title cannot inject a link, a <font> or an <@userid>.
 * - Alertmanager labels are the alarm's identity only (no event id, no type), identical for the
 *   firing and the resolving event of one alarm: Alertmanager matches a resolve by its labels,
 *   and its deduplication absorbs the at-least-once duplicates.
 * - The URL and the secret appear only in the request itself: never in an error or a reason. */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "notify_int.h"
#include "riskd/clock.h"
#include "riskd/json.h"

#define SLACK_TEXT_MAX 500  /* bytes of summary before escaping (x5 at worst: under Slack's 3000) */
#define WECOM_MAX      4096 /* bytes of WeCom markdown content */
#define HOLD_DEFAULT_S 3600
#define ELLIPSIS       "\xe2\x80\xa6" /* … */
#define WHY_DETAIL_MAX 96

/* ------------------------------------------------------------------ the envelope */

typedef struct str {
    const char *p;
    size_t n;
} str;

typedef struct env {
    rd_value root;
    str id, type, time, node, actor, summary, okind, oid, state;
    const rd_value *data; /* an object, or NULL */
    int64_t time_ms;
    const rd__notify_type_info *info; /* NULL for a type this version does not know */
    bool resolved;
} env;

static str member_str(const rd_value *obj, const char *key)
{
    const rd_value *v = obj ? rd_value_get(obj, key, strlen(key)) : NULL;
    return v && v->type == RD_VSTRING ? (str){v->u.s, v->len} : (str){"", 0};
}

/* Whether every byte of s is in the set, and s has 1..max of them: what goes into a header. */
static bool charset(str s, const char *set, size_t max)
{
    if (!s.n || s.n > max)
        return false;
    for (size_t i = 0; i < s.n; i++)
        if (!s.p[i] || !strchr(set, s.p[i]))
            return false;
    return true;
}

static int read_env(const char *json, size_t len, rd_arena *a, env *e, rd_err *err)
{
    rd_json_limits lim = {.max_bytes = 1 << 20, .max_depth = 32};
    int rc = rd_json_parse(json, len, &lim, a, &e->root, err);
    if (rc) {
        rd_err_prefix(err, "not an event envelope");
        return rc == RD_ENOMEM ? rc : RD_EINVAL;
    }
    if (e->root.type != RD_VOBJECT)
        return rd_err_set(err, RD_EINVAL, "not an event envelope: not a JSON object");
    e->id = member_str(&e->root, "id");
    e->type = member_str(&e->root, "type");
    e->time = member_str(&e->root, "time");
    if (!charset(e->id, "0123456789abcdefABCDEF-", 64))
        return rd_err_set(err, RD_EINVAL, "not an event envelope: no id (a UUID)");
    if (!charset(e->type, "abcdefghijklmnopqrstuvwxyz0123456789._", 64))
        return rd_err_set(err, RD_EINVAL, "not an event envelope: no type");
    if (!rd_time_parse(e->time.p, e->time.n, &e->time_ms))
        return rd_err_set(err, RD_EINVAL, "not an event envelope: no time (RFC 3339 UTC)");
    e->node = member_str(&e->root, "node");
    e->actor = member_str(&e->root, "actor");
    e->summary = member_str(&e->root, "summary");
    const rd_value *obj = rd_value_get(&e->root, "object", 6);
    e->okind = member_str(obj && obj->type == RD_VOBJECT ? obj : NULL, "kind");
    e->oid = member_str(obj && obj->type == RD_VOBJECT ? obj : NULL, "id");
    const rd_value *alert = rd_value_get(&e->root, "alert", 5);
    e->state = member_str(alert && alert->type == RD_VOBJECT ? alert : NULL, "state");
    const rd_value *data = rd_value_get(&e->root, "data", 4);
    e->data = data && data->type == RD_VOBJECT ? data : NULL;
    e->info = rd__notify_type_info_of(e->type.p, e->type.n);
    /* The envelope's alert state decides; a type's own nature when it has none. */
    e->resolved =
        e->state.n ? (e->state.n == 8 && !memcmp(e->state.p, "resolved", 8)) : (e->info && e->info->resolves);
    return RD_OK;
}

/* ------------------------------------------------------------------ text */

/* Bytes of s that fit in cap on a code-point boundary (s is valid UTF-8). */
static size_t utf8_fit(const char *s, size_t n, size_t cap)
{
    if (n <= cap)
        return n;
    size_t k = cap;
    while (k && ((unsigned char)s[k] & 0xC0) == 0x80)
        k--;
    return k;
}

/* s cut to at most cap bytes, "…" included, when it is longer. */
static void put_cut(rd_buf *b, str s, size_t cap, void (*put)(rd_buf *, str))
{
    if (s.n <= cap) {
        put(b, s);
        return;
    }
    put(b, (str){s.p, utf8_fit(s.p, s.n, cap - (sizeof ELLIPSIS - 1))});
    rd_buf_puts(b, ELLIPSIS);
}

/* Slack mrkdwn: the three characters it reserves as entities; a line break becomes a space. */
static void put_slack(rd_buf *b, str s)
{
    for (size_t i = 0; i < s.n; i++) {
        char c = s.p[i];
        if (c == '&')
            rd_buf_puts(b, "&amp;");
        else if (c == '<')
            rd_buf_puts(b, "&lt;");
        else if (c == '>')
            rd_buf_puts(b, "&gt;");
        else
            rd_buf_putc(b, (unsigned char)c < 0x20 ? ' ' : c);
    }
}

/* WeCom markdown has no escape: the characters of its links, tags, mentions and code become
 * their full-width forms (the text still reads "1.62 ＞= 1.5"); a line break becomes a space, so
 * the text cannot start a quote or a heading of its own. */
static void put_wecom(rd_buf *b, str s)
{
    for (size_t i = 0; i < s.n; i++) {
        switch (s.p[i]) {
        case '<': rd_buf_puts(b, "\xef\xbc\x9c"); break;
        case '>': rd_buf_puts(b, "\xef\xbc\x9e"); break;
        case '[': rd_buf_puts(b, "\xef\xbc\xbb"); break;
        case ']': rd_buf_puts(b, "\xef\xbc\xbd"); break;
        case '`': rd_buf_puts(b, "\xef\xbd\x80"); break;
        default: rd_buf_putc(b, (unsigned char)s.p[i] < 0x20 ? ' ' : s.p[i]);
        }
    }
}

static void put_plain(rd_buf *b, str s) { rd_buf_append(b, s.p, s.n); }

/* A path segment percent-encoded: all but RFC 3986's unreserved characters. */
static void put_segment(rd_buf *b, str s)
{
    static const char hex[] = "0123456789ABCDEF";
    for (size_t i = 0; i < s.n; i++) {
        unsigned char c = (unsigned char)s.p[i];
        if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || strchr("-._~", c))
            rd_buf_putc(b, (char)c);
        else
            rd_buf_printf(b, "%%%c%c", hex[c >> 4], hex[c & 15]);
    }
}

/* The console URL from the config, with what would end a markdown link or a Slack <url|text>
 * percent-encoded. */
static void put_base(rd_buf *b, const char *u, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)u[i];
        if (c <= 0x20 || c >= 0x7f || strchr("\"<>\\^`{|}()", c))
            rd_buf_printf(b, "%%%02X", c);
        else
            rd_buf_putc(b, (char)c);
    }
}

/* The console page of the event, "" without a console URL: #/drift for drift, the change or
 * the rollout, else the overview (node events). */
static void make_link(const env *e, const rd_notify_format_opts *o, rd_buf *b)
{
    const char *base = o ? o->console_url : NULL;
    size_t n = base ? strlen(base) : 0;
    while (n && base[n - 1] == '/')
        n--;
    if (!n)
        return;
    put_base(b, base, n);
    rd_buf_puts(b, "/ui/#/");
    bool has_id = e->oid.n > 0;
    if (e->type.n > 6 && !memcmp(e->type.p, "drift.", 6)) {
        rd_buf_puts(b, "drift");
    } else if (e->okind.n == 6 && !memcmp(e->okind.p, "change", 6) && has_id) {
        rd_buf_puts(b, "changes/");
        put_segment(b, e->oid);
    } else if (e->okind.n == 7 && !memcmp(e->okind.p, "rollout", 7) && has_id) {
        rd_buf_puts(b, "rollouts/");
        put_segment(b, e->oid);
    } else if (e->okind.n == 7 && !memcmp(e->okind.p, "version", 7)) {
        rd_buf_puts(b, "changes");
    } else {
        rd_buf_puts(b, "overview");
    }
}

static const char *title_of(const env *e, char *buf, size_t cap)
{
    if (e->info)
        return e->info->title;
    snprintf(buf, cap, "%.*s", (int)e->type.n, e->type.p);
    return buf;
}

/* JSON "key": followed by the string in t (t is emptied). */
static void put_member(rd_buf *b, const char *key, rd_buf *t)
{
    rd_json_write_string(b, key, strlen(key));
    rd_buf_putc(b, ':');
    rd_json_write_string(b, t->data ? t->data : "", t->len);
    rd_buf_reset(t);
}

/* ------------------------------------------------------------------ the four bodies */

/* The envelope with "link" after "summary" (any stored "link" replaced); the stored bytes
 * themselves when there is no link. */
static void body_webhook(const env *e, const char *json, size_t len, str link, rd_buf *b)
{
    if (!link.n) {
        rd_buf_append(b, json, len);
        return;
    }
    bool placed = false;
    uint32_t written = 0;
    rd_buf_putc(b, '{');
    for (uint32_t i = 0; i < e->root.len; i++) {
        const rd_member *m = &e->root.u.members[i];
        if (m->key_len == 4 && !memcmp(m->key, "link", 4))
            continue;
        if (written++)
            rd_buf_putc(b, ',');
        rd_json_write_string(b, m->key, m->key_len);
        rd_buf_putc(b, ':');
        rd_json_write(b, &m->val);
        if (m->key_len == 7 && !memcmp(m->key, "summary", 7)) {
            rd_buf_puts(b, ",\"link\":");
            rd_json_write_string(b, link.p, link.n);
            placed = true;
        }
    }
    if (!placed) {
        rd_buf_puts(b, written ? ",\"link\":" : "\"link\":");
        rd_json_write_string(b, link.p, link.n);
    }
    rd_buf_putc(b, '}');
}

static void body_slack(const env *e, str link, rd_buf *b, rd_buf *t)
{
    char tb[80];
    rd_buf_putc(b, '{');
    rd_buf_puts(t, "[riskd] ");
    put_cut(t, e->summary, SLACK_TEXT_MAX, put_slack);
    put_member(b, "text", t);
    rd_buf_puts(b, ",\"blocks\":[{\"type\":\"section\",\"text\":{\"type\":\"mrkdwn\",");
    rd_buf_printf(t, "*%s* \xc2\xb7 `%.*s`\n", title_of(e, tb, sizeof tb), (int)e->type.n, e->type.p);
    put_cut(t, e->summary, SLACK_TEXT_MAX, put_slack);
    put_member(b, "text", t);
    rd_buf_puts(b, "}},{\"type\":\"context\",\"elements\":[{\"type\":\"mrkdwn\",");
    rd_buf_puts(t, "node ");
    put_cut(t, e->node, 128, put_slack);
    if (e->actor.n) {
        rd_buf_puts(t, " \xc2\xb7 ");
        put_cut(t, e->actor, 128, put_slack);
    }
    rd_buf_printf(t, " \xc2\xb7 %.*s", (int)e->time.n, e->time.p);
    if (link.n) {
        rd_buf_puts(t, " \xc2\xb7 <");
        put_slack(t, link);
        rd_buf_puts(t, "|open in the console>");
    }
    put_member(b, "text", t);
    rd_buf_puts(b, "}]}]}");
}

/* The WeCom colour of an event's heading: alarms firing, resolves, the rest. */
static const char *wecom_colour(const env *e)
{
    if (e->info && e->info->alarm)
        return e->resolved ? "info" : "warning";
    return e->resolved ? "info" : "comment";
}

/* The markdown after the summary: type, node and actor, time, link. */
static void wecom_trailer(const env *e, str link, rd_buf *t)
{
    rd_buf_printf(t, "\n> type: %.*s\n> node: ", (int)e->type.n, e->type.p);
    put_cut(t, e->node, 128, put_wecom);
    if (e->actor.n) {
        rd_buf_puts(t, " \xc2\xb7 actor: ");
        put_cut(t, e->actor, 128, put_wecom);
    }
    rd_buf_printf(t, "\n> time: %.*s", (int)e->time.n, e->time.p);
    if (link.n) {
        rd_buf_puts(t, "\n[Open in the console](");
        rd_buf_append(t, link.p, link.n);
        rd_buf_putc(t, ')');
    }
}

static int body_wecom(const env *e, str link, rd_buf *b, rd_buf *t)
{
    char tb[80];
    rd_buf head, tail;
    rd_buf_init(&head);
    rd_buf_init(&tail);
    rd_buf_printf(&head, "**[riskd] <font color=\"%s\">%s</font>**\n", wecom_colour(e),
                  title_of(e, tb, sizeof tb));
    wecom_trailer(e, link, &tail);
    rd_buf summary;
    rd_buf_init(&summary);
    put_wecom(&summary, e->summary);
    int rc = head.oom || tail.oom || summary.oom ? RD_ENOMEM : RD_OK;
    /* The summary gives way first, so the heading, the facts and the link survive a long one. */
    size_t fixed = head.len + tail.len;
    if (!rc && fixed + (sizeof ELLIPSIS - 1) < WECOM_MAX) {
        rd_buf_append(t, head.data, head.len);
        put_cut(t, (str){summary.data ? summary.data : "", summary.len}, WECOM_MAX - fixed, put_plain);
        rd_buf_append(t, tail.data, tail.len);
    } else if (!rc) { /* a node or actor name of kilobytes: cut the whole */
        rd_buf all;
        rd_buf_init(&all);
        rd_buf_append(&all, head.data, head.len);
        rd_buf_append(&all, summary.data, summary.len);
        rd_buf_append(&all, tail.data, tail.len);
        put_cut(t, (str){all.data, all.len}, WECOM_MAX, put_plain);
        rd_buf_deinit(&all);
    }
    rd_buf_deinit(&head);
    rd_buf_deinit(&tail);
    rd_buf_deinit(&summary);
    rd_buf_puts(b, "{\"msgtype\":\"markdown\",\"markdown\":{");
    put_member(b, "content", t);
    rd_buf_puts(b, "}}");
    return rc;
}

/* One identifying label: "node" from the envelope, "flag" from data (else the object's id),
 * any other from the data member of that name; nothing when there is none. */
static void am_label(const env *e, const char *name, size_t n, rd_buf *b)
{
    str v = {"", 0};
    char num[RD_NUM_BUF];
    const rd_value *d = e->data ? rd_value_get(e->data, name, n) : NULL;
    if (n == 4 && !memcmp(name, "node", 4))
        v = e->node;
    else if (d && d->type == RD_VSTRING)
        v = (str){d->u.s, d->len};
    else if (d && d->type == RD_VNUMBER)
        v = (str){num, rd_num_format(d->u.n, num)};
    else if (n == 4 && !memcmp(name, "flag", 4))
        v = e->oid;
    if (!v.n)
        return;
    rd_buf_putc(b, ',');
    rd_json_write_string(b, name, n);
    rd_buf_putc(b, ':');
    rd_json_write_string(b, v.p, v.n);
}

static const char *am_severity(const env *e)
{
    const rd_value *band = e->data ? rd_value_get(e->data, "band", 4) : NULL;
    if (!strcmp(e->info->type, "cert.expiring") && band && band->type == RD_VNUMBER && band->u.n <= 1)
        return "critical";
    return e->info->severity;
}

/* endsAt: the event's time for a resolve; the certificate's not_after for cert.expiring; else
 * the event's time + the hold (Alertmanager resolves an alert nobody re-sends at endsAt). */
static int64_t am_ends(const env *e, const rd_notify_format_opts *o)
{
    if (e->resolved)
        return e->time_ms;
    if (!strcmp(e->info->type, "notify.test")) /* a test: gone from Alertmanager in a minute */
        return e->time_ms + 60000;
    int64_t hold = o && o->alert_hold_s > 0 ? o->alert_hold_s : HOLD_DEFAULT_S;
    const rd_value *na = e->data ? rd_value_get(e->data, "not_after", 9) : NULL;
    int64_t ms;
    if (!strcmp(e->info->type, "cert.expiring") && na) {
        if (na->type == RD_VSTRING && rd_time_parse(na->u.s, na->len, &ms))
            return ms;
        if (na->type == RD_VNUMBER && na->u.n > 0 && na->u.n < 9.2e15)
            return (int64_t)na->u.n;
    }
    return e->time_ms + hold * 1000;
}

static int body_alertmanager(const env *e, const rd_notify_format_opts *o, str link, rd_buf *b, rd_err *err)
{
    if (!e->info || !e->info->alarm)
        return rd_err_set(err, RD_EINVAL, "alertmanager takes alarms only, not %.*s", (int)e->type.n,
                          e->type.p);
    char t0[32], t1[32];
    rd_buf_printf(b, "[{\"labels\":{\"alertname\":\"%s\",\"service\":\"riskd\",\"severity\":\"%s\"",
                  e->info->alertname, am_severity(e));
    for (const char *l = e->info->labels; *l;) {
        size_t n = strcspn(l, " ");
        am_label(e, l, n, b);
        l += n + (l[n] == ' ');
    }
    rd_buf_puts(b, "},\"annotations\":{\"summary\":");
    rd_json_write_string(b, e->summary.p, e->summary.n);
    str detail = member_str(e->data, "detail");
    if (detail.n) {
        rd_buf_puts(b, ",\"description\":");
        rd_json_write_string(b, detail.p, detail.n);
    }
    rd_buf_printf(b, ",\"riskd_event\":\"%.*s\",\"riskd_event_id\":\"%.*s\",\"node\":", (int)e->type.n,
                  e->type.p, (int)e->id.n, e->id.p);
    rd_json_write_string(b, e->node.p, e->node.n);
    rd_time_text(e->time_ms, t0);
    rd_time_text(am_ends(e, o), t1);
    rd_buf_printf(b, "},\"startsAt\":\"%s\",\"endsAt\":\"%s\"", t0, t1);
    if (link.n) {
        rd_buf_puts(b, ",\"generatorURL\":");
        rd_json_write_string(b, link.p, link.n);
    }
    rd_buf_puts(b, "}]");
    return RD_OK;
}

/* ------------------------------------------------------------------ the request */

/* "sha256=" and the hex of the MAC c has absorbed the body into; c is zeroed. */
static void sig_finish(struct hmac_sha256_ctx *c, char out[RD_NOTIFY_SIG_LEN])
{
    static const char hex[] = "0123456789abcdef";
    uint8_t mac[SHA256_DIGEST_SIZE];
    hmac_sha256_digest(c, sizeof mac, mac);
    explicit_bzero(c, sizeof *c);
    memcpy(out, "sha256=", 7);
    for (size_t i = 0; i < sizeof mac; i++) {
        out[7 + 2 * i] = hex[mac[i] >> 4];
        out[8 + 2 * i] = hex[mac[i] & 15];
    }
    out[RD_NOTIFY_SIG_LEN - 1] = '\0';
}

void rd_notify_sign(const void *key, size_t key_len, const void *body, size_t len,
                    char out[RD_NOTIFY_SIG_LEN])
{
    struct hmac_sha256_ctx c;
    hmac_sha256_set_key(&c, key_len, key);
    hmac_sha256_update(&c, len, body);
    sig_finish(&c, out);
}

/* The same with the sink's absorbed key (a copy of its template: the sink is shared). */
static void sign_with(const rd_notify_sink *k, const void *body, size_t len, char out[RD_NOTIFY_SIG_LEN])
{
    struct hmac_sha256_ctx c = k->key;
    hmac_sha256_update(&c, len, body);
    sig_finish(&c, out);
}

void rd_notify_request_free(rd_notify_request *rq)
{
    if (!rq)
        return;
    if (rq->url) {
        explicit_bzero(rq->url, strlen(rq->url));
        rd_free(rq->url);
    }
    for (size_t i = 0; i < RD_NOTIFY_MAX_HEADERS && rq->headers[i]; i++)
        rd_free(rq->headers[i]);
    rd_buf_deinit(&rq->body);
    memset(rq, 0, sizeof *rq);
}

/* The sink's URL; Alertmanager's with /api/v2/alerts added to its path unless the path ends so
 * (a trailing '/' aside), before any query (a proxy's token) or fragment. */
static char *request_url(const rd_notify_sink *k)
{
    size_t all = strlen(k->url);
    if (k->kind != RD_NOTIFY_ALERTMANAGER)
        return rd_strndup(k->url, all);
    static const char path[] = "/api/v2/alerts";
    size_t pl = sizeof path - 1, n = strcspn(k->url, "?#"), end = n;
    if (n && k->url[n - 1] == '/')
        n--;
    bool has = n >= pl && !memcmp(k->url + n - pl, path, pl);
    char *u = rd_malloc(all + pl + 1);
    if (u) {
        memcpy(u, k->url, n);
        size_t o = n;
        if (has) {
            o = n;
        } else {
            memcpy(u + o, path, pl);
            o += pl;
        }
        memcpy(u + o, k->url + end, all - end + 1);
    }
    return u;
}

static int add_header(rd_notify_request *rq, size_t *at, const char *fmt, ...) RD_PRINTF(3, 4);
static int add_header(rd_notify_request *rq, size_t *at, const char *fmt, ...)
{
    char line[256];
    va_list ap;
    va_start(ap, fmt);
    int w = vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    if (w < 0 || *at >= RD_NOTIFY_MAX_HEADERS)
        return RD_EINTERNAL;
    rq->headers[*at] = rd_strndup(line, strlen(line));
    return rq->headers[(*at)++] ? RD_OK : RD_ENOMEM;
}

/* The User-Agent's version: printable ASCII without spaces only (it is a header). */
static void version_of(const rd_notify_format_opts *o, char out[64])
{
    const char *v = o && o->version ? o->version : "";
    size_t j = 0;
    for (size_t i = 0; v[i] && j < 63; i++)
        if (v[i] > ' ' && v[i] < 0x7f)
            out[j++] = v[i];
    out[j] = '\0';
}

static int headers(const rd_notify_sink *k, const env *e, const rd_notify_format_opts *o,
                   rd_notify_request *rq)
{
    char ver[64];
    size_t at = 0;
    version_of(o, ver);
    int id = (int)e->id.n, ty = (int)e->type.n;
    int rc = add_header(rq, &at, "Content-Type: application/json; charset=utf-8");
    rc = rc ? rc : add_header(rq, &at, "User-Agent: riskd%s%s", ver[0] ? "/" : "", ver);
    rc = rc ? rc : add_header(rq, &at, "X-Riskd-Event: %.*s", ty, e->type.p);
    rc = rc ? rc : add_header(rq, &at, "X-Riskd-Event-Id: %.*s", id, e->id.p);
    rc = rc ? rc : add_header(rq, &at, "Idempotency-Key: %.*s", id, e->id.p);
    if (!rc && k->kind == RD_NOTIFY_WEBHOOK && k->keyed) {
        char sig[RD_NOTIFY_SIG_LEN];
        sign_with(k, rq->body.data, rq->body.len, sig);
        rc = add_header(rq, &at, "X-Riskd-Signature: %s", sig);
    }
    return rc;
}

static int build_body(const rd_notify_sink *k, const env *e, const char *json, size_t len,
                      const rd_notify_format_opts *o, str link, rd_buf *b, rd_err *err)
{
    rd_buf t;
    rd_buf_init(&t);
    int rc = RD_OK;
    switch (k->kind) {
    case RD_NOTIFY_WEBHOOK: body_webhook(e, json, len, link, b); break;
    case RD_NOTIFY_SLACK: body_slack(e, link, b, &t); break;
    case RD_NOTIFY_WECOM: rc = body_wecom(e, link, b, &t); break;
    case RD_NOTIFY_ALERTMANAGER: rc = body_alertmanager(e, o, link, b, err); break;
    default: rc = rd_err_set(err, RD_EINVAL, "unknown sink kind");
    }
    if (!rc && (t.oom || b->oom))
        rc = RD_ENOMEM;
    rd_buf_deinit(&t);
    if (rc == RD_ENOMEM)
        rd_err_set(err, rc, "out of memory");
    return rc;
}

int rd_notify_format(const rd_notify_sink *k, const char *event_json, size_t len,
                     const rd_notify_format_opts *o, rd_notify_request *out, rd_err *err)
{
    rd_arena a;
    rd_arena_init(&a, 0);
    env e = {0};
    rd_buf link;
    rd_buf_init(&link);
    rd_notify_request rq = {0};
    rd_buf_init(&rq.body);
    int rc = read_env(event_json, len, &a, &e, err);
    if (!rc) {
        make_link(&e, o, &link);
        str l = {link.data ? link.data : "", link.len};
        rc = link.oom ? rd_err_set(err, RD_ENOMEM, "out of memory")
                      : build_body(k, &e, event_json, len, o, l, &rq.body, err);
    }
    if (!rc) {
        rq.url = request_url(k);
        rc = rq.url ? headers(k, &e, o, &rq) : RD_ENOMEM;
        if (rc)
            rd_err_set(err, rc, rc == RD_ENOMEM ? "out of memory" : "too many headers");
    }
    rq.cacert = k->cacert;
    rd_buf_deinit(&link);
    rd_arena_deinit(&a);
    if (rc) {
        rd_notify_request_free(&rq);
        return rc;
    }
    *out = rq;
    return RD_OK;
}

/* ------------------------------------------------------------------ answers */

/* WeCom's errmsg made safe for a log line: up to its ", hint" (request ids, our IP, a link to
 * its help), no URL, printable, short. */
static void wecom_errmsg(str m, char *out, size_t cap)
{
    static const char *const stops[] = {", hint", "hint:", "http://", "https://", "key="};
    size_t n = m.n;
    for (size_t i = 0; i < sizeof stops / sizeof *stops; i++) {
        size_t sl = strlen(stops[i]);
        for (size_t j = 0; j + sl <= n; j++)
            if (!memcmp(m.p + j, stops[i], sl)) {
                n = j;
                break;
            }
    }
    while (n && (m.p[n - 1] == ' ' || m.p[n - 1] == ',' || m.p[n - 1] == ';'))
        n--;
    n = utf8_fit(m.p, n, cap - 1 < WHY_DETAIL_MAX ? cap - 1 : WHY_DETAIL_MAX);
    size_t j = 0;
    for (size_t i = 0; i < n; i++)
        out[j++] = (unsigned char)m.p[i] < 0x20 || m.p[i] == 0x7f ? ' ' : m.p[i];
    out[j] = '\0';
}

static rd_notify_verdict classify_wecom(const rd_notify_response *r, char *why, size_t cap)
{
    rd_arena a;
    rd_arena_init(&a, 0);
    rd_value v;
    rd_json_limits lim = {.max_bytes = 1 << 16, .max_depth = 8};
    const rd_value *code = NULL;
    if (r->body && rd_json_parse(r->body, r->body_len, &lim, &a, &v, NULL) == RD_OK && v.type == RD_VOBJECT)
        code = rd_value_get(&v, "errcode", 7);
    rd_notify_verdict out;
    if (!code || code->type != RD_VNUMBER) {
        snprintf(why, cap, "HTTP %d without a WeCom errcode", r->status);
        out = RD_NOTIFY_FAIL;
    } else if (code->u.n == 0) {
        snprintf(why, cap, "HTTP %d", r->status);
        out = RD_NOTIFY_OK;
    } else {
        char msg[WHY_DETAIL_MAX + 1];
        wecom_errmsg(member_str(&v, "errmsg"), msg, sizeof msg);
        long c = (long)code->u.n;
        snprintf(why, cap, "wecom errcode %ld%s%s", c, msg[0] ? ": " : "", msg);
        out = c == 45009 || c == -1 ? RD_NOTIFY_RETRY : RD_NOTIFY_FAIL;
    }
    rd_arena_deinit(&a);
    return out;
}

/* Slack answers errors with a short token ("channel_not_found"): worth a log line. */
static void slack_token(const rd_notify_response *r, char *out, size_t cap)
{
    size_t n = 0;
    out[0] = '\0';
    if (!r->body || !r->body_len || r->body_len > 64 || cap < 2)
        return;
    for (size_t i = 0; i < r->body_len; i++)
        if (!((r->body[i] >= 'a' && r->body[i] <= 'z') || r->body[i] == '_'))
            return;
    n = r->body_len < cap - 1 ? r->body_len : cap - 1;
    memcpy(out, r->body, n);
    out[n] = '\0';
}

rd_notify_verdict rd_notify_classify(rd_notify_kind kind, const rd_notify_response *r, char *why, size_t cap)
{
    char tmp[2];
    if (!why || !cap)
        why = tmp, cap = sizeof tmp;
    int s = r->status;
    if (s == 0) {
        snprintf(why, cap, "no answer: %.100s",
                 r->transport_error[0] ? r->transport_error : "transport error");
        return RD_NOTIFY_RETRY;
    }
    if (s >= 200 && s < 300 && kind == RD_NOTIFY_WECOM)
        return classify_wecom(r, why, cap);
    char tok[65];
    slack_token(r, tok, sizeof tok);
    bool show = kind == RD_NOTIFY_SLACK && tok[0];
    snprintf(why, cap, "HTTP %d%s%s", s, show ? ": " : "", show ? tok : "");
    if (s >= 200 && s < 300)
        return RD_NOTIFY_OK;
    if (s == 408 || s == 425 || s == 429 || (s >= 500 && s < 600))
        return RD_NOTIFY_RETRY;
    if (s >= 300 && s < 400)
        snprintf(why, cap, "HTTP %d: a redirect (riskd does not follow them)", s);
    return RD_NOTIFY_FAIL;
}

static uint64_t xorshift64(uint64_t *s)
{
    uint64_t x = *s ? *s : 0x9e3779b97f4a7c15u; /* a zero state would stay zero */
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    return *s = x;
}

int64_t rd_notify_backoff_ms(int attempt, int64_t base_ms, int64_t max_ms, int64_t retry_after_ms,
                             uint64_t *rng)
{
    if (max_ms < 0)
        max_ms = 0;
    if (base_ms < 0)
        base_ms = 0;
    int64_t d = base_ms;
    for (int i = 1; i < attempt && d < max_ms; i++)
        d = d > max_ms / 2 ? max_ms : d * 2;
    if (d > max_ms)
        d = max_ms;
    int64_t half = d / 2;
    int64_t wait = d - half + (int64_t)(xorshift64(rng) % (uint64_t)(half + 1));
    if (retry_after_ms > wait)
        wait = retry_after_ms;
    return wait > max_ms ? max_ms : wait;
}
