/* The OFREP event stream's fan-out, for `make bench` (bench/sse.sh): opens N streams to
 * GET /ofrep/v1/events on one epoll loop (non-blocking sockets, a bounded number of connects
 * in flight so the listen backlog never overflows), waits until every stream has its response
 * headers, then changes the served flag file K times (the file rewritten through a rename,
 * then SIGHUP to the server) and measures, per change, the time from the write to each
 * stream's refetchEvaluation event: the last one is the figure (also the first, the median
 * and the p99). With --hold it then keeps the streams open, reading what arrives
 * (heartbeats), until SIGTERM or SIGINT, so another tool can load the server meanwhile.
 *
 * One JSON line per phase on stdout ({"case":"open"...}, {"case":"change"...}, {"case":"hold"}
 * once holding, {"case":"held"...} at the end); exit 1 when a stream could not be opened or
 * missed an event.
 *
 * usage: sse_fanout --port P [--host 127.0.0.1] [--path /ofrep/v1/events] [--streams N]
 *                   [--flags FILE --flags-a A --flags-b B --pid PID --changes K] [--hold]
 *                   [--timeout-s S]
 *   each change writes to FILE whichever of A and B differs from FILE's current bytes. */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

enum { MAX_INFLIGHT = 256, HDR_CAP = 4096, LINE_CAP = 512 };

typedef enum { C_IDLE, C_CONNECTING, C_HEADERS, C_STREAM, C_CLOSED } cstate;
typedef enum { K_SIZE, K_EXT, K_SIZE_LF, K_DATA, K_DATA_CR, K_DATA_LF } chunk_state;

typedef struct conn {
    int fd;
    cstate st;
    int chunked;
    chunk_state ck;
    size_t ck_left;
    size_t hlen;
    char hdr[HDR_CAP];
    size_t llen;
    char line[LINE_CAP];
    int pending;        /* a refetchEvaluation data line waits for its blank line */
    long events;        /* refetchEvaluation events received */
    long want;          /* the event count that ends the current change */
    int64_t arrived_ns; /* when it reached want */
    size_t sent;
} conn;

typedef struct opts {
    const char *host, *path, *flags, *flags_a, *flags_b;
    int port, streams, changes, hold, timeout_s;
    pid_t pid;
} opts;

static volatile sig_atomic_t stop_flag;
static void on_stop(int sig)
{
    (void)sig;
    stop_flag = 1;
}

static int64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static char request[512];
static size_t request_len;
static int epfd;
static struct sockaddr_in addr;

static void conn_close(conn *c)
{
    if (c->fd >= 0) {
        close(c->fd);
        c->fd = -1;
    }
    c->st = C_CLOSED;
}

/* Starts a non-blocking connect; the socket is watched for writability (connected). */
static int conn_start(conn *c)
{
    memset(c, 0, sizeof *c);
    c->fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (c->fd < 0)
        return -1;
    int one = 1;
    setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    if (connect(c->fd, (struct sockaddr *)&addr, sizeof addr) < 0 && errno != EINPROGRESS) {
        conn_close(c);
        return -1;
    }
    c->st = C_CONNECTING;
    struct epoll_event ev = {.events = EPOLLOUT | EPOLLIN, .data.ptr = c};
    if (epoll_ctl(epfd, EPOLL_CTL_ADD, c->fd, &ev) < 0) {
        conn_close(c);
        return -1;
    }
    return 0;
}

/* One line of the event stream (without its newline): a data line naming refetchEvaluation
 * marks an event, dispatched at the blank line that ends it, as EventSource does. */
static void sse_line(conn *c, int64_t t)
{
    if (c->llen == 0) {
        if (c->pending) {
            c->pending = 0;
            c->events++;
            if (c->want && c->events == c->want)
                c->arrived_ns = t;
        }
        return;
    }
    c->line[c->llen < LINE_CAP ? c->llen : LINE_CAP - 1] = '\0';
    if (strncmp(c->line, "data:", 5) == 0 && strstr(c->line, "\"refetchEvaluation\""))
        c->pending = 1;
}

