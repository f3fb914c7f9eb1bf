/* The bundle cache (include/riskd/bundle_cache.h): the bundles the store publishes, laid out
 * as directories a node serves from.
 *
 * Invariants:
 *   - What the store publishes is read before anything in the cache is touched: a store that
 *     cannot be read leaves the cache as it is.
 *   - A directory named as a bundle is only ever replaced whole, by a rename (an atomic
 *     exchange where the filesystem has one) of a directory rebuilt from the blobs, every blob
 *     checked against the SHA-256 it is kept under, written to disk (fsync) and loaded as
 *     serving loads it. Work in progress lives in .staging/NAME.tmp-XXXXXX inside the cache
 *     (a dot name: the server's loader and its fingerprint of the cache never read it), and is
 *     removed when it fails. So a fetch that fails leaves the cache directory itself as it was,
 *     and a server does not reload at every check while a blob stays damaged.
 *   - A directory is removed by renaming it into .staging first, so nobody reading the cache
 *     ever sees half a bundle under a bundle's name.
 *   - .verified/NAME says which digest the directory NAME was fetched as, with a stamp of its
 *     files (inode, size, time): a directory is left alone only while both still hold, so a
 *     file edited or damaged by a write after the fetch is fetched again before a loader reads
 *     it (a server refuses a damaged bundle at start).
 *   - The store is trusted for nothing but content addressing: names must be bundle names (no
 *     path can be made of them), every byte written must hash to its key. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "riskd/bundle.h"
#include "riskd/bundle_cache.h"
#include "riskd/dlog.h"
#include "riskd/json.h"

#define STAGING     ".staging"  /* in the cache: fetches under way, directories being removed */
#define VERIFIED    ".verified" /* in the cache: NAME holds "DIGEST STAMP" of the fetched bundle */
#define STALE_TMP_S 60          /* work older than this was left by a process that died */

/* ------------------------------------------------------------------ what the store publishes */

/* A bundle name and its newest version. */
typedef struct pub {
    char name[256];
    bool bad_name; /* longer than name holds: refused, never made a path */
    int64_t version;
    char sha[RD_SHA256_HEX]; /* its digest; "" when that version revoked the bundle */
} pub;

typedef struct pubs {
    pub *v;
    size_t n, cap;
} pubs;

/* One version row: kept when it is the newest seen of its target (rows come newest first by
 * time, and nodes' clocks differ: the version number decides). */
static int collect(void *ud, const rd_version_row *r)
{
    pubs *l = ud;
    for (size_t i = 0; i < l->n; i++)
        if (!strncmp(l->v[i].name, r->target, sizeof l->v[i].name)) {
            if (r->version > l->v[i].version) {
                l->v[i].version = r->version;
                snprintf(l->v[i].sha, sizeof l->v[i].sha, "%s", r->sha);
            }
            return 0;
        }
    if (l->n == l->cap) {
        size_t cap = l->cap ? 2 * l->cap : 16;
        pub *nv = rd_realloc(l->v, cap * sizeof *nv);
        if (!nv)
            return RD_ENOMEM;
        l->v = nv;
        l->cap = cap;
    }
    pub *p = &l->v[l->n++];
    p->bad_name = (size_t)snprintf(p->name, sizeof p->name, "%s", r->target) >= sizeof p->name;
    p->version = r->version;
    snprintf(p->sha, sizeof p->sha, "%s", r->sha);
    return 0;
}

static const pub *published(const pubs *l, const char *name)
{
    for (size_t i = 0; i < l->n; i++)
        if (l->v[i].sha[0] && !l->v[i].bad_name && !strcmp(l->v[i].name, name))
            return &l->v[i];
    return NULL;
}

static bool is_sha256(const char *s) { return strlen(s) == 64 && strspn(s, "0123456789abcdef") == 64; }

/* ------------------------------------------------------------------ files and directories */

static int mkdir_p(const char *dir, rd_err *err)
{
    char path[PATH_MAX];
    if ((size_t)snprintf(path, sizeof path, "%s", dir) >= sizeof path)
        return rd_err_set(err, RD_EINVAL, "%s: path too long", dir);
    for (char *p = path + 1;; p++) {
        bool end = *p == '\0';
        if (*p != '/' && !end)
            continue;
        *p = '\0';
        if (mkdir(path, 0755) < 0 && errno != EEXIST)
            return rd_err_set(err, RD_EIO, "%s: cannot create: %s", path, strerror(errno));
        if (end)
            return RD_OK;
        *p = '/';
    }
}

