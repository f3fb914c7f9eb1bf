/* Sink specs: "KIND key=value ...", parsed once at start into an immutable sink (the URL, the
 * events it takes, the change kinds, the secret absorbed into an HMAC key).
 *
 * Invariants:
 * - A Slack or WeCom URL *is* the secret (whoever has it can post), and a webhook's secret signs
 *   what riskd sends: neither ever appears in an error, a warning or a description. Messages
 *   name the sink by position and kind ("notify #2 (slack): ..."), show keys only when they look
 *   like keys, never a word without '=' (a pasted URL or robot key would be one), and describe a
 *   URL by its scheme, host and port alone.
 * - The secret's raw bytes live on the stack only while they are absorbed into the HMAC
 *   template (nettle's hmac_sha256_set_key), then are zeroed; the template is zeroed on free.
 * - A sink's event selection is a bit mask over the type catalogue: every glob selected at least
 *   one known type when it was parsed, and an Alertmanager sink selects alarms only. */
#include <errno.h>
#include <fcntl.h>
#include <fnmatch.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "notify_int.h"
#include "riskd/hash.h"
#include "riskd/text.h"

#define FILE_MAX  4096 /* url_file and secret_file: a URL or a key, not a document */
#define URL_MAX   2048
#define GLOB_MAX  64
#define ECHO_MAX  24 /* a key or kind is shown in a message only when this short and word-like */
#define NKINDS    4
#define NCHANGEKS 3

static const char *const KIND_NAMES[NKINDS] = {"webhook", "slack", "wecom", "alertmanager"};
static const char *const CHANGE_KINDS[NCHANGEKS] = {"flags", "bundle", "rollout"};

const char *rd_notify_kind_name(rd_notify_kind kind)
{
    return (unsigned)kind < NKINDS ? KIND_NAMES[kind] : "unknown";
}

/* ------------------------------------------------------------------ messages */

typedef struct pctx {
    rd_notify_sink *k;
    int index;
    const char *kind; /* NULL until the kind is known */
    rd_err *err;
    rd_buf warn;
} pctx;

static int fail(pctx *p, int code, const char *fmt, ...) RD_PRINTF(3, 4);
static int fail(pctx *p, int code, const char *fmt, ...)
{
    char msg[sizeof p->err->msg];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    if (p->kind)
        return rd_err_set(p->err, code, "notify #%d (%s): %s", p->index, p->kind, msg);
    return rd_err_set(p->err, code, "notify #%d: %s", p->index, msg);
}

static void warn(pctx *p, const char *fmt, ...) RD_PRINTF(2, 3);
static void warn(pctx *p, const char *fmt, ...)
{
    char msg[400];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    rd_buf_printf(&p->warn, "notify #%d (%s): %s\n", p->index, p->kind, msg);
}

/* Whether n bytes at s may be shown in a message: a short word of letters and '_' (a key or a
 * kind someone misspelt). A URL, a path or a robot key never is one. */
static bool echoable(const char *s, size_t n)
{
    if (!n || n > ECHO_MAX)
        return false;
    for (size_t i = 0; i < n; i++)
        if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= 'A' && s[i] <= 'Z') || s[i] == '_'))
            return false;
    return true;
}

/* ------------------------------------------------------------------ URLs */

typedef struct url_parts {
    bool https;
    const char *host; /* after any user:password@ */
    size_t host_len;
    const char *port; /* the digits, or NULL */
    size_t port_len;
} url_parts;

/* Split an http(s) URL far enough to check it and describe it. NULL, or why it is not one (a
 * fixed phrase: it never quotes the URL). */
