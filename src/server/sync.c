/* The flagd sync service: flagd.sync.v1.FlagSyncService (SyncFlags, FetchAllFlags, GetMetadata)
 * over gRPC, on its own port (sync_listen) and its own thread: HTTP/2 by libnghttp2 (a server
 * session per connection, h2c with prior knowledge, or TLS with ALPN h2 through GnuTLS when
 * tls_cert is set), epoll over non-blocking sockets.
 *
 * Invariants: everything here belongs to the sync thread (the connections, their sessions and
 * streams, the encoded flag sets) except the wake-up: an eventfd written by the flag set listener
 * (on the publishing thread) and by srv_sync_begin_stop. A flag set is encoded once per change (Y.payload)
 * and the streams share it by reference; a stream holds at most the message it is sending and the
 * newest one waiting, so a stream that falls behind skips the flag sets in between (the newest is
 * all a sync client needs) and memory stays bounded per stream. A connection's output buffer stays
 * under OUT_HIGH plus one frame: the session is asked for frames only below it and the socket is not
 * read above it. A connection whose client takes no byte for connection_timeout_s while data waits
 * (in the buffer, or behind HTTP/2 flow control) is dropped, so no client can hold the others back.
 *
 * Memory is bounded by configuration, whatever clients send: at most sync_max_connections
 * connections of STREAMS_PER_CONN streams; a request's bytes are held as they arrive (never the
 * length its prefix declares), at most CONN_REQUEST_MAX per connection and SERVICE_REQUEST_MAX in
 * all (more: RESOURCE_EXHAUSTED); a request that has not ended within the request deadline
 * (connection_timeout_s, at most REQUEST_DEADLINE_MAX_S) is answered DEADLINE_EXCEEDED. A request
 * refused before its end is answered at once and reset (RST_STREAM NO_ERROR): its body is not read. */
#include <errno.h>
#include <gnutls/gnutls.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <nghttp2/nghttp2.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>
#include <arpa/inet.h>

#include "sync_grpc.h"

#define OUT_HIGH               ((size_t)256 * 1024) /* a connection's output buffer: no more frames above it */
#define READ_CHUNK             16384
#define STREAMS_PER_CONN       100                 /* SETTINGS_MAX_CONCURRENT_STREAMS */
#define SHUTDOWN_MAX_MS        5000                /* SIGTERM: the longest wait for the streams' last bytes */
#define REQUEST_DEADLINE_MAX_S 10                  /* a request's headers to its end, at most */
#define CONN_REQUEST_MAX       ((size_t)256 << 10) /* request bytes held per connection */
#define SERVICE_REQUEST_MAX    ((size_t)32 << 20)  /* ... and by the whole service */
#define MAX_EVENTS             64

typedef struct conn conn;

/* One HTTP/2 stream: a gRPC call. */
typedef struct stream {
    struct stream *next, *prev;
    conn *c;
    int32_t id;
    srv_sync_method method;
    char path[128]; /* as sent, cut (for the UNIMPLEMENTED message) */
    bool post, grpc_ct, header_selector;
    bool selector_too_long; /* the flagd-selector header does not fit selector: refused */
    double t_begin;         /* when its headers began: the request deadline counts from it */
    char selector[SRV_GRPC_MAX_SELECTOR];
    srv_grpc_reader rd;
    bool dispatched;      /* the request ended and was answered or refused */
    bool reset_after;     /* answered before the request ended: RST_STREAM once the answer is sent */
    bool responded;       /* response headers with a body submitted */
    bool is_sync;         /* an open SyncFlags stream, counted in Y.nsync */
    srv_grpc_msg *cur;    /* being sent, off bytes of it already */
    srv_grpc_msg *queued; /* the newest flag set waiting behind cur */
    size_t off;
    double progress; /* when the last bytes of cur were taken by the session */
    uint64_t gen;    /* the payload generation last queued */
    bool ending;     /* trailers with end_code go once the messages are out */
    bool ended;      /* the status was submitted (trailers or trailers-only) */
    int end_code;
    char end_msg[256];
} stream;

struct conn {
    conn *next, *prev;
    int fd;
    char peer[64];
    void *tls; /* gnutls_session_t; NULL for h2c */
    bool handshaken;
    bool tls_wants_write;
    char auth_refusal[200]; /* mtls = all and no valid client certificate: every call refused */
    nghttp2_session *h2;
    rd_buf out;
    size_t out_off;
    size_t tls_retry; /* a gnutls_record_send of this many bytes said AGAIN: it is repeated */
    double last_io, last_drain;
    stream *streams;
    size_t req_bytes; /* request bytes its streams' readers hold (at most CONN_REQUEST_MAX) */
    uint32_t events;  /* the epoll interest registered */
    bool dead;
    const char *why_dead;
};

static struct {
    const srv_config *cfg;
    srv_state *st;
    int lfd, ep, efd;
    bool accept_paused;
    pthread_t thread;
    bool running, stop_begun; /* main thread only */
    atomic_bool stop, changed;
    double stop_until; /* the shutdown deadline: written before stop is set, read after */
    bool stopping;
    nghttp2_session_callbacks *cbs;
    conn *conns;
    size_t nconns, nsync;
    size_t req_bytes;       /* request bytes held over every connection (SERVICE_REQUEST_MAX) */
    uint64_t refused_conns; /* connections closed at sync_max_connections since the last sweep */
    struct {
        uint64_t gen;
        char sha[65];
        srv_grpc_msg *sync, *fetch;
    } payload;
    srv_grpc_msg *metadata;
} Y = {.lfd = -1, .ep = -1, .efd = -1};

static int tag_listen, tag_wake; /* epoll data of the listening socket and of the eventfd */

#define NV(n, v)                                                                                             \
    {                                                                                                        \
        (uint8_t *)(n), (uint8_t *)(v), sizeof(n) - 1, strlen(v), NGHTTP2_NV_FLAG_NONE                       \
    }

