/* The decision log for the Python package (riskd.Log): a store opened read-only as `riskd log
 * export` opens it, scanned with the same filter in chunks of bounded size.
 *
 * rd_store_log_scan streams rows to a callback in id order and cannot be resumed at an id, so a
 * scan runs on a thread of its own that hands rows over a chunk at a time: the caller asks for
 * a chunk, the scan fills it and waits (inside its callback, the statement open) until the next
 * chunk is asked for. A log of any size is thus read in one pass, holding one chunk. A call that
 * does not continue the scan (another filter, another cursor) stops it and starts a new one,
 * which passes over the rows at or below the cursor.
 *
 * Invariants: while a scan thread runs, it alone uses the store handle; the caller's side
 * touches the hand-over fields only under mu; a handle serves one call at a time (call). */
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>

#include "riskd/auth.h"
#include "riskd/clock.h"
#include "riskd/embed.h"
#include "riskd/json.h"
#include "riskd/store.h"

#define SCAN_TIMEOUT_MS 600000 /* a shared store: as the CLI's scans (CLI_SCAN_TIMEOUT_MS) */
#define SCAN_STOP       1      /* the callback's return that ends a scan asked to stop */
#define MAX_FILTER      (1u << 16)

struct rd_embed_log {
    rd_store *s;
    pthread_mutex_t call; /* one call at a time */
    pthread_mutex_t mu;   /* the hand-over below */
    pthread_cond_t cv;
    /* the scan: set before its thread starts, read-only while it runs */
    bool started; /* a thread was started and not yet joined */
    pthread_t th;
    char *filter_text; /* the filter as given (a continuation gives the same) */
    rd_arena farena;   /* the parsed filter's strings */
    rd_log_filter f;
    int64_t skip_to; /* rows with id <= skip_to are passed over */
    int64_t pos;     /* the id of the last row handed to the caller (or skip_to) */
    /* hand-over, under mu */
    size_t want; /* rows the caller waits for; 0: the scan waits */
    rd_buf *out;
    size_t got;
    int64_t last;
    bool finished; /* the scan ended: scan_rc, scan_err say how */
    bool cancel;
    int scan_rc;
    rd_err scan_err;
};

/* ------------------------------------------------------------------ the scan thread */

static void put_str(rd_buf *b, const char *s)
{
    if (s)
        rd_json_write_string(b, s, strlen(s));
    else
        rd_buf_puts(b, "null");
}

static int on_row(void *ud, const rd_log_row *r)
{
    rd_embed_log *l = ud;
    if (r->id <= l->skip_to)
        return 0;
    pthread_mutex_lock(&l->mu);
    while (l->want == 0 && !l->cancel)
        pthread_cond_wait(&l->cv, &l->mu);
    if (l->cancel) {
        pthread_mutex_unlock(&l->mu);
        return SCAN_STOP;
    }
    rd_buf *b = l->out;
    rd_buf_printf(b, "{\"id\":%lld,\"ts_ms\":%lld,\"request_id\":", (long long)r->id, (long long)r->ts_ms);
    put_str(b, r->request_id);
    rd_buf_puts(b, ",\"kind\":");
    put_str(b, r->kind);
    rd_buf_puts(b, ",\"model_version\":");
    put_str(b, r->model_version);
    if (r->label >= 0)
        rd_buf_printf(b, ",\"label\":%d", r->label);
    else
        rd_buf_puts(b, ",\"label\":null");
    rd_buf_puts(b, ",\"node\":");
    put_str(b, r->node);
    rd_buf_puts(b, ",\"record\":");
    rd_buf_append(b, r->record, r->record_len); /* JSON as logged, as `riskd log export` writes it */
    rd_buf_puts(b, "}\n");
    l->got++;
    l->last = r->id;
    if (l->got >= l->want || b->oom) {
        l->want = 0;
        pthread_cond_broadcast(&l->cv);
    }
    pthread_mutex_unlock(&l->mu);
    return 0;
}

static void *scan_main(void *ud)
{
    rd_embed_log *l = ud;
    rd_err err;
    rd_err_clear(&err);
    int rc = rd_store_log_scan(l->s, &l->f, on_row, l, &err);
    pthread_mutex_lock(&l->mu);
    l->finished = true;
    l->scan_rc = rc == SCAN_STOP ? RD_OK : rc;
    l->scan_err = err;
    l->want = 0;
    pthread_cond_broadcast(&l->cv);
    pthread_mutex_unlock(&l->mu);
    return NULL;
}

/* Stop the scan (if any) and wait for its thread. */
static void scan_stop(rd_embed_log *l)
{
    if (!l->started)
        return;
    pthread_mutex_lock(&l->mu);
    l->cancel = true;
    pthread_cond_broadcast(&l->cv);
    pthread_mutex_unlock(&l->mu);
    pthread_join(l->th, NULL);
    l->started = false;
    free(l->filter_text);
    l->filter_text = NULL;
    rd_arena_reset(&l->farena);
}