static const char *url_split(const char *u, size_t n, url_parts *o)
{
    if (n > URL_MAX)
        return "longer than 2048 bytes";
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)u[i] <= ' ' || u[i] == 0x7f)
            return "holds a space or a control character";
    size_t skip;
    if (n >= 7 && !strncasecmp(u, "http://", 7))
        skip = 7, o->https = false;
    else if (n >= 8 && !strncasecmp(u, "https://", 8))
        skip = 8, o->https = true;
    else
        return "not an http or https URL";
    const char *auth = u + skip, *end = u + n;
    size_t alen = strcspn(auth, "/?#");
    alen = alen > (size_t)(end - auth) ? (size_t)(end - auth) : alen;
    const char *at = NULL;
    for (size_t i = 0; i < alen; i++)
        at = auth[i] == '@' ? auth + i : at;
    const char *host = at ? at + 1 : auth;
    size_t hlen = alen - (size_t)(host - auth);
    o->port = NULL, o->port_len = 0;
    const char *colon = NULL;
    if (hlen && host[0] == '[') {
        const char *close = memchr(host, ']', hlen);
        if (!close)
            return "an IPv6 host without its ']'";
        if (close + 1 < host + hlen) {
            if (close[1] != ':')
                return "text after the IPv6 host";
            colon = close + 1;
        }
    } else {
        colon = memchr(host, ':', hlen);
    }
    if (colon) {
        o->port = colon + 1;
        o->port_len = hlen - (size_t)(o->port - host);
        hlen = (size_t)(colon - host);
        unsigned long v = 0;
        for (size_t i = 0; i < o->port_len; i++)
            v = o->port[i] >= '0' && o->port[i] <= '9' && v <= 65535 ? v * 10 + (unsigned)(o->port[i] - '0')
                                                                     : 99999999;
        if (!o->port_len || v == 0 || v > 65535)
            return "the port is not a number from 1 to 65535";
    }
    if (!hlen)
        return "no host";
    o->host = host, o->host_len = hlen;
    return NULL;
}

static bool loopback(const url_parts *u)
{
    if (u->host_len == 9 && !strncasecmp(u->host, "localhost", 9))
        return true;
    if (u->host_len == 5 && !memcmp(u->host, "[::1]", 5))
        return true;
    return u->host_len >= 4 && !memcmp(u->host, "127.", 4);
}

static int set_url(pctx *p, const char *u, size_t n, const char *from)
{
    url_parts parts;
    const char *why = url_split(u, n, &parts);
    if (why)
        return fail(p, RD_EINVAL, "%s: %s", from, why);
    if (!parts.https && !loopback(&parts) && (p->k->kind == RD_NOTIFY_SLACK || p->k->kind == RD_NOTIFY_WECOM))
        warn(p,
             "the URL is plain http to a host other than this one: a %s URL is the secret, and it "
             "crosses the network in clear (use https)",
             p->kind);
    p->k->url = rd_strndup(u, n);
    return p->k->url ? RD_OK : fail(p, RD_ENOMEM, "out of memory");
}

/* ------------------------------------------------------------------ files */

/* Read a small file into buf (cap bytes, NUL added): the path is shown in errors (it is not
 * the secret; its content is). *mode gets the file's permission bits. */
static int read_small(pctx *p, const char *key, const char *path, char *buf, size_t cap, size_t *len,
                      mode_t *mode)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return fail(p, RD_EIO, "%s %s: %s", key, path, strerror(errno));
    struct stat st;
    int rc = RD_OK;
    size_t got = 0;
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        rc = fail(p, RD_EIO, "%s %s: not a regular file", key, path);
        goto done;
    }
    for (;;) {
        ssize_t r = read(fd, buf + got, cap - got);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0) {
            rc = fail(p, RD_EIO, "%s %s: %s", key, path, strerror(errno));
            goto done;
        }
        if (r == 0)
            break;
        got += (size_t)r;
        if (got == cap) {
            rc = fail(p, RD_ELIMIT, "%s %s: larger than %zu bytes", key, path, cap - 1);
            goto done;
        }
    }
    buf[got] = '\0';
    *len = got;
    *mode = st.st_mode;
done:
    close(fd);
    return rc;
}

/* One trailing "\n" or "\r\n" is the editor's, not the value's. */
static size_t trim_newline(const char *s, size_t n)
{
    if (n && s[n - 1] == '\n')
        n--;
    if (n && s[n - 1] == '\r')
        n--;
    return n;
}