static size_t pending(const conn *c) { return c->out.len - c->out_off; }

static void kill_conn(conn *c, const char *why)
{
    if (!c->dead) {
        c->dead = true;
        c->why_dead = why;
    }
}

/* ------------------------------------------------------------------ the flag set, encoded */

/* The payload of snap's flag set, encoded anew when it differs from the last one. False when
 * snap serves no flags or out of memory. */
static bool payload_update(const srv_snapshot *snap)
{
    if (!snap->flags_text)
        return false;
    if (Y.payload.sync && !strcmp(Y.payload.sha, snap->flags_sha))
        return true;
    srv_grpc_msg *s = srv_grpc_msg_flags(SRV_SYNC_SYNC_FLAGS, snap->flags_text->data, snap->flags_text->len);
    srv_grpc_msg *f =
        srv_grpc_msg_flags(SRV_SYNC_FETCH_ALL_FLAGS, snap->flags_text->data, snap->flags_text->len);
    if (!s || !f) {
        srv_grpc_msg_unref(s);
        srv_grpc_msg_unref(f);
        srv_log(SRV_ERROR, "sync: cannot encode the flag set (out of memory)", NULL);
        return false;
    }
    srv_grpc_msg_unref(Y.payload.sync);
    srv_grpc_msg_unref(Y.payload.fetch);
    Y.payload.sync = s;
    Y.payload.fetch = f;
    Y.payload.gen++;
    snprintf(Y.payload.sha, sizeof Y.payload.sha, "%s", snap->flags_sha);
    return true;
}

/* ------------------------------------------------------------------ responses */

static void count_end(stream *s, int code)
{
    srv_metrics_sync_call((int)s->method, code);
    if (s->is_sync) {
        s->is_sync = false;
        Y.nsync--;
        srv_metrics_sync_streams(-1);
        char sc[8];
        snprintf(sc, sizeof sc, "%d", (int)Y.nsync);
        srv_log(SRV_INFO, "sync stream closed", "peer", s->c->peer, "code", srv_grpc_code_name(code),
                "#streams", sc, NULL);
    }
}

static void submit_trailers(nghttp2_session *h2, stream *s)
{
    char code[8], msg[768];
    snprintf(code, sizeof code, "%d", s->end_code);
    srv_grpc_percent_encode(s->end_msg, msg, sizeof msg);
    nghttp2_nv nv[] = {NV("grpc-status", code), NV("grpc-message", msg)};
    nghttp2_submit_trailer(h2, s->id, nv, msg[0] ? 2 : 1);
    s->ended = true;
    count_end(s, s->end_code);
}

/* The session asks for the next bytes of the stream's body: the message being sent, then the
 * newest one queued, then the trailers once the stream is ending; DEFERRED while there is
 * nothing (stream_kick resumes it). */
static ssize_t read_body(nghttp2_session *h2, int32_t id, uint8_t *buf, size_t length, uint32_t *flags,
                         nghttp2_data_source *src, void *ud)
{
    (void)id;
    (void)ud;
    stream *s = src->ptr;
    if (!s->cur && s->queued) {
        s->cur = s->queued;
        s->queued = NULL;
        s->off = 0;
    }
    if (!s->cur) {
        if (!s->ending)
            return NGHTTP2_ERR_DEFERRED;
        *flags |= NGHTTP2_DATA_FLAG_EOF | NGHTTP2_DATA_FLAG_NO_END_STREAM;
        submit_trailers(h2, s);
        return 0;
    }
    size_t n = s->cur->len - s->off < length ? s->cur->len - s->off : length;
    memcpy(buf, s->cur->data + s->off, n);
    s->off += n;
    s->progress = srv_now();
    if (s->off == s->cur->len) {
        srv_grpc_msg_unref(s->cur);
        s->cur = NULL;
        if (!s->queued && s->ending) {
            *flags |= NGHTTP2_DATA_FLAG_EOF | NGHTTP2_DATA_FLAG_NO_END_STREAM;
            submit_trailers(h2, s);
        }
    }
    return (ssize_t)n;
}

static void stream_kick(stream *s) { nghttp2_session_resume_data(s->c->h2, s->id); }

/* Response headers and a body of msg (a reference taken); with end_ok, OK trailers follow it. */
static void respond_body(stream *s, srv_grpc_msg *msg, bool end_ok)
{
    nghttp2_nv nv[] = {NV(":status", "200"), NV("content-type", "application/grpc"),
                       NV("grpc-accept-encoding", "identity")};
    nghttp2_data_provider dp = {.source.ptr = s, .read_callback = read_body};
    s->cur = srv_grpc_msg_ref(msg);
    s->off = 0;
    s->progress = srv_now();
    s->responded = true;
    s->ending = end_ok;
    s->end_code = SRV_GRPC_OK;
    s->end_msg[0] = 0;
    if (nghttp2_submit_response(s->c->h2, s->id, nv, 3, &dp) != 0)
        kill_conn(s->c, "nghttp2: cannot submit a response");
}

/* The status of a call refused before any message, in the response headers (gRPC's
 * "Trailers-Only"), with the message in s->end_msg; not logged. */
static void submit_status(stream *s, int code)
{
    char cs[8], msg[768];
    snprintf(cs, sizeof cs, "%d", code);
    srv_grpc_percent_encode(s->end_msg, msg, sizeof msg);
    nghttp2_nv nv[] = {NV(":status", "200"), NV("content-type", "application/grpc"), NV("grpc-status", cs),
                       NV("grpc-message", msg)};
    nghttp2_submit_response(s->c->h2, s->id, nv, 4, NULL);
    s->ended = true;
    s->end_code = code;
    count_end(s, code);
}

