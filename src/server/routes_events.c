/* OFREP change events (OFREP ADR 0008) and the flag set as a document.
 *
 * GET /ofrep/v1/events is a Server-Sent Events stream. It carries no flag data: when the flag
 * set in force changes (a file edit, SIGHUP, a rollout transition, a publish or a rollback all
 * end in a new snapshot), every stream gets one `refetchEvaluation` event with the new flag
 * set's ETag, and the client re-fetches the bulk evaluation. Comment lines keep idle streams
 * alive through proxies.
 *
 * No thread waits on a stream. Its connection is suspended while it has nothing to send
 * (libmicrohttpd's content reader returns 0 only after suspending, never busy-polls) and
 * resumed when something is due; what is due is a pair of flags, not a queue, so a client that
 * stops reading costs a few bytes, and an event it missed is folded into the next one (only the
 * newest ETag matters to a client that is told to re-fetch).
 *
 * A suspended connection is out of libmicrohttpd's sight, so a client that leaves would hold its
 * slot until the next write. The pusher watches every stream's socket for the peer's close
 * (EPOLLRDHUP, edge-triggered: it reads nothing) and ends that stream at once, so a reconnect
 * storm finds the slots of the clients that left free again. The epoll entries carry a slot
 * number and a generation, never a pointer: an event fetched just before its stream was freed
 * names a generation that no longer matches and is ignored.
 *
 * Invariants: a stream is in the registry from its response's creation to its free callback;
 * `suspended` is set and MHD_suspend_connection called under the registry lock, and only the
 * holder of the lock that clears it resumes, so a connection is never resumed twice or resumed
 * while running. */
#include <errno.h>
#include <microhttpd.h>
#include <pthread.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <unistd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "riskd/json.h"
#include "server.h"

typedef struct stream {
    struct stream *prev, *next;
    struct MHD_Connection *conn;
    int fd;        /* the connection's socket, watched for the peer's close (-1: not watched) */
    uint32_t slot; /* in E.slots */
    bool suspended;
    bool hello;     /* the first bytes (retry hint, a comment) not yet sent */
    bool event;     /* a refetchEvaluation is due */
    bool heartbeat; /* a comment line is due */
    bool closing;   /* end the stream once what is due is sent */
    char out[256];  /* bytes being sent: MHD may take fewer than offered */
    size_t off, len;
} stream;

static struct {
    const srv_config *cfg;
    srv_state *state;
    pthread_mutex_t lock;
    int ep, efd; /* the pusher's epoll set (the streams' sockets, efd) and its wake-up eventfd */
    pthread_t thread;
    /* the streams by slot (sse_max_streams of them), and each slot's generation: an epoll entry
       is (generation << 32 | slot) */
    stream **slots;
    uint32_t *gens, *free_slots;
    size_t nfree;
    bool running, stop, closing;
    stream head; /* the ring of open streams */
    size_t n;
    uint64_t changes;        /* flag set changes announced by the listener */
    uint64_t announced;      /* ... and pushed to the streams */
    char etag[68];           /* the newest flag set's ETag */
    long long last_modified; /* ... and when it first served (unix seconds) */
    double changed_at;       /* srv_now() of the newest change, for the delivery metric */
    atomic_ullong opened, refused, events, heartbeats;
    _Atomic double last_push_s; /* the newest change's time from publication to every stream resumed */
} E = {.lock = PTHREAD_MUTEX_INITIALIZER, .ep = -1, .efd = -1};

#define WAKE_TAG UINT64_MAX /* the epoll entry of the eventfd */

static void wake_pusher(void)
{
    uint64_t one = 1;
    ssize_t w = write(E.efd, &one, sizeof one);
    (void)w; /* a full counter already wakes it */
}

bool srv_events_on(void) { return E.cfg && E.cfg->sse_max_streams > 0; }

/* Resume s if it waits; under E.lock. */
static void wake_stream(stream *s)
{
    if (s->suspended) {
        s->suspended = false;
        MHD_resume_connection(s->conn);
    }
}