static void sse_bytes(conn *c, const char *p, size_t n, int64_t t)
{
    for (size_t i = 0; i < n; i++) {
        char ch = p[i];
        if (ch == '\n') {
            if (c->llen > 0 && c->llen <= LINE_CAP && c->line[c->llen - 1] == '\r')
                c->llen--;
            sse_line(c, t);
            c->llen = 0;
        } else {
            if (c->llen < LINE_CAP)
                c->line[c->llen] = ch;
            c->llen++; /* a longer line keeps counting; only its start is kept */
        }
    }
}

/* The body, through the chunked framing when the response has one. Returns -1 at the last
 * chunk (the server ended the stream). */
static int body_bytes(conn *c, const char *p, size_t n, int64_t t)
{
    if (!c->chunked) {
        sse_bytes(c, p, n, t);
        return 0;
    }
    size_t i = 0;
    while (i < n) {
        char ch = p[i];
        switch (c->ck) {
        case K_SIZE:
            if (ch >= '0' && ch <= '9')
                c->ck_left = c->ck_left * 16 + (size_t)(ch - '0');
            else if ((ch | 0x20) >= 'a' && (ch | 0x20) <= 'f')
                c->ck_left = c->ck_left * 16 + (size_t)((ch | 0x20) - 'a' + 10);
            else if (ch == '\r')
                c->ck = K_SIZE_LF;
            else
                c->ck = K_EXT;
            i++;
            break;
        case K_EXT:
            if (ch == '\r')
                c->ck = K_SIZE_LF;
            i++;
            break;
        case K_SIZE_LF:
            i++;
            if (c->ck_left == 0)
                return -1;
            c->ck = K_DATA;
            break;
        case K_DATA: {
            size_t take = n - i < c->ck_left ? n - i : c->ck_left;
            sse_bytes(c, p + i, take, t);
            i += take;
            c->ck_left -= take;
            if (c->ck_left == 0)
                c->ck = K_DATA_CR;
            break;
        }
        case K_DATA_CR:
            c->ck = K_DATA_LF;
            i++;
            break;
        case K_DATA_LF:
            c->ck = K_SIZE;
            c->ck_left = 0;
            i++;
            break;
        }
    }
    return 0;
}

/* The response head: 200 and text/event-stream, else the stream failed (a 503 over the
 * server's stream limit, say). Returns 1 once complete, 0 for more, -1 on failure. */
static int head_bytes(conn *c, const char *p, size_t n, size_t *used)
{
    size_t room = HDR_CAP - 1 - c->hlen;
    size_t take = n < room ? n : room;
    memcpy(c->hdr + c->hlen, p, take);
    size_t old = c->hlen;
    c->hlen += take;
    c->hdr[c->hlen] = '\0';
    char *end = strstr(c->hdr, "\r\n\r\n");
    if (!end) {
        *used = take;
        return c->hlen == HDR_CAP - 1 ? -1 : 0;
    }
    size_t head_len = (size_t)(end - c->hdr) + 4;
    *used = head_len - old;
    end[2] = '\0';
    if (strncmp(c->hdr, "HTTP/1.1 200", 12) != 0 && strncmp(c->hdr, "HTTP/1.0 200", 12) != 0)
        return -1;
    for (char *h = strstr(c->hdr, "\r\n"); h && h[2]; h = strstr(h + 2, "\r\n")) {
        if (strncasecmp(h + 2, "transfer-encoding:", 18) == 0 && strstr(h + 20, "chunked"))
            c->chunked = 1;
    }
    return 1;
}

typedef struct counts {
    int inflight, open, failed, closed;
    long bad_status;
} counts;