/* A call refused before any message (submit_status), logged. */
static void respond_status(stream *s, int code, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void respond_status(stream *s, int code, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(s->end_msg, sizeof s->end_msg, fmt, ap);
    va_end(ap);
    submit_status(s, code);
    srv_log(SRV_INFO, "sync call refused", "peer", s->c->peer, "method", srv_sync_method_name(s->method),
            "code", srv_grpc_code_name(code), "message", s->end_msg, NULL);
}

/* Not gRPC at all (another HTTP method or content type): an HTTP status, as the gRPC spec says. */
static void respond_http(stream *s, const char *status, const char *why)
{
    nghttp2_nv nv[] = {NV(":status", status), NV("grpc-status", "3"), NV("grpc-message", why)};
    nghttp2_submit_response(s->c->h2, s->id, nv, 3, NULL);
    s->ended = true;
    count_end(s, SRV_GRPC_INVALID_ARGUMENT);
}

/* End an open stream with code once what it is sending is out (what is queued is dropped). */
static void stream_end(stream *s, int code, const char *msg)
{
    srv_grpc_msg_unref(s->queued);
    s->queued = NULL;
    s->ending = true;
    s->end_code = code;
    snprintf(s->end_msg, sizeof s->end_msg, "%s", msg);
    stream_kick(s);
}

/* ------------------------------------------------------------------ request bytes */

/* The reader's buffer grew from before bytes: counted on its connection and the service. */
static void request_grew(stream *s, size_t before)
{
    s->c->req_bytes += s->rd.msg_cap - before;
    Y.req_bytes += s->rd.msg_cap - before;
}

/* The request's bytes are no longer needed (answered): freed and uncounted. */
static void request_release(stream *s)
{
    s->c->req_bytes -= s->rd.msg_cap;
    Y.req_bytes -= s->rd.msg_cap;
    srv_grpc_reader_deinit(&s->rd);
}

/* A stream answered before its request ended: the client is told to stop sending (RFC 9113 8.1: a
 * complete response, then RST_STREAM NO_ERROR, as grpc-go does), so the rest of its body is
 * neither read nor held. The reset is submitted once the response is sent (on_frame_send):
 * nghttp2 drops a stream's queued frames as soon as a reset is queued. Not when the frame being
 * read ends the request: the stream is then closed, and a reset would be a frame on a closed
 * stream. */
static void answer_early(stream *s, bool remote_ending)
{
    s->dispatched = true;
    s->reset_after = !remote_ending;
    request_release(s);
}

/* ------------------------------------------------------------------ calls */

/* The flag set the call selects, or a refusal: FAILED_PRECONDITION without flags, NOT_FOUND for a
 * selector naming another set. */
static bool select_flagset(stream *s, const srv_snapshot *snap)
{
    if (!snap->flags_text) {
        respond_status(s, SRV_GRPC_FAILED_PRECONDITION,
                       "riskd serves no flag set here (it was started without a flag file: --flags)");
        return false;
    }
    if (!srv_flagset_selected(snap, s->selector)) {
        respond_status(
            s, SRV_GRPC_NOT_FOUND,
            "no flag set \"%s\": this server serves the flag set \"%s\" (select it with \"\", \"%s\" "
            "or \"flagSetId=%s\")",
            s->selector, snap->flagset_id, snap->flagset_id, snap->flagset_id);
        return false;
    }
    if (!payload_update(snap)) {
        respond_status(s, SRV_GRPC_INTERNAL, "out of memory");
        return false;
    }
    return true;
}

static void open_sync_stream(stream *s)
{
    if (Y.nsync >= Y.cfg->sync_max_streams) {
        respond_status(s, SRV_GRPC_RESOURCE_EXHAUSTED,
                       "too many SyncFlags streams: %zu open (sync_max_streams)", Y.nsync);
        return;
    }
    s->is_sync = true;
    Y.nsync++;
    srv_metrics_sync_streams(1);
    s->gen = Y.payload.gen;
    respond_body(s, Y.payload.sync, false);
    char n[24];
    snprintf(n, sizeof n, "%zu", Y.nsync);
    srv_log(SRV_INFO, "sync stream opened", "peer", s->c->peer, "selector", s->selector, "#streams", n, NULL);
}

/* The refusals the request's headers decide, answered as soon as they are in; true when answered. */
static bool refuse_by_headers(stream *s)
{
    if (!s->post) {
        respond_http(s, "405", "gRPC needs POST");
    } else if (!s->grpc_ct) {
        respond_http(s, "415", "gRPC needs content-type application/grpc");
    } else if (s->method == SRV_SYNC_OTHER) {
        respond_status(s, SRV_GRPC_UNIMPLEMENTED,
                       "unknown method %s (riskd serves flagd.sync.v1.FlagSyncService: SyncFlags, "
                       "FetchAllFlags, GetMetadata)",
                       s->path);
    } else if (s->c->auth_refusal[0]) {
        respond_status(s, 16 /* UNAUTHENTICATED */, "a client certificate is required (mtls = all): %s",
                       s->c->auth_refusal);
    } else if (s->selector_too_long) {
        respond_status(s, SRV_GRPC_INVALID_ARGUMENT, "flagd-selector: %s", SRV_GRPC_SELECTOR_TOO_LONG);
    } else {
        return false;
    }
    return true;
}

/* The request has ended (END_STREAM), or was refused before: answer it. */
static void dispatch(stream *s)
{
    s->dispatched = true;
    if (refuse_by_headers(s))
        return;
    int code = srv_grpc_reader_finish(&s->rd);
    if (code) {
        respond_status(s, code, "%s", s->rd.why);
        return;
    }
    char selector[SRV_GRPC_MAX_SELECTOR];
    const char *why;
    if ((code = srv_grpc_decode(s->method, s->rd.msg, s->rd.msg_len, selector, &why))) {
        respond_status(s, code, "%s", why);
        return;
    }
    if (!s->header_selector) /* the flagd-selector header wins, as in flagd */
        snprintf(s->selector, sizeof s->selector, "%s", selector);
    if (Y.stopping) {
        respond_status(s, SRV_GRPC_UNAVAILABLE, "riskd is shutting down");
        return;
    }
    if (s->method == SRV_SYNC_GET_METADATA) {
        respond_body(s, Y.metadata, true);
        return;
    }
    srv_snapshot *snap = srv_state_acquire(Y.st);
    if (select_flagset(s, snap)) {
        if (s->method == SRV_SYNC_FETCH_ALL_FLAGS)
            respond_body(s, Y.payload.fetch, true);
        else
            open_sync_stream(s);
    }
    srv_snapshot_unref(snap);
}

/* ------------------------------------------------------------------ nghttp2 callbacks */

static int on_begin_headers(nghttp2_session *h2, const nghttp2_frame *f, void *ud)
{
    if (f->hd.type != NGHTTP2_HEADERS || f->headers.cat != NGHTTP2_HCAT_REQUEST)
        return 0;
    conn *c = ud;
    stream *s = rd_calloc(1, sizeof *s);
    if (!s)
        return NGHTTP2_ERR_TEMPORAL_CALLBACK_FAILURE; /* the stream is reset, the connection lives */
    s->c = c;
    s->id = f->hd.stream_id;
    s->method = SRV_SYNC_OTHER;
    s->t_begin = srv_now();
    srv_grpc_reader_init(&s->rd);
    s->next = c->streams;
    if (c->streams)
        c->streams->prev = s;
    c->streams = s;
    nghttp2_session_set_stream_user_data(h2, s->id, s);
    return 0;
}

static bool is_grpc_type(const uint8_t *v, size_t n)
{
    static const char t[] = "application/grpc";
    size_t tl = sizeof t - 1;
    return n >= tl && !memcmp(v, t, tl) && (n == tl || v[tl] == '+' || v[tl] == ';');
}

static int on_header(nghttp2_session *h2, const nghttp2_frame *f, const uint8_t *name, size_t namelen,
                     const uint8_t *value, size_t valuelen, uint8_t flags, void *ud)
{
    (void)flags;
    (void)ud;
    stream *s = nghttp2_session_get_stream_user_data(h2, f->hd.stream_id);
    if (!s || f->hd.type != NGHTTP2_HEADERS || f->headers.cat != NGHTTP2_HCAT_REQUEST)
        return 0; /* trailers of a request carry nothing riskd reads */
#define IS(lit) (namelen == sizeof(lit) - 1 && !memcmp(name, lit, namelen))
    if (IS(":method")) {
        s->post = valuelen == 4 && !memcmp(value, "POST", 4);
    } else if (IS(":path")) {
        s->method = srv_grpc_method((const char *)value, valuelen);
        snprintf(s->path, sizeof s->path, "%.*s", (int)(valuelen < 120 ? valuelen : 120),
                 (const char *)value);
    } else if (IS("content-type")) {
        s->grpc_ct = is_grpc_type(value, valuelen);
    } else if (IS("flagd-selector")) {
        s->header_selector = true;
        s->selector_too_long = valuelen >= SRV_GRPC_MAX_SELECTOR; /* refused, never cut */
        snprintf(s->selector, sizeof s->selector, "%.*s", s->selector_too_long ? 0 : (int)valuelen,
                 (const char *)value);
    }
#undef IS
    return 0;
}

/* True, with the stream refused RESOURCE_EXHAUSTED, when unfinished requests hold more bytes than
 * their connection's or the service's limit: the stream whose bytes crossed it is the one refused. */
static bool refuse_over_limit(stream *s)
{
    bool per_conn = s->c->req_bytes > CONN_REQUEST_MAX;
    if (!per_conn && Y.req_bytes <= SERVICE_REQUEST_MAX)
        return false;
    respond_status(s, SRV_GRPC_RESOURCE_EXHAUSTED,
                   "unfinished requests hold more than %zu KiB on this %s (the limit): end them first",
                   (per_conn ? CONN_REQUEST_MAX : SERVICE_REQUEST_MAX) >> 10,
                   per_conn ? "connection" : "server");
    return true;
}

static int on_data_chunk(nghttp2_session *h2, uint8_t flags, int32_t id, const uint8_t *data, size_t len,
                         void *ud)
{
    (void)ud;
    stream *s = nghttp2_session_get_stream_user_data(h2, id);
    if (!s || s->dispatched)
        return 0;
    size_t before = s->rd.msg_cap;
    int code = srv_grpc_reader_feed(&s->rd, data, len);
    request_grew(s, before);
    if (code != SRV_GRPC_OK) /* refused by what came: answered now, not once the rest has come */
        dispatch(s);
    if (code != SRV_GRPC_OK || refuse_over_limit(s))
        answer_early(s, flags & NGHTTP2_FLAG_END_STREAM);
    return 0;
}

static int on_frame_recv(nghttp2_session *h2, const nghttp2_frame *f, void *ud)
{
    (void)ud;
    if (f->hd.type != NGHTTP2_HEADERS && f->hd.type != NGHTTP2_DATA)
        return 0;
    stream *s = nghttp2_session_get_stream_user_data(h2, f->hd.stream_id);
    if (!s || s->dispatched)
        return 0;
    if (f->hd.flags & NGHTTP2_FLAG_END_STREAM) {
        dispatch(s);
        request_release(s); /* answered: the request's bytes are not needed any more */
    } else if (f->hd.type == NGHTTP2_HEADERS && f->headers.cat == NGHTTP2_HCAT_REQUEST &&
               refuse_by_headers(s)) {
        answer_early(s, false); /* a body is coming that nothing will read */
    }
    return 0;
}

/* A stream is gone (ended both ways, reset, or its connection closing): a call the client
 * abandoned is counted CANCELLED. */
static void stream_free(conn *c, stream *s)
{
    if (s->dispatched && !s->ended)
        count_end(s, SRV_GRPC_CANCELLED);
    if (s->prev)
        s->prev->next = s->next;
    else
        c->streams = s->next;
    if (s->next)
        s->next->prev = s->prev;
    request_release(s);
    srv_grpc_msg_unref(s->cur);
    srv_grpc_msg_unref(s->queued);
    rd_free(s);
}

/* An early answer (answer_early) is out: now the reset, unless the client ended meanwhile. */
static int on_frame_send(nghttp2_session *h2, const nghttp2_frame *f, void *ud)
{
    (void)ud;
    if (f->hd.type != NGHTTP2_HEADERS || !(f->hd.flags & NGHTTP2_FLAG_END_STREAM))
        return 0;
    stream *s = nghttp2_session_get_stream_user_data(h2, f->hd.stream_id);
    if (s && s->reset_after) {
        s->reset_after = false;
        if (nghttp2_session_get_stream_remote_close(h2, s->id) == 0)
            nghttp2_submit_rst_stream(h2, NGHTTP2_FLAG_NONE, s->id, NGHTTP2_NO_ERROR);
    }
    return 0;
}

static int on_stream_close(nghttp2_session *h2, int32_t id, uint32_t error_code, void *ud)
{
    (void)error_code;
    stream *s = nghttp2_session_get_stream_user_data(h2, id);
    if (s)
        stream_free(ud, s);
    return 0;
}

static int make_callbacks(void)
{
    if (nghttp2_session_callbacks_new(&Y.cbs) != 0)
        return RD_ENOMEM;
    nghttp2_session_callbacks_set_on_begin_headers_callback(Y.cbs, on_begin_headers);
    nghttp2_session_callbacks_set_on_header_callback(Y.cbs, on_header);
    nghttp2_session_callbacks_set_on_data_chunk_recv_callback(Y.cbs, on_data_chunk);
    nghttp2_session_callbacks_set_on_frame_recv_callback(Y.cbs, on_frame_recv);
    nghttp2_session_callbacks_set_on_stream_close_callback(Y.cbs, on_stream_close);
    nghttp2_session_callbacks_set_on_frame_send_callback(Y.cbs, on_frame_send);
    return RD_OK;
}

/* ------------------------------------------------------------------ connections */

static void conn_new(int fd, const struct sockaddr_storage *ss)
{
    conn *c = rd_calloc(1, sizeof *c);
    if (!c) {
        close(fd);
        return;
    }
    c->fd = fd;
    rd_buf_init(&c->out);
    c->last_io = c->last_drain = srv_now();
    char ip[INET6_ADDRSTRLEN] = "?";
    int port = 0;
    if (ss->ss_family == AF_INET) {
        inet_ntop(AF_INET, &((const struct sockaddr_in *)ss)->sin_addr, ip, sizeof ip);
        port = ntohs(((const struct sockaddr_in *)ss)->sin_port);
    } else if (ss->ss_family == AF_INET6) {
        inet_ntop(AF_INET6, &((const struct sockaddr_in6 *)ss)->sin6_addr, ip, sizeof ip);
        port = ntohs(((const struct sockaddr_in6 *)ss)->sin6_port);
    }
    snprintf(c->peer, sizeof c->peer, "%s:%d", ip, port);
    nghttp2_settings_entry iv[] = {{NGHTTP2_SETTINGS_MAX_CONCURRENT_STREAMS, STREAMS_PER_CONN}};
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one); /* a push is one small write: no delay */
    struct epoll_event ev = {.events = EPOLLIN, .data.ptr = c};
    c->events = EPOLLIN;
    if (nghttp2_session_server_new(&c->h2, Y.cbs, c) != 0 ||
        nghttp2_submit_settings(c->h2, NGHTTP2_FLAG_NONE, iv, 1) != 0 ||
        (srv_tls_on() && srv_tls_session_new(fd, &c->tls) != RD_OK) ||
        epoll_ctl(Y.ep, EPOLL_CTL_ADD, fd, &ev) < 0) {
        if (c->h2)
            nghttp2_session_del(c->h2);
        srv_tls_session_free(c->tls);
        rd_buf_deinit(&c->out);
        rd_free(c);
        close(fd);
        return;
    }
    c->next = Y.conns;
    if (Y.conns)
        Y.conns->prev = c;
    Y.conns = c;
    Y.nconns++;
}