/* Mark every stream with what is due and resume it; under E.lock. */
static void wake_all(bool event, bool heartbeat, bool closing)
{
    for (stream *s = E.head.next; s != &E.head; s = s->next) {
        s->event |= event;
        s->heartbeat |= heartbeat;
        s->closing |= closing;
        wake_stream(s);
    }
}

/* The listener (snapshot.c, on the publishing thread): note the change, wake the pusher. */
static void on_flags_changed(void *ud, const srv_snapshot *snap)
{
    (void)ud;
    pthread_mutex_lock(&E.lock);
    srv_flagset_etag(snap, E.etag);
    E.last_modified = snap->flags_since_ms / 1000;
    E.changed_at = srv_now();
    E.changes++;
    pthread_mutex_unlock(&E.lock);
    wake_pusher();
}

/* A stream's client closed its end: end the stream now; under E.lock. */
static void peer_closed(uint64_t tag)
{
    uint32_t slot = (uint32_t)tag, gen = (uint32_t)(tag >> 32);
    stream *s = slot < E.cfg->sse_max_streams && E.gens[slot] == gen ? E.slots[slot] : NULL;
    if (s) {
        s->closing = true;
        wake_stream(s);
    }
}

static int ms_until(const struct timespec *t)
{
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    long long ms = (long long)(t->tv_sec - now.tv_sec) * 1000 + (t->tv_nsec - now.tv_nsec) / 1000000;
    return ms < 0 ? 0 : ms > 3600000 ? 3600000 : (int)ms;
}

/* The pusher: announces changes at once, ends the streams whose clients left, and heartbeats
 * every sse_heartbeat_s. */
static void *pusher(void *arg)
{
    (void)arg;
    struct epoll_event ev[256];
    struct timespec next;
    clock_gettime(CLOCK_MONOTONIC, &next);
    next.tv_sec += E.cfg->sse_heartbeat_s;
    for (;;) {
        int n = epoll_wait(E.ep, ev, 256, ms_until(&next));
        pthread_mutex_lock(&E.lock);
        if (E.stop) {
            pthread_mutex_unlock(&E.lock);
            return NULL;
        }
        for (int i = 0; i < n; i++) {
            if (ev[i].data.u64 == WAKE_TAG) {
                uint64_t v;
                ssize_t r = read(E.efd, &v, sizeof v);
                (void)r;
            } else {
                peer_closed(ev[i].data.u64);
            }
        }
        if (E.announced != E.changes) {
            E.announced = E.changes;
            wake_all(true, false, false);
            atomic_store(&E.last_push_s, srv_now() - E.changed_at);
        }
        if (ms_until(&next) == 0) {
            wake_all(false, true, false);
            clock_gettime(CLOCK_MONOTONIC, &next);
            next.tv_sec += E.cfg->sse_heartbeat_s;
        }
        pthread_mutex_unlock(&E.lock);
    }
}

/* The slot table and the epoll set; RD_OK or an error with err set. */
static int make_watch(rd_err *err)
{
    size_t n = E.cfg->sse_max_streams;
    E.slots = rd_calloc(n, sizeof *E.slots);
    E.gens = rd_calloc(n, sizeof *E.gens);
    E.free_slots = rd_calloc(n, sizeof *E.free_slots);
    if (!E.slots || !E.gens || !E.free_slots)
        return rd_err_set(err, RD_ENOMEM, "out of memory for %zu event stream slots", n);
    for (size_t i = 0; i < n; i++)
        E.free_slots[i] = (uint32_t)(n - 1 - i);
    E.nfree = n;
    E.ep = epoll_create1(EPOLL_CLOEXEC);
    E.efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    struct epoll_event wake = {.events = EPOLLIN, .data.u64 = WAKE_TAG};
    if (E.ep < 0 || E.efd < 0 || epoll_ctl(E.ep, EPOLL_CTL_ADD, E.efd, &wake) < 0)
        return rd_err_set(err, RD_EIO, "event streams: epoll: %s", strerror(errno));
    return RD_OK;
}