/* ------------------------------------------------------------------ the filter */

static int filter_ms(const rd_value *v, const char *name, int64_t *out, rd_err *err)
{
    *out = 0;
    if (!v || v->type == RD_VNULL)
        return RD_OK;
    if (v->type != RD_VNUMBER || v->u.n < 0 || v->u.n > 9e15 || v->u.n != (double)(int64_t)v->u.n)
        return rd_err_set(err, RD_EINVAL, "filter.%s: unix milliseconds, a whole number from 0", name);
    *out = (int64_t)v->u.n;
    return RD_OK;
}

static int filter_str(const rd_value *v, const char *name, const char **out, rd_err *err)
{
    *out = NULL;
    if (!v || v->type == RD_VNULL)
        return RD_OK;
    if (v->type != RD_VSTRING || strlen(v->u.s) != v->len)
        return rd_err_set(err, RD_EINVAL, "filter.%s: a string without NUL", name);
    *out = v->u.s;
    return RD_OK;
}

static int filter_parse(rd_embed_log *l, const char *text, size_t len, rd_err *err)
{
    memset(&l->f, 0, sizeof l->f);
    if (!text || !len)
        return RD_OK;
    if (len > MAX_FILTER)
        return rd_err_set(err, RD_ELIMIT, "filter: longer than %u bytes", MAX_FILTER);
    rd_value v;
    int rc = rd_json_parse(text, len, NULL, &l->farena, &v, err);
    if (rc) {
        rd_err_prefix(err, "filter");
        return rc;
    }
    if (v.type == RD_VNULL)
        return RD_OK;
    if (v.type != RD_VOBJECT)
        return rd_err_set(err, RD_EINVAL, "filter: must be an object, not %s", rd_vtype_name(v.type));
    static const char *const known[] = {"since", "until", "model_version", "kind", "request_id", "outcome"};
    for (uint32_t i = 0; i < v.len; i++) {
        const char *k = v.u.members[i].key;
        size_t j = 0;
        while (j < sizeof known / sizeof *known && strcmp(k, known[j]) != 0)
            j++;
        if (j == sizeof known / sizeof *known)
            return rd_err_set(
                err, RD_EINVAL,
                "filter: unknown field \"%.64s\" (since, until, model_version, kind, request_id, "
                "outcome)",
                k);
    }
    rd_log_filter *f = &l->f;
    if ((rc = filter_ms(rd_value_get(&v, "since", 5), "since", &f->from_ms, err)) ||
        (rc = filter_ms(rd_value_get(&v, "until", 5), "until", &f->to_ms, err)) ||
        (rc = filter_str(rd_value_get(&v, "model_version", 13), "model_version", &f->model_version, err)) ||
        (rc = filter_str(rd_value_get(&v, "kind", 4), "kind", &f->kind, err)) ||
        (rc = filter_str(rd_value_get(&v, "request_id", 10), "request_id", &f->request_id, err)) ||
        (rc = filter_str(rd_value_get(&v, "outcome", 7), "outcome", &f->outcome, err)))
        return rc;
    if (f->kind && strcmp(f->kind, "primary") != 0 && strcmp(f->kind, "shadow") != 0)
        return rd_err_set(err, RD_EINVAL, "filter.kind: primary or shadow, not \"%.64s\"", f->kind);
    if (f->from_ms && f->to_ms && f->from_ms >= f->to_ms)
        return rd_err_set(err, RD_EINVAL, "filter: since must come before until: the range holds no time");
    return RD_OK;
}

/* Start a scan of filter from after_id. */
static int scan_start(rd_embed_log *l, const char *text, size_t len, int64_t after_id, rd_err *err)
{
    int rc = filter_parse(l, text, len, err);
    if (rc) {
        rd_arena_reset(&l->farena);
        return rc;
    }
    if (!(l->filter_text = malloc(len + 1))) {
        rd_arena_reset(&l->farena);
        return rd_err_set(err, RD_ENOMEM, "out of memory");
    }
    if (len)
        memcpy(l->filter_text, text, len);
    l->filter_text[len] = '\0';
    l->skip_to = after_id;
    l->pos = after_id;
    l->want = 0;
    l->out = NULL;
    l->finished = l->cancel = false;
    l->scan_rc = RD_OK;
    /* the scan thread takes no signal: they are the interpreter's (its main thread's) */
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old);
    int prc = pthread_create(&l->th, NULL, scan_main, l);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    if (prc) {
        free(l->filter_text);
        l->filter_text = NULL;
        rd_arena_reset(&l->farena);
        return rd_err_set(err, RD_ENOMEM, "cannot start the scan's thread");
    }
    l->started = true;
    return RD_OK;
}

static bool continues(const rd_embed_log *l, const char *text, size_t len, int64_t after_id)
{
    return l->started && after_id == l->pos && strlen(l->filter_text) == len &&
           (len == 0 || memcmp(l->filter_text, text, len) == 0);
}