/* Unlink, close and free a dead connection and its streams. */
static void conn_free(conn *c)
{
    if (c->prev)
        c->prev->next = c->next;
    else
        Y.conns = c->next;
    if (c->next)
        c->next->prev = c->prev;
    Y.nconns--;
    while (c->streams)
        stream_free(c, c->streams);
    if (c->why_dead && srv_log_enabled(SRV_DEBUG))
        srv_log(SRV_DEBUG, "sync connection closed", "peer", c->peer, "why", c->why_dead, NULL);
    nghttp2_session_del(c->h2);
    srv_tls_session_free(c->tls);
    epoll_ctl(Y.ep, EPOLL_CTL_DEL, c->fd, NULL);
    close(c->fd);
    rd_buf_deinit(&c->out);
    rd_free(c);
}

static void reap(void)
{
    for (conn *c = Y.conns, *n; c; c = n) {
        n = c->next;
        if (c->dead)
            conn_free(c);
    }
}

static bool again(ssize_t n) { return n == GNUTLS_E_AGAIN || n == GNUTLS_E_INTERRUPTED; }

/* Bytes from the socket into the session, until the socket has no more or the output buffer is
 * full (then the client waits: it is not read until it reads). */
static void conn_read(conn *c)
{
    uint8_t buf[READ_CHUNK];
    while (!c->dead && pending(c) < OUT_HIGH) {
        ssize_t n = c->tls ? gnutls_record_recv(c->tls, buf, sizeof buf) : recv(c->fd, buf, sizeof buf, 0);
        if (n == 0) {
            kill_conn(c, "closed by the client");
            return;
        }
        if (n < 0) {
            if (c->tls ? again(n) : errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)
                return;
            {
                kill_conn(c, c->tls ? gnutls_strerror((int)n) : strerror(errno));
                return;
            }
        }
        c->last_io = srv_now();
        ssize_t r = nghttp2_session_mem_recv(c->h2, buf, (size_t)n);
        if (r < 0) {
            /* not HTTP/2, or a protocol violation: nghttp2 has queued a GOAWAY where it can; what
               is flushed now is all the client gets */
            nghttp2_session_terminate_session(c->h2, NGHTTP2_PROTOCOL_ERROR);
            c->why_dead = nghttp2_strerror((int)r);
            return;
        }
    }
}

