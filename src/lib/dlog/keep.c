/* Keeping what served a decision: flag sets, fallback rules and bundles, by SHA-256, in the
 * store, each stored once however many times it is kept; and a kept bundle laid out as a
 * directory again (replay, the bundle cache), every blob checked against its key. */
#include <errno.h>
#include <fcntl.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "riskd/bundle.h"
#include "riskd/dlog.h"
#include "riskd/json.h"

int rd_dlog_keep_text(rd_store *s, const char *text, size_t len, char hex[RD_SHA256_HEX], rd_err *err)
{
    return rd_store_blob_put(s, text, len, hex, err);
}

/* One file of the bundle, checked against the checksum the manifest gives. */
static int keep_file(rd_store *s, const char *dir, const char *name, const char *want, rd_err *err)
{
    if (rd_store_blob_has(s, want))
        return RD_OK; /* kept before: a restart does not copy it again */
    char path[4200], hex[RD_SHA256_HEX];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    char *data;
    size_t len;
    int rc = rd_file_read(path, 0, &data, &len, err);
    if (rc)
        return rc;
    rc = rd_store_blob_put(s, data, len, hex, err);
    rd_free(data);
    if (!rc && strcmp(hex, want) != 0)
        rc = rd_err_set(
            err, RD_EINVAL,
            "%s: changed since the bundle was loaded (sha256 %.16s..., the manifest says %.16s...)", path,
            hex, want);
    return rc;
}

/* The manifest is kept in its canonical form without its digest (rd_bundle_manifest_digest):
 * that text's SHA-256 is the bundle's digest, so the content-addressed store keeps it under
 * the very key the decision records name. */
int rd_dlog_keep_bundle(rd_store *s, const char *dir, const char *digest, rd_err *err)
{
    if (rd_store_blob_has(s, digest))
        return RD_OK; /* the manifest is kept last: when it is there, every file is */
    char path[4200], hex[RD_SHA256_HEX];
    snprintf(path, sizeof path, "%s/manifest.json", dir);
    char *text;
    size_t len;
    int rc = rd_file_read(path, 16u << 20, &text, &len, err);
    if (rc)
        return rc;
    rd_arena a;
    rd_arena_init(&a, 0);
    rd_value m;
    rd_buf canonical;
    rd_buf_init(&canonical);
    rc = rd_json_parse(text, len, NULL, &a, &m, err);
    if (!rc)
        rc = rd_bundle_manifest_digest(&m, hex, &canonical, err);
    if (!rc && strcmp(hex, digest) != 0)
        rc = rd_err_set(err, RD_EINVAL, "%s: changed since the bundle was loaded", path);
    const rd_value *files = !rc ? rd_value_get(&m, "files", 5) : NULL;
    for (uint32_t i = 0; !rc && files && files->type == RD_VOBJECT && i < files->len; i++) {
        const rd_member *f = &files->u.members[i];
        if (f->val.type == RD_VSTRING)
            rc = keep_file(s, dir, f->key, f->val.u.s, err);
    }
    if (!rc)
        rc = rd_store_blob_put(s, canonical.data, canonical.len, hex, err);
    rd_buf_deinit(&canonical);
    rd_arena_deinit(&a);
    rd_free(text);
    return rc;
}

/* ------------------------------------------------------------------ laid out again */

/* Write dir/name through a temp name, on disk (fsync) before it is renamed: layouts racing into
 * one directory (replays on several threads) each see whole files, and a directory renamed
 * into place next (the bundle cache) never names bytes a power loss dropped. */
static int write_file(const char *dir, const char *name, const char *data, size_t len, rd_err *err)
{
    static atomic_uint_fast64_t seq;
    char path[4200], tmp[4300];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    snprintf(tmp, sizeof tmp, "%s.tmp-%ld-%llu", path, (long)getpid(),
             (unsigned long long)atomic_fetch_add(&seq, 1));
    int fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
    if (fd < 0)
        return rd_err_set(err, RD_EIO, "%s: cannot create: %s", tmp, strerror(errno));
    size_t done = 0;
    while (done < len) {
        ssize_t w = write(fd, data + done, len - done);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            break;
        done += (size_t)w;
    }
    bool ok = done == len && fsync(fd) == 0;
    int rc = ok ? RD_OK : rd_err_set(err, RD_EIO, "%s: cannot write: %s", path, strerror(errno));
    close(fd);
    if (!rc && rename(tmp, path) < 0)
        rc = rd_err_set(err, RD_EIO, "%s: cannot write: %s", path, strerror(errno));
    if (rc)
        unlink(tmp);
    return rc;
}

