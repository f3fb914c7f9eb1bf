/* A bundle's identity and its signature.
 *
 * The digest is the SHA-256 of the manifest's RFC 8785 canonical JSON without its own
 * "digest" member: the manifest lists every other file's SHA-256, so the digest covers every
 * byte that decides, and two manifests that say the same thing in other whitespace or key
 * order have the same digest (docs/adr/0005-bundle-digest.md). The manifest carries it, so
 * a hand edit of the manifest is found at load.
 *
 * A signature is Ed25519 (nettle) over the digest's 64 lower-case hex characters, kept as
 * base64 in signature.ed25519 beside the manifest and not listed in it (signing changes no
 * byte the digest covers). Keys are the base64 of the raw 32 bytes: the public key, or the
 * secret key's seed.
 *
 * Invariants: nothing here prints; a file is replaced through a temporary file renamed into
 * place, so a reader sees the old bytes or the new ones, never a mix. */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <nettle/base64.h>
#include <nettle/eddsa.h>

#include "bundle_int.h"
#include "riskd/hash.h"
#include "riskd/json.h"

#define MAX_MANIFEST_BYTES  (16u << 20)
#define MAX_KEY_FILE_BYTES  (64u << 10)
#define MAX_SIGNATURE_BYTES 1024u

static const char hexdigits[] = "0123456789abcdef";

/* ---------------------------------------------------------------- digest */

int rd_bundle_manifest_digest(const rd_value *m, char hex[RD_SHA256_HEX], rd_buf *canonical, rd_err *err)
{
    if (!m || m->type != RD_VOBJECT)
        return rd_err_set(err, RD_EINVAL, "manifest.json: not a JSON object");
    rd_member *kept = rd_malloc((m->len ? m->len : 1) * sizeof *kept);
    if (!kept)
        return rd_err_set(err, RD_ENOMEM, "out of memory");
    uint32_t n = 0;
    for (uint32_t i = 0; i < m->len; i++)
        if (!(m->u.members[i].key_len == 6 && !memcmp(m->u.members[i].key, "digest", 6)))
            kept[n++] = m->u.members[i];
    rd_value without = {.type = RD_VOBJECT, .len = n, .u.members = kept};
    rd_buf local, *b = canonical ? canonical : &local;
    if (!canonical)
        rd_buf_init(&local);
    size_t start = b->len;
    int rc = rd_json_write_canonical(b, &without);
    if (rc == RD_OK && b->oom)
        rc = RD_ENOMEM;
    if (rc == RD_OK)
        rd_sha256_hex(b->data + start, b->len - start, hex);
    if (!canonical)
        rd_buf_deinit(&local);
    rd_free(kept);
    if (rc == RD_EINVAL)
        return rd_err_set(err, rc, "manifest.json: holds a number JSON cannot (NaN or an infinity)");
    return rc ? rd_err_set(err, rc, "out of memory") : RD_OK;
}

static bool is_sha256_hex(const rd_value *v)
{
    return v && v->type == RD_VSTRING && v->len == 64 && strspn(v->u.s, hexdigits) == 64;
}

int rd__bundle_check_digest(rd_bundle *b, rd_err *err)
{
    int rc = rd_bundle_manifest_digest(&b->manifest, b->digest, NULL, err);
    if (rc != RD_OK)
        return rc;
    const rd_value *d = rd_value_get(&b->manifest, "digest", 6);
    if (!d)
        return rd_err_set(err, RD_EINVAL,
                          "manifest.json: no digest (a bundle from before manifests were sealed: rebuild "
                          "it with `riskd bundle build`, or check it and run `riskd bundle seal DIR`)");
    if (!is_sha256_hex(d))
        return rd_err_set(err, RD_EINVAL, "manifest.json: digest: not a SHA-256 in lower-case hex");
    if (strcmp(d->u.s, b->digest) != 0)
        return rd_err_set(err, RD_EINVAL,
                          "manifest.json: digest mismatch (the manifest was edited after it was built: it "
                          "says %.12s..., its content is %.12s...; rebuild the bundle, or `riskd bundle "
                          "seal` a deliberate edit)",
                          d->u.s, b->digest);
    return RD_OK;
}

/* Past the JSON string starting at t[i] (a '"'): the index after its closing quote. The
 * text has parsed as JSON, so the string is closed. */