static int remove_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
    (void)sb;
    (void)flag;
    (void)ftw;
    return remove(path) < 0 && errno != ENOENT ? -1 : 0;
}

/* Remove path and everything under it (nftw walks it depth first, without following links). */
static int remove_tree(const char *path)
{
    return nftw(path, remove_entry, 16, FTW_DEPTH | FTW_PHYS) < 0 && errno != ENOENT ? -1 : 0;
}

static void sync_dir(const char *dir)
{
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd >= 0) {
        (void)fsync(fd); /* best effort: a cache is fetched again after a loss */
        close(fd);
    }
}

/* A name in the staging directory no other process or call picks: NAME.tmp-gone-PID-N. */
static int aside_name(const char *cache, const char *name, char *out, size_t cap, rd_err *err)
{
    static atomic_uint_fast64_t seq;
    if ((size_t)snprintf(out, cap, "%s/" STAGING "/%s.tmp-gone-%ld-%llu", cache, name, (long)getpid(),
                         (unsigned long long)atomic_fetch_add(&seq, 1)) >= cap)
        return rd_err_set(err, RD_EINVAL, "%s: path too long", cache);
    return RD_OK;
}

/* Remove the entry name of the cache: renamed into the staging directory first, then removed. */
static int remove_aside(const char *cache, const char *name, rd_err *err)
{
    char path[PATH_MAX], aside[PATH_MAX];
    int rc = aside_name(cache, name, aside, sizeof aside, err);
    if (rc)
        return rc;
    if ((size_t)snprintf(path, sizeof path, "%s/%s", cache, name) >= sizeof path)
        return rd_err_set(err, RD_EINVAL, "%s: path too long", cache);
    if (rename(path, aside) < 0)
        return rd_err_set(err, RD_EIO, "%s: cannot remove: %s", path, strerror(errno));
    if (remove_tree(aside) < 0) /* out of the loader's sight already; tried again a minute on */
        return rd_err_set(err, RD_EIO, "%s: cannot remove: %s", aside, strerror(errno));
    return RD_OK;
}

/* Put the verified directory tmp in place of dir (the cache's entry name): exchanged
 * atomically with the old one where the filesystem can (readers see the old bundle or the new,
 * never neither), else the old one renamed aside first; the old one is removed after. */
static int put_in_place(const char *cache, const char *name, const char *tmp, const char *dir, rd_err *err)
{
    if (renameat2(AT_FDCWD, tmp, AT_FDCWD, dir, RENAME_EXCHANGE) == 0) {
        remove_tree(tmp); /* tmp now holds the old bundle; a failure leaves a .tmp- to clean */
        return RD_OK;
    }
    int rc = RD_OK;
    if (errno != ENOENT) { /* no exchange on this filesystem: two renames */
        char aside[PATH_MAX];
        if ((rc = aside_name(cache, name, aside, sizeof aside, err)))
            return rc;
        if (rename(dir, aside) < 0 && errno != ENOENT)
            return rd_err_set(err, RD_EIO, "%s: cannot move aside: %s", dir, strerror(errno));
        if (rename(tmp, dir) < 0) {
            rc = rd_err_set(err, RD_EIO, "%s: cannot rename into place: %s", dir, strerror(errno));
            (void)rename(aside, dir); /* the old one back */
            return rc;
        }
        remove_tree(aside);
    } else if (rename(tmp, dir) < 0) {
        return rd_err_set(err, RD_EIO, "%s: cannot rename into place: %s", dir, strerror(errno));
    }
    return rc;
}

static int not_dot(const struct dirent *e) { return e->d_name[0] != '.'; }

/* What identifies the files of directory dir as they are now: the SHA-256 of each entry's
 * name, inode, size and modification time, in name order. A file edited, replaced, added or
 * removed changes it; computing it costs a stat per file. -1 when dir cannot be read. */
static int dir_stamp(const char *dir, char out[RD_SHA256_HEX])
{
    struct dirent **names;
    int n = scandir(dir, &names, not_dot, alphasort);
    if (n < 0)
        return -1;
    rd_buf b;
    rd_buf_init(&b);
    for (int i = 0; i < n; i++) {
        char path[PATH_MAX];
        struct stat sb;
        if ((size_t)snprintf(path, sizeof path, "%s/%s", dir, names[i]->d_name) < sizeof path &&
            stat(path, &sb) == 0)
            rd_buf_printf(&b, "%s:%llu:%lld:%lld.%09ld;", names[i]->d_name, (unsigned long long)sb.st_ino,
                          (long long)sb.st_size, (long long)sb.st_mtim.tv_sec, sb.st_mtim.tv_nsec);
        free(names[i]); /* scandir's, from malloc */
    }
    free(names);
    int rc = b.oom ? -1 : 0;
    rd_sha256_hex(b.data ? b.data : "", b.len, out);
    rd_buf_deinit(&b);
    return rc;
}

