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
#include "server.h"

struct srv_state {
    const srv_config *cfg;
    pthread_mutex_t lock;
    srv_snapshot *current;
    atomic_uint_fast64_t generation;
    bool refused;       /* the last reload was refused: retry when anything changes */
    char *flags_seen;   /* fingerprint of the flag file last loaded or refused */
    char *bundles_seen; /* fingerprint of the bundle directory last loaded or refused */
};

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

static void bundle_unref(srv_bundle *b)
{
    if (!b || atomic_fetch_sub(&b->refs, 1) != 1)
        return;
    rd_bundle_free(b->b);
    rd_free(b->fingerprint);
    rd_free(b);
}

void srv_snapshot_unref(srv_snapshot *s)
{
    if (!s || atomic_fetch_sub(&s->refs, 1) != 1)
        return;
    if (s->flags)
        rd_flagset_unref(s->flags);
    rd_free(s->flag_stats);
    for (size_t i = 0; i < s->nbundles; i++)
        bundle_unref(s->bundles[i]);
    rd_free(s->bundles);
    rd_free(s);
}

const srv_bundle *srv_snapshot_bundle(const srv_snapshot *s, const char *name, size_t len)
{
    size_t lo = 0, hi = s->bundles ? s->nbundles : 0;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        const char *m = rd_bundle_name(s->bundles[mid]->b);
        size_t ml = strlen(m);
        int c = memcmp(m, name, ml < len ? ml : len);
        if (!c)
            c = ml < len ? -1 : ml > len;
        if (!c)
            return s->bundles[mid];
        if (c < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return NULL;
}

long srv_snapshot_flag_index(const srv_snapshot *s, const char *key, size_t len)
{
    return s->flags ? rd_flagset_find(s->flags, key, len) : -1;
}

static srv_bundle *find_loaded(const srv_snapshot *s, const char *name)
{
    if (!s)
        return NULL;
    const srv_bundle *b = srv_snapshot_bundle(s, name, strlen(name));
    return (srv_bundle *)b;
}

static int load_flags(const srv_config *cfg, rd_flagset **out, rd_err *err)
{
    char *text;
    size_t len;
    int rc = rd_file_read(cfg->flags, 64u << 20, &text, &len, err);
    if (rc)
        return rc;
    rd_flagset_opts o = {.lenient = cfg->lenient};
    rc = rd_flagset_parse(text, len, &o, out, err);
    rd_free(text);
    if (rc)
        rd_err_prefix(err, "%s", cfg->flags);
    return rc;
}

/* Load (or keep) every bundle of the directory into s. A bundle that fails to load keeps its
 * previous version if there was one; *refused counts the failures (each logged). */
static int load_bundles(const srv_config *cfg, const srv_snapshot *prev, srv_snapshot *s, int *refused,
                        rd_err *err)
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
    s->bundles = rd_calloc(n ? n : 1, sizeof(srv_bundle *));
    if (!s->bundles) {
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
        srv_bundle *old = find_loaded(prev, names[i]);
        if (old && fp && old->fingerprint && !strcmp(old->fingerprint, fp)) {
            atomic_fetch_add(&old->refs, 1);
            s->bundles[s->nbundles++] = old;
            rd_free(fp);
            continue;
        }
        srv_bundle *nb = rd_calloc(1, sizeof *nb);
        if (!nb) {
            rd_free(fp);
            free_list(names, n);
            return rd_err_set(err, RD_ENOMEM, "out of memory");
        }
        rd_err e;
        int rc = rd_bundle_load(dir, &nb->b, &e);
        if (!rc && strcmp(rd_bundle_name(nb->b), names[i]) != 0)
            rc = rd_err_set(&e, RD_EINVAL, "%s: the directory's name differs from the bundle's name \"%s\"",
                            dir, rd_bundle_name(nb->b));
        if (rc) {
            srv_log(SRV_ERROR, "bundle refused", "bundle", names[i], "error", e.msg, "code", rd_err_name(rc),
                    "action", old ? "keeping the version loaded before" : "not served", NULL);
            (*refused)++;
            rd_bundle_free(nb->b);
            rd_free(nb);
            rd_free(fp);
            if (old) {
                atomic_fetch_add(&old->refs, 1);
                s->bundles[s->nbundles++] = old;
            }
            continue;
        }
        atomic_init(&nb->refs, 1);
        nb->fingerprint = fp;
        nb->stats = srv_metrics_model(names[i]);
        s->bundles[s->nbundles++] = nb;
        srv_log(SRV_INFO, old ? "bundle reloaded" : "bundle loaded", "bundle", names[i], NULL);
    }
    free_list(names, n);
    return RD_OK;
}

/* Checks on the snapshot as a whole. */
static int check_snapshot(const srv_config *cfg, srv_snapshot *s, rd_err *err)
{
    s->route_index = srv_snapshot_flag_index(s, cfg->route_flag, strlen(cfg->route_flag));
    if (cfg->default_bundle[0]) {
        s->fallback = srv_snapshot_bundle(s, cfg->default_bundle, strlen(cfg->default_bundle));
        if (!s->fallback)
            return rd_err_set(err, RD_EINVAL, "default_bundle \"%s\" is not among the loaded bundles",
                              cfg->default_bundle);
    } else if (s->nbundles == 1 && s->bundles) {
        s->fallback = s->bundles[0];
    }
    return RD_OK;
}