static void conn_event(conn *c, uint32_t evs, counts *k)
{
    static char buf[65536];
    int64_t t = now_ns();
    if (c->st == C_CONNECTING && (evs & (EPOLLOUT | EPOLLERR | EPOLLHUP))) {
        int err = 0;
        socklen_t len = sizeof err;
        getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &len);
        if (err) {
            conn_close(c);
            k->inflight--;
            k->failed++;
            return;
        }
        ssize_t w = send(c->fd, request, request_len, MSG_NOSIGNAL);
        if (w != (ssize_t)request_len) { /* a 300-byte request fits any new socket's buffer */
            conn_close(c);
            k->inflight--;
            k->failed++;
            return;
        }
        struct epoll_event ev = {.events = EPOLLIN, .data.ptr = c};
        epoll_ctl(epfd, EPOLL_CTL_MOD, c->fd, &ev);
        c->st = C_HEADERS;
        return;
    }
    for (;;) {
        ssize_t r = recv(c->fd, buf, sizeof buf, 0);
        if (r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
            return;
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0) {
            if (c->st == C_HEADERS) {
                k->inflight--;
                k->failed++;
            } else {
                k->open--;
                k->closed++;
            }
            conn_close(c);
            return;
        }
        size_t off = 0;
        if (c->st == C_HEADERS) {
            size_t used = 0;
            int h = head_bytes(c, buf, (size_t)r, &used);
            if (h < 0) {
                k->inflight--;
                k->failed++;
                k->bad_status++;
                conn_close(c);
                return;
            }
            if (h == 0)
                continue;
            c->st = C_STREAM;
            k->inflight--;
            k->open++;
            off = used;
        }
        if (body_bytes(c, buf + off, (size_t)r - off, t) < 0) {
            k->open--;
            k->closed++;
            conn_close(c);
            return;
        }
    }
}

static void poll_once(counts *k, int timeout_ms)
{
    struct epoll_event evs[512];
    int n = epoll_wait(epfd, evs, 512, timeout_ms);
    for (int i = 0; i < n; i++)
        conn_event(evs[i].data.ptr, evs[i].events, k);
}

static char *slurp(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    char *buf = NULL;
    size_t cap = 0, n = 0;
    for (;;) {
        if (n == cap) {
            cap = cap ? cap * 2 : 65536;
            char *nb = realloc(buf, cap);
            if (!nb) {
                free(buf);
                fclose(f);
                return NULL;
            }
            buf = nb;
        }
        size_t r = fread(buf + n, 1, cap - n, f);
        n += r;
        if (r == 0)
            break;
    }
    fclose(f);
    *len = n;
    return buf;
}

/* Writes whichever of A and B differs from FILE's bytes, through a temporary file and a
 * rename (the server never reads half a file), then SIGHUP. Returns the time just before the
 * write, or -1. */
static int64_t change_flags(const opts *o)
{
    size_t cur_len = 0, a_len = 0, b_len = 0;
    char *cur = slurp(o->flags, &cur_len), *a = slurp(o->flags_a, &a_len), *b = slurp(o->flags_b, &b_len);
    int64_t t0 = -1;
    if (a && b) {
        int same_a = cur && cur_len == a_len && memcmp(cur, a, a_len) == 0;
        const char *data = same_a ? b : a;
        size_t len = same_a ? b_len : a_len;
        char tmp[4096];
        snprintf(tmp, sizeof tmp, "%s.sse-fanout.tmp", o->flags);
        t0 = now_ns();
        FILE *f = fopen(tmp, "wb");
        if (f && fwrite(data, 1, len, f) == len && fclose(f) == 0 && rename(tmp, o->flags) == 0) {
            if (o->pid > 0 && kill(o->pid, SIGHUP) != 0)
                t0 = -1;
        } else {
            t0 = -1;
        }
    }
    free(cur);
    free(a);
    free(b);
    return t0;
}

static int cmp_i64(const void *x, const void *y)
{
    int64_t a = *(const int64_t *)x, b = *(const int64_t *)y;
    return (a > b) - (a < b);
}

static double ms_of(int64_t ns) { return (double)ns / 1e6; }

/* One change: every open stream must receive one more event; the time of each arrival after
 * the write. Prints the change's line; returns the streams that missed it. */