/* The bytes waiting in c->out to the socket. False when the socket takes no more now. */
static bool conn_write(conn *c)
{
    size_t n0 = c->tls_retry ? c->tls_retry : (pending(c) < 16384 || !c->tls ? pending(c) : 16384);
    ssize_t n;
    if (c->tls)
        n = c->tls_retry ? gnutls_record_send(c->tls, NULL, 0)
                         : gnutls_record_send(c->tls, c->out.data + c->out_off, n0);
    else
        n = send(c->fd, c->out.data + c->out_off, n0, MSG_NOSIGNAL);
    if (n < 0) {
        bool retry = c->tls ? again(n) : errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR;
        if (c->tls && retry)
            c->tls_retry = n0;
        else if (!retry)
            kill_conn(c, c->tls ? gnutls_strerror((int)n) : strerror(errno));
        return false;
    }
    c->out_off += c->tls_retry ? c->tls_retry : (size_t)n;
    c->tls_retry = 0;
    c->last_drain = srv_now();
    if (c->out_off == c->out.len)
        c->out.len = c->out_off = 0;
    return true;
}

/* Frames from the session into c->out (below OUT_HIGH) and out to the socket, until either has
 * nothing more. */
static void conn_flush(conn *c)
{
    while (!c->dead) {
        if (c->out_off && !c->tls_retry) { /* compact: the buffer never grows past OUT_HIGH + a frame */
            memmove(c->out.data, c->out.data + c->out_off, pending(c));
            c->out.len -= c->out_off;
            c->out_off = 0;
        }
        while (pending(c) < OUT_HIGH) {
            const uint8_t *data;
            ssize_t n = nghttp2_session_mem_send(c->h2, &data);
            if (n < 0) {
                kill_conn(c, nghttp2_strerror((int)n));
                return;
            }
            if (n == 0)
                break;
            if (rd_buf_append(&c->out, data, (size_t)n) != 0) {
                kill_conn(c, "out of memory");
                return;
            }
        }
        if (!pending(c) || !conn_write(c))
            return;
    }
}

