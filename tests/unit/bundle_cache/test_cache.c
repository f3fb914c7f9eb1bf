/* The bundle cache (src/lib/bundle_cache/cache.c) on a SQLite store: a bundle change keeps the bundle
 * in the store's blobs when it is proposed; a published bundle is rebuilt from them into an
 * empty cache (the source directory gone) with the same digest and its signature; a second
 * sync rewrites nothing, a cached file edited by hand is fetched again; a new registration, a rollback to the
 * previous digest and the revocation of a bundle's only registration are followed; strays and a crashed
 * process's leftovers are removed; a damaged or missing blob fails naming the bundle and the file, and the
 * cached copy stays; a registration whose name is a path, or whose digest was never kept, is refused. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <unistd.h>

#include "riskd/bundle.h"
#include "riskd/bundle_cache.h"
#include "riskd/change.h"
#include "riskd/hash.h"
#include "riskd/store.h"

#define EXAMPLE "examples/models/credit_xgb_v1.0"

static char dir[256], cache[300];
static rd_store *st;
static rd_principal eng, mgr, op;

static rd_principal who(const char *name, rd_role role, const char *token)
{
    rd_principal p = {.role = role, .perms = rd_role_perms(role), .scopes = RD_SCOPE_ADMIN};
    snprintf(p.user, sizeof p.user, "%s", name);
    snprintf(p.token_id, sizeof p.token_id, "%s", token);
    return p;
}

static void sh(const char *fmt, ...)
{
    char cmd[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(cmd, sizeof cmd, fmt, ap);
    va_end(ap);
    if (system(cmd) != 0)
        fail_msg("%s: failed", cmd);
}

static int setup(void **state)
{
    (void)state;
    snprintf(dir, sizeof dir, "/tmp/riskd-cache-XXXXXX");
    assert_non_null(mkdtemp(dir));
    snprintf(cache, sizeof cache, "%s/node/%s", dir, RD_BUNDLE_CACHE_DIR); /* parents made too */
    char store[300];
    snprintf(store, sizeof store, "%s/store", dir);
    rd_err err;
    assert_int_equal(rd_store_open(store, NULL, &st, &err), RD_OK);
    eng = who("erin", RD_ROLE_ENGINEER, "aaaaaaaaaaa1");
    mgr = who("mia", RD_ROLE_MANAGER, "bbbbbbbbbbb1");
    op = who("otto", RD_ROLE_OPERATOR, "ccccccccccc1");
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    rd_store_close(st);
    sh("rm -rf %s", dir);
    return 0;
}

/* The example's model built as bundle name into dir/src-TAG/name (samples and fallback make
 * digests differ); its digest into digest. */
static void build(const char *name, const char *tag, size_t samples, const char *fallback, char *out,
                  size_t cap, char digest[RD_SHA256_HEX])
{
    char parent[320];
    snprintf(parent, sizeof parent, "%s/src-%s", dir, tag);
    assert_int_equal(mkdir(parent, 0755), 0);
    snprintf(out, cap, "%s/%s", parent, name);
    rd_bundle_build_opts o = {.name = name,
                              .model_path = EXAMPLE "/model.json",
                              .pipeline_path = EXAMPLE "/pipeline.json",
                              .data_path = "examples/data/credit_data.csv",
                              .label = "Status",
                              .positive = "bad",
                              .fallback_path = fallback,
                              .samples = samples,
                              .out_dir = out};
    rd_err err;
    if (rd_bundle_build(&o, &err) != RD_OK)
        fail_msg("build %s: %s", name, err.msg);
    rd_bundle *b;
    if (rd_bundle_load(out, &b, &err) != RD_OK)
        fail_msg("load %s: %s", out, err.msg);
    snprintf(digest, RD_SHA256_HEX, "%s", rd_bundle_digest(b));
    rd_bundle_free(b);
}

/* Propose, approve and publish the bundle in bdir; the change's id. */
static int64_t publish(const char *bdir)
{
    rd_change_spec spec = {.kind = RD_CHANGE_BUNDLE, .target = bdir, .title = "a bundle"};
    int64_t id = 0, version = 0;
    rd_err err;
    if (rd_change_propose(st, &eng, &spec, 1000, &id, &err) != RD_OK)
        fail_msg("propose %s: %s", bdir, err.msg);
    assert_int_equal(rd_change_approve(st, &mgr, id, 0, NULL, 1001, &err), RD_OK);
    assert_int_equal(rd_change_publish(st, &op, id, 1002, &version, &err), RD_OK);
    return id;
}