static long one_change(const opts *o, conn *cs, counts *k, int round, int64_t *lat)
{
    for (int i = 0; i < o->streams; i++)
        if (cs[i].st == C_STREAM) {
            cs[i].want = cs[i].events + 1;
            cs[i].arrived_ns = 0;
        }
    int64_t t0 = change_flags(o);
    if (t0 < 0) {
        fprintf(stderr, "sse_fanout: cannot rewrite %s or signal pid %d\n", o->flags, (int)o->pid);
        return o->streams;
    }
    int64_t deadline = t0 + (int64_t)o->timeout_s * 1000000000;
    long got = 0, waiting = 0;
    for (;;) {
        got = 0;
        waiting = 0;
        for (int i = 0; i < o->streams; i++) {
            if (cs[i].arrived_ns)
                got++;
            else if (cs[i].st == C_STREAM)
                waiting++;
        }
        if (waiting == 0 || now_ns() > deadline)
            break;
        poll_once(k, 50);
    }
    long n = 0;
    for (int i = 0; i < o->streams; i++)
        if (cs[i].arrived_ns)
            lat[n++] = cs[i].arrived_ns - t0;
    qsort(lat, (size_t)n, sizeof *lat, cmp_i64);
    long missed = o->streams - got;
    printf("{\"case\":\"change\",\"round\":%d,\"streams\":%d,\"received\":%ld,\"missed\":%ld", round,
           o->streams, got, missed);
    if (n > 0)
        printf(",\"first_ms\":%.3f,\"p50_ms\":%.3f,\"p99_ms\":%.3f,\"last_ms\":%.3f", ms_of(lat[0]),
               ms_of(lat[n / 2]), ms_of(lat[(n * 99) / 100 < n ? (n * 99) / 100 : n - 1]), ms_of(lat[n - 1]));
    printf("}\n");
    fflush(stdout);
    for (int i = 0; i < o->streams; i++)
        cs[i].want = 0;
    return missed;
}

static int parse_opts(int argc, char **argv, opts *o)
{
    static const struct option lo[] = {
        {"host", required_argument, 0, 'H'},      {"port", required_argument, 0, 'p'},
        {"path", required_argument, 0, 'P'},      {"streams", required_argument, 0, 'n'},
        {"flags", required_argument, 0, 'f'},     {"flags-a", required_argument, 0, 'a'},
        {"flags-b", required_argument, 0, 'b'},   {"pid", required_argument, 0, 'k'},
        {"changes", required_argument, 0, 'c'},   {"hold", no_argument, 0, 'h'},
        {"timeout-s", required_argument, 0, 't'}, {0, 0, 0, 0}};
    *o = (opts){.host = "127.0.0.1", .path = "/ofrep/v1/events", .streams = 5000, .timeout_s = 30};
    int ch;
    while ((ch = getopt_long(argc, argv, "", lo, NULL)) != -1) {
        switch (ch) {
        case 'H': o->host = optarg; break;
        case 'p': o->port = atoi(optarg); break;
        case 'P': o->path = optarg; break;
        case 'n': o->streams = atoi(optarg); break;
        case 'f': o->flags = optarg; break;
        case 'a': o->flags_a = optarg; break;
        case 'b': o->flags_b = optarg; break;
        case 'k': o->pid = (pid_t)atoi(optarg); break;
        case 'c': o->changes = atoi(optarg); break;
        case 'h': o->hold = 1; break;
        case 't': o->timeout_s = atoi(optarg); break;
        default: return -1;
        }
    }
    if (o->port <= 0 || o->streams <= 0 || o->timeout_s <= 0)
        return -1;
    if (o->changes > 0 && (!o->flags || !o->flags_a || !o->flags_b || o->pid <= 0))
        return -1;
    return 0;
}