static bool conn_handshake(conn *c)
{
    int r = gnutls_handshake(c->tls);
    if (r < 0) {
        if (gnutls_error_is_fatal(r)) {
            kill_conn(c, gnutls_strerror(r));
            srv_log(SRV_INFO, "sync: TLS handshake failed", "peer", c->peer, "error", gnutls_strerror(r),
                    NULL);
        }
        c->tls_wants_write = gnutls_record_get_direction(c->tls) == 1;
        return false;
    }
    c->handshaken = true;
    c->tls_wants_write = false;
    gnutls_datum_t alpn = {NULL, 0};
    if (gnutls_alpn_get_selected_protocol(c->tls, &alpn) == 0 &&
        (alpn.size != 2 || memcmp(alpn.data, "h2", 2) != 0)) {
        kill_conn(c, "ALPN: not h2");
        return false;
    }
    /* mtls = all covers this service too: the calls of a connection without a valid client
       certificate are refused UNAUTHENTICATED (with the reason) rather than the handshake failing */
    if (Y.cfg->tls_client_ca[0] && !strcmp(Y.cfg->mtls, "all") &&
        srv_tls_session_client(c->tls, c->auth_refusal, sizeof c->auth_refusal) != SRV_TLS_CLIENT_VALID &&
        !c->auth_refusal[0])
        snprintf(c->auth_refusal, sizeof c->auth_refusal, "the client certificate is not valid");
    return true;
}

static void conn_events(conn *c)
{
    uint32_t want = 0;
    if (c->tls && !c->handshaken)
        want = c->tls_wants_write ? EPOLLOUT : EPOLLIN;
    else
        want = (pending(c) < OUT_HIGH ? EPOLLIN : 0) | (pending(c) ? EPOLLOUT : 0);
    if (want != c->events) {
        struct epoll_event ev = {.events = want, .data.ptr = c};
        epoll_ctl(Y.ep, EPOLL_CTL_MOD, c->fd, &ev);
        c->events = want;
    }
}

/* Done when the session wants nothing more (after a GOAWAY, or the client's) and all is written. */
static void conn_check_done(conn *c)
{
    if (!c->dead && !nghttp2_session_want_read(c->h2) && !nghttp2_session_want_write(c->h2) && !pending(c))
        kill_conn(c, c->why_dead ? c->why_dead : "done");
}

static void conn_io(conn *c, uint32_t events)
{
    if (events & EPOLLERR) {
        kill_conn(c, "socket error");
        return;
    }
    if (c->tls && !c->handshaken && !conn_handshake(c)) {
        if (!c->dead)
            conn_events(c);
        return;
    }
    if (events & (EPOLLIN | EPOLLHUP))
        conn_read(c);
    conn_flush(c);
    /* records GnuTLS already decrypted are not seen by epoll: take them while there is room */
    while (!c->dead && c->tls && pending(c) < OUT_HIGH && gnutls_record_check_pending(c->tls)) {
        conn_read(c);
        conn_flush(c);
    }
    conn_check_done(c);
    if (!c->dead)
        conn_events(c);
}

/* ------------------------------------------------------------------ the loop */