static int route_targets_loaded(const srv_config *cfg, const srv_snapshot *s, rd_err *err);

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
    s->route_index = -1;
    int rc = RD_OK;
    if (cfg->flags[0]) {
        if (flags_changed || !prev)
            rc = load_flags(cfg, &s->flags, err);
        else
            s->flags = rd_flagset_ref(prev->flags);
    }
    if (!rc && cfg->flags[0]) {
        size_t n = rd_flagset_count(s->flags);
        s->flag_stats = rd_calloc(n ? n : 1, sizeof(srv_flag_stats *));
        if (!s->flag_stats)
            rc = rd_err_set(err, RD_ENOMEM, "out of memory");
        else
            for (size_t i = 0; i < n; i++)
                s->flag_stats[i] = srv_metrics_flag(rd_flagset_key(s->flags, i));
    }
    if (!rc && cfg->bundles[0]) {
        if (bundles_changed || !prev) {
            rc = load_bundles(cfg, prev, s, refused_bundles, err);
        } else {
            s->bundles = rd_calloc(prev->nbundles ? prev->nbundles : 1, sizeof(srv_bundle *));
            if (!s->bundles)
                rc = rd_err_set(err, RD_ENOMEM, "out of memory");
            else
                for (size_t i = 0; i < prev->nbundles; i++) {
                    atomic_fetch_add(&prev->bundles[i]->refs, 1);
                    s->bundles[s->nbundles++] = prev->bundles[i];
                }
        }
    }
    if (!rc)
        rc = check_snapshot(cfg, s, err);
    if (!rc)
        rc = route_targets_loaded(cfg, s, err);
    /* A reload must not take away the service's way to pick a bundle (a second bundle
     * beside a lone one with no routing flag, the last bundle removed, the routing flag
     * deleted): refused, the last good snapshot keeps serving. */
    if (!rc && prev && srv_snapshot_can_pick(prev) && cfg->bundles[0] && !srv_snapshot_can_pick(s))
        rc = rd_err_set(
            err, RD_EINVAL,
            "%zu bundle(s) in %s and neither the routing flag %s nor default_bundle would pick one",
            s->nbundles, cfg->bundles, cfg->route_flag);
    if (rc) {
        srv_snapshot_unref(s);
        return NULL;
    }
    return s;
}

/* Every bundle the routing flag can name must be loaded ("" means none): a flag change that
 * routes to a missing bundle, or a bundle removed while still routed to, is refused as a
 * whole, and the last good snapshot keeps serving. */
static int route_targets_loaded(const srv_config *cfg, const srv_snapshot *s, rd_err *err)
{
    rd_value variants;
    if (!cfg->bundles[0] || s->route_index < 0 ||
        rd_flagset_variants(s->flags, (size_t)s->route_index, &variants))
        return RD_OK;
    for (uint32_t v = 0; v < variants.len; v++) {
        const rd_member *m = &variants.u.members[v];
        if (m->val.type != RD_VSTRING)
            return rd_err_set(
                err, RD_EINVAL,
                "%s: flags.%s.variants.%s: a routing flag's values name bundles, so must be strings",
                cfg->flags, cfg->route_flag, m->key);
        if (m->val.len && !srv_snapshot_bundle(s, m->val.u.s, m->val.len))
            return rd_err_set(err, RD_EINVAL,
                              "%s: flags.%s.variants.%s routes to \"%s\", which is not a loaded bundle in %s",
                              cfg->flags, cfg->route_flag, m->key, m->val.u.s, cfg->bundles);
    }
    return RD_OK;
}

static void publish(srv_state *st, srv_snapshot *s)
{
    pthread_mutex_lock(&st->lock);
    srv_snapshot *old = st->current;
    s->generation = (old ? old->generation : 0) + 1;
    st->current = s;
    atomic_store(&st->generation, s->generation);
    pthread_mutex_unlock(&st->lock);
    srv_snapshot_unref(old);
}

int srv_state_new(const srv_config *cfg, srv_state **out, rd_err *err)
{
    rd_err local;
    if (!err)
        err = &local;
    srv_state *st = rd_calloc(1, sizeof *st);
    if (!st)
        return rd_err_set(err, RD_ENOMEM, "out of memory");
    st->cfg = cfg;
    pthread_mutex_init(&st->lock, NULL);
    if (cfg->flags[0])
        st->flags_seen = file_fingerprint(cfg->flags);
    if (cfg->bundles[0])
        st->bundles_seen = dir_fingerprint(cfg->bundles, 1);
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
    rd_free(st->flags_seen);
    rd_free(st->bundles_seen);
    pthread_mutex_destroy(&st->lock);
    rd_free(st);
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

void srv_state_poll(srv_state *st, bool force)
{
    const srv_config *cfg = st->cfg;
    bool fc = cfg->flags[0] && changed(&st->flags_seen, file_fingerprint(cfg->flags));
    bool bc = cfg->bundles[0] && changed(&st->bundles_seen, dir_fingerprint(cfg->bundles, 1));
    if (!fc && !bc && !force)
        return;
    /* After a refusal, any change retries both: a flag file refused for routing to a bundle
     * that was not there yet is good once the bundle arrives. */
    bool fc_count = fc, bc_count = bc; /* the metrics count what changed */
    if (force || st->refused) {
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
    if (!s) {
        srv_log(SRV_ERROR, "reload refused, the last good flags and bundles keep serving", "error", e.msg,
                "code", rd_err_name(e.code), NULL);
        if (fc_count)
            srv_metrics_reload("flags", false);
        if (bc_count)
            srv_metrics_reload("bundles", false);
        return;
    }
    if (fc_count)
        srv_metrics_reload("flags", true);
    if (bc_count)
        srv_metrics_reload("bundles", refused == 0);
    publish(st, s);
    char gen[32], nb[32];
    snprintf(gen, sizeof gen, "%llu", (unsigned long long)s->generation);
    snprintf(nb, sizeof nb, "%zu", s->nbundles);
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
