/* Snapshots: the flags and bundles in force.
 *
 * Invariants: a published snapshot is never modified; it is freed when its last reference
 * goes. A reload builds the next snapshot aside (reusing the unchanged bundles, which are
 * refcounted), checks it as a whole (the routing flag names only loaded bundles) and
 * publishes it under the state's lock; if anything is refused, nothing is published and the
 * last good snapshot keeps serving. A refused file is not retried until it changes again,
 * so a broken file costs one log line, not one per poll. */
#include <dirent.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "riskd/arena.h"
#include "riskd/audit.h"
#include "riskd/bundle_cache.h"
#include "riskd/change.h"
#include "riskd/clock.h"
#include "riskd/hash.h"
#include "riskd/json.h"
#include "server.h"

struct srv_state {
    const srv_config *cfg;
    rd_store *store;       /* what served is kept here (NULL: the log is off) */
    char fallback_sha[65]; /* the service-wide rules' SHA-256 as kept */
    rd_fallback *fallback; /* the service-wide rules, loaded at start */
    pthread_mutex_t lock;
    srv_snapshot *current;
    atomic_uint_fast64_t generation;
    bool refused;          /* the last reload was refused: retry when anything changes */
    char *flags_seen;      /* fingerprint of the flag file last loaded or refused */
    char *bundles_seen;    /* fingerprint of the bundle directory last loaded or refused */
    char *fallback_seen;   /* fingerprint of the service-wide fallback rules last loaded or refused */
    rd_store *gov;         /* require_approval: the published versions are checked here */
    rd_store *src;         /* flags or bundles = store: read here (the polling thread's) */
    atomic_bool store_due; /* flags or bundles = store: ask the store at the next poll (a notification,
                              the timer) */
    atomic_int_fast64_t store_failures; /* flags = store: checks that could not reach the store */
    int64_t store_retry_ms; /* flags = store: a newer flag set that failed to load is asked again after */
    int64_t store_retry_at; /* this (monotonic ms; 0: none), doubling up to store_check_ms */
    bool approval_pending;  /* the last reload was refused as unpublished: retried at every poll, since
                               the version that makes it good (a publish, a rollout's write) may be
                               recorded after the file was written */
    int64_t pending_seq;    /* the audit chain's head when it was refused: every publish, rollback
                               and rollout write appends to the chain, so a new head is the cue */
    char last_refusal[512];
    char cache_failure[512]; /* bundles = store: the cache's last failure, logged once */
    int64_t kept_version;    /* flags = store: the version kept in the data directory (rd_flags_kept_write) */
    bool keep_pending;       /* what serves could not be kept for replay (the store away at start): kept at
                                the next poll that reaches the store */
    struct {
        srv_flags_listener fn;
        void *ud;
    } listeners[SRV_MAX_LISTENERS];
    size_t nlisteners;
};

/* The audit chain's head seq (-1 when it cannot be read). */
static int64_t audit_seq(srv_state *st)
{
    int64_t seq;
    char hash[RD_SHA256_HEX];
    rd_err e;
    return st->gov && rd_store_audit_last(st->gov, &seq, hash, &e) == RD_OK ? seq : -1;
}

/* ------------------------------------------------------------------ fingerprints */

static void stat_print(rd_buf *b, const char *path, const char *name)
{
    struct stat st;
    if (stat(path, &st) < 0)
        rd_buf_printf(b, "%s:absent;", name);
    else
        rd_buf_printf(b, "%s:%llu:%lld.%09ld:%llu;", name, (unsigned long long)st.st_ino,
                      (long long)st.st_mtim.tv_sec, st.st_mtim.tv_nsec, (unsigned long long)st.st_size);
}

