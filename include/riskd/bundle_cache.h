/* Bundles kept in the store, cached by every node (issue 16: nodes share no filesystem).
 *
 * A bundle change request keeps the bundle's manifest and every file in the store's blobs,
 * content-addressed (rd_change_propose, rd_dlog_keep_bundle); publishing it records a version
 * of kind "bundle" whose target is the bundle's name and whose sha is its digest. A node that
 * serves the store's bundles (riskd serve bundles = store) keeps a local cache directory that
 * rd_bundle_cache_sync makes hold exactly the bundles the store publishes: for each name, its
 * newest version's digest; a newest version with an empty sha (a rollback of a bundle's only
 * registration) means the bundle is no longer served.
 *
 * Each bundle is rebuilt from the blobs into .staging/NAME.tmp-XXXXXX inside the cache (a dot
 * name, which the server's loader skips), every blob checked against the SHA-256 it is kept
 * under, loaded and verified as serving loads it (rd_bundle_load: its name and digest must be
 * the registered ones), and only then swapped into place, so the cache never holds a
 * half-written or unverified bundle under a bundle's name. A bundle that cannot be fetched or
 * verified is left as it was (the last good copy keeps serving), and so is the cache
 * directory itself. */
#ifndef RISKD_BUNDLE_CACHE_H
#define RISKD_BUNDLE_CACHE_H

#include <stddef.h>

#include "riskd/err.h"
#include "riskd/store.h"

/* The cache directory under a node's data directory. */
#define RD_BUNDLE_CACHE_DIR "bundle-cache"

typedef struct rd_bundle_cache_stats {
    size_t published; /* bundles the store serves now */
    size_t fetched;   /* rebuilt from the blobs, verified and put in place */
    size_t unchanged; /* already held their registered digest, as fetched: left alone (a stat per file) */
    size_t removed;   /* directories of bundles the store no longer serves, removed */
    size_t failed;    /* could not be fetched or verified: left as they were */
} rd_bundle_cache_stats;

/* Make cache_dir (created with its parents when missing) hold exactly the bundles the store s
 * publishes, one directory per bundle named as the bundle. st (may be NULL) receives the
 * counts, also on failure. A directory that holds the registered digest as it was fetched
 * (cache/.verified/NAME: the digest, and a stamp of the files' inodes, sizes and times) is left
 * alone; one whose files changed since is fetched again. Anything beside them that no
 * published bundle names is removed (names
 * starting with '.' are left alone; work a process that died left, *.tmp-* and in .staging,
 * is removed once a minute old).
 *
 * Every bundle is tried. RD_OK when each is in place; else the first failure's code, with
 * err naming the bundle and what is wrong ("bundle credit_xgb_v1.0 (sha256 3f2a...):
 * model.json (sha256 9b1c...) is not in the store", "...: model.json: the store's copy does
 * not match its sha256 9b1c... (it hashes to 3d4e...): the blob is damaged", a target that is
 * not a bundle name, the loader's refusal), and "(and N more)" when others failed
 * too: those bundles' directories are as they were. RD_EIO when the cache directory cannot
 * be read or written; the store's errors (RD_ESTORE: unreachable) as they come, nothing
 * touched. Uses s from the calling thread only. */
RD_API int rd_bundle_cache_sync(rd_store *s, const char *cache_dir, rd_bundle_cache_stats *st, rd_err *err);

#endif
