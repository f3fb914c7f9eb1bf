/* The flag set kept in the store (change.h, "flags kept in the store"): what several nodes
 * serve, read from its newest version, and the first one loaded into an empty store. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "change_int.h"

int rd_flags_store_read(rd_store *s, char **text, size_t *len, char sha[RD_SHA256_HEX], int64_t *version,
                        rd_err *err)
{
    rd_version_row v;
    int rc = rd_store_version_find(s, "flags", RD_FLAGS_STORE, NULL, &v, err);
    if (rc == RD_ENOTFOUND)
        return rd_err_set(
            err, RD_ENOTFOUND,
            "%s holds no flag set yet: load the first one with riskd flags import FILE --store URL",
            rd_store_name(s));
    if (rc)
        return rc;
    if ((rc = rd_store_blob_get(s, v.sha, text, len, err)) == RD_ENOTFOUND)
        return rd_err_set(err, RD_EINVAL, "%s: flag set version %lld (sha256 %.12s...) has lost its text",
                          rd_store_name(s), (long long)v.version, v.sha);
    if (rc)
        return rc;
    char got[RD_SHA256_HEX];
    rd_sha256_hex(*text, *len, got);
    if (strcmp(got, v.sha) != 0) { /* a blob is keyed by its digest: a mismatch is damage */
        rd_free(*text);
        *text = NULL;
        return rd_err_set(err, RD_EINVAL, "%s: flag set version %lld: its text does not match its sha256",
                          rd_store_name(s), (long long)v.version);
    }
    snprintf(sha, RD_SHA256_HEX, "%s", v.sha);
    *version = v.version;
    return RD_OK;
}

int rd_flags_store_import(rd_store *s, const char *actor, const char *text, size_t len, int64_t now_ms,
                          int64_t *version, rd_err *err)
{
    int rc = ch_check_payload(RD_CHANGE_FLAGS, text, len, err); /* as a change's payload is checked */
    if (rc)
        return rc;
    char sha[RD_SHA256_HEX];
    if ((rc = rd_store_begin(s, err)))
        return rc;
    rd_version_row v;
    rd_err e;
    rc = rd_store_version_find(s, "flags", RD_FLAGS_STORE, NULL, &v, &e);
    if (rc == RD_OK)
        rc = rd_err_set(err, RD_ECONFLICT,
                        "%s already holds a flag set (version %lld): change it through a change request "
                        "(riskd change propose --kind flags --target store)",
                        rd_store_name(s), (long long)v.version);
    else if (rc == RD_ENOTFOUND)
        rc = rd_store_blob_put(s, text, len, sha, err);
    else
        *err = e;
    if (!rc) /* the default target of flag changes and rollbacks from now on */
        rc = rd_store_setting_put(s, "served.flags", RD_FLAGS_STORE, err);
    if (!rc)
        rc = rd_change_record_write(s, RD_CHANGE_FLAGS, RD_FLAGS_STORE, "", sha, "import", actor,
                                    "{\"why\":\"the first flag set loaded into the store\"}", now_ms, err);
    if (!rc && (rc = rd_store_version_find(s, "flags", RD_FLAGS_STORE, NULL, &v, err)) == RD_OK && version)
        *version = v.version;
    if (rc) {
        rd_store_rollback(s);
        return rc;
    }
    return rd_store_commit(s, err);
}

/* ------------------------------------------------------------------ the copy a node keeps */

#define KEPT_MAGIC "riskd kept flag set 1\n"

static void kept_path(const char *dir, char *path, size_t cap)
{
    snprintf(path, cap, "%s/" RD_FLAGS_KEPT_FILE, dir);
}

int rd_flags_kept_write(const char *dir, const char *store_name, int64_t version, const char *sha,
                        const char *text, size_t len, rd_err *err)
{
    char path[4096];
    kept_path(dir, path, sizeof path);
    rd_buf b;
    rd_buf_init(&b);
    rd_buf_printf(&b, KEPT_MAGIC "store %s\nversion %lld\nsha256 %s\n\n", store_name, (long long)version,
                  sha);
    rd_buf_append(&b, text, len);
    int rc = b.len >= len ? rd_file_replace(path, b.data, b.len, 0600, err)
                          : rd_err_set(err, RD_ENOMEM, "%s: out of memory", path);
    rd_buf_deinit(&b);
    return rc;
}

/* The header's line "key value" at *p, advanced past it; false when it is not that line. */
static bool header_line(const char **p, const char *end, const char *key, char *value, size_t cap)
{
    size_t k = strlen(key);
    const char *nl = memchr(*p, '\n', (size_t)(end - *p));
    if (!nl || (size_t)(nl - *p) <= k + 1 || memcmp(*p, key, k) != 0 || (*p)[k] != ' ' ||
        (size_t)(nl - *p - k - 1) >= cap)
        return false;
    memcpy(value, *p + k + 1, (size_t)(nl - *p - k - 1));
    value[nl - *p - k - 1] = '\0';
    *p = nl + 1;
    return true;
}

static int kept_parse(const char *path, const char *store_name, const char *data, size_t n, size_t *off,
                      char sha[RD_SHA256_HEX], int64_t *version, rd_err *err)
{
    const char *p = data, *end = data + n;
    char store[1024], ver[32];
    char *stop;
    if (n < sizeof KEPT_MAGIC - 1 || memcmp(p, KEPT_MAGIC, sizeof KEPT_MAGIC - 1) != 0)
        return rd_err_set(err, RD_EINVAL, "%s: not a kept flag set (its first line is not \"%.*s\")", path,
                          (int)sizeof KEPT_MAGIC - 2, KEPT_MAGIC);
    p += sizeof KEPT_MAGIC - 1;
    if (!header_line(&p, end, "store", store, sizeof store) ||
        !header_line(&p, end, "version", ver, sizeof ver) ||
        !header_line(&p, end, "sha256", sha, RD_SHA256_HEX) || p >= end || *p != '\n')
        return rd_err_set(err, RD_EINVAL, "%s: a damaged header (store, version, sha256, a blank line)",
                          path);
    *version = strtoll(ver, &stop, 10);
    if (*stop || *version < 1)
        return rd_err_set(err, RD_EINVAL, "%s: a damaged header (version \"%s\")", path, ver);
    if (strcmp(store, store_name) != 0)
        return rd_err_set(err, RD_EINVAL, "%s: kept from the store %s, not %s", path, store, store_name);
    *off = (size_t)(p + 1 - data);
    return RD_OK;
}

int rd_flags_kept_read(const char *dir, const char *store_name, char **text, size_t *len,
                       char sha[RD_SHA256_HEX], int64_t *version, rd_err *err)
{
    char path[4096];
    kept_path(dir, path, sizeof path);
    if (access(path, F_OK) != 0)
        return rd_err_set(err, RD_ENOTFOUND, "%s: no flag set kept here yet", path);
    char *data;
    size_t n, off = 0;
    int rc = rd_file_read(path, 64u << 20, &data, &n, err);
    if (rc)
        return rc;
    if ((rc = kept_parse(path, store_name, data, n, &off, sha, version, err))) {
        rd_free(data);
        return rc;
    }
    char got[RD_SHA256_HEX];
    rd_sha256_hex(data + off, n - off, got);
    if (strcmp(got, sha) != 0) {
        rd_free(data);
        return rd_err_set(err, RD_EINVAL, "%s: damaged (its text does not match its sha256)", path);
    }
    memmove(data, data + off, n - off);
    data[n - off] = '\0';
    *text = data;
    *len = n - off;
    return RD_OK;
}
