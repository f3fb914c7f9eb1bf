/* log_redact: the request's inputs that the decision log keeps only as a keyed hash, or not at
 * all (docs/governance.md, "Personal data in the decision log").
 *
 * A policy is compiled once and immutable: the names, how each is redacted, and the HMAC key
 * already absorbed into a template context (nettle's hmac_sha256_set_key), which each hash
 * copies, so threads share it without a lock and the key's bytes are not kept beside it.
 * A value is hashed over its canonical JSON (RFC 8785): the string "a@b.example" as the 13
 * bytes "\"a@b.example\"", the number 42 as "42", so an investigator's hash of the same value
 * agrees whatever white space or key order the request had. */
#include <nettle/hmac.h>
#include <stdio.h>
#include <string.h>

#include "dlog_int.h"
#include "riskd/json.h"

struct rd_dlog_redact {
    size_t n;
    struct {
        char name[128];
        size_t len;
        rd_redact_how how;
    } f[RD_REDACT_MAX];
    bool keyed;
    struct hmac_sha256_ctx key; /* the key absorbed: copied per hash */
};

static int parse_item(rd_dlog_redact *r, const char *item, size_t len, rd_err *err)
{
    while (len && (*item == ' ' || *item == '\t'))
        item++, len--;
    while (len && (item[len - 1] == ' ' || item[len - 1] == '\t'))
        len--;
    const char *colon = memchr(item, ':', len);
    size_t nl = colon ? (size_t)(colon - item) : len;
    rd_redact_how how = RD_REDACT_HASH;
    if (colon) {
        size_t ml = len - nl - 1;
        if (ml == 4 && !memcmp(colon + 1, "drop", 4))
            how = RD_REDACT_DROP;
        else if (!(ml == 4 && !memcmp(colon + 1, "hash", 4)))
            return rd_err_set(err, RD_EINVAL, "log_redact: \"%.*s\": the mode after ':' is drop or hash",
                              (int)len, item);
    }
    if (!nl)
        return rd_err_set(err, RD_EINVAL,
                          "log_redact: an empty name (the list is name[:drop],name[:drop],...)");
    if (nl >= sizeof r->f[0].name)
        return rd_err_set(err, RD_EINVAL, "log_redact: \"%.40s...\" is longer than %zu bytes", item,
                          sizeof r->f[0].name - 1);
    if (nl == 12 && !memcmp(item, "targetingKey", 12))
        return rd_err_set(err, RD_EINVAL,
                          "log_redact: targetingKey cannot be redacted: it identifies the applicant for "
                          "routing and for erasure (riskd log erase); give a pseudonymous id there");
    for (size_t i = 0; i < r->n; i++)
        if (r->f[i].len == nl && !memcmp(r->f[i].name, item, nl))
            return rd_err_set(err, RD_EINVAL, "log_redact: \"%.*s\" is named twice", (int)nl, item);
    if (r->n == RD_REDACT_MAX)
        return rd_err_set(err, RD_EINVAL, "log_redact: at most %d names", RD_REDACT_MAX);
    memcpy(r->f[r->n].name, item, nl);
    r->f[r->n].name[nl] = '\0';
    r->f[r->n].len = nl;
    r->f[r->n++].how = how;
    return RD_OK;
}

static int read_key(rd_dlog_redact *r, const char *key_file, rd_err *err)
{
    char *key;
    size_t len;
    int rc = rd_file_read(key_file, 1 << 16, &key, &len, err);
    if (rc) {
        rd_err_prefix(err, "log_redact_key_file");
        return rc;
    }
    if (len < RD_REDACT_KEY_MIN)
        rc =
            rd_err_set(err, RD_EINVAL,
                       "log_redact_key_file %s: %zu bytes; the key needs %d or more random bytes (head -c 32 "
                       "/dev/urandom > FILE)",
                       key_file, len, RD_REDACT_KEY_MIN);
    else
        hmac_sha256_set_key(&r->key, len, (const uint8_t *)key);
    explicit_bzero(key, len);
    rd_free(key);
    r->keyed = rc == RD_OK;
    return rc;
}

int rd_dlog_redact_new(const char *spec, const char *key_file, rd_dlog_redact **out, rd_err *err)
{
    if (!spec || !*spec) {
        *out = NULL;
        return RD_OK;
    }
    rd_dlog_redact *r = rd_calloc(1, sizeof *r);
    if (!r)
        return rd_err_set(err, RD_ENOMEM, "out of memory");
    int rc = RD_OK;
    for (const char *p = spec; !rc;) {
        const char *comma = strchr(p, ',');
        size_t len = comma ? (size_t)(comma - p) : strlen(p);
        rc = parse_item(r, p, len, err);
        if (!comma)
            break;
        p = comma + 1;
    }
    const char *hashed = NULL;
    for (size_t i = 0; !hashed && i < r->n; i++)
        hashed = r->f[i].how == RD_REDACT_HASH ? r->f[i].name : NULL;
    if (!rc && key_file && *key_file)
        rc = read_key(r, key_file, err);
    else if (!rc && hashed)
        rc = rd_err_set(
            err, RD_EINVAL,
            "log_redact hashes \"%s\": log_redact_key_file (--log-redact-key-file) must name the key, "
            "a file of %d or more random bytes",
            hashed, RD_REDACT_KEY_MIN);
    if (rc) {
        explicit_bzero(r, sizeof *r);
        rd_free(r);
        return rc;
    }
    *out = r;
    return RD_OK;
}