static void rollback(const char *name)
{
    rd_err err;
    int64_t v;
    if (rd_change_rollback(st, &op, RD_CHANGE_BUNDLE, name, 0, "test", 2000, &v, &err) != RD_OK)
        fail_msg("rollback %s: %s", name, err.msg);
}

static rd_bundle_cache_stats sync_ok(void)
{
    rd_bundle_cache_stats cs;
    rd_err err;
    if (rd_bundle_cache_sync(st, cache, &cs, &err) != RD_OK)
        fail_msg("sync: %s", err.msg);
    assert_int_equal(cs.failed, 0);
    return cs;
}

/* The digest of the bundle cached under name ("" when it does not load). */
static const char *cached(const char *name)
{
    static char digest[RD_SHA256_HEX];
    char path[400];
    snprintf(path, sizeof path, "%s/%s", cache, name);
    rd_bundle *b;
    rd_err err;
    digest[0] = '\0';
    if (rd_bundle_load(path, &b, &err) == RD_OK) {
        assert_string_equal(rd_bundle_name(b), name);
        snprintf(digest, sizeof digest, "%s", rd_bundle_digest(b));
        rd_bundle_free(b);
    }
    return digest;
}

static ino_t inode_of(const char *name)
{
    char path[400];
    snprintf(path, sizeof path, "%s/%s", cache, name);
    struct stat sb;
    assert_int_equal(stat(path, &sb), 0);
    return sb.st_ino;
}

static bool exists(const char *name)
{
    char path[400];
    snprintf(path, sizeof path, "%s/%s", cache, name);
    return access(path, F_OK) == 0;
}

/* Every file the bundle in bdir lists, and its manifest (under the digest), is a blob. */
static void assert_kept(const char *bdir, const char *digest)
{
    rd_bundle *b;
    rd_err err;
    assert_int_equal(rd_bundle_load(bdir, &b, &err), RD_OK);
    const rd_value *files = rd_value_get(rd_bundle_manifest(b), "files", 5);
    assert_non_null(files);
    for (uint32_t i = 0; i < files->len; i++)
        assert_true(rd_store_blob_has(st, files->u.members[i].val.u.s));
    assert_true(rd_store_blob_has(st, digest));
    rd_bundle_free(b);
}