static int set_url_file(pctx *p, const char *path)
{
    char buf[FILE_MAX + 1];
    size_t n = 0; /* read_small sets both on success (the analyzer cannot see fail() is non-zero) */
    mode_t mode = 0;
    int rc = read_small(p, "url_file", path, buf, sizeof buf, &n, &mode);
    if (!rc) {
        n = trim_newline(buf, n);
        char from[300];
        snprintf(from, sizeof from, "url_file %s", path);
        rc = n ? set_url(p, buf, n, from) : fail(p, RD_EINVAL, "url_file %s: empty", path);
    }
    explicit_bzero(buf, sizeof buf);
    return rc;
}

static int set_secret(pctx *p, const char *path)
{
    if (p->k->kind != RD_NOTIFY_WEBHOOK)
        return fail(p, RD_EINVAL, "secret_file is for webhook sinks only (a %s URL is its own secret)",
                    p->kind);
    char buf[FILE_MAX + 1];
    size_t n = 0; /* read_small sets both on success (the analyzer cannot see fail() is non-zero) */
    mode_t mode = 0;
    int rc = read_small(p, "secret_file", path, buf, sizeof buf, &n, &mode);
    if (!rc) {
        n = trim_newline(buf, n);
        if (!n) {
            rc = fail(p, RD_EINVAL, "secret_file %s: empty (the key is the file's content)", path);
        } else {
            hmac_sha256_set_key(&p->k->key, n, (const uint8_t *)buf);
            p->k->keyed = true;
            if (mode & (S_IRGRP | S_IROTH))
                warn(p, "secret_file %s can be read by its group or by others (chmod 600 it)", path);
        }
    }
    explicit_bzero(buf, sizeof buf);
    return rc;
}

static int set_cacert(pctx *p, const char *path)
{
    char buf[1];
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return fail(p, RD_EIO, "cacert %s: %s", path, strerror(errno));
    ssize_t r = read(fd, buf, 1);
    int e = errno;
    close(fd);
    if (r < 0)
        return fail(p, RD_EIO, "cacert %s: %s", path, strerror(e));
    if (r == 0)
        return fail(p, RD_EINVAL, "cacert %s: empty (a PEM bundle of the CA certificates)", path);
    p->k->cacert = rd_strndup(path, strlen(path));
    return p->k->cacert ? RD_OK : fail(p, RD_ENOMEM, "out of memory");
}

/* ------------------------------------------------------------------ events= and kinds= */

/* What a glob that selects nothing was probably meant to be: a known type, or "PREFIX.*" /
 * "*.SUFFIX" of one, within rd_near_miss; "" when nothing is near. */
static void glob_suggest(const char *glob, char *out, size_t cap)
{
    size_t nt;
    const char *const *t = rd_notify_types(&nt);
    out[0] = '\0';
    for (size_t i = 0; i < nt && !out[0]; i++) {
        const char *dot = strchr(t[i], '.');
        char forms[3][GLOB_MAX + 8];
        snprintf(forms[0], sizeof forms[0], "%s", t[i]);
        snprintf(forms[1], sizeof forms[1], "%.*s.*", (int)(dot - t[i]), t[i]);
        snprintf(forms[2], sizeof forms[2], "*.%s", dot + 1);
        for (size_t f = 0; f < 3 && !out[0]; f++)
            if (rd_near_miss(glob, forms[f]))
                snprintf(out, cap, "%.*s", (int)(cap - 1), forms[f]);
    }
}

static bool glob_echoable(const char *g, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (!((g[i] >= 'a' && g[i] <= 'z') || (g[i] >= 'A' && g[i] <= 'Z') || (g[i] >= '0' && g[i] <= '9') ||
              strchr("_.-*?[]!", g[i])))
            return false;
    return n > 0;
}

/* The alarm types as one comma list: Alertmanager's default selection and its message. */
static void alarm_list(char *out, size_t cap)
{
    const rd__notify_type_info *t = rd__notify_type_table();
    size_t at = 0;
    out[0] = '\0';
    for (size_t i = 0; i < RD__NOTIFY_NTYPES && at < cap; i++)
        if (t[i].alarm) {
            int w = snprintf(out + at, cap - at, "%s%s", at ? "," : "", t[i].type);
            at += w > 0 ? (size_t)w : 0;
        }
}