/* As many descriptors as the hard limit allows; N streams need N plus a few. */
static int raise_nofile(int need)
{
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) != 0)
        return -1;
    if (rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        setrlimit(RLIMIT_NOFILE, &rl);
        getrlimit(RLIMIT_NOFILE, &rl);
    }
    return rl.rlim_cur >= (rlim_t)need ? 0 : -1;
}

/* Opens every stream, MAX_INFLIGHT connects and heads at a time. Returns the open count. */
static int open_all(const opts *o, conn *cs, counts *k)
{
    int next = 0;
    int64_t deadline = now_ns() + (int64_t)o->timeout_s * 1000000000;
    while ((next < o->streams || k->inflight > 0) && now_ns() < deadline) {
        while (next < o->streams && k->inflight < MAX_INFLIGHT) {
            if (conn_start(&cs[next]) == 0)
                k->inflight++;
            else
                k->failed++;
            next++;
        }
        poll_once(k, 20);
    }
    return k->open;
}

int main(int argc, char **argv)
{
    opts o;
    if (parse_opts(argc, argv, &o) != 0) {
        fprintf(stderr, "usage: sse_fanout --port P [--host H] [--path P] [--streams N] [--flags FILE "
                        "--flags-a A --flags-b B --pid PID --changes K] [--hold] [--timeout-s S]\n");
        return 2;
    }
    if (raise_nofile(o.streams + 64) != 0) {
        fprintf(stderr, "sse_fanout: the open files limit is below %d\n", o.streams + 64);
        return 1;
    }
    signal(SIGPIPE, SIG_IGN);
    signal(SIGTERM, on_stop);
    signal(SIGINT, on_stop);
    addr.sin_family = AF_INET;
    addr.sin_port = htons((uint16_t)o.port);
    if (inet_pton(AF_INET, o.host, &addr.sin_addr) != 1) {
        fprintf(stderr, "sse_fanout: %s is not an IPv4 address\n", o.host);
        return 2;
    }
    int rl = snprintf(
        request, sizeof request,
        "GET %s HTTP/1.1\r\nHost: %s:%d\r\nAccept: text/event-stream\r\nCache-Control: no-cache\r\n\r\n",
        o.path, o.host, o.port);
    if (rl <= 0 || (size_t)rl >= sizeof request)
        return 2;
    request_len = (size_t)rl;
    epfd = epoll_create1(EPOLL_CLOEXEC);
    conn *cs = calloc((size_t)o.streams, sizeof *cs);
    int64_t *lat = calloc((size_t)o.streams, sizeof *lat);
    if (epfd < 0 || !cs || !lat)
        return 1;
    for (int i = 0; i < o.streams; i++)
        cs[i].fd = -1;

    counts k = {0};
    int64_t t0 = now_ns();
    open_all(&o, cs, &k);
    printf("{\"case\":\"open\",\"streams\":%d,\"opened\":%d,\"failed\":%d,\"bad_status\":%ld,\"seconds\":%."
           "3f}\n",
           o.streams, k.open, k.failed, k.bad_status, (double)(now_ns() - t0) / 1e9);
    fflush(stdout);
    long missed = k.open == o.streams ? 0 : o.streams - k.open;
    for (int r = 1; r <= o.changes && !missed; r++) {
        missed += one_change(&o, cs, &k, r, lat);
        /* a pause between changes: a change is not coalesced with the one before */
        int64_t until = now_ns() + 300000000;
        while (now_ns() < until)
            poll_once(&k, 50);
    }
    if (o.hold && !missed) {
        int before = k.closed;
        printf("{\"case\":\"hold\",\"streams\":%d}\n", k.open);
        fflush(stdout);
        while (!stop_flag)
            poll_once(&k, 200);
        printf("{\"case\":\"held\",\"streams_open\":%d,\"closed_while_held\":%d}\n", k.open,
               k.closed - before);
        fflush(stdout);
    }
    for (int i = 0; i < o.streams; i++)
        if (cs[i].fd >= 0)
            close(cs[i].fd);
    free(cs);
    free(lat);
    close(epfd);
    return missed ? 1 : 0;
}