static int cmp_str(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

/* The sorted entries of dir that do not start with '.', each a new string; NULL and 0 when
 * the directory cannot be read. */
static char **list_dir(const char *dir, size_t *n)
{
    *n = 0;
    DIR *d = opendir(dir);
    if (!d)
        return NULL;
    char **v = NULL;
    size_t cap = 0;
    for (struct dirent *e; (e = readdir(d));) {
        if (e->d_name[0] == '.')
            continue;
        if (*n == cap) {
            char **nv = rd_realloc(v, (cap = cap ? 2 * cap : 16) * sizeof *v);
            if (!nv)
                break;
            v = nv;
        }
        if (!(v[*n] = rd_strndup(e->d_name, strlen(e->d_name))))
            break;
        (*n)++;
    }
    closedir(d);
    if (*n)
        qsort(v, *n, sizeof *v, cmp_str);
    return v;
}

static void free_list(char **v, size_t n)
{
    for (size_t i = 0; i < n; i++)
        rd_free(v[i]);
    rd_free(v);
}

/* The buffer's content as a new string (NULL when out of memory); b is released. */
static char *take(rd_buf *b)
{
    char *s = b->oom ? NULL : rd_strndup(rd_buf_cstr(b), b->len);
    rd_buf_deinit(b);
    return s;
}

/* Every entry's inode, mtime and size: a rename into place changes the inodes, an in-place
 * edit the mtime or size. depth 1 also covers each subdirectory's entries (the bundle
 * directory and the files of each bundle); the recursion is bounded by depth. */
static void print_dir(rd_buf *b, const char *dir, int depth)
{
    size_t n;
    char **names = list_dir(dir, &n);
    char path[2 * SRV_PATH_MAX];
    stat_print(b, dir, ".");
    for (size_t i = 0; i < n; i++) {
        snprintf(path, sizeof path, "%s/%s", dir, names[i]);
        if (depth > 0) {
            rd_buf_printf(b, "[%s]", names[i]);
            print_dir(b, path, depth - 1);
        } else {
            stat_print(b, path, names[i]);
        }
    }
    free_list(names, n);
}

/* A bundle directory's fingerprint (depth 0), or the bundle directory's (depth 1). */
static char *dir_fingerprint(const char *dir, int depth)
{
    rd_buf b;
    rd_buf_init(&b);
    print_dir(&b, dir, depth);
    return take(&b);
}

static char *file_fingerprint(const char *path)
{
    rd_buf b;
    rd_buf_init(&b);
    stat_print(&b, path, "f");
    return take(&b);
}

/* ------------------------------------------------------------------ snapshots */

static void text_unref(srv_text *t)
{
    if (t && atomic_fetch_sub(&t->refs, 1) == 1)
        rd_free(t);
}

static srv_text *text_ref(srv_text *t)
{
    if (t)
        atomic_fetch_add(&t->refs, 1);
    return t;
}

void srv_snapshot_unref(srv_snapshot *s)
{
    if (!s || atomic_fetch_sub(&s->refs, 1) != 1)
        return;
    rd_decider_unref(s->dec);
    rd_free(s->flag_stats);
    text_unref(s->flags_text);
    rd_free(s);
}

bool srv_flagset_selected(const srv_snapshot *s, const char *selector)
{
    if (!s->flags_text)
        return false;
    if (!selector || !*selector)
        return true;
    if (!strncmp(selector, "flagSetId=", 10))
        selector += 10;
    return !strcmp(selector, s->flagset_id);
}

void srv_flagset_etag(const srv_snapshot *s, char out[68])
{
    if (s->flags_sha[0])
        snprintf(out, 68, "\"%s\"", s->flags_sha);
    else
        out[0] = 0;
}

/* The flag set's id: metadata.flagSetId when it is a usable string, else the file's stem. */
static void flagset_id(const rd_flagset *fs, const char *path, char *out, size_t cap)
{
    const rd_value *m = fs ? rd_flagset_metadata(fs) : NULL;
    const rd_value *id = m && m->type == RD_VOBJECT ? rd_value_get(m, "flagSetId", 9) : NULL;
    if (id && id->type == RD_VSTRING && id->len && id->len < cap && !memchr(id->u.s, 0, id->len)) {
        memcpy(out, id->u.s, id->len);
        out[id->len] = 0;
        return;
    }
    const char *base = strrchr(path, '/');
    base = base ? base + 1 : path;
    size_t n = strcspn(base, ".");
    snprintf(out, cap, "%.*s", (int)(n ? n : strlen(base)), base);
}

long srv_snapshot_flag_index(const srv_snapshot *s, const char *key, size_t len)
{
    return s->flags ? rd_flagset_find(s->flags, key, len) : -1;
}

static void info_free(void *p)
{
    srv_slot_info *i = p;
    if (i) {
        rd_free(i->fingerprint);
        pthread_mutex_destroy(&i->series_lock);
    }
    rd_free(i);
}

static void on_breaker(void *ud, const char *bundle, rd_breaker_state from, rd_breaker_state to)
{
    (void)ud;
    srv_log(to == RD_BREAKER_OPEN ? SRV_WARN : SRV_INFO,
            to == RD_BREAKER_OPEN ? "circuit breaker opened: fallback rules answer for this bundle"
                                  : "circuit breaker changed state",
            "bundle", bundle, "from", rd_breaker_state_name(from), "to", rd_breaker_state_name(to), NULL);
    /* opened on leaving closed, closed on entering it: half-open <-> open repeats every open_ms
       and is nobody's news */
    bool opened = from == RD_BREAKER_CLOSED, closed = to == RD_BREAKER_CLOSED;
    if (opened == closed)
        return;
    char key[300], summary[320], data[400];
    snprintf(key, sizeof key, "breaker/%s/%s", srv_store_opts.node ? srv_store_opts.node : "-", bundle);
    snprintf(summary, sizeof summary,
             opened ? "circuit breaker of %s opened on %s: fallback rules answer for it"
                    : "circuit breaker of %s closed on %s: the model answers again",
             bundle, srv_store_opts.node ? srv_store_opts.node : "this node");
    snprintf(data, sizeof data, "{\"bundle\":\"%s\",\"from\":\"%s\",\"to\":\"%s\"}", bundle,
             rd_breaker_state_name(from), rd_breaker_state_name(to));
    srv_notify_raise(opened ? "breaker.opened" : "breaker.closed", "bundle", bundle, key, opened, summary,
                     data);
}

/* require_approval (gov not NULL): what serves must be the published version of target
 * (include/riskd/change.h); RD_EFORBIDDEN with the reason otherwise. */
static int approved(rd_store *gov, rd_change_kind kind, const char *target, const char *sha, rd_err *err)
{
    if (!gov)
        return RD_OK;
    bool ok;
    char why[400];
    int rc = rd_change_served_ok(gov, kind, target, sha, &ok, why, sizeof why, err);
    if (rc)
        return rc;
    return ok ? RD_OK : rd_err_set(err, RD_EFORBIDDEN, "require_approval: %s", why);
}

/* flags = store: the flag set kept in the store, not a file (several nodes). */
static bool in_store(const srv_config *cfg) { return rd_change_target_in_store(cfg->flags); }

/* The flag set's bytes: the file's, or the newest version's in the store (*version its number). */
static int read_flags(srv_state *st, char **text, size_t *len, int64_t *version, rd_err *err)
{
    *version = 0;
    if (!in_store(st->cfg))
        return rd_file_read(st->cfg->flags, 64u << 20, text, len, err);
    char sha[RD_SHA256_HEX];
    const char *dir = st->cfg->data_dir, *name = rd_store_name(st->src);
    int rc = rd_flags_store_read(st->src, text, len, sha, version, err);
    rd_err e;
    if (rc == RD_OK) { /* kept for a start while the store is away; serving does not depend on it */
        if (*version != st->kept_version && rd_flags_kept_write(dir, name, *version, sha, *text, *len, &e))
            srv_log(SRV_WARN, "cannot keep the flag set in the data directory", "error", e.msg, NULL);
        else
            st->kept_version = *version;
        return RD_OK;
    }
    if (rc != RD_ESTORE || st->current) /* running: the snapshot in force keeps serving */
        return rc;
    /* a start while the store is away: from the copy of the last run, if there is one */
    if (rd_flags_kept_read(dir, name, text, len, sha, version, &e)) {
        if (e.code != RD_ENOTFOUND)
            srv_log(SRV_ERROR, "the flag set kept in the data directory is refused", "error", e.msg, NULL);
        return rc;
    }
    char v[32];
    snprintf(v, sizeof v, "%lld", (long long)*version);
    srv_log(SRV_ERROR, "the store is unreachable at start: serving the flag set kept in the data directory",
            "#version", v, "store", name, "error", err->msg, NULL);
    st->kept_version = *version;
    return RD_OK;
}

/* What identifies the store's newest flag set ("version:sha"), NULL when it cannot be read
 * (counted: the flag set in force keeps serving). */
static char *store_fingerprint(srv_state *st)
{
    rd_version_row v;
    rd_err e;
    int rc = rd_store_version_find(st->src, "flags", RD_FLAGS_STORE, NULL, &v, &e);
    if (rc) {
        if (rc != RD_ENOTFOUND && atomic_fetch_add(&st->store_failures, 1) % 60 == 0)
            srv_log(SRV_WARN, "cannot ask the store for its flag set: the one in force keeps serving",
                    "error", e.msg, "code", rd_err_name(rc), NULL);
        return NULL;
    }
    char buf[128];
    snprintf(buf, sizeof buf, "%lld:%s", (long long)v.version, v.sha);
    return rd_strndup(buf, strlen(buf));
}

void srv_state_store_due(srv_state *st) { atomic_store(&st->store_due, true); }

/* bundles = store: bring the cache (cfg->bundles) to what the store publishes, before the
 * directory's fingerprint is taken, so the reload that follows loads what changed. A bundle
 * that cannot be fetched keeps its last good copy; its failure is logged once, not at every
 * check. */
static void sync_bundles(srv_state *st)
{
    rd_bundle_cache_stats cs;
    rd_err e;
    int rc = rd_bundle_cache_sync(st->src, st->cfg->bundles, &cs, &e);
    if (cs.fetched || cs.removed) {
        char fetched[32], removed[32];
        snprintf(fetched, sizeof fetched, "%zu", cs.fetched);
        snprintf(removed, sizeof removed, "%zu", cs.removed);
        srv_log(SRV_INFO, "bundle cache: fetched from the store", "#fetched", fetched, "#removed", removed,
                "cache", st->cfg->bundles, NULL);
    }
    if (rc == RD_OK || !strcmp(st->cache_failure, e.msg)) {
        if (rc == RD_OK)
            st->cache_failure[0] = '\0';
        return;
    }
    snprintf(st->cache_failure, sizeof st->cache_failure, "%s", e.msg);
    srv_log(SRV_ERROR,
            "bundle cache: cannot take a bundle from the store, the copy cached before (if any) serves",
            "error", e.msg, "code", rd_err_name(rc), NULL);
}

/* What keeping a text or bundle for replay returned: the store away (a start during an outage)
 * is not a refusal, the keep is done once it answers (keep_later). */
static int keep_or_later(int rc, bool *pending)
{
    if (rc != RD_ESTORE)
        return rc;
    *pending = true;
    return RD_OK;
}

/* The flag set, parsed; sha receives its SHA-256. With a store, its text is kept there; with
 * gov, it must be the published version. */
static int load_flags(srv_state *st, rd_store *store, rd_store *gov, rd_flagset **out, char sha[65],
                      srv_text **kept, int64_t *version, rd_err *err)
{
    const srv_config *cfg = st->cfg;
    char *text;
    size_t len;
    int rc = read_flags(st, &text, &len, version, err);
    if (rc)
        return rc;
    rd_flagset_opts o = {.lenient = cfg->lenient};
    rc = rd_flagset_parse(text, len, &o, out, err);
    if (rc)
        rd_err_prefix(err, "%s", cfg->flags);
    rd_sha256_hex(text, len, sha);
    if (!rc && (rc = approved(gov, RD_CHANGE_FLAGS, cfg->flags, sha, err)) != RD_OK) {
        rd_flagset_unref(*out);
        *out = NULL; /* the caller unrefs what *out holds */
    }
    if (!rc && store &&
        (rc = keep_or_later(rd_dlog_keep_text(store, text, len, sha, err), &st->keep_pending))) {
        rd_err_prefix(err, "%s: cannot keep it for replay", cfg->flags);
        rd_flagset_unref(*out);
        *out = NULL;
    }
    if (!rc && !(*kept = rd_malloc(sizeof **kept + len + 1))) {
        rc = rd_err_set(err, RD_ENOMEM, "out of memory");
        rd_flagset_unref(*out);
        *out = NULL;
    }
    if (!rc) {
        atomic_init(&(*kept)->refs, 1);
        (*kept)->len = len;
        memcpy((*kept)->data, text, len);
        (*kept)->data[len] = 0;
    }
    rd_free(text);
    return rc;
}

/* The slots being gathered for the next snapshot. */
typedef struct slots {
    rd_slot **v;
    size_t n;
} slots;

static void slots_free(slots *l)
{
    for (size_t i = 0; i < l->n; i++)
        rd_slot_unref(l->v[i]);
    rd_free(l->v);
}

static rd_slot *loaded(const srv_snapshot *prev, const char *name)
{
    return prev ? rd_decider_find(prev->dec, name, strlen(name)) : NULL;
}

/* A new slot for the bundle in dir, or NULL with e filled. */
static rd_slot *load_slot(const srv_config *cfg, rd_store *store, rd_store *gov, const char *dir,
                          const char *name, char *fp, bool *keep_pending, rd_err *e)
{
    rd_bundle *b = NULL;
    int rc = rd_bundle_load(dir, &b, e);
    if (!rc && strcmp(rd_bundle_name(b), name) != 0)
        rc = rd_err_set(e, RD_EINVAL, "%s: the directory's name differs from the bundle's name \"%s\"", dir,
                        rd_bundle_name(b));
    if (!rc && cfg->require_signed_bundles) { /* read at each load: a bundle loaded after a key rotation needs
                                                 no restart */
        rd_bundle_key keys[SRV_MAX_KEYS];
        size_t nkeys;
        rc = rd_bundle_keys_read(cfg->bundle_pubkey, keys, SRV_MAX_KEYS, &nkeys, e);
        if (!rc && (rc = rd_bundle_verify_signature(b, keys, nkeys, e)) != RD_OK)
            rd_err_prefix(e, "require_signed_bundles");
    }
    if (!rc && (rc = approved(gov, RD_CHANGE_BUNDLE, name, rd_bundle_digest(b), e)) != RD_OK)
        rd_err_prefix(e, "%s", dir);
    if (!rc && store &&
        (rc = keep_or_later(rd_dlog_keep_bundle(store, dir, rd_bundle_digest(b), e), keep_pending)))
        rd_err_prefix(e, "%s: cannot keep it for replay", dir);
    srv_slot_info *info = rc ? NULL : rd_calloc(1, sizeof *info);
    if (!info) {
        if (!rc)
            rd_err_set(e, RD_ENOMEM, "out of memory");
        rd_bundle_free(b);
        rd_free(fp);
        return NULL;
    }
    info->fingerprint = fp;
    pthread_mutex_init(&info->series_lock, NULL);
    info->stats = srv_metrics_model(name);
    info->fallbacks = srv_metrics_fallback_series(name);
    rd_breaker_opts bo;
    srv_config_breaker(cfg, &bo);
    bo.on_transition = on_breaker;
    rd_slot *s;
    if (rd_slot_new(b, &bo, info, info_free, &s, e)) {
        rd_bundle_free(b);
        info_free(info);
        return NULL;
    }
    return s;
}

/* Load (or keep) every bundle of the directory. A bundle that fails to load keeps its
 * previous version if there was one; *refused counts the failures (each logged). */
static int load_bundles(const srv_config *cfg, rd_store *store, rd_store *gov, const srv_snapshot *prev,
                        slots *out, int *refused, bool *pending, bool *keep_pending, rd_err *err)
{
    size_t n;
    char **names = list_dir(cfg->bundles, &n);
    if (!names && n == 0) {
        DIR *d = opendir(cfg->bundles);
        if (!d)
            return rd_err_set(err, RD_EIO, "%s: cannot read the bundle directory", cfg->bundles);
        closedir(d);
    }
    if (!names)
        n = 0;
    if (!(out->v = rd_calloc(n ? n : 1, sizeof(rd_slot *)))) {
        free_list(names, n);
        return rd_err_set(err, RD_ENOMEM, "out of memory");
    }
    char dir[2 * SRV_PATH_MAX];
    for (size_t i = 0; i < n; i++) {
        snprintf(dir, sizeof dir, "%s/%s", cfg->bundles, names[i]);
        struct stat st;
        if (stat(dir, &st) < 0 || !S_ISDIR(st.st_mode) || strstr(names[i], ".tmp-"))
            continue; /* files beside the bundles, and bundles being written by `bundle build` */
        char *fp = dir_fingerprint(dir, 0);
        rd_slot *old = loaded(prev, names[i]);
        const srv_slot_info *oi = old ? rd_slot_user(old) : NULL;
        if (old && fp && oi->fingerprint && !strcmp(oi->fingerprint, fp)) {
            out->v[out->n++] = rd_slot_ref(old); /* unchanged: the same bundle, the same breaker */
            rd_free(fp);
            continue;
        }
        rd_err e;
        rd_slot *ns = load_slot(cfg, store, gov, dir, names[i], fp, keep_pending, &e);
        if (!ns) {
            srv_log(SRV_ERROR, "bundle refused", "bundle", names[i], "error", e.msg, "code",
                    rd_err_name(e.code), "action", old ? "keeping the version loaded before" : "not served",
                    NULL);
            char why[sizeof e.msg + 160];
            snprintf(why, sizeof why, "%s: %s (%s)", names[i], e.msg,
                     old ? "the version loaded before keeps serving" : "not served");
            srv_metrics_refusal("bundles", why);
            (*refused)++;
            *pending |= e.code == RD_EFORBIDDEN; /* unpublished: a registration makes it good */
            if (old)
                out->v[out->n++] = rd_slot_ref(old);
            continue;
        }
        out->v[out->n++] = ns;
        srv_log(SRV_INFO, old ? "bundle reloaded" : "bundle loaded", "bundle", names[i], NULL);
    }
    free_list(names, n);
    return RD_OK;
}

static int keep_bundles(const srv_snapshot *prev, slots *out, rd_err *err)
{
    size_t n = rd_decider_count(prev->dec);
    if (!(out->v = rd_calloc(n ? n : 1, sizeof(rd_slot *))))
        return rd_err_set(err, RD_ENOMEM, "out of memory");
    for (size_t i = 0; i < n; i++)
        out->v[out->n++] = rd_slot_ref(rd_decider_slot(prev->dec, i));
    return RD_OK;
}

/* The decider over flags and slots, with the configuration's routing. */
static int make_decider(const srv_config *cfg, rd_flagset *flags, const char *flags_sha, const slots *l,
                        rd_fallback *fb, rd_decider **out, rd_err *err)
{
    rd_decide_opts o = {.route_flag = cfg->route_flag,
                        .route_required = cfg->route_flag_set,
                        .shadow_flag = cfg->shadow_flag,
                        .default_bundle = cfg->default_bundle,
                        .deadline_ms = cfg->deadline_ms,
                        .fixed_time = cfg->fixed_time,
                        .fallback = fb,
                        .faults = cfg->faults,
                        .nfaults = cfg->nfaults,
                        .flags_only = !cfg->bundles[0],
                        .flags_sha256 = flags_sha};
    int rc = rd_decider_new(&o, flags, l->v, l->n, out, err);
    if (rc && !strncmp(err->msg, "flags.", 6)) /* a flag's fault: say which file */
        rd_err_prefix(err, "%s", cfg->flags);
    return rc;
}

/* The next snapshot, built aside from prev (NULL at start), reloading what changed; NULL with
 * err filled when it is refused. *refused_bundles counts bundles kept at their old version. */
static srv_snapshot *build(srv_state *st, const srv_snapshot *prev, bool flags_changed, bool bundles_changed,
                           int *refused_bundles, rd_err *err)
{
    const srv_config *cfg = st->cfg;
    srv_snapshot *s = rd_calloc(1, sizeof *s);
    if (!s) {
        rd_err_set(err, RD_ENOMEM, "out of memory");
        return NULL;
    }
    atomic_init(&s->refs, 1);
    rd_flagset *flags = NULL;
    slots l = {0};
    int rc = RD_OK;
    if (cfg->flags[0]) {
        if (flags_changed || !prev) {
            rc = load_flags(st, st->store, st->gov, &flags, s->flags_sha, &s->flags_text, &s->flags_version,
                            err);
        } else {
            s->flags_version = prev->flags_version;
            flags = rd_flagset_ref(prev->flags);
            memcpy(s->flags_sha, prev->flags_sha, sizeof s->flags_sha);
            s->flags_text = text_ref(prev->flags_text);
        }
        if (!rc) {
            flagset_id(flags, cfg->flags, s->flagset_id, sizeof s->flagset_id);
            bool same = prev && !strcmp(prev->flags_sha, s->flags_sha);
            s->flags_since_ms = same ? prev->flags_since_ms : rd_clock_unix_ms();
        }
    }
    if (!rc && cfg->bundles[0])
        rc = bundles_changed || !prev ? load_bundles(cfg, st->store, st->gov, prev, &l, refused_bundles,
                                                     &st->approval_pending, &st->keep_pending, err)
                                      : keep_bundles(prev, &l, err);
    if (!rc)
        rc = make_decider(cfg, flags, s->flags_sha, &l, st->fallback, &s->dec, err);
    if (flags)
        rd_flagset_unref(flags);
    slots_free(&l);
    if (!rc) {
        s->flags = rd_decider_flags(s->dec);
        size_t n = s->flags ? rd_flagset_count(s->flags) : 0;
        if (!(s->flag_stats = rd_calloc(n ? n : 1, sizeof(srv_flag_stats *))))
            rc = rd_err_set(err, RD_ENOMEM, "out of memory");
        else
            for (size_t i = 0; i < n; i++)
                s->flag_stats[i] = srv_metrics_flag(rd_flagset_key(s->flags, i));
    }
    /* A reload must not take away the service's way to pick a bundle (a second bundle
     * beside a lone one with no routing flag, the last bundle removed, the routing flag
     * deleted): refused, the last good snapshot keeps serving. */
    if (!rc && prev && rd_decider_can_pick(prev->dec) && cfg->bundles[0] && !rd_decider_can_pick(s->dec))
        rc = rd_err_set(
            err, RD_EINVAL,
            "%zu bundle(s) in %s and neither the routing flag %s nor default_bundle would pick one",
            rd_decider_count(s->dec), cfg->bundles, cfg->route_flag);
    if (rc) {
        srv_snapshot_unref(s);
        return NULL;
    }
    return s;
}

static void publish(srv_state *st, srv_snapshot *s)
{
    pthread_mutex_lock(&st->lock);
    srv_snapshot *old = st->current;
    s->generation = (old ? old->generation : 0) + 1;
    st->current = s;
    atomic_store(&st->generation, s->generation);
    pthread_mutex_unlock(&st->lock);
    bool flags_changed = old && strcmp(old->flags_sha, s->flags_sha) != 0;
    srv_snapshot_unref(old);
    /* st->current may be replaced by the next poll only on this thread or under poll_lock (http.c),
       which the caller holds: s stays alive through the calls */
    for (size_t i = 0; flags_changed && i < st->nlisteners; i++)
        st->listeners[i].fn(st->listeners[i].ud, s);
}

void srv_state_listen(srv_state *st, srv_flags_listener fn, void *ud)
{
    if (st->nlisteners < SRV_MAX_LISTENERS) {
        st->listeners[st->nlisteners].fn = fn;
        st->listeners[st->nlisteners++].ud = ud;
    }
}

/* The service-wide fallback rules from their file; the bytes compiled are kept in the store
 * when there is one. */
static int load_rules(srv_state *st, rd_fallback **out, rd_err *err)
{
    int rc = rd_fallback_load_file(st->cfg->fallback, out, err);
    size_t len;
    const char *text = rc ? NULL : rd_fallback_text(*out, &len);
    if (!rc && st->store && (rc = rd_dlog_keep_text(st->store, text, len, st->fallback_sha, err)) != RD_OK) {
        rd_err_prefix(err, "%s: cannot keep it for replay", st->cfg->fallback);
        rd_fallback_unref(*out);
    }
    return rc;
}

/* Adopt a file in force (kind, target) as its version 1. */
static int adopt(srv_state *st, rd_change_kind kind, const char *target, const char *sha, rd_err *err)
{
    bool adopted;
    int rc = rd_change_adopt(st->gov, kind, target, sha, "serve", rd_clock_unix_ms(), &adopted, err);
    if (!rc && adopted)
        srv_log(SRV_WARN, "require_approval: adopted the version in force as the published baseline", "kind",
                rd_change_kind_name(kind), "target", target, "sha256", sha, NULL);
    return rc;
}

/* The first start with require_approval adopts what serves (the flag file, each bundle, each
 * rollout plan) as the published baseline; later starts adopt nothing, so a file that
 * appeared meanwhile without a change request is refused. */
static int adopt_all(srv_state *st, rd_err *err)
{
    const srv_config *cfg = st->cfg;
    char sha[RD_SHA256_HEX];
    int rc = RD_OK;
    /* the flag set kept in the store has versions from its import on: nothing to adopt */
    if (cfg->flags[0] && !in_store(cfg) && (rc = rd_sha256_file(cfg->flags, sha, err)) == RD_OK)
        rc = adopt(st, RD_CHANGE_FLAGS, cfg->flags, sha, err);
    for (size_t i = 0; !rc && i < cfg->nrollouts; i++)
        if ((rc = rd_sha256_file(cfg->rollouts[i], sha, err)) == RD_OK)
            rc = adopt(st, RD_CHANGE_ROLLOUT, cfg->rollouts[i], sha, err);
    size_t n = 0;
    /* bundles = store: the cache holds published versions only */
    char **names = cfg->bundles[0] && !cfg->bundles_store ? list_dir(cfg->bundles, &n) : NULL;
    char dir[2 * SRV_PATH_MAX];
    for (size_t i = 0; !rc && i < n; i++) {
        snprintf(dir, sizeof dir, "%s/%s", cfg->bundles, names[i]);
        rd_bundle *b;
        if (strstr(names[i], ".tmp-") || rd_bundle_load(dir, &b, err) != RD_OK)
            continue; /* the load at start refuses it with its own message */
        rc = adopt(st, RD_CHANGE_BUNDLE, rd_bundle_name(b), rd_bundle_digest(b), err);
        rd_bundle_free(b);
    }
    free_list(names, n);
    return rc ? rc : rd_store_setting_put(st->gov, "approval.adopted", "1", err);
}

/* Record the served flag file (the default target of change requests and rollbacks); a change
 * of it is audited with the setting, in one transaction. */
static int served_flags(rd_store *gov, const char *real, rd_err *err)
{
    char old[PATH_MAX] = "";
    rd_err e;
    if (rd_store_setting_get(gov, "served.flags", old, sizeof old, &e) == RD_OK && !strcmp(old, real))
        return RD_OK;
    int rc = rd_store_begin(gov, err);
    if (rc)
        return rc;
    rd_buf d;
    rd_buf_init(&d);
    rd_buf_puts(&d, "{\"before\":");
    rd_json_write_string(&d, old, strlen(old));
    rd_buf_puts(&d, ",\"after\":");
    rd_json_write_string(&d, real, strlen(real));
    rd_buf_putc(&d, '}');
    rd_audit_entry a = {.actor = "serve",
                        .action = "settings.served_flags",
                        .object = "settings/served.flags",
                        .detail_json = rd_buf_cstr(&d)};
    rc = d.oom ? rd_err_set(err, RD_ENOMEM, "out of memory")
               : rd_store_setting_put(gov, "served.flags", real, err);
    if (!rc)
        rc = rd_audit_append(gov, &a, NULL, err);
    rd_buf_deinit(&d);
    if (!rc)
        return rd_store_commit(gov, err);
    rd_store_rollback(gov);
    return rc;
}

/* require_approval: the store handle the checks use, the served flag file made known (so a
 * change request needs no target), and the baseline adopted on the first start. */
static int govern(srv_state *st, rd_err *err)
{
    const srv_config *cfg = st->cfg;
    int rc = rd_store_open(cfg->store, &srv_store_opts, &st->gov, err);
    char real[PATH_MAX], flag[8];
    if (!rc && in_store(cfg))
        rc = served_flags(st->gov, RD_FLAGS_STORE, err);
    else if (!rc && cfg->flags[0] && realpath(cfg->flags, real))
        rc = served_flags(st->gov, real, err);
    if (!rc) /* the rollouts' writes put a refused hand edit back first (rd_change_restore_published) */
        rc = rd_store_setting_put(st->gov, "approval.required", "1", err);
    rd_err e;
    if (!rc && rd_store_setting_get(st->gov, "approval.adopted", flag, sizeof flag, &e) == RD_ENOTFOUND)
        rc = adopt_all(st, err);
    if (rc)
        rd_err_prefix(err, "require_approval");
    return rc;
}

int srv_state_new(const srv_config *cfg, rd_store *store, srv_state **out, rd_err *err)
{
    rd_err local;
    if (!err)
        err = &local;
    srv_state *st = rd_calloc(1, sizeof *st);
    if (!st)
        return rd_err_set(err, RD_ENOMEM, "out of memory");
    st->cfg = cfg;
    st->store = store;
    pthread_mutex_init(&st->lock, NULL);
    if (cfg->fallback[0] && load_rules(st, &st->fallback, err)) {
        pthread_mutex_destroy(&st->lock);
        rd_free(st);
        return err->code;
    }
    if ((in_store(cfg) || cfg->bundles_store) && rd_store_open(cfg->store, &srv_store_opts, &st->src, err)) {
        srv_state_free(st);
        return err->code;
    }
    if (cfg->require_approval && govern(st, err)) {
        srv_state_free(st);
        return err->code;
    }
    rd_err ignored; /* without require_approval, hand edits are the way to change: the rollouts keep them */
    if (!cfg->require_approval && store)
        rd_store_setting_put(store, "approval.required", "0", &ignored);
    if (cfg->flags[0])
        st->flags_seen = in_store(cfg) ? store_fingerprint(st) : file_fingerprint(cfg->flags);
    if (cfg->bundles_store)
        sync_bundles(st);
    if (cfg->bundles[0])
        st->bundles_seen = dir_fingerprint(cfg->bundles, 1);
    if (cfg->fallback[0])
        st->fallback_seen = file_fingerprint(cfg->fallback);
    int refused = 0;
    srv_snapshot *s = build(st, NULL, true, true, &refused, err);
    if (s && refused) { /* at start, every bundle must load */
        srv_snapshot_unref(s);
        s = NULL;
        rd_err_set(err, RD_EINVAL, "%d bundle(s) in %s refused (see the log above)", refused, cfg->bundles);
    }
    if (!s) {
        srv_state_free(st);
        return err->code;
    }
    publish(st, s);
    *out = st;
    return RD_OK;
}

void srv_state_free(srv_state *st)
{
    if (!st)
        return;
    srv_snapshot_unref(st->current);
    rd_fallback_unref(st->fallback);
    rd_free(st->flags_seen);
    rd_free(st->bundles_seen);
    rd_free(st->fallback_seen);
    rd_store_close(st->gov);
    rd_store_close(st->src);
    pthread_mutex_destroy(&st->lock);
    rd_free(st);
}

/* flags = store, a newer flag set that could not be loaded: forget its fingerprint so that it
 * counts as new again, and ask again in 1 s, then 2, 4... up to the periodic check's interval. */
static void store_retry(srv_state *st)
{
    rd_free(st->flags_seen);
    st->flags_seen = NULL;
    int64_t ms = st->store_retry_ms ? st->store_retry_ms * 2 : 1000;
    st->store_retry_ms = ms < st->cfg->store_check_ms ? ms : st->cfg->store_check_ms;
    st->store_retry_at = rd_clock_ns() / 1000000 + st->store_retry_ms;
}

/* Whether the fingerprint at *seen differs from now (then *seen takes now's value). */
static bool changed(char **seen, char *now)
{
    if (!now)
        return false;
    if (*seen && !strcmp(*seen, now)) {
        rd_free(now);
        return false;
    }
    rd_free(*seen);
    *seen = now;
    return true;
}

/* The service-wide fallback rules, reloaded when their file changed: true when new rules
 * were taken (the snapshot must be rebuilt with them). Rules that are refused are logged and
 * counted, and the last good ones stay. */
static bool reload_fallback(srv_state *st, bool force)
{
    const srv_config *cfg = st->cfg;
    if (!cfg->fallback[0] || (!changed(&st->fallback_seen, file_fingerprint(cfg->fallback)) && !force))
        return false;
    rd_fallback *f;
    rd_err e;
    if (load_rules(st, &f, &e)) {
        srv_log(SRV_ERROR, "fallback rules refused, the last good ones keep serving", "error", e.msg, "code",
                rd_err_name(e.code), NULL);
        srv_metrics_reload("fallback", false);
        srv_metrics_refusal("fallback", e.msg);
        return false;
    }
    srv_metrics_refusal("fallback", NULL);
    rd_fallback_unref(st->fallback);
    st->fallback = f; /* only this thread polls: the snapshots in force hold their own reference */
    return true;      /* counted once the snapshot with them is published */
}

/* What serves, kept for replay now that the store answers (it was away when it was loaded):
 * the flag text and every bundle of the snapshot in force. Until then the decisions that
 * spool name texts the store may not hold yet; they are kept before the spool drains far. */
static void keep_later(srv_state *st)
{
    srv_snapshot *s = srv_state_acquire(st);
    rd_err e;
    int rc = s->flags_text
                 ? rd_dlog_keep_text(st->store, s->flags_text->data, s->flags_text->len, s->flags_sha, &e)
                 : RD_OK;
    for (size_t i = 0; !rc && i < rd_decider_count(s->dec); i++) {
        const rd_bundle *b = rd_slot_bundle(rd_decider_slot(s->dec, i));
        char dir[2 * SRV_PATH_MAX];
        snprintf(dir, sizeof dir, "%s/%s", st->cfg->bundles, rd_bundle_name(b));
        rc = rd_dlog_keep_bundle(st->store, dir, rd_bundle_digest(b), &e);
    }
    srv_snapshot_unref(s);
    if (rc == RD_ESTORE)
        return;
    st->keep_pending = false;
    if (rc)
        srv_log(SRV_ERROR, "cannot keep what serves for replay", "error", e.msg, "code", rd_err_name(rc),
                NULL);
    else
        srv_log(SRV_INFO, "what serves is kept for replay (the store was away when it was loaded)", NULL);
}

void srv_state_poll(srv_state *st, bool force)
{
    if (st->keep_pending && st->store)
        keep_later(st);
    const srv_config *cfg = st->cfg;
    bool fc, due = atomic_exchange(&st->store_due, false) || force;
    if (st->store_retry_at && rd_clock_ns() / 1000000 >= st->store_retry_at) {
        st->store_retry_at = 0;
        due = true;
    }
    if (in_store(cfg)) /* one query when due (a notification, the periodic check), not at every poll */
        fc = due && changed(&st->flags_seen, store_fingerprint(st));
    else
        fc = cfg->flags[0] && changed(&st->flags_seen, file_fingerprint(cfg->flags));
    if (due && cfg->bundles_store)
        sync_bundles(st);
    bool bc = cfg->bundles[0] && changed(&st->bundles_seen, dir_fingerprint(cfg->bundles, 1));
    bool rules = reload_fallback(st, force);
    /* the chain's head, read before any build: a publish that commits while the build refuses
       its bundle moves the head past this, so that refusal is retried (read after, it was not) */
    int64_t head = st->approval_pending ? audit_seq(st) : -1;
    bool retry = st->approval_pending && head != st->pending_seq;
    if (!fc && !bc && !force && !rules && !retry)
        return;
    if (st->gov && !st->approval_pending)
        head = audit_seq(st);
    st->approval_pending = false;
    /* After a refusal, any change retries both: a flag file refused for routing to a bundle
     * that was not there yet is good once the bundle arrives. */
    bool fc_count = fc, bc_count = bc; /* the metrics count what changed */
    if (force || st->refused || retry) {
        fc = cfg->flags[0] != 0;
        bc = cfg->bundles[0] != 0;
        if (!fc_count && !bc_count) {
            fc_count = fc;
            bc_count = bc;
        }
    }
    srv_snapshot *prev = srv_state_acquire(st);
    int refused = 0;
    rd_err e;
    srv_snapshot *s = build(st, prev, fc, bc, &refused, &e);
    srv_snapshot_unref(prev);
    st->refused = !s;
    if (!s && in_store(cfg) && fc) /* a failed read (the store away a moment) must not leave this node
                                      behind until the next notification or check */
        store_retry(st);
    else if (s && fc)
        st->store_retry_ms = 0;
    if (!s) {
        st->approval_pending |= e.code == RD_EFORBIDDEN;
        st->pending_seq = head;
        /* one line per refusal, not per retry (nor per check of a store flag set that failed) */
        bool again = (retry || in_store(cfg)) && !strcmp(st->last_refusal, e.msg);
        snprintf(st->last_refusal, sizeof st->last_refusal, "%s", e.msg);
        if (again)
            return;
        srv_log(SRV_ERROR, "reload refused, the last good flags and bundles keep serving", "error", e.msg,
                "code", rd_err_name(e.code), NULL);
        if (fc_count)
            srv_metrics_reload("flags", false);
        if (bc_count)
            srv_metrics_reload("bundles", false);
        /* /ready says why until a reload succeeds: the flag file's refusal when it changed */
        srv_metrics_refusal(fc_count || !bc_count ? "flags" : "bundles", e.msg);
        if (rules) /* good rules, not in force: the refusal is retried at the next change */
            srv_metrics_reload("fallback", false);
        return;
    }
    st->last_refusal[0] = '\0';
    if (st->approval_pending) /* a bundle refused as unpublished: retried after the next governance event */
        st->pending_seq = head;
    if (fc_count)
        srv_metrics_reload("flags", true);
    if (bc_count)
        srv_metrics_reload("bundles", refused == 0);
    if (fc) /* the flag file on disk is the one in force */
        srv_metrics_refusal("flags", NULL);
    if (bc && refused == 0)
        srv_metrics_refusal("bundles", NULL);
    if (rules)
        srv_metrics_reload("fallback", true);
    publish(st, s);
    char gen[32], nb[32];
    snprintf(gen, sizeof gen, "%llu", (unsigned long long)s->generation);
    snprintf(nb, sizeof nb, "%zu", rd_decider_count(s->dec));
    srv_log(SRV_INFO, "reloaded", "#generation", gen, "#bundles", nb, "flags_changed", fc ? "yes" : "no",
            "bundles_changed", bc ? "yes" : "no", NULL);
}

srv_snapshot *srv_state_acquire(srv_state *st)
{
    pthread_mutex_lock(&st->lock);
    srv_snapshot *s = st->current;
    atomic_fetch_add(&s->refs, 1);
    pthread_mutex_unlock(&st->lock);
    return s;
}

uint64_t srv_state_generation(srv_state *st)
{
    return atomic_load_explicit(&st->generation, memory_order_acquire);
}