static void free_watch(void)
{
    if (E.ep >= 0)
        close(E.ep);
    if (E.efd >= 0)
        close(E.efd);
    E.ep = E.efd = -1;
    rd_free(E.slots);
    rd_free(E.gens);
    rd_free(E.free_slots);
    E.slots = NULL;
    E.gens = E.free_slots = NULL;
    E.nfree = 0;
}

int srv_events_start(const srv_config *cfg, srv_state *st, rd_err *err)
{
    E.cfg = cfg;
    E.state = st;
    E.head.next = E.head.prev = &E.head;
    if (cfg->sse_max_streams == 0)
        return RD_OK;
    srv_snapshot *s = srv_state_acquire(st);
    srv_flagset_etag(s, E.etag);
    E.last_modified = s->flags_since_ms / 1000;
    srv_snapshot_unref(s);
    E.stop = E.closing = false;
    if (make_watch(err)) {
        free_watch();
        return err->code;
    }
    if (pthread_create(&E.thread, NULL, pusher, NULL)) {
        free_watch();
        return rd_err_set(err, RD_EIO, "cannot start the event stream thread");
    }
    E.running = true;
    srv_state_listen(st, on_flags_changed, NULL);
    return RD_OK;
}

void srv_events_close_all(void)
{
    pthread_mutex_lock(&E.lock);
    E.closing = true;
    wake_all(false, false, true);
    pthread_mutex_unlock(&E.lock);
}

size_t srv_events_open(void)
{
    pthread_mutex_lock(&E.lock);
    size_t n = E.n;
    pthread_mutex_unlock(&E.lock);
    return n;
}

void srv_events_stop(void)
{
    if (!E.running)
        return;
    pthread_mutex_lock(&E.lock);
    E.stop = true;
    pthread_mutex_unlock(&E.lock);
    wake_pusher();
    pthread_join(E.thread, NULL);
    E.running = false;
    free_watch();
}

/* Fill s->out with what is due next; false when nothing is. Under E.lock. */
static bool next_bytes(stream *s)
{
    int n = 0;
    if (s->hello) {
        s->hello = false;
        /* reconnect after 2 s; the comment makes the headers and a first chunk leave at once */
        n = snprintf(s->out, sizeof s->out, "retry: 2000\n: riskd flag change events\n\n");
    } else if (s->event) {
        s->event = s->heartbeat = false;
        n = snprintf(s->out, sizeof s->out, "data: {\"type\":\"refetchEvaluation\",\"etag\":");
        /* the ETag is a quoted hex digest: escape its quotes for JSON by hand */
        n += snprintf(s->out + n, sizeof s->out - (size_t)n, "\"\\\"%.64s\\\"\",\"lastModified\":%lld}\n\n",
                      E.etag[0] ? E.etag + 1 : "", E.last_modified);
        atomic_fetch_add(&E.events, 1);
    } else if (s->heartbeat) {
        s->heartbeat = false;
        n = snprintf(s->out, sizeof s->out, ": ping\n\n");
        atomic_fetch_add(&E.heartbeats, 1);
    }
    s->off = 0;
    s->len = n > 0 ? (size_t)n : 0;
    return s->len > 0;
}

/* libmicrohttpd asks for the next bytes of the stream. */
static ssize_t read_stream(void *cls, uint64_t pos, char *buf, size_t max)
{
    (void)pos;
    stream *s = cls;
    pthread_mutex_lock(&E.lock);
    if (s->off == s->len && !next_bytes(s)) {
        if (s->closing) {
            pthread_mutex_unlock(&E.lock);
            return MHD_CONTENT_READER_END_OF_STREAM;
        }
        s->suspended = true; /* nothing due: no thread polls, a wake resumes it */
        MHD_suspend_connection(s->conn);
        pthread_mutex_unlock(&E.lock);
        return 0;
    }
    size_t n = s->len - s->off < max ? s->len - s->off : max;
    memcpy(buf, s->out + s->off, n);
    s->off += n;
    pthread_mutex_unlock(&E.lock);
    return (ssize_t)n;
}