void rd_dlog_redact_free(rd_dlog_redact *r)
{
    if (r) {
        explicit_bzero(r, sizeof *r);
        rd_free(r);
    }
}

const char *rd_dlog_redact_describe(const rd_dlog_redact *r, char *buf, size_t cap)
{
    size_t at = 0;
    if (cap)
        buf[0] = '\0';
    for (size_t i = 0; r && i < r->n && at < cap; i++) {
        int w = snprintf(buf + at, cap - at, "%s%s%s", i ? "," : "", r->f[i].name,
                         r->f[i].how == RD_REDACT_DROP ? ":drop" : "");
        at += w > 0 ? (size_t)w : 0;
    }
    return buf;
}

int rd_dlog_redact_hash(const rd_dlog_redact *r, const rd_value *v, char out[RD_REDACT_HASH_MAX], rd_err *err)
{
    if (!r || !r->keyed)
        return rd_err_set(err, RD_EINVAL, "no log_redact_key_file: nothing to hash with");
    rd_buf canon;
    rd_buf_init(&canon);
    int rc = rd_json_write_canonical(&canon, v);
    if (!rc && canon.oom)
        rc = RD_ENOMEM;
    if (rc) {
        rd_buf_deinit(&canon);
        return rd_err_set(err, rc, rc == RD_ENOMEM ? "out of memory" : "the value is not JSON (NaN)");
    }
    struct hmac_sha256_ctx c = r->key;
    hmac_sha256_update(&c, canon.len, (const uint8_t *)canon.data);
    uint8_t mac[SHA256_DIGEST_SIZE];
    hmac_sha256_digest(&c, sizeof mac, mac);
    explicit_bzero(&c, sizeof c);
    explicit_bzero(canon.data, canon.len);
    rd_buf_deinit(&canon);
    static const char hex[] = "0123456789abcdef";
    memcpy(out, RD_REDACT_PREFIX, sizeof RD_REDACT_PREFIX - 1);
    char *h = out + sizeof RD_REDACT_PREFIX - 1;
    for (size_t i = 0; i < sizeof mac; i++) {
        h[2 * i] = hex[mac[i] >> 4];
        h[2 * i + 1] = hex[mac[i] & 15];
    }
    h[2 * sizeof mac] = '\0';
    return RD_OK;
}

/* ------------------------------------------------------------------ the record's side */

size_t rd__redact_find(const rd_dlog_redact *r, const char *name, size_t len)
{
    for (size_t i = 0; r && i < r->n; i++)
        if (r->f[i].len == len && !memcmp(r->f[i].name, name, len))
            return i;
    return (size_t)-1;
}

void rd__redact_write_inputs(rd_buf *b, const rd_value *v, const rd_dlog_redact *r, bool seen[RD_REDACT_MAX])
{
    if (!v) {
        rd_buf_puts(b, "null");
        return;
    }
    if (!r || v->type != RD_VOBJECT) {
        rd_json_write(b, v);
        return;
    }
    rd_buf_putc(b, '{');
    bool first = true;
    for (uint32_t i = 0; i < v->len; i++) {
        const rd_member *m = &v->u.members[i];
        size_t k = rd__redact_find(r, m->key, m->key_len);
        if (k != (size_t)-1)
            seen[k] = true;
        if (k != (size_t)-1 && r->f[k].how == RD_REDACT_DROP)
            continue;
        if (!first)
            rd_buf_putc(b, ',');
        first = false;
        rd_json_write_string(b, m->key, m->key_len);
        rd_buf_putc(b, ':');
        if (k == (size_t)-1) {
            rd_json_write(b, &m->val);
            continue;
        }
        char h[RD_REDACT_HASH_MAX];
        if (rd_dlog_redact_hash(r, &m->val, h, NULL) != RD_OK) {
            b->oom = 1; /* the record is refused: never the value in clear */
            return;
        }
        rd_buf_putc(b, '"');
        rd_buf_puts(b, h);
        rd_buf_putc(b, '"');
    }
    rd_buf_putc(b, '}');
}

void rd__redact_write_summary(rd_buf *b, const rd_dlog_redact *r, const bool seen[RD_REDACT_MAX])
{
    bool any = false;
    for (size_t i = 0; r && i < r->n; i++) {
        if (!seen[i])
            continue;
        rd_buf_puts(b, any ? "," : ",\"redacted\":{");
        any = true;
        rd_json_write_string(b, r->f[i].name, r->f[i].len);
        rd_buf_puts(b, r->f[i].how == RD_REDACT_DROP ? ":\"drop\"" : ":\"hash\"");
    }
    if (any)
        rd_buf_putc(b, '}');
}