/* The marker of bundle name: cache/.verified/NAME. */
static int marker_path(const char *cache, const char *name, char *out, size_t cap)
{
    return (size_t)snprintf(out, cap, "%s/" VERIFIED "/%s", cache, name) < cap ? 0 : -1;
}

/* After a fetch: the marker says the directory, as its files are now, holds digest sha
 * (written aside, then renamed). Best effort: without it, the next sync fetches again. */
static void mark(const char *cache, const char *name, const char *dir, const char *sha)
{
    char from[PATH_MAX], to[PATH_MAX], stamp[RD_SHA256_HEX];
    if ((size_t)snprintf(from, sizeof from, "%s/" VERIFIED "/%s.tmp-%ld", cache, name, (long)getpid()) >=
            sizeof from ||
        marker_path(cache, name, to, sizeof to) < 0 || dir_stamp(dir, stamp) < 0)
        return;
    FILE *f = fopen(from, "w");
    if (!f)
        return;
    bool ok = fprintf(f, "%s %s\n", sha, stamp) > 0;
    if (fclose(f) != 0 || !ok || rename(from, to) < 0)
        unlink(from);
}

/* Whether the bundle directory dir (the cache's entry name) holds the bundle with digest sha,
 * as it was fetched and verified: its marker names sha and its files are the very ones written
 * then (same inodes, sizes and times). A file edited or damaged by a write since is fetched
 * again, at the next sync, before a loader reads it. */
static bool holds(const char *cache, const char *name, const char *dir, const char *sha)
{
    char path[PATH_MAX], *text, stamp[RD_SHA256_HEX];
    size_t len;
    rd_err e;
    if (marker_path(cache, name, path, sizeof path) < 0 || access(path, F_OK) != 0 ||
        rd_file_read(path, 256, &text, &len, &e) != RD_OK)
        return false;
    bool same = len == (size_t)2 * RD_SHA256_HEX && !strncmp(text, sha, RD_SHA256_HEX - 1) &&
                text[RD_SHA256_HEX - 1] == ' ' && dir_stamp(dir, stamp) == 0 &&
                !strncmp(text + RD_SHA256_HEX, stamp, RD_SHA256_HEX - 1);
    rd_free(text);
    return same;
}

/* ------------------------------------------------------------------ one bundle from the blobs */

typedef struct publish_of {
    const char *sha;
    int64_t change_id;
} publish_of;

static int find_publish(void *ud, const rd_version_row *v)
{
    publish_of *f = ud;
    if (strcmp(v->sha, f->sha) != 0 || strcmp(v->how, "publish") != 0 || v->change_id <= 0)
        return 0;
    f->change_id = v->change_id;
    return 1; /* the newest one: stop */
}

/* The signature's blob key the change request that registered p named ("" for none): the
 * newest "publish" version of p's digest (a rollback's version names the change it undid). */
static int signature_key(rd_store *s, const pub *p, char key[RD_SHA256_HEX], rd_err *err)
{
    key[0] = '\0';
    publish_of f = {.sha = p->sha};
    int rc = rd_store_version_list(s, "bundle", p->name, 0, find_publish, &f, err);
    if (rc < 0)
        return rc;
    rd_change_row r;
    rd_err e;
    if (!f.change_id || rd_store_change_get(s, f.change_id, &r, &e) != RD_OK)
        return RD_OK; /* adopted, or recorded by an older riskd: no signature to carry */
    char *text;
    size_t len;
    if (rd_store_blob_get(s, r.payload_sha, &text, &len, &e) == RD_OK) {
        rd_arena a;
        rd_arena_init(&a, 0);
        rd_value v;
        if (rd_json_parse(text, len, NULL, &a, &v, &e) == RD_OK && v.type == RD_VOBJECT) {
            const rd_value *sig = rd_value_get(&v, "signature", 9);
            if (sig && sig->type == RD_VSTRING && is_sha256(sig->u.s))
                snprintf(key, RD_SHA256_HEX, "%s", sig->u.s);
        }
        rd_arena_deinit(&a);
        rd_free(text);
    }
    rd_store_change_row_free(&r);
    return RD_OK;
}