static void free_stream(void *cls)
{
    stream *s = cls;
    pthread_mutex_lock(&E.lock);
    s->prev->next = s->next;
    s->next->prev = s->prev;
    E.n--;
    if (s->fd >= 0) /* the socket may be closed already: then the kernel dropped the entry */
        epoll_ctl(E.ep, EPOLL_CTL_DEL, s->fd, NULL);
    E.gens[s->slot]++; /* an event fetched before this names the old generation */
    E.slots[s->slot] = NULL;
    E.free_slots[E.nfree++] = s->slot;
    pthread_mutex_unlock(&E.lock);
    rd_free(s);
}

/* GET /ofrep/v1/events: checks the limit and marks the request as a stream; the response is
 * made by srv_events_response once the headers the routes share are decided. */
void srv_route_events(srv_req *r)
{
    if (!srv_events_on()) {
        srv_reply_error(r, 404, "NOT_FOUND", "event streams are off (sse_max_streams = 0)");
        return;
    }
    pthread_mutex_lock(&E.lock);
    bool closing = E.closing, full = E.nfree == 0;
    if (!closing && !full) /* the slot is taken now, so two requests at once cannot pass the limit */
        r->stream_slot = E.free_slots[--E.nfree];
    pthread_mutex_unlock(&E.lock);
    if (closing) {
        srv_reply_error(r, 503, "DRAINING", "the server is stopping");
        return;
    }
    if (full) {
        atomic_fetch_add(&E.refused, 1);
        r->retry_after_s = 5;
        srv_reply_error(r, 503, "TOO_MANY_STREAMS", "%zu event streams are open, the limit (sse_max_streams)",
                        E.cfg->sse_max_streams);
        return;
    }
    r->stream = true;
    r->content_type = "text/event-stream";
}

void srv_events_unreserve(uint32_t slot)
{
    pthread_mutex_lock(&E.lock);
    E.free_slots[E.nfree++] = slot;
    pthread_mutex_unlock(&E.lock);
}

/* Watch s's socket for the peer's close; under E.lock. A socket that cannot be watched is
 * still served: its departure is noticed at the next heartbeat. */
static void watch(stream *s)
{
    const union MHD_ConnectionInfo *ci = MHD_get_connection_info(s->conn, MHD_CONNECTION_INFO_CONNECTION_FD);
    s->fd = ci ? ci->connect_fd : -1;
    struct epoll_event ev = {.events = EPOLLRDHUP | EPOLLET,
                             .data.u64 = (uint64_t)E.gens[s->slot] << 32 | s->slot};
    if (s->fd >= 0 && epoll_ctl(E.ep, EPOLL_CTL_ADD, s->fd, &ev) < 0)
        s->fd = -1;
}

struct MHD_Response *srv_events_response(struct MHD_Connection *c, uint32_t slot)
{
    stream *s = rd_calloc(1, sizeof *s);
    struct MHD_Response *resp =
        s ? MHD_create_response_from_callback(MHD_SIZE_UNKNOWN, 1024, read_stream, s, free_stream) : NULL;
    if (!resp) {
        rd_free(s);
        srv_events_unreserve(slot);
        return NULL;
    }
    s->conn = c;
    s->hello = true;
    s->slot = slot;
    MHD_add_response_header(resp, MHD_HTTP_HEADER_CACHE_CONTROL, "no-cache");
    MHD_add_response_header(resp, "X-Accel-Buffering", "no"); /* nginx: pass the events on at once */
    pthread_mutex_lock(&E.lock);
    s->next = &E.head;
    s->prev = E.head.prev;
    E.head.prev->next = s;
    E.head.prev = s;
    E.n++;
    E.slots[slot] = s;
    s->closing = E.closing;
    watch(s);
    pthread_mutex_unlock(&E.lock);
    atomic_fetch_add(&E.opened, 1);
    return resp;
}