static int one_glob(pctx *p, const char *g, size_t n, uint64_t *mask)
{
    if (!n)
        return fail(p, RD_EINVAL, "events: an empty glob (the list is GLOB,GLOB,... without spaces)");
    if (n > GLOB_MAX || !glob_echoable(g, n))
        return fail(p, RD_EINVAL, "events: a glob longer than %d bytes or with characters no type has",
                    GLOB_MAX);
    char glob[GLOB_MAX + 1];
    memcpy(glob, g, n);
    glob[n] = '\0';
    const rd__notify_type_info *t = rd__notify_type_table();
    uint64_t m = 0;
    for (size_t i = 0; i < RD__NOTIFY_NTYPES; i++)
        if (fnmatch(glob, t[i].type, 0) == 0)
            m |= (uint64_t)1 << i;
    if (!m) {
        char hint[GLOB_MAX + 8];
        glob_suggest(glob, hint, sizeof hint);
        if (hint[0])
            return fail(p, RD_EINVAL, "events: \"%s\" matches no event type (did you mean %s?)", glob, hint);
        return fail(p, RD_EINVAL,
                    "events: \"%s\" matches no event type (the types: change.*, rollout.*, breaker.*, "
                    "drift.*, dlog.*, store.*, cert.expiring, notify.test)",
                    glob);
    }
    for (size_t i = 0; p->k->kind == RD_NOTIFY_ALERTMANAGER && i < RD__NOTIFY_NTYPES; i++)
        if ((m >> i & 1) && !t[i].alarm) {
            char alarms[600];
            alarm_list(alarms, sizeof alarms);
            return fail(p, RD_EINVAL,
                        "events: \"%s\" selects %s, which is not an alarm; alertmanager takes alarms only "
                        "(%s)",
                        glob, t[i].type, alarms);
        }
    *mask |= m;
    return RD_OK;
}

static int set_events(pctx *p, const char *v, size_t n)
{
    uint64_t mask = 0;
    for (size_t at = 0;;) {
        const char *comma = memchr(v + at, ',', n - at);
        size_t len = comma ? (size_t)(comma - (v + at)) : n - at;
        int rc = one_glob(p, v + at, len, &mask);
        if (rc)
            return rc;
        if (!comma)
            break;
        at += len + 1;
    }
    p->k->events = mask;
    p->k->events_text = rd_strndup(v, n);
    return p->k->events_text ? RD_OK : fail(p, RD_ENOMEM, "out of memory");
}

static unsigned change_kind_bit(const char *s, size_t n)
{
    for (unsigned i = 0; i < NCHANGEKS; i++)
        if (strlen(CHANGE_KINDS[i]) == n && !memcmp(CHANGE_KINDS[i], s, n))
            return 1u << i;
    return 0;
}

static int set_kinds(pctx *p, const char *v, size_t n)
{
    unsigned mask = 0;
    for (size_t at = 0;;) {
        const char *comma = memchr(v + at, ',', n - at);
        size_t len = comma ? (size_t)(comma - (v + at)) : n - at;
        unsigned bit = change_kind_bit(v + at, len);
        if (!bit) {
            if (!echoable(v + at, len))
                return fail(p, RD_EINVAL, "kinds: the list is flags,bundle,rollout (some of them)");
            char word[ECHO_MAX + 1];
            snprintf(word, sizeof word, "%.*s", (int)len, v + at);
            const char *near = NULL;
            for (size_t i = 0; i < NCHANGEKS && !near; i++)
                near = rd_near_miss(word, CHANGE_KINDS[i]) ? CHANGE_KINDS[i] : NULL;
            if (near)
                return fail(p, RD_EINVAL, "kinds: unknown change kind \"%s\" (did you mean %s?)", word, near);
            return fail(p, RD_EINVAL, "kinds: unknown change kind \"%s\" (flags, bundle or rollout)", word);
        }
        mask |= bit;
        if (!comma)
            break;
        at += len + 1;
    }
    p->k->kinds = mask;
    p->k->kinds_text = rd_strndup(v, n);
    return p->k->kinds_text ? RD_OK : fail(p, RD_ENOMEM, "out of memory");
}