static void on_accept(void)
{
    for (;;) {
        struct sockaddr_storage ss = {0};
        socklen_t sl = sizeof ss;
        int fd = accept4(Y.lfd, (struct sockaddr *)&ss, &sl, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd < 0) {
            if (errno == EINTR || errno == ECONNABORTED)
                continue;
            if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS || errno == ENOMEM) {
                /* out of descriptors: stop accepting until the next sweep, not spin on it */
                epoll_ctl(Y.ep, EPOLL_CTL_DEL, Y.lfd, NULL);
                Y.accept_paused = true;
                srv_log(SRV_WARN, "sync: cannot accept a connection", "error", strerror(errno), NULL);
            }
            return;
        }
        if (Y.nconns >= Y.cfg->sync_max_connections) { /* closed at once; counted, logged by sweep */
            close(fd);
            Y.refused_conns++;
            continue;
        }
        conn_new(fd, &ss);
    }
}

/* A flag set change: the newest flag set queued on every SyncFlags stream, at once; a stream whose
 * selector no longer names the set served ends NOT_FOUND. */
static void push_change(void)
{
    srv_snapshot *snap = srv_state_acquire(Y.st);
    if (!payload_update(snap)) {
        srv_snapshot_unref(snap);
        return;
    }
    uint64_t n = 0;
    char msg[256];
    snprintf(msg, sizeof msg, "the flag set served is now \"%s\": this stream's selector no longer names it",
             snap->flagset_id);
    for (conn *c = Y.conns; c; c = c->next) {
        for (stream *s = c->streams; s; s = s->next) {
            if (!s->is_sync || s->ending || s->gen == Y.payload.gen)
                continue;
            if (!srv_flagset_selected(snap, s->selector)) {
                stream_end(s, SRV_GRPC_NOT_FOUND, msg);
                continue;
            }
            srv_grpc_msg_unref(s->queued); /* a flag set not yet started is superseded */
            s->queued = srv_grpc_msg_ref(Y.payload.sync);
            s->gen = Y.payload.gen;
            if (!s->cur)
                s->progress = srv_now();
            stream_kick(s);
            n++;
        }
        conn_flush(c);
        conn_check_done(c);
        if (!c->dead)
            conn_events(c);
    }
    srv_metrics_sync_pushes(n);
    char ns[24];
    snprintf(ns, sizeof ns, "%llu", (unsigned long long)n);
    srv_log(SRV_INFO, "sync: flag set pushed", "flagset", snap->flagset_id, "#streams", ns, NULL);
    srv_snapshot_unref(snap);
}

/* Requests of c not ended within the request deadline: answered DEADLINE_EXCEEDED and reset, as a
 * half-sent request holds a stream and its bytes. Logged once per connection, not per stream. */
static void expire_requests(conn *c, double now)
{
    double limit = Y.cfg->connection_timeout_s < REQUEST_DEADLINE_MAX_S ? Y.cfg->connection_timeout_s
                                                                        : REQUEST_DEADLINE_MAX_S;
    int n = 0;
    for (stream *s = c->streams; s; s = s->next) {
        if (s->dispatched || now - s->t_begin < limit)
            continue;
        snprintf(s->end_msg, sizeof s->end_msg, "the request did not end within %g s", limit);
        submit_status(s, 4 /* DEADLINE_EXCEEDED */);
        answer_early(s, false);
        n++;
    }
    if (n) {
        char ns[16];
        snprintf(ns, sizeof ns, "%d", n);
        srv_log(SRV_INFO, "sync: requests that did not end in time answered DEADLINE_EXCEEDED", "peer",
                c->peer, "#streams", ns, NULL);
        conn_flush(c);
        if (!c->dead)
            conn_events(c);
    }
}

/* Connections closed at sync_max_connections since the last sweep: one warning, not one per accept. */
static void report_refused(void)
{
    if (!Y.refused_conns)
        return;
    char n[24], max[24];
    snprintf(n, sizeof n, "%llu", (unsigned long long)Y.refused_conns);
    snprintf(max, sizeof max, "%zu", Y.cfg->sync_max_connections);
    srv_log(SRV_WARN, "sync: connections closed at the limit (sync_max_connections)", "#connections", n,
            "#max", max, NULL);
    Y.refused_conns = 0;
}

/* Once a second: requests past their deadline are answered; clients that take nothing while data
 * waits are dropped; idle connections (no stream) past connection_timeout_s get a GOAWAY. */
static void sweep(double now)
{
    double limit = Y.cfg->connection_timeout_s;
    report_refused();
    for (conn *c = Y.conns; c; c = c->next) {
        expire_requests(c, now);
        bool stalled = pending(c) && now - c->last_drain > limit;
        for (stream *s = c->streams; s && !stalled; s = s->next)
            stalled = (s->cur || s->queued) && now - s->progress > limit;
        if (stalled) {
            srv_log(SRV_WARN, "sync: a client took nothing while data waited: dropped", "peer", c->peer,
                    NULL);
            kill_conn(c, "not reading");
        } else if (!c->streams && now - c->last_io > limit) {
            if (c->tls && !c->handshaken)
                kill_conn(c, "handshake timeout");
            else
                nghttp2_session_terminate_session(c->h2, NGHTTP2_NO_ERROR);
            conn_flush(c);
            conn_check_done(c);
            if (!c->dead)
                conn_events(c); /* what the socket did not take waits for EPOLLOUT */
        }
    }
    if (Y.accept_paused) {
        struct epoll_event ev = {.events = EPOLLIN, .data.ptr = &tag_listen};
        Y.accept_paused = epoll_ctl(Y.ep, EPOLL_CTL_ADD, Y.lfd, &ev) < 0;
    }
}

static void on_wake(void)
{
    uint64_t v;
    while (read(Y.efd, &v, sizeof v) > 0)
        ;
    if (atomic_exchange(&Y.changed, false))
        push_change();
}

static void poll_once(int timeout_ms)
{
    struct epoll_event ev[MAX_EVENTS];
    int n = epoll_wait(Y.ep, ev, MAX_EVENTS, timeout_ms);
    for (int i = 0; i < n; i++) {
        if (ev[i].data.ptr == &tag_listen)
            on_accept();
        else if (ev[i].data.ptr == &tag_wake)
            on_wake();
        else if (!((conn *)ev[i].data.ptr)->dead)
            conn_io(ev[i].data.ptr, ev[i].events);
    }
    reap();
}