static void test_sync(void **state)
{
    (void)state;
    char a1[400], a2[400], b1[400], d_a1[RD_SHA256_HEX], d_a2[RD_SHA256_HEX], d_b1[RD_SHA256_HEX];
    build("credit_xgb_v1.0", "a1", 20, EXAMPLE "/fallback.json", a1, sizeof a1, d_a1);

    /* proposing keeps the bundle in the store, before anyone approved it */
    rd_change_spec spec = {.kind = RD_CHANGE_BUNDLE, .target = a1};
    int64_t id;
    rd_err err;
    assert_int_equal(rd_change_propose(st, &eng, &spec, 900, &id, &err), RD_OK);
    assert_kept(a1, d_a1);
    assert_int_equal(rd_change_withdraw(st, &eng, id, "again below", 901, &err), RD_OK);

    /* published, then fetched into an empty cache from the store alone */
    publish(a1);
    sh("rm -rf %s/src-a1", dir);
    rd_bundle_cache_stats cs = sync_ok();
    assert_int_equal(cs.published, 1);
    assert_int_equal(cs.fetched, 1);
    assert_string_equal(cached("credit_xgb_v1.0"), d_a1);

    /* again: nothing rewritten */
    ino_t ino = inode_of("credit_xgb_v1.0");
    cs = sync_ok();
    assert_int_equal(cs.fetched, 0);
    assert_int_equal(cs.unchanged, 1);
    assert_int_equal(inode_of("credit_xgb_v1.0"), ino);

    /* a cached file edited by hand (or damaged by a write): fetched again, before any loader */
    sh("printf ' ' >>%s/credit_xgb_v1.0/model.json", cache);
    assert_string_equal(cached("credit_xgb_v1.0"), ""); /* the loader refuses it */
    cs = sync_ok();
    assert_int_equal(cs.fetched, 1);
    assert_string_equal(cached("credit_xgb_v1.0"), d_a1);
    ino = inode_of("credit_xgb_v1.0");
    cs = sync_ok();
    assert_int_equal(cs.unchanged, 1);

    /* a new registration of the same bundle, signed: replaced, the signature carried along */
    build("credit_xgb_v1.0", "a2", 5, EXAMPLE "/fallback.json", a2, sizeof a2, d_a2);
    assert_string_not_equal(d_a1, d_a2);
    rd_bundle_key pub, secret;
    char signed_hex[RD_SHA256_HEX];
    assert_int_equal(rd_bundle_keygen(&pub, &secret, &err), RD_OK);
    assert_int_equal(rd_bundle_sign(a2, &secret, signed_hex, &err), RD_OK);
    publish(a2);
    cs = sync_ok();
    assert_int_equal(cs.fetched, 1);
    assert_string_equal(cached("credit_xgb_v1.0"), d_a2);
    assert_true(inode_of("credit_xgb_v1.0") != ino);
    char path[400];
    snprintf(path, sizeof path, "%s/credit_xgb_v1.0", cache);
    rd_bundle *b;
    assert_int_equal(rd_bundle_load(path, &b, &err), RD_OK);
    assert_true(rd_bundle_signed(b));
    assert_int_equal(rd_bundle_verify_signature(b, &pub, 1, &err), RD_OK);
    rd_bundle_free(b);

    /* a rollback: back to the previous digest */
    rollback("credit_xgb_v1.0");
    cs = sync_ok();
    assert_int_equal(cs.fetched, 1);
    assert_string_equal(cached("credit_xgb_v1.0"), d_a1);

    /* a second bundle; its only registration rolled back: revoked, it leaves the cache */
    build("credit_xgb_v2.0", "b1", 20, EXAMPLE "/fallback.json", b1, sizeof b1, d_b1);
    publish(b1);
    cs = sync_ok();
    assert_int_equal(cs.published, 2);
    assert_string_equal(cached("credit_xgb_v2.0"), d_b1);
    rollback("credit_xgb_v2.0");
    bool ok;
    char why[400];
    assert_int_equal(
        rd_change_served_ok(st, RD_CHANGE_BUNDLE, "credit_xgb_v2.0", d_b1, &ok, why, sizeof why, &err),
        RD_OK);
    assert_false(ok);
    assert_non_null(strstr(why, "revoked"));
    /* beside it, a stray directory and a crashed sync's leftovers (removed once a minute old);
       dot files are not the cache's */
    sh("mkdir -p %s/stray %s/credit_xgb_v1.0.tmp-old %s/credit_xgb_v1.0.tmp-new && touch %s/.keep", cache,
       cache, cache, cache);
    sh("mkdir %s/.staging/old.tmp-gone-1-1 && touch -d '-2 minutes' %s/credit_xgb_v1.0.tmp-old "
       "%s/.staging/old.tmp-gone-1-1",
       cache, cache, cache);
    cs = sync_ok();
    assert_int_equal(cs.published, 1);
    assert_int_equal(cs.removed, 2);
    assert_int_equal(cs.unchanged, 1);
    assert_false(exists("credit_xgb_v2.0"));
    assert_false(exists("stray"));
    assert_false(exists("credit_xgb_v1.0.tmp-old"));
    assert_true(exists("credit_xgb_v1.0.tmp-new"));
    assert_true(exists(".keep"));
    assert_false(exists(".staging/old.tmp-gone-1-1"));
    assert_false(exists(".verified/credit_xgb_v2.0"));
    /* published again after its revocation: served again */
    rollback("credit_xgb_v2.0");
    cs = sync_ok();
    assert_string_equal(cached("credit_xgb_v2.0"), d_b1);
}