static int set_name(pctx *p, const char *v, size_t n)
{
    bool ok = n >= 1 && n < RD__NOTIFY_NAME_MAX;
    for (size_t i = 0; ok && i < n; i++)
        ok = (v[i] >= 'a' && v[i] <= 'z') || (v[i] >= 'A' && v[i] <= 'Z') || (v[i] >= '0' && v[i] <= '9') ||
             v[i] == '_' || v[i] == '.' || v[i] == '-';
    if (!ok)
        return fail(p, RD_EINVAL, "name: 1 to %d of A-Z a-z 0-9 _ . -", RD__NOTIFY_NAME_MAX - 1);
    memcpy(p->k->name, v, n);
    p->k->name[n] = '\0';
    p->k->named = true;
    return RD_OK;
}

/* ------------------------------------------------------------------ the spec */

enum { K_URL, K_URL_FILE, K_SECRET_FILE, K_EVENTS, K_KINDS, K_NAME, K_CACERT, NKEYS };
static const char *const KEYS[NKEYS] = {"url",   "url_file", "secret_file", "events",
                                        "kinds", "name",     "cacert"};

typedef struct slice {
    const char *p;
    size_t n;
    bool set;
} slice;

static int parse_kind(pctx *p, const char *w, size_t n)
{
    for (int i = 0; i < NKINDS; i++)
        if (strlen(KIND_NAMES[i]) == n && !memcmp(KIND_NAMES[i], w, n)) {
            p->k->kind = (rd_notify_kind)i;
            p->kind = KIND_NAMES[i];
            return RD_OK;
        }
    if (!echoable(w, n))
        return fail(p, RD_EINVAL, "the spec starts with its kind: webhook, slack, wecom or alertmanager");
    char word[ECHO_MAX + 1];
    snprintf(word, sizeof word, "%.*s", (int)n, w);
    for (int i = 0; i < NKINDS; i++)
        if (rd_near_miss(word, KIND_NAMES[i]))
            return fail(p, RD_EINVAL, "unknown kind \"%s\" (did you mean %s?)", word, KIND_NAMES[i]);
    return fail(p, RD_EINVAL, "unknown kind \"%s\" (webhook, slack, wecom or alertmanager)", word);
}

static int unknown_key(pctx *p, const char *w, size_t n)
{
    if (!echoable(w, n))
        return fail(p, RD_EINVAL,
                    "an unknown key (the keys: url, url_file, secret_file, events, kinds, "
                    "name, cacert)");
    char word[ECHO_MAX + 1];
    snprintf(word, sizeof word, "%.*s", (int)n, w);
    for (int i = 0; i < NKEYS; i++)
        if (rd_near_miss(word, KEYS[i]))
            return fail(p, RD_EINVAL, "unknown key \"%s\" (did you mean %s?)", word, KEYS[i]);
    return fail(p, RD_EINVAL,
                "unknown key \"%s\" (the keys: url, url_file, secret_file, events, kinds, name, cacert)",
                word);
}

/* Split the words after the kind into the key slots. */
static int split_keys(pctx *p, const char *s, slice vals[NKEYS])
{
    for (;;) {
        s += strspn(s, " \t\r\n");
        if (!*s)
            return RD_OK;
        size_t n = strcspn(s, " \t\r\n");
        const char *eq = memchr(s, '=', n);
        if (!eq)
            return fail(p, RD_EINVAL, "a word without '=' (every setting is key=value, such as url=URL)");
        size_t kl = (size_t)(eq - s);
        int key = -1;
        for (int i = 0; i < NKEYS && key < 0; i++)
            key = strlen(KEYS[i]) == kl && !memcmp(KEYS[i], s, kl) ? i : -1;
        if (key < 0)
            return unknown_key(p, s, kl);
        if (vals[key].set)
            return fail(p, RD_EINVAL, "%s is given twice", KEYS[key]);
        if (kl + 1 == n)
            return fail(p, RD_EINVAL, "%s: an empty value", KEYS[key]);
        vals[key] = (slice){eq + 1, n - kl - 1, true};
        s += n;
    }
}