static size_t skip_string(const char *t, size_t n, size_t i)
{
    for (i++; i < n && t[i] != '"'; i++)
        if (t[i] == '\\')
            i++;
    return i + 1;
}

static size_t skip_ws(const char *t, size_t n, size_t i)
{
    while (i < n && (t[i] == ' ' || t[i] == '\t' || t[i] == '\n' || t[i] == '\r'))
        i++;
    return i;
}

/* The span [*vs, *ve) of the value of the top-level member named "digest" (written plainly)
 * in text that parsed as a JSON object; false when there is none. A string followed by ':'
 * is a key; at depth 1 it is a member of the top-level object. */
static bool find_digest(const char *t, size_t n, size_t *vs, size_t *ve)
{
    int depth = 0;
    for (size_t i = 0; i < n;) {
        char c = t[i];
        if (c == '"') {
            size_t s = i;
            i = skip_string(t, n, i);
            size_t j = skip_ws(t, n, i);
            if (depth == 1 && j < n && t[j] == ':' && i - s == 8 && !memcmp(t + s, "\"digest\"", 8)) {
                *vs = skip_ws(t, n, j + 1);
                *ve = *vs < n && t[*vs] == '"' ? skip_string(t, n, *vs) : *vs;
                return true;
            }
            continue;
        }
        depth += (c == '{' || c == '[') - (c == '}' || c == ']');
        i++;
    }
    return false;
}

int rd_bundle_manifest_set_digest(const char *text, size_t len, const char *hex, rd_buf *out, rd_err *err)
{
    rd_arena a;
    rd_arena_init(&a, 0);
    rd_value m;
    int rc = rd_json_parse(text, len, NULL, &a, &m, err);
    if (rc != RD_OK)
        rd_err_prefix(err, "manifest.json");
    else if (m.type != RD_VOBJECT)
        rc = rd_err_set(err, RD_EINVAL, "manifest.json: not a JSON object");
    bool has = rc == RD_OK && rd_value_get(&m, "digest", 6);
    rd_arena_deinit(&a);
    if (rc != RD_OK)
        return rc;
    size_t vs = 0, ve = 0;
    if (find_digest(text, len, &vs, &ve)) {
        if (ve == vs)
            return rd_err_set(err, RD_EINVAL,
                              "manifest.json: digest: not a string (remove it and seal again)");
        rc = rd_buf_append(out, text, vs) | rd_buf_printf(out, "\"%s\"", hex) |
             rd_buf_append(out, text + ve, len - ve);
    } else if (has) {
        return rd_err_set(
            err, RD_EINVAL,
            "manifest.json: its digest member is written with escapes (remove it and seal again)");
    } else {
        /* Added last, after the last member: the text ends in '}' and blanks. */
        size_t close = len;
        while (close > 0 && text[close - 1] != '}')
            close--;
        size_t last = close - 1;
        while (last > 0 && isspace((unsigned char)text[last - 1]))
            last--;
        bool empty = last > 0 && text[last - 1] == '{';
        rc = rd_buf_append(out, text, last) |
             rd_buf_printf(out, "%s\n  \"digest\": \"%s\"\n", empty ? "" : ",", hex) |
             rd_buf_append(out, text + close - 1, len - (close - 1));
    }
    return rc || out->oom ? rd_err_set(err, RD_ENOMEM, "out of memory") : RD_OK;
}

int rd__bundle_write_atomic(const char *dir, const char *name, const char *data, size_t len, rd_err *err)
{
    char path[4400], tmp[4450];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    snprintf(tmp, sizeof tmp, "%s/.%s.tmp-%ld", dir, name, (long)getpid());
    FILE *f = fopen(tmp, "wb");
    if (!f)
        return rd_err_set(err, RD_EIO, "%s: cannot write: %s", tmp, strerror(errno));
    bool ok = fwrite(data, 1, len, f) == len;
    ok &= fflush(f) == 0 && fsync(fileno(f)) == 0;
    int saved = errno;
    ok &= fclose(f) == 0;
    if (ok && rename(tmp, path) == 0)
        return RD_OK;
    if (ok)
        saved = errno;
    unlink(tmp);
    return rd_err_set(err, RD_EIO, "%s: cannot write: %s", path, strerror(saved));
}