static bool is_sha256(const char *s) { return strlen(s) == 64 && strspn(s, "0123456789abcdef") == 64; }

/* Blob sha, checked against it, for the bundle's file (named in the errors). */
static int fetch_blob(rd_store *s, const char *file, const char *sha, char **data, size_t *len, rd_err *err)
{
    int rc = rd_store_blob_get(s, sha, data, len, err);
    if (rc == RD_ENOTFOUND)
        return rd_err_set(err, RD_ENOTFOUND, "%s (sha256 %.12s...) is not in the store", file, sha);
    if (rc)
        return rc;
    char got[RD_SHA256_HEX];
    rd_sha256_hex(*data, *len, got);
    if (strcmp(got, sha) != 0) {
        rd_free(*data);
        return rd_err_set(err, RD_EINVAL,
                          "%s: the store's copy does not match its sha256 %.12s... (it hashes to %.12s...): "
                          "the blob is damaged",
                          file, sha, got);
    }
    return RD_OK;
}

/* Blob sha into dir/file. */
static int fetch_file(rd_store *s, const char *dir, const char *file, const char *sha, rd_err *err)
{
    char *data;
    size_t len;
    int rc = fetch_blob(s, file, sha, &data, &len, err);
    if (rc)
        return rc;
    rc = write_file(dir, file, data, len, err);
    rd_free(data);
    return rc;
}

/* Every file the manifest m lists, from its blob into dir. */
static int fetch_files(rd_store *s, const rd_value *m, const char *dir, rd_err *err)
{
    const rd_value *files = rd_value_get(m, "files", 5);
    if (!files || files->type != RD_VOBJECT || files->len == 0)
        return rd_err_set(err, RD_EINVAL, "manifest.json: files: missing or not an object of checksums");
    for (uint32_t i = 0; i < files->len; i++) {
        const rd_member *f = &files->u.members[i];
        /* names become paths: only plain names, as the loader wants them */
        if (!f->key[0] || f->key[0] == '.' || strchr(f->key, '/') || strlen(f->key) >= 256 ||
            !strcmp(f->key, "manifest.json") || !strcmp(f->key, RD_BUNDLE_SIGNATURE_FILE))
            return rd_err_set(err, RD_EINVAL,
                              "manifest.json: files: \"%s\" is not a plain file name in the bundle", f->key);
        if (f->val.type != RD_VSTRING || !is_sha256(f->val.u.s))
            return rd_err_set(err, RD_EINVAL, "manifest.json: files.%s: not a SHA-256 in lower-case hex",
                              f->key);
        int rc = fetch_file(s, dir, f->key, f->val.u.s, err);
        if (rc)
            return rc;
    }
    return RD_OK;
}

/* The kept manifest is canonical and without its digest (rd_dlog_keep_bundle); the one laid
 * out carries it again, computed from its content: a log from before manifests carried digests
 * kept the file itself, and is sealed the same way. Written last: its presence says complete. */
int rd_dlog_lay_out_bundle(rd_store *s, const char *digest, const char *signature, const char *dir,
                           rd_err *err)
{
    char *manifest;
    size_t len;
    int rc = fetch_blob(s, "manifest.json", digest, &manifest, &len, err);
    if (rc)
        return rc;
    rd_arena a;
    rd_arena_init(&a, 0);
    rd_value m;
    char hex[RD_SHA256_HEX];
    rd_buf sealed;
    rd_buf_init(&sealed);
    rc = rd_json_parse(manifest, len, NULL, &a, &m, err);
    if (!rc && m.type != RD_VOBJECT)
        rc = rd_err_set(err, RD_EINVAL, "manifest.json: not a JSON object");
    if (!rc)
        rc = fetch_files(s, &m, dir, err);
    if (!rc && signature && signature[0])
        rc = fetch_file(s, dir, RD_BUNDLE_SIGNATURE_FILE, signature, err);
    if (!rc)
        rc = rd_bundle_manifest_digest(&m, hex, NULL, err);
    if (!rc)
        rc = rd_bundle_manifest_set_digest(manifest, len, hex, &sealed, err);
    if (!rc)
        rc = sealed.oom ? rd_err_set(err, RD_ENOMEM, "out of memory")
                        : write_file(dir, "manifest.json", sealed.data, sealed.len, err);
    rd_buf_deinit(&sealed);
    rd_arena_deinit(&a);
    rd_free(manifest);
    return rc;
}
