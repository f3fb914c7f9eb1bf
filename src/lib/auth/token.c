/* Tokens: made from the kernel's randomness, checked against the SHA-256 the store keeps.
 *
 * Invariants: a token's text exists only in the caller's buffer it was made into and in the
 * buffer a caller authenticates from; it is never written to the store (its hash is), to an
 * error message (its id is) or to an audit entry. A token is checked for its exact shape before
 * anything is looked up, and its hash is compared in constant time before anything else about
 * it (revoked, expired, its user) is said, so only the holder of the secret learns those. */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "auth_int.h"
#include "riskd/hash.h"
#include "riskd/json.h"

#define LAST_USED_EVERY_MS 60000 /* the last-use mark is a write: at most one a minute per token */

/* ------------------------------------------------------------------ making tokens */

static const char b64url[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

/* 32 bytes as 43 base64url characters (the last holds 4 bits and two zero bits). */
static void encode_secret(const unsigned char in[32], char out[RD__TOKEN_SECRET_LEN + 1])
{
    size_t o = 0;
    uint32_t acc = 0;
    unsigned bits = 0;
    for (size_t i = 0; i < 32; i++) {
        acc = (acc << 8) | in[i];
        bits += 8;
        while (bits >= 6) {
            bits -= 6;
            out[o++] = b64url[(acc >> bits) & 63u];
        }
    }
    if (bits)
        out[o++] = b64url[(acc << (6 - bits)) & 63u];
    out[o] = '\0';
}

int rd__auth_token_new(char token[RD_TOKEN_MAX], char id[RD_TOKEN_ID_MAX], rd_err *err)
{
    unsigned char raw[6 + 32];
    int rc = rd_random_bytes(raw, sizeof raw, err);
    if (rc)
        return rc;
    static const char hex[] = "0123456789abcdef";
    for (size_t i = 0; i < 6; i++) {
        id[2 * i] = hex[raw[i] >> 4];
        id[2 * i + 1] = hex[raw[i] & 15u];
    }
    id[RD__TOKEN_ID_HEX] = '\0';
    char secret[RD__TOKEN_SECRET_LEN + 1];
    encode_secret(raw + 6, secret);
    snprintf(token, RD_TOKEN_MAX, RD__TOKEN_PREFIX "%s_%s", id, secret);
    /* the secret's copies on the stack go now; only the caller's token buffer holds it */
    explicit_bzero(raw, sizeof raw);
    explicit_bzero(secret, sizeof secret);
    return RD_OK;
}

static bool is_b64url(char c) { return isalnum((unsigned char)c) || c == '-' || c == '_'; }
static bool is_lower_hex(char c) { return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'); }

bool rd__auth_token_parse(const char *token, char id[RD_TOKEN_ID_MAX])
{
    if (!token || strnlen(token, RD__TOKEN_LEN + 1) != RD__TOKEN_LEN ||
        memcmp(token, RD__TOKEN_PREFIX, 4) != 0)
        return false;
    for (size_t i = 0; i < RD__TOKEN_ID_HEX; i++)
        if (!is_lower_hex(token[4 + i]))
            return false;
    if (token[4 + RD__TOKEN_ID_HEX] != '_')
        return false;
    for (size_t i = 5 + RD__TOKEN_ID_HEX; i < RD__TOKEN_LEN; i++)
        if (!is_b64url(token[i]))
            return false;
    memcpy(id, token + 4, RD__TOKEN_ID_HEX);
    id[RD__TOKEN_ID_HEX] = '\0';
    return true;
}

bool rd__auth_hash_equal(const char *a, const char *b)
{
    /* lengths first: a stored hash of the wrong length is a mismatch, never an overread */
    if (strlen(a) != RD_SHA256_HEX - 1 || strlen(b) != RD_SHA256_HEX - 1)
        return false;
    /* every byte is compared whatever came before, so the time taken does not tell an attacker
     * how much of a guess was right */
    unsigned char diff = 0;
    for (size_t i = 0; i < RD_SHA256_HEX - 1; i++)
        diff |= (unsigned char)(a[i] ^ b[i]);
    return diff == 0;
}

/* ------------------------------------------------------------------ small shared helpers */

bool rd__auth_user_name_ok(const char *name)
{
    size_t n = name ? strlen(name) : 0;
    if (n == 0 || n >= RD_USER_MAX || !(islower((unsigned char)name[0]) || isdigit((unsigned char)name[0])))
        return false;
    for (size_t i = 1; i < n; i++) {
        unsigned char c = (unsigned char)name[i];
        if (!(islower(c) || isdigit(c) || c == '.' || c == '_' || c == '-'))
            return false;
    }
    /* the audit chain's own actors: a user with one of these names would be mistaken for them */
    return strcmp(name, "console") != 0 && strcmp(name, "anonymous") != 0 && strcmp(name, "controller") != 0;
}

void rd__auth_time(int64_t ms, char *buf, size_t cap)
{
    time_t sec = (time_t)(ms / 1000);
    struct tm tm;
    gmtime_r(&sec, &tm);
    char day[24];
    strftime(day, sizeof day, "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(buf, cap, "%s.%03dZ", day, (int)(ms % 1000));
}

void rd__auth_json_member(rd_buf *b, const char *key, const char *value)
{
    rd_buf_putc(b, b->len && b->data[b->len - 1] != '{' ? ',' : '{');
    rd_json_write_string(b, key, strlen(key));
    rd_buf_putc(b, ':');
    rd_json_write_string(b, value, strlen(value));
}

/* ------------------------------------------------------------------ authenticating */

/* Mark the token used at now_ms, at most once a minute. A plain write of last_used_ms alone
 * (rd_store_token_mark_used), never a governance transaction: authenticating must not wait for
 * a publish or an approval on any node, and a revocation committed meanwhile is kept since no
 * other column is written. Best effort: a read-only, busy or unreachable store only loses the
 * mark, never the caller's request. */
void rd__auth_mark_used(rd_store *s, const rd_token_row *seen, int64_t now_ms)
{
    if (seen->last_used_ms && now_ms - seen->last_used_ms < LAST_USED_EVERY_MS)
        return;
    (void)rd_store_token_mark_used(s, seen->id, now_ms, NULL);
}

/* The token row's verdict. Each message starts with its reason before a colon, so a caller can
 * tally failures by reason (rd_auth_limiter_fail keeps the part before the colon). */
static int check_row(const rd_token_row *t, const char *hash, int64_t now_ms, rd_err *err)
{
    if (!rd__auth_hash_equal(hash, t->hash))
        return rd_err_set(err, RD_EUNAUTH, "wrong secret: the token with id %s has another secret", t->id);
    char when[40];
    if (t->revoked_ms) {
        rd__auth_time(t->revoked_ms, when, sizeof when);
        return rd_err_set(err, RD_EUNAUTH, "revoked: token %s was revoked at %s", t->id, when);
    }
    if (t->expires_ms && t->expires_ms <= now_ms) {
        rd__auth_time(t->expires_ms, when, sizeof when);
        return rd_err_set(err, RD_EUNAUTH, "expired: token %s expired at %s", t->id, when);
    }
    return RD_OK;
}

static int load_user(rd_store *s, const rd_token_row *t, rd_principal *p, rd_err *err)
{
    rd_user_row u;
    int rc = rd_store_user_get(s, t->user, &u, err);
    if (rc == RD_ENOTFOUND)
        return rd_err_set(err, RD_EUNAUTH, "unknown user: token %s names user %s, who does not exist", t->id,
                          t->user);
    if (rc)
        return rc;
    if (u.disabled)
        return rd_err_set(err, RD_EUNAUTH, "user disabled: %s is disabled, so token %s does not work", u.name,
                          t->id);
    int role = rd_role_parse(u.role);
    if (role < 0)
        return rd_err_set(err, RD_EINTERNAL, "user %s has an unknown role \"%s\" in the store", u.name,
                          u.role);
    memset(p, 0, sizeof *p);
    snprintf(p->user, sizeof p->user, "%s", u.name);
    p->role = (rd_role)role;
    p->perms = rd_role_perms(p->role);
    p->scopes = t->scopes;
    snprintf(p->token_id, sizeof p->token_id, "%s", t->id);
    p->expires_ms = t->expires_ms;
    p->session = t->parent[0] != '\0';
    return RD_OK;
}

int rd__auth_check_token(rd_store *s, const char *token, int64_t now_ms, rd_token_row *row, rd_principal *p,
                         rd_err *err)
{
    char id[RD_TOKEN_ID_MAX];
    if (!rd__auth_token_parse(token, id))
        return rd_err_set(err, RD_EUNAUTH,
                          "malformed token: a token is rdk_, 12 hex digits, _ and 43 base64url characters");
    int rc = rd_store_token_get(s, id, row, err);
    if (rc == RD_ENOTFOUND)
        return rd_err_set(err, RD_EUNAUTH, "unknown token: no token has id %s", id);
    if (rc)
        return rc;
    char hash[RD_SHA256_HEX];
    rd_sha256_hex(token, strlen(token), hash);
    if ((rc = check_row(row, hash, now_ms, err)) || (rc = load_user(s, row, p, err)))
        return rc;
    return RD_OK;
}

int rd_auth_authenticate(rd_store *s, const char *token, int64_t now_ms, rd_principal *out, rd_err *err)
{
    rd_token_row t = {0}; /* filled by the store (the analyzer cannot see through its ops table) */
    rd_principal p;
    int rc = rd__auth_check_token(s, token, now_ms, &t, &p, err);
    if (rc)
        return rc;
    /* a console session's token works only as the console's cookie, where the server checks the
       request's origin and CSRF token, its parent and its idle time (rd_session_authenticate) */
    if (t.parent[0])
        return rd_err_set(err, RD_EUNAUTH,
                          "session token: token %s is a console session's, which works only as the console's"
                          " cookie",
                          t.id);
    rd__auth_mark_used(s, &t, now_ms);
    *out = p;
    return RD_OK;
}

int rd_token_read_file(const char *path, char token[RD_TOKEN_MAX], rd_err *err)
{
    char *text;
    size_t size;
    int rc = rd_file_read(path, 4096, &text, &size, err);
    if (rc == RD_ELIMIT)
        return rd_err_set(err, RD_EUNAUTH, "%s: too large to hold a token", path);
    if (rc)
        return rc; /* RD_EIO naming the file, or RD_ENOMEM */
    size_t a = 0, b = size;
    while (a < b && isspace((unsigned char)text[a]))
        a++;
    while (b > a && isspace((unsigned char)text[b - 1]))
        b--;
    size_t len = b - a;
    if (len > 0 && len < RD_TOKEN_MAX) {
        memcpy(token, text + a, len);
        token[len] = '\0';
    }
    explicit_bzero(text, size); /* the heap keeps no copy of the token after the free */
    rd_free(text);
    if (len == 0)
        return rd_err_set(err, RD_EUNAUTH, "%s: empty, no token in it", path);
    if (len >= RD_TOKEN_MAX)
        return rd_err_set(err, RD_EUNAUTH, "%s: does not hold a token (too long)", path);
    return RD_OK;
}