/* ------------------------------------------------------------------ the API */

int rd_embed_log_open(const char *data_dir, const char *pg_url, const char *token, rd_embed_log **out,
                      rd_err *err)
{
    const char *url = pg_url && *pg_url ? pg_url : data_dir;
    if (!url || !*url || !out)
        return rd_err_set(err, RD_EINVAL, "log: give a data directory or a PostgreSQL URL");
    rd_embed_log *l = calloc(1, sizeof *l);
    if (!l)
        return rd_err_set(err, RD_ENOMEM, "out of memory");
    rd_store_opts o = {.read_only = true, .timeout_ms = SCAN_TIMEOUT_MS};
    int rc = rd_store_open(url, &o, &l->s, err);
    if (rc) {
        free(l);
        return rc;
    }
    /* governance: as `riskd log export`, applicants' inputs only for view_decisions */
    bool on = false;
    if (!(rc = rd_auth_enabled(l->s, &on, err)) && on) {
        rd_principal p;
        if (!token || !*token)
            rc = rd_err_set(err, RD_EUNAUTH,
                            "%s has users (governance): reading the decision log needs the token of a user "
                            "whose role has the view_decisions permission",
                            rd_store_name(l->s));
        else if (!(rc = rd_auth_authenticate(l->s, token, rd_clock_unix_ms(), &p, err)))
            rc = rd_principal_require(&p, RD_PERM_VIEW_DECISIONS, "read applicants' decision inputs", err);
    }
    if (rc) {
        rd_store_close(l->s);
        free(l);
        return rc;
    }
    pthread_mutex_init(&l->call, NULL);
    pthread_mutex_init(&l->mu, NULL);
    pthread_cond_init(&l->cv, NULL);
    rd_arena_init(&l->farena, 0);
    *out = l;
    return RD_OK;
}

void rd_embed_log_free(rd_embed_log *l)
{
    if (!l)
        return;
    pthread_mutex_lock(&l->call);
    scan_stop(l);
    pthread_mutex_unlock(&l->call);
    rd_arena_deinit(&l->farena);
    rd_store_close(l->s);
    pthread_cond_destroy(&l->cv);
    pthread_mutex_destroy(&l->mu);
    pthread_mutex_destroy(&l->call);
    free(l);
}

int rd_embed_log_read(rd_embed_log *l, const char *filter_json, size_t filter_len, int64_t after_id,
                      size_t max_rows, char **jsonl, size_t *nrows, int64_t *next_after, bool *done,
                      rd_err *err)
{
    if (!l || !jsonl || !nrows || !next_after || !done)
        return rd_err_set(err, RD_EINVAL, "log: no handle or no output");
    if (max_rows == 0)
        return rd_err_set(err, RD_EINVAL, "max_rows: 1 or more");
    if (after_id < 0)
        return rd_err_set(err, RD_EINVAL, "after_id: 0 (the start) or an id the log gave");
    if (!filter_json)
        filter_len = 0;
    pthread_mutex_lock(&l->call);
    int rc = RD_OK;
    if (!continues(l, filter_json, filter_len, after_id)) {
        scan_stop(l);
        rc = scan_start(l, filter_json, filter_len, after_id, err);
    }
    rd_buf b;
    rd_buf_init(&b);
    size_t got = 0;
    bool finished = false;
    if (!rc) {
        pthread_mutex_lock(&l->mu);
        if (!l->finished) {
            l->out = &b;
            l->got = 0;
            l->want = max_rows;
            pthread_cond_broadcast(&l->cv);
            while (l->want != 0 && !l->finished)
                pthread_cond_wait(&l->cv, &l->mu);
            l->out = NULL;
            got = l->got;
            if (got)
                l->pos = l->last;
        }
        finished = l->finished;
        if (finished && l->scan_rc) {
            rc = l->scan_rc;
            if (err)
                *err = l->scan_err;
        }
        pthread_mutex_unlock(&l->mu);
    }
    if (!rc && b.oom)
        rc = rd_err_set(err, RD_ENOMEM, "out of memory: a chunk of %zu decisions", max_rows);
    char *text = rc ? NULL : malloc(b.len + 1);
    if (!rc && !text) {
        rd_err_set(err, RD_ENOMEM, "out of memory");
        rc = RD_ENOMEM;
    }
    if (rc || !text) {
        scan_stop(l); /* an error, or a chunk lost: the next call starts afresh */
        rd_buf_deinit(&b);
        pthread_mutex_unlock(&l->call);
        return rc;
    }
    memcpy(text, b.data ? b.data : "", b.len);
    text[b.len] = '\0';
    rd_buf_deinit(&b);
    *jsonl = text;
    *nrows = got;
    *next_after = l->pos;
    *done = finished;
    pthread_mutex_unlock(&l->call);
    return RD_OK;
}