/* A file key's value as a C string (paths have no spaces: the spec has no quoting). */
static int path_of(pctx *p, const slice *v, const char *key, char *out, size_t cap)
{
    if (v->n >= cap)
        return fail(p, RD_EINVAL, "%s: a path longer than %zu bytes", key, cap - 1);
    memcpy(out, v->p, v->n);
    out[v->n] = '\0';
    return RD_OK;
}

/* A file key's value read by fn (the path copied out of the spec first). */
static int with_path(pctx *p, const slice *v, const char *key, int (*fn)(pctx *, const char *))
{
    char path[1024];
    int rc = path_of(p, v, key, path, sizeof path);
    return rc ? rc : fn(p, path);
}

static int apply(pctx *p, const slice vals[NKEYS])
{
    int rc;
    if (vals[K_URL].set && vals[K_URL_FILE].set)
        return fail(p, RD_EINVAL, "url and url_file: give one of them");
    if (vals[K_URL].set)
        rc = set_url(p, vals[K_URL].p, vals[K_URL].n, "url");
    else if (vals[K_URL_FILE].set)
        rc = with_path(p, &vals[K_URL_FILE], "url_file", set_url_file);
    else
        rc = fail(p, RD_EINVAL, "no url (url=URL, or url_file=FILE holding it)");
    if (!rc && vals[K_SECRET_FILE].set)
        rc = with_path(p, &vals[K_SECRET_FILE], "secret_file", set_secret);
    if (!rc && vals[K_EVENTS].set)
        rc = set_events(p, vals[K_EVENTS].p, vals[K_EVENTS].n);
    if (!rc && vals[K_KINDS].set)
        rc = set_kinds(p, vals[K_KINDS].p, vals[K_KINDS].n);
    if (!rc && vals[K_NAME].set)
        rc = set_name(p, vals[K_NAME].p, vals[K_NAME].n);
    if (!rc && vals[K_CACERT].set)
        rc = with_path(p, &vals[K_CACERT], "cacert", set_cacert);
    return rc;
}

/* events= left out: everything for the chat kinds and the webhook, the alarms for Alertmanager. */
static int default_events(pctx *p)
{
    const rd__notify_type_info *t = rd__notify_type_table();
    bool am = p->k->kind == RD_NOTIFY_ALERTMANAGER;
    for (size_t i = 0; i < RD__NOTIFY_NTYPES; i++)
        if (!am || t[i].alarm)
            p->k->events |= (uint64_t)1 << i;
    p->k->events_text = rd_strndup(am ? "alarms" : "*", am ? 6 : 1);
    return p->k->events_text ? RD_OK : fail(p, RD_ENOMEM, "out of memory");
}

int rd_notify_sink_parse(const char *spec, int index, rd_notify_sink **out, rd_err *err)
{
    pctx p = {.index = index, .err = err};
    if (!spec)
        spec = "";
    p.k = rd_calloc(1, sizeof *p.k);
    if (!p.k)
        return fail(&p, RD_ENOMEM, "out of memory");
    p.k->index = index;
    rd_buf_init(&p.warn);
    const char *s = spec + strspn(spec, " \t\r\n");
    size_t n = strcspn(s, " \t\r\n");
    slice vals[NKEYS] = {{0}};
    int rc = n ? parse_kind(&p, s, n)
               : fail(&p, RD_EINVAL,
                      "an empty spec (KIND url=URL ...; KIND: webhook, slack, wecom or "
                      "alertmanager)");
    if (!rc)
        rc = split_keys(&p, s + n, vals);
    if (!rc)
        rc = apply(&p, vals);
    if (!rc && !p.k->events_text)
        rc = default_events(&p);
    if (!rc) {
        p.k->warnings = rd_strndup(rd_buf_cstr(&p.warn), p.warn.len);
        rc = p.k->warnings && !p.warn.oom ? RD_OK : fail(&p, RD_ENOMEM, "out of memory");
    }
    rd_buf_deinit(&p.warn);
    if (rc) {
        rd_notify_sink_free(p.k);
        return rc;
    }
    *out = p.k;
    return RD_OK;
}