static void test_damaged_blob(void **state)
{
    (void)state;
    char a[400], d_a[RD_SHA256_HEX], c[400], d_c[RD_SHA256_HEX];
    build("credit_xgb_v3.0", "c1", 20, EXAMPLE "/fallback.json", a, sizeof a, d_a);
    publish(a);
    sync_ok();
    assert_string_equal(cached("credit_xgb_v3.0"), d_a);

    /* a new version whose fallback rules are its own: that blob is damaged, then lost */
    char fb[400], fb_sha[RD_SHA256_HEX];
    snprintf(fb, sizeof fb, "%s/fallback-c2.json", dir);
    sh("cp %s/fallback.json %s && printf '\\n\\n' >>%s", EXAMPLE, fb, fb);
    rd_err err;
    assert_int_equal(rd_sha256_file(fb, fb_sha, &err), RD_OK);
    build("credit_xgb_v3.0", "c2", 20, fb, c, sizeof c, d_c);
    publish(c);
    ino_t ino = inode_of("credit_xgb_v3.0");

    sh("sqlite3 %s/store/riskd.db \"UPDATE blobs SET data = X'7b7d' WHERE sha256 = '%s'\"", dir, fb_sha);
    rd_bundle_cache_stats cs;
    assert_int_equal(rd_bundle_cache_sync(st, cache, &cs, &err), RD_EINVAL);
    assert_int_equal(cs.failed, 1);
    assert_non_null(strstr(err.msg, "bundle credit_xgb_v3.0"));
    assert_non_null(strstr(err.msg, "fallback.json: the store's copy does not match its sha256"));
    assert_string_equal(cached("credit_xgb_v3.0"), d_a); /* the cached copy stays */
    assert_int_equal(inode_of("credit_xgb_v3.0"), ino);

    sh("sqlite3 %s/store/riskd.db \"DELETE FROM blobs WHERE sha256 = '%s'\"", dir, fb_sha);
    assert_int_equal(rd_bundle_cache_sync(st, cache, &cs, &err), RD_ENOTFOUND);
    assert_non_null(strstr(err.msg, "bundle credit_xgb_v3.0"));
    assert_non_null(strstr(err.msg, "fallback.json (sha256 "));
    assert_non_null(strstr(err.msg, "is not in the store"));
    assert_string_equal(cached("credit_xgb_v3.0"), d_a);
    /* no work left behind, and the cache directory untouched: a server does not reload */
    sh("test -z \"$(ls %s %s/.staging | grep tmp- | grep -v credit_xgb_v1.0.tmp-new)\"", cache, cache);
    struct stat before, after;
    assert_int_equal(stat(cache, &before), 0);
    assert_int_equal(rd_bundle_cache_sync(st, cache, &cs, &err), RD_ENOTFOUND);
    assert_int_equal(stat(cache, &after), 0);
    assert_true(before.st_mtim.tv_sec == after.st_mtim.tv_sec &&
                before.st_mtim.tv_nsec == after.st_mtim.tv_nsec);

    /* the blob kept again: fetched */
    char *text;
    size_t len;
    char key[RD_SHA256_HEX];
    assert_int_equal(rd_file_read(fb, 0, &text, &len, &err), RD_OK);
    assert_int_equal(rd_store_blob_put(st, text, len, key, &err), RD_OK);
    rd_free(text);
    cs = sync_ok();
    assert_int_equal(cs.fetched, 1);
    assert_string_equal(cached("credit_xgb_v3.0"), d_c);
}

/* A registration recorded without a change request (another program, a damaged store): the
 * store is trusted for content addressing only. */
static void record(const char *target, const char *sha)
{
    rd_version_row v = {.ts_ms = 3000};
    snprintf(v.kind, sizeof v.kind, "bundle");
    snprintf(v.target, sizeof v.target, "%s", target);
    snprintf(v.sha, sizeof v.sha, "%s", sha);
    snprintf(v.how, sizeof v.how, "publish");
    rd_err err;
    if (rd_store_version_append(st, &v, &err) != RD_OK)
        fail_msg("record %s: %s", target, err.msg);
}

static void test_refused_registrations(void **state)
{
    (void)state;
    char a[400], d_a[RD_SHA256_HEX];
    build("credit_xgb_v4.0", "d1", 20, EXAMPLE "/fallback.json", a, sizeof a, d_a);
    publish(a);
    sync_ok();
    rd_bundle_cache_stats cs;
    rd_err err;

    /* a name that is a path, not a bundle's: refused, no path made of it */
    record("../escape", d_a);
    assert_int_equal(rd_bundle_cache_sync(st, cache, &cs, &err), RD_EINVAL);
    assert_int_equal(cs.failed, 1);
    assert_non_null(strstr(err.msg, "bundle ../escape"));
    sh("test ! -e %s/node/escape && test -z \"$(ls %s/.staging)\"", dir, cache);
    assert_string_equal(cached("credit_xgb_v4.0"), d_a);
    record("../escape", ""); /* revoked: forgotten */

    /* a bundle name whose digest the store never kept: refused naming the manifest */
    record("credit_xgb_v9.0", "abababababababababababababababababababababababababababababababab");
    assert_int_equal(rd_bundle_cache_sync(st, cache, &cs, &err), RD_ENOTFOUND);
    assert_int_equal(cs.failed, 1);
    assert_non_null(strstr(err.msg, "bundle credit_xgb_v9.0"));
    assert_non_null(strstr(err.msg, "manifest.json (sha256 abababababab...) is not in the store"));
    assert_false(exists("credit_xgb_v9.0"));
    assert_string_equal(cached("credit_xgb_v4.0"), d_a);
    record("credit_xgb_v9.0", "");
    sync_ok();
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_sync),
        cmocka_unit_test(test_damaged_blob),
        cmocka_unit_test(test_refused_registrations),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