/* Lay bundle p out in the empty directory dir from the blobs (rd_dlog_lay_out_bundle), with
 * the signature its change request carried. */
static int lay_out(rd_store *s, const pub *p, const char *dir, rd_err *err)
{
    char sig[RD_SHA256_HEX];
    int rc = signature_key(s, p, sig, err);
    return rc ? rc : rd_dlog_lay_out_bundle(s, p->sha, sig, dir, err);
}

/* Load what was laid out in dir as serving loads it: it must be the bundle registered. */
static int verify(const char *dir, const pub *p, rd_err *err)
{
    rd_bundle *b;
    int rc = rd_bundle_load(dir, &b, err);
    if (rc) {
        rd_err_prefix(err, "rebuilt from the store, it does not load");
        return rc;
    }
    if (strcmp(rd_bundle_name(b), p->name) != 0)
        rc = rd_err_set(err, RD_EINVAL, "rebuilt from the store, it is named \"%s\"", rd_bundle_name(b));
    else if (strcmp(rd_bundle_digest(b), p->sha) != 0)
        rc =
            rd_err_set(err, RD_EINVAL, "rebuilt from the store, its digest is %.12s...", rd_bundle_digest(b));
    rd_bundle_free(b);
    return rc;
}

/* Whether p names a bundle the cache can hold: a bundle name (never a path) and a digest. */
static int check_pub(const pub *p, rd_err *err)
{
    char product[256], type[256];
    unsigned major, minor;
    if (p->bad_name)
        return rd_err_set(err, RD_EINVAL, "not a bundle name (too long)");
    int rc = rd_bundle_name_parse(p->name, product, sizeof product, type, sizeof type, &major, &minor, err);
    if (!rc && !is_sha256(p->sha))
        rc = rd_err_set(err, RD_EINVAL, "version %lld: \"%.70s\" is not a digest", (long long)p->version,
                        p->sha);
    return rc;
}

/* Rebuild p from the blobs aside, verify it, and put it in place of dir. */
static int fetch(rd_store *s, const char *cache, const pub *p, const char *dir, rd_err *err)
{
    char tmp[PATH_MAX];
    if ((size_t)snprintf(tmp, sizeof tmp, "%s/" STAGING "/%s.tmp-XXXXXX", cache, p->name) >= sizeof tmp)
        return rd_err_set(err, RD_EINVAL, "%s: path too long", cache);
    if (!mkdtemp(tmp))
        return rd_err_set(err, RD_EIO, "%s: cannot create: %s", tmp, strerror(errno));
    int rc = lay_out(s, p, tmp, err);
    if (!rc)
        rc = verify(tmp, p, err);
    if (!rc) {
        sync_dir(tmp);
        rc = put_in_place(cache, p->name, tmp, dir, err);
    }
    if (rc)
        remove_tree(tmp);
    else
        mark(cache, p->name, dir, p->sha);
    return rc;
}

/* Bring cache/NAME to p's digest; st counts what was done. */
static int sync_one(rd_store *s, const char *cache, const pub *p, rd_bundle_cache_stats *st, rd_err *err)
{
    char dir[PATH_MAX];
    int rc = check_pub(p, err);
    if (!rc && (size_t)snprintf(dir, sizeof dir, "%s/%s", cache, p->name) >= sizeof dir)
        rc = rd_err_set(err, RD_EINVAL, "%s: path too long", cache);
    if (!rc && holds(cache, p->name, dir, p->sha)) {
        st->unchanged++;
        return RD_OK;
    }
    if (!rc)
        rc = fetch(s, cache, p, dir, err);
    if (rc) {
        rd_err_prefix(err, "bundle %s (sha256 %.12s...)", p->name, p->sha);
        return rc;
    }
    st->fetched++;
    return RD_OK;
}

/* ------------------------------------------------------------------ the cache directory */

/* The first failure (err) and how many there were. */
typedef struct failures {
    size_t n;
    rd_err first;
} failures;

static void failed(failures *f, rd_bundle_cache_stats *st, const rd_err *e)
{
    if (f->n++ == 0)
        f->first = *e;
    st->failed++;
}

/* Remove what path holds when it is older than STALE_TMP_S: work a process that died left. */
static void remove_stale(const char *path, time_t now, rd_bundle_cache_stats *st, failures *f)
{
    struct stat sb;
    rd_err fe;
    if (lstat(path, &sb) == 0 && now - sb.st_mtime > STALE_TMP_S && remove_tree(path) < 0) {
        rd_err_set(&fe, RD_EIO, "%s: cannot remove: %s", path, strerror(errno));
        failed(f, st, &fe);
    }
}