int rd_bundle_seal(const char *dir, char hex[RD_SHA256_HEX], rd_err *err)
{
    char path[4200], *text = NULL;
    size_t len;
    snprintf(path, sizeof path, "%s/manifest.json", dir);
    int rc = rd_file_read(path, MAX_MANIFEST_BYTES, &text, &len, err);
    if (rc != RD_OK)
        return rc;
    rd_arena a;
    rd_arena_init(&a, 0);
    rd_value m;
    char digest[RD_SHA256_HEX];
    rd_buf out;
    rd_buf_init(&out);
    rc = rd_json_parse(text, len, NULL, &a, &m, err);
    if (rc != RD_OK)
        rd_err_prefix(err, "manifest.json");
    if (rc == RD_OK)
        rc = rd_bundle_manifest_digest(&m, digest, NULL, err);
    if (rc == RD_OK)
        rc = rd_bundle_manifest_set_digest(text, len, digest, &out, err);
    if (rc == RD_OK)
        rc = rd__bundle_write_atomic(dir, "manifest.json", out.data, out.len, err);
    else if (rc != RD_EIO)
        rd_err_prefix(err, "%s", dir);
    if (rc == RD_OK)
        memcpy(hex, digest, RD_SHA256_HEX);
    rd_buf_deinit(&out);
    rd_arena_deinit(&a);
    rd_free(text);
    return rc;
}

/* ---------------------------------------------------------------- keys */

/* The base64 of n bytes and a newline, NUL-terminated, into out
 * (BASE64_ENCODE_RAW_LENGTH(n) + 2 bytes). */
static void encode64_line(const uint8_t *data, size_t n, char *out)
{
    base64_encode_raw(out, n, data);
    out[BASE64_ENCODE_RAW_LENGTH(n)] = '\n';
    out[BASE64_ENCODE_RAW_LENGTH(n) + 1] = '\0';
}

/* Decode the base64 text t[0..n) into exactly want bytes; false for anything else. */
static bool decode64(const char *t, size_t n, uint8_t *out, size_t want)
{
    uint8_t buf[BASE64_DECODE_LENGTH(MAX_SIGNATURE_BYTES)];
    if (n > MAX_SIGNATURE_BYTES)
        return false;
    struct base64_decode_ctx ctx;
    size_t got = 0;
    base64_decode_init(&ctx);
    if (!base64_decode_update(&ctx, &got, buf, n, t) || !base64_decode_final(&ctx) || got != want)
        return false;
    memcpy(out, buf, want);
    return true;
}

int rd_bundle_keygen(rd_bundle_key *pub, rd_bundle_key *secret, rd_err *err)
{
    rd_bundle_key s;
    int rc = rd_random_bytes(s.bytes, sizeof s.bytes, err);
    if (rc)
        return rc;
    ed25519_sha512_public_key(pub->bytes, s.bytes);
    *secret = s;
    return RD_OK;
}

int rd_bundle_key_write(const char *path, const rd_bundle_key *key, bool secret, rd_err *err)
{
    char text[BASE64_ENCODE_RAW_LENGTH(RD_BUNDLE_KEY_BYTES) + 2];
    encode64_line(key->bytes, RD_BUNDLE_KEY_BYTES, text);
    int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, secret ? 0600 : 0644);
    if (fd < 0)
        return rd_err_set(err, errno == EEXIST ? RD_EINVAL : RD_EIO, "%s: %s", path,
                          errno == EEXIST ? "exists; a key file is never overwritten" : strerror(errno));
    size_t n = strlen(text);
    bool ok = write(fd, text, n) == (ssize_t)n && fsync(fd) == 0;
    int saved = errno;
    ok &= close(fd) == 0;
    if (ok)
        return RD_OK;
    unlink(path);
    return rd_err_set(err, RD_EIO, "%s: cannot write: %s", path, strerror(saved));
}

