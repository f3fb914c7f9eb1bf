/* CORS for the browser-facing routes (OFREP and scoring), as flagd's --cors-origin does: the
 * rules that decide, free of libmicrohttpd so they can be checked without a socket. http.c
 * writes the headers they decide.
 *
 * Invariants: a configured origin list is normalised once, at config load (lower-case scheme
 * and host, no default port, comma-separated without spaces), so matching a request's Origin
 * is one case-insensitive comparison per entry; "*" stands alone; an origin is never matched
 * by prefix or pattern. This is HTTP plumbing, not a credit or flag rule: it lives with the
 * server, beside the other request rules (request.c), not in libriskd. */
#include <ctype.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "server.h"

/* The scheme's default port, dropped from a configured origin since browsers never send it. */
static const char *default_port(const char *scheme, size_t n)
{
    if (n == 4 && !strncmp(scheme, "http", 4))
        return "80";
    if (n == 5 && !strncmp(scheme, "https", 5))
        return "443";
    return NULL;
}

static bool host_char(char c) { return isalnum((unsigned char)c) || c == '-' || c == '.' || c == '_'; }
static bool ipv6_char(char c) { return isxdigit((unsigned char)c) || c == ':' || c == '.'; }

/* One origin of the list, [s, s+n), checked and appended to out in its normal form. false when
 * it is not scheme://host[:port]. */
static bool normalize_one(const char *s, size_t n, rd_buf *out)
{
    char low[SRV_ORIGIN_MAX];
    if (!n || n >= sizeof low || !isalpha((unsigned char)s[0]))
        return false;
    for (size_t k = 0; k < n; k++)
        low[k] = (char)tolower((unsigned char)s[k]);
    size_t i = 0;
    while (i < n && (isalnum((unsigned char)s[i]) || s[i] == '+' || s[i] == '-' || s[i] == '.'))
        i++;
    size_t scheme_len = i;
    if (n - i < 3 || memcmp(s + i, "://", 3) != 0)
        return false;
    size_t host = i += 3;
    if (i < n && s[i] == '[') { /* an IPv6 literal */
        while (++i < n && ipv6_char(s[i]))
            ;
        if (i == n || s[i] != ']' || i == host + 1)
            return false;
        i++;
    } else {
        while (i < n && host_char(s[i]))
            i++;
        if (i == host || s[host] == '.' || s[i - 1] == '.')
            return false;
    }
    size_t host_end = i, port = 0;
    if (i < n && s[i] == ':') {
        port = ++i;
        unsigned long v = 0;
        while (i < n && isdigit((unsigned char)s[i]) && i - port < 5)
            v = v * 10 + (unsigned long)(s[i++] - '0');
        if (i == port || s[port] == '0' || v > 65535)
            return false;
    }
    if (i != n) /* a path, a trailing slash, a query, user info, a sixth port digit: not an origin */
        return false;
    if (out->len)
        rd_buf_putc(out, ',');
    rd_buf_append(out, low, host_end);
    const char *dp = default_port(low, scheme_len);
    if (port && !(dp && strlen(dp) == n - port && !memcmp(dp, s + port, n - port))) {
        rd_buf_putc(out, ':');
        rd_buf_append(out, s + port, n - port);
    }
    return true;
}

int srv_cors_normalize(const char *list, char *out, size_t cap, rd_err *err)
{
    rd_buf b;
    rd_buf_init(&b);
    int rc = RD_OK;
    const char *p = list;
    size_t count = 0;
    bool star = false, comma = false;
    while (*p) {
        size_t n = strcspn(p, ",");
        const char *s = p;
        size_t m = n;
        while (m && isspace((unsigned char)*s))
            s++, m--;
        while (m && isspace((unsigned char)s[m - 1]))
            m--;
        comma = p[n] == ',';
        p += n + comma;
        if (!m) {
            rc = rd_err_set(err, RD_EINVAL, "an empty entry in \"%s\"", list);
            goto out;
        }
        count++;
        if (m == 1 && *s == '*') {
            star = true;
            continue;
        }
        if (!normalize_one(s, m, &b)) {
            rc = rd_err_set(err, RD_EINVAL,
                            "\"%.*s\" is not an origin: expected scheme://host[:port] (no path, no trailing "
                            "slash), or * alone",
                            (int)(m > 200 ? 200 : m), s);
            goto out;
        }
    }
    if (comma) { /* "a," ends with an empty entry too */
        rc = rd_err_set(err, RD_EINVAL, "an empty entry in \"%s\"", list);
        goto out;
    }
    if (star && count > 1) {
        rc = rd_err_set(err, RD_EINVAL, "* allows every origin and goes alone, not in a list (\"%s\")", list);
        goto out;
    }
    if (star)
        rd_buf_putc(&b, '*');
    if (b.oom || b.len >= cap) {
        rc = rd_err_set(err, RD_EINVAL, "the list is longer than %zu bytes", cap - 1);
        goto out;
    }
    memcpy(out, b.len ? b.data : "", b.len);
    out[b.len] = '\0';
out:
    rd_buf_deinit(&b);
    return rc;
}

bool srv_cors_allowed(const char *list, const char *origin)
{
    if (!list || !*list || !origin || !*origin)
        return false;
    if (!strcmp(list, "*"))
        return true;
    size_t n = strlen(origin);
    for (const char *p = list; *p;) {
        size_t m = strcspn(p, ",");
        if (m == n && !strncasecmp(p, origin, n))
            return true;
        p += m + (p[m] == ',');
    }
    return false;
}

bool srv_cors_covers(const char *path, bool compat_routes)
{
    return !strncmp(path, "/ofrep/v1/", 10) || !strcmp(path, "/v1/score") ||
           !strcmp(path, "/v1/score/batch") || (compat_routes && !strcmp(path, "/score"));
}

bool srv_cors_headers_ok(const char *requested, char *bad, size_t cap)
{
    static const char *const allowed[] = {"content-type", "authorization", "if-none-match"};
    if (cap)
        bad[0] = 0;
    for (const char *p = requested ? requested : ""; *p;) {
        p += strspn(p, " \t,");
        size_t m = strcspn(p, ",");
        size_t t = m;
        while (t && (p[t - 1] == ' ' || p[t - 1] == '\t'))
            t--;
        bool ok = t == 0;
        for (size_t i = 0; !ok && i < sizeof allowed / sizeof allowed[0]; i++)
            ok = strlen(allowed[i]) == t && !strncasecmp(p, allowed[i], t);
        if (!ok) {
            snprintf(bad, cap, "%.*s", (int)(t > 100 ? 100 : t), p);
            return false;
        }
        p += m;
    }
    return true;
}
