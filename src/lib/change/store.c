/* The flag set kept in the store (change.h, "flags kept in the store"): what several nodes
 * serve, read from its newest version, and the first one loaded into an empty store. */
#include <stdio.h>
#include <string.h>

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