void rd_notify_sink_free(rd_notify_sink *k)
{
    if (!k)
        return;
    if (k->url) {
        explicit_bzero(k->url, strlen(k->url));
        rd_free(k->url);
    }
    rd_free(k->events_text);
    rd_free(k->kinds_text);
    rd_free(k->cacert);
    rd_free(k->warnings);
    explicit_bzero(k, sizeof *k);
    rd_free(k);
}

/* ------------------------------------------------------------------ a set of sinks */

int rd_notify_sinks_check(rd_notify_sink **sinks, size_t n, rd_err *err)
{
    size_t per_kind[NKINDS] = {0};
    for (size_t i = 0; i < n; i++)
        per_kind[sinks[i]->kind]++;
    for (size_t i = 0; i < n; i++) {
        rd_notify_sink *k = sinks[i];
        if (k->named)
            continue;
        const char *kind = rd_notify_kind_name(k->kind);
        if (per_kind[k->kind] == 1) {
            snprintf(k->name, sizeof k->name, "%s", kind);
        } else {
            char hex[RD_SHA256_HEX];
            rd_sha256_hex(k->url, strlen(k->url), hex);
            snprintf(k->name, sizeof k->name, "%s-%.8s", kind, hex);
        }
    }
    for (size_t i = 0; i < n; i++)
        for (size_t j = i + 1; j < n; j++)
            if (!strcmp(sinks[i]->name, sinks[j]->name))
                return rd_err_set(err, RD_EINVAL,
                                  "notify #%d (%s) and #%d (%s) are both named %s: give each its own name=",
                                  sinks[i]->index, rd_notify_kind_name(sinks[i]->kind), sinks[j]->index,
                                  rd_notify_kind_name(sinks[j]->kind), sinks[i]->name);
    return RD_OK;
}

const char *rd_notify_sink_name(const rd_notify_sink *k) { return k->name; }

rd_notify_kind rd_notify_sink_kind(const rd_notify_sink *k) { return k->kind; }

const char *rd_notify_sink_warnings(const rd_notify_sink *k) { return k->warnings ? k->warnings : ""; }

void rd_notify_sink_describe(const rd_notify_sink *k, rd_buf *out)
{
    url_parts u;
    const char *kind = rd_notify_kind_name(k->kind);
    if (k->name[0])
        rd_buf_printf(out, "%s (name %s): ", kind, k->name);
    else
        rd_buf_printf(out, "%s (#%d): ", kind, k->index);
    if (url_split(k->url, strlen(k->url), &u) == NULL)
        rd_buf_printf(out, "%s://%.*s%s%.*s/…", u.https ? "https" : "http", (int)u.host_len, u.host,
                      u.port ? ":" : "", (int)u.port_len, u.port ? u.port : "");
    else
        rd_buf_puts(out, "(a URL)");
    rd_buf_printf(out, ", events %s, kinds %s", k->events_text, k->kinds_text ? k->kinds_text : "any");
    if (k->keyed)
        rd_buf_puts(out, ", signed");
    if (k->cacert)
        rd_buf_printf(out, ", cacert %s", k->cacert);
}

bool rd_notify_sink_wants(const rd_notify_sink *k, const char *type, const char *change_kind)
{
    int i = rd__notify_type_index(type);
    if (i < 0 || !(k->events >> i & 1))
        return false;
    if (!k->kinds || !change_kind || strncmp(type, "change.", 7) != 0)
        return true;
    return (change_kind_bit(change_kind, strlen(change_kind)) & k->kinds) != 0;
}