/* SIGTERM: no new connections; every SyncFlags stream ends UNAVAILABLE (clients reconnect, to
 * another replica or to this one restarted), a GOAWAY goes on every connection, and the loop runs
 * until the connections are done or the deadline srv_sync_begin_stop set passes. */
static void shut_down(void)
{
    Y.stopping = true;
    epoll_ctl(Y.ep, EPOLL_CTL_DEL, Y.lfd, NULL);
    close(Y.lfd);
    Y.lfd = -1;
    for (conn *c = Y.conns; c; c = c->next) {
        for (stream *s = c->streams; s; s = s->next)
            if (s->is_sync && !s->ending)
                stream_end(s, SRV_GRPC_UNAVAILABLE, "riskd is shutting down");
        nghttp2_submit_goaway(c->h2, NGHTTP2_FLAG_NONE, nghttp2_session_get_last_proc_stream_id(c->h2),
                              NGHTTP2_NO_ERROR, NULL, 0);
        conn_flush(c);
        conn_check_done(c);
        if (!c->dead)
            conn_events(c);
    }
    reap();
    while (Y.conns && srv_now() < Y.stop_until)
        poll_once(20);
    for (conn *c = Y.conns; c; c = c->next)
        kill_conn(c, "shutdown deadline");
    reap();
}

static void *run(void *arg)
{
    (void)arg;
    double next_sweep = srv_now() + 1;
    while (!atomic_load(&Y.stop)) {
        poll_once(250);
        double now = srv_now();
        if (now >= next_sweep) {
            sweep(now);
            reap();
            next_sweep = now + 1;
        }
    }
    shut_down();
    return NULL;
}

/* The flag set changed (publishing thread): wake the sync thread, nothing more; once it is
 * stopping nothing is pushed any more. Y.efd stays open until srv_sync_free, after the last
 * publisher, so this never writes into a closed (or reused) descriptor. */
static void on_flags(void *ud, const srv_snapshot *s)
{
    (void)ud;
    (void)s;
    if (atomic_load(&Y.stop))
        return;
    atomic_store(&Y.changed, true);
    uint64_t one = 1;
    ssize_t w = write(Y.efd, &one, sizeof one);
    (void)w; /* a full counter already wakes the thread */
}

/* What the thread used; not the eventfd (srv_sync_free), which the listener may still write to. */
static void release(void)
{
    if (Y.lfd >= 0)
        close(Y.lfd);
    if (Y.ep >= 0)
        close(Y.ep);
    Y.lfd = Y.ep = -1;
    if (Y.cbs)
        nghttp2_session_callbacks_del(Y.cbs);
    Y.cbs = NULL;
    srv_grpc_msg_unref(Y.payload.sync);
    srv_grpc_msg_unref(Y.payload.fetch);
    srv_grpc_msg_unref(Y.metadata);
    Y.payload.sync = Y.payload.fetch = Y.metadata = NULL;
}

int srv_sync_start(const srv_config *cfg, srv_state *st, rd_err *err)
{
    if (!cfg->sync_listen[0])
        return RD_OK;
    Y.cfg = cfg;
    Y.st = st;
    char bound[300];
    if ((Y.lfd = srv_listen(cfg->sync_listen, bound, sizeof bound, err)) < 0) {
        rd_err_prefix(err, "sync_listen");
        return err->code;
    }
    struct epoll_event lev = {.events = EPOLLIN, .data.ptr = &tag_listen};
    struct epoll_event wev = {.events = EPOLLIN, .data.ptr = &tag_wake};
    if ((Y.ep = epoll_create1(EPOLL_CLOEXEC)) < 0 || (Y.efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC)) < 0 ||
        epoll_ctl(Y.ep, EPOLL_CTL_ADD, Y.lfd, &lev) < 0 || epoll_ctl(Y.ep, EPOLL_CTL_ADD, Y.efd, &wev) < 0 ||
        make_callbacks() != RD_OK || !(Y.metadata = srv_grpc_msg_metadata())) {
        rd_err_set(err, RD_ENOMEM, "sync: cannot set up the event loop: %s", strerror(errno));
        release();
        return RD_ENOMEM;
    }
    srv_state_listen(st, on_flags, NULL);
    if (pthread_create(&Y.thread, NULL, run, NULL) != 0) {
        release();
        return rd_err_set(err, RD_ENOMEM, "sync: cannot start its thread");
    }
    Y.running = true;
    printf("sync listening on %s\n", bound);
    fflush(stdout);
    char n[24];
    snprintf(n, sizeof n, "%zu", cfg->sync_max_streams);
    char nc[24];
    snprintf(nc, sizeof nc, "%zu", cfg->sync_max_connections);
    srv_log(SRV_INFO, "sync listening", "address", bound, "tls", srv_tls_on() ? "on" : "off", "#max_streams",
            n, "#max_connections", nc, NULL);
    return RD_OK;
}

void srv_sync_begin_stop(void)
{
    if (!Y.running || Y.stop_begun)
        return;
    Y.stop_begun = true;
    int ms = Y.cfg->drain_timeout_ms < SHUTDOWN_MAX_MS ? Y.cfg->drain_timeout_ms : SHUTDOWN_MAX_MS;
    Y.stop_until = srv_now() + ms / 1e3; /* published to the thread by the store below */
    atomic_store(&Y.stop, true);
    uint64_t one = 1;
    ssize_t w = write(Y.efd, &one, sizeof one);
    (void)w;
}

void srv_sync_stop(void)
{
    if (!Y.running)
        return;
    srv_sync_begin_stop();
    pthread_join(Y.thread, NULL);
    Y.running = false;
    release();
    srv_log(SRV_INFO, "sync stopped", NULL);
}

void srv_sync_free(void)
{
    if (Y.efd >= 0)
        close(Y.efd);
    Y.efd = -1;
}