int rd_bundle_keys_read(const char *path, rd_bundle_key *keys, size_t cap, size_t *n, rd_err *err)
{
    char *text;
    size_t len, found = 0;
    int rc = rd_file_read(path, MAX_KEY_FILE_BYTES, &text, &len, err);
    if (rc != RD_OK)
        return rc;
    int line = 0;
    for (char *p = text, *next; rc == RD_OK && p && *p; p = next) {
        line++;
        next = strchr(p, '\n');
        if (next)
            *next++ = '\0';
        char *hash = strchr(p, '#');
        if (hash)
            *hash = '\0';
        while (isspace((unsigned char)*p))
            p++;
        size_t k = strlen(p);
        while (k && isspace((unsigned char)p[k - 1]))
            k--;
        if (k == 0)
            continue;
        rd_bundle_key key;
        if (!decode64(p, k, key.bytes, RD_BUNDLE_KEY_BYTES))
            rc = rd_err_set(err, RD_EINVAL, "%s:%d: not an Ed25519 key (the base64 of 32 bytes)", path, line);
        else if (found == cap)
            rc = rd_err_set(err, RD_EINVAL, "%s: more than %zu keys", path, cap);
        else
            keys[found++] = key;
    }
    rd_free(text);
    if (rc == RD_OK && found == 0)
        rc = rd_err_set(err, RD_EINVAL, "%s: no key in it (a line with the base64 of 32 bytes)", path);
    if (rc == RD_OK)
        *n = found;
    return rc;
}

/* ---------------------------------------------------------------- signatures */

int rd__bundle_read_signature(rd_bundle *b, const char *dir, rd_err *err)
{
    char path[4200], *text;
    size_t len;
    snprintf(path, sizeof path, "%s/%s", dir, RD_BUNDLE_SIGNATURE_FILE);
    if (access(path, F_OK) != 0 && errno == ENOENT)
        return RD_OK;
    int rc = rd_file_read(path, MAX_SIGNATURE_BYTES, &text, &len, err);
    if (rc == RD_ELIMIT)
        rc = rd_err_set(err, RD_EINVAL, "%s: longer than a signature", RD_BUNDLE_SIGNATURE_FILE);
    if (rc != RD_OK)
        return rc;
    char *copy = rd_arena_alloc(&b->arena, len + 1);
    if (copy) {
        memcpy(copy, text, len + 1);
        b->signature = copy;
        b->signature_len = len;
    }
    rd_free(text);
    return copy ? RD_OK : rd_err_set(err, RD_ENOMEM, "out of memory");
}

bool rd_bundle_signed(const rd_bundle *b) { return b->signature != NULL; }

int rd_bundle_verify_signature(const rd_bundle *b, const rd_bundle_key *keys, size_t nkeys, rd_err *err)
{
    if (!b->signature)
        return rd_err_set(err, RD_EINVAL,
                          "%s/%s: missing: the bundle is not signed (riskd bundle sign DIR --key KEY)",
                          b->name, RD_BUNDLE_SIGNATURE_FILE);
    size_t n = b->signature_len;
    while (n && isspace((unsigned char)b->signature[n - 1]))
        n--;
    uint8_t sig[ED25519_SIGNATURE_SIZE];
    if (!decode64(b->signature, n, sig, sizeof sig))
        return rd_err_set(err, RD_EINVAL, "%s/%s: malformed: not the base64 of a 64-byte Ed25519 signature",
                          b->name, RD_BUNDLE_SIGNATURE_FILE);
    for (size_t i = 0; i < nkeys; i++)
        if (ed25519_sha512_verify(keys[i].bytes, 64, (const uint8_t *)b->digest, sig))
            return RD_OK;
    return rd_err_set(err, RD_EINVAL,
                      "%s/%s: wrong: made by none of the %zu trusted key(s), or for another manifest (the "
                      "digest is %.12s...)",
                      b->name, RD_BUNDLE_SIGNATURE_FILE, nkeys, b->digest);
}

int rd_bundle_sign(const char *dir, const rd_bundle_key *secret, char hex[RD_SHA256_HEX], rd_err *err)
{
    rd_bundle *b;
    size_t checked;
    int rc = rd_bundle_load(dir, &b, err);
    if (rc != RD_OK)
        return rc;
    if ((rc = rd_bundle_verify(b, &checked, err)) == RD_OK) {
        rd_bundle_key pub;
        uint8_t sig[ED25519_SIGNATURE_SIZE];
        char text[BASE64_ENCODE_RAW_LENGTH(ED25519_SIGNATURE_SIZE) + 2];
        ed25519_sha512_public_key(pub.bytes, secret->bytes);
        ed25519_sha512_sign(pub.bytes, secret->bytes, 64, (const uint8_t *)b->digest, sig);
        encode64_line(sig, sizeof sig, text);
        rc = rd__bundle_write_atomic(dir, RD_BUNDLE_SIGNATURE_FILE, text, strlen(text), err);
        if (rc == RD_OK)
            memcpy(hex, b->digest, RD_SHA256_HEX);
    }
    rd_bundle_free(b);
    return rc;
}
