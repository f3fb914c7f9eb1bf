/* Keeping what served a decision: flag sets, fallback rules and bundles, by SHA-256, in the
 * store, each stored once however many times it is kept. */
#include <stdio.h>
#include <string.h>

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