/* The staging directory's leftovers. */
static void clean_staging(const char *cache, rd_bundle_cache_stats *st, failures *f)
{
    char staging[PATH_MAX], path[PATH_MAX];
    DIR *d = (size_t)snprintf(staging, sizeof staging, "%s/" STAGING, cache) < sizeof staging
                 ? opendir(staging)
                 : NULL;
    if (!d)
        return;
    time_t now = time(NULL);
    for (struct dirent *e; (e = readdir(d));)
        if (strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0 &&
            (size_t)snprintf(path, sizeof path, "%s/%s", staging, e->d_name) < sizeof path)
            remove_stale(path, now, st, f);
    closedir(d);
}

/* The markers of bundles no longer published (their directories are gone or going). */
static void clean_markers(const char *cache, const pubs *l)
{
    char dir[PATH_MAX];
    DIR *d = (size_t)snprintf(dir, sizeof dir, "%s/" VERIFIED, cache) < sizeof dir ? opendir(dir) : NULL;
    if (!d)
        return;
    for (struct dirent *e; (e = readdir(d));)
        if (e->d_name[0] != '.' && !published(l, e->d_name))
            unlinkat(dirfd(d), e->d_name, 0);
    closedir(d);
}

/* Remove what the cache holds beside the published bundles: bundles revoked or never
 * registered, and work a process that died left (.tmp- names past STALE_TMP_S, here and in the
 * staging directory). */
static int remove_others(const char *cache, const pubs *l, rd_bundle_cache_stats *st, failures *f,
                         rd_err *err)
{
    DIR *d = opendir(cache);
    if (!d)
        return rd_err_set(err, RD_EIO, "%s: cannot read: %s", cache, strerror(errno));
    time_t now = time(NULL);
    for (struct dirent *e; (e = readdir(d));) {
        if (e->d_name[0] == '.' || published(l, e->d_name))
            continue;
        char path[PATH_MAX];
        rd_err fe;
        if ((size_t)snprintf(path, sizeof path, "%s/%s", cache, e->d_name) >= sizeof path)
            continue; /* no name this cache made */
        if (strstr(e->d_name, ".tmp-"))
            remove_stale(path, now, st, f);
        else if (remove_aside(cache, e->d_name, &fe) == RD_OK)
            st->removed++;
        else
            failed(f, st, &fe);
    }
    closedir(d);
    clean_staging(cache, st, f);
    clean_markers(cache, l);
    return RD_OK;
}

int rd_bundle_cache_sync(rd_store *s, const char *cache_dir, rd_bundle_cache_stats *st, rd_err *err)
{
    rd_bundle_cache_stats local;
    if (!st)
        st = &local;
    memset(st, 0, sizeof *st);
    rd_err ignored, one;
    if (!err)
        err = &ignored;
    pubs l = {0};
    int rc = rd_store_version_list(s, "bundle", NULL, 0, collect, &l, err);
    if (rc == RD_ENOMEM)
        rd_err_set(err, RD_ENOMEM, "out of memory");
    char sub[PATH_MAX]; /* the cache and its staging directory, then its markers' */
    if (!rc && (size_t)snprintf(sub, sizeof sub, "%s/" STAGING, cache_dir) >= sizeof sub)
        rc = rd_err_set(err, RD_EINVAL, "%s: path too long", cache_dir);
    if (!rc)
        rc = mkdir_p(sub, err);
    if (!rc && (size_t)snprintf(sub, sizeof sub, "%s/" VERIFIED, cache_dir) < sizeof sub &&
        mkdir(sub, 0755) < 0 && errno != EEXIST)
        rc = rd_err_set(err, RD_EIO, "%s: cannot create: %s", sub, strerror(errno));
    failures f = {0};
    for (size_t i = 0; !rc && i < l.n; i++) {
        if (!l.v[i].sha[0])
            continue; /* revoked: removed below */
        st->published++;
        if (sync_one(s, cache_dir, &l.v[i], st, &one) != RD_OK)
            failed(&f, st, &one);
    }
    if (!rc)
        rc = remove_others(cache_dir, &l, st, &f, err);
    if (!rc && (st->fetched || st->removed))
        sync_dir(cache_dir);
    rd_free(l.v);
    if (rc || !f.n)
        return rc;
    *err = f.first;
    if (f.n > 1) {
        size_t k = strlen(err->msg);
        snprintf(err->msg + k, sizeof err->msg - k, " (and %zu more)", f.n - 1);
    }
    return err->code;
}