void srv_events_metrics(rd_buf *b)
{
    if (!srv_events_on())
        return;
    rd_buf_printf(b,
                  "# HELP riskd_sse_streams OFREP event streams open.\n# TYPE riskd_sse_streams gauge\n"
                  "riskd_sse_streams %zu\n",
                  srv_events_open());
    rd_buf_printf(
        b,
        "# HELP riskd_sse_streams_opened_total OFREP event streams opened.\n"
        "# TYPE riskd_sse_streams_opened_total counter\nriskd_sse_streams_opened_total %llu\n"
        "# HELP riskd_sse_streams_refused_total Event streams refused at the limit (sse_max_streams).\n"
        "# TYPE riskd_sse_streams_refused_total counter\nriskd_sse_streams_refused_total %llu\n"
        "# HELP riskd_sse_events_total refetchEvaluation events sent.\n"
        "# TYPE riskd_sse_events_total counter\nriskd_sse_events_total %llu\n"
        "# HELP riskd_sse_heartbeats_total Heartbeat comments sent.\n"
        "# TYPE riskd_sse_heartbeats_total counter\nriskd_sse_heartbeats_total %llu\n",
        atomic_load(&E.opened), atomic_load(&E.refused), atomic_load(&E.events), atomic_load(&E.heartbeats));
    rd_buf_printf(
        b,
        "# HELP riskd_sse_last_push_seconds The newest flag change: from publication to every "
        "stream woken.\n# TYPE riskd_sse_last_push_seconds gauge\nriskd_sse_last_push_seconds %.6f\n",
        atomic_load(&E.last_push_s));
}

/* ------------------------------------------------------------------ the bulk response's part */

void srv_events_advertise(rd_buf *b)
{
    if (srv_events_on())
        rd_buf_printf(b,
                      ",\"eventStreams\":[{\"type\":\"sse\",\"endpoint\":{\"requestUri\":\"/ofrep/v1/"
                      "events\"},\"inactivityDelaySec\":%d}]",
                      E.cfg->sse_inactivity_s);
}

/* ------------------------------------------------------------------ GET /v1/flagsets */

static void write_since(rd_buf *b, int64_t ms) { rd_buf_printf(b, "%lld", (long long)(ms / 1000)); }

/* GET /v1/flagsets: the flag set served, as a list (one today; the shape leaves room). */
static void list_flagsets(srv_req *r)
{
    const srv_snapshot *s = r->snap;
    rd_buf_puts(r->out, "{\"flagsets\":[");
    if (s->flags_text) {
        char etag[68];
        srv_flagset_etag(s, etag);
        rd_buf_puts(r->out, "{\"id\":");
        rd_json_write_string(r->out, s->flagset_id, strlen(s->flagset_id));
        rd_buf_puts(r->out, ",\"etag\":");
        rd_json_write_string(r->out, etag, strlen(etag));
        rd_buf_printf(r->out, ",\"flags\":%zu,\"bytes\":%zu,\"since\":", rd_flagset_count(s->flags),
                      s->flags_text->len);
        write_since(r->out, s->flags_since_ms);
        rd_buf_putc(r->out, '}');
    }
    rd_buf_puts(r->out, "]}");
}

void srv_route_flagsets(srv_req *r)
{
    const srv_snapshot *s = r->snap;
    if (!r->flag_key) {
        list_flagsets(r);
        return;
    }
    if (!s->flags_text) {
        srv_reply_error(r, 404, "FLAGSET_NOT_FOUND", "this server serves no flag set (no flags file)");
        return;
    }
    if (memchr(r->flag_key, 0, r->flag_key_len) || !srv_flagset_selected(s, r->flag_key)) {
        srv_reply_error(r, 404, "FLAGSET_NOT_FOUND", "no flag set `%.*s`; this server serves `%s`",
                        (int)(r->flag_key_len > 200 ? 200 : r->flag_key_len), r->flag_key, s->flagset_id);
        return;
    }
    srv_flagset_etag(s, r->etag);
    r->last_modified_s = s->flags_since_ms / 1000;
    if (r->if_none_match && srv_etag_matches(r->if_none_match, r->etag)) {
        r->status = 304;
        return;
    }
    rd_buf_append(r->out, s->flags_text->data, s->flags_text->len);
}
