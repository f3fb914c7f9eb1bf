/* gRPC for the flagd sync service, without sockets or HTTP/2 (sync_grpc.h).
 *
 * Invariants: a reader never holds more than one message of at most SRV_GRPC_MAX_REQUEST bytes,
 * whatever it is fed, and its buffer grows with the bytes that arrived, never from the length a
 * prefix declares (a prefix costs nothing until its data follows); once refused it stays refused
 * with the first reason. Requests are decoded
 * by protobuf-c from the generated descriptors (build/gen/flagd/sync/v1/sync.pb-c.h); responses are
 * encoded once per flag set and shared by reference, never copied per stream. */
#include <stdio.h>
#include <string.h>

#include "flagd/sync/v1/sync.pb-c.h"
#include "sync_grpc.h"

#define SERVICE "/flagd.sync.v1.FlagSyncService/"

srv_sync_method srv_grpc_method(const char *path, size_t len)
{
    static const char *const names[] = {"SyncFlags", "FetchAllFlags", "GetMetadata"};
    size_t sl = sizeof SERVICE - 1;
    if (len <= sl || memcmp(path, SERVICE, sl) != 0)
        return SRV_SYNC_OTHER;
    for (int m = 0; m < 3; m++)
        if (len - sl == strlen(names[m]) && !memcmp(path + sl, names[m], len - sl))
            return (srv_sync_method)m;
    return SRV_SYNC_OTHER;
}

/* ------------------------------------------------------------------ the message reader */

void srv_grpc_reader_init(srv_grpc_reader *r) { memset(r, 0, sizeof *r); }

void srv_grpc_reader_deinit(srv_grpc_reader *r)
{
    rd_free(r->msg);
    r->msg = NULL;
    r->msg_cap = 0;
}

static int refuse(srv_grpc_reader *r, int code, const char *why)
{
    r->code = code;
    r->why = why;
    return code;
}

/* A whole prefix is in: check it and get ready for its message. */
static int begin_message(srv_grpc_reader *r)
{
    if (r->hdr[0] == 1)
        return refuse(r, SRV_GRPC_UNIMPLEMENTED,
                      "compressed messages are not supported (grpc-encoding: identity)");
    if (r->hdr[0] != 0)
        return refuse(r, SRV_GRPC_INVALID_ARGUMENT, "malformed gRPC message prefix (flag byte not 0 or 1)");
    uint32_t len =
        (uint32_t)r->hdr[1] << 24 | (uint32_t)r->hdr[2] << 16 | (uint32_t)r->hdr[3] << 8 | r->hdr[4];
    if (len > SRV_GRPC_MAX_REQUEST)
        return refuse(r, SRV_GRPC_RESOURCE_EXHAUSTED, "request message larger than 65536 bytes");
    r->hdr_have = 0;
    r->need = len;
    r->in_body = true;
    if (r->nmsgs == 0) { /* the first message is kept (keep_bytes allocates); the rest are counted */
        r->msg_len = len;
        r->msg_have = 0;
    }
    return SRV_GRPC_OK;
}

/* Room for n more bytes of the first message: the buffer doubles from 1 KiB, never past the
 * declared length, so it stays within twice what actually arrived. */
static int keep_bytes(srv_grpc_reader *r, const uint8_t *data, size_t n)
{
    size_t want = r->msg_have + n;
    if (want > r->msg_cap) {
        size_t cap = r->msg_cap ? 2 * r->msg_cap : 1024;
        cap = cap < want ? want : cap > r->msg_len ? r->msg_len : cap;
        unsigned char *m = rd_realloc(r->msg, cap);
        if (!m)
            return refuse(r, SRV_GRPC_INTERNAL, "out of memory");
        r->msg = m;
        r->msg_cap = cap;
    }
    memcpy(r->msg + r->msg_have, data, n);
    r->msg_have = want;
    return SRV_GRPC_OK;
}

int srv_grpc_reader_feed(srv_grpc_reader *r, const uint8_t *data, size_t n)
{
    while (r->code == SRV_GRPC_OK) {
        if (r->in_body && r->need == 0) { /* a message is complete (an empty one as well) */
            r->in_body = false;
            r->nmsgs++;
            continue;
        }
        if (n == 0)
            break;
        if (!r->in_body) {
            r->hdr[r->hdr_have++] = *data++;
            n--;
            if (r->hdr_have == sizeof r->hdr)
                begin_message(r);
            continue;
        }
        size_t take = n < r->need ? n : r->need;
        if (r->nmsgs == 0 && keep_bytes(r, data, take) != SRV_GRPC_OK)
            break;
        r->need -= (uint32_t)take;
        data += take;
        n -= take;
    }
    return r->code;
}

int srv_grpc_reader_finish(srv_grpc_reader *r)
{
    if (r->code)
        return r->code;
    if (r->in_body || r->hdr_have)
        return refuse(r, SRV_GRPC_INVALID_ARGUMENT, "the request ended inside a gRPC message");
    if (r->nmsgs == 0)
        return refuse(r, SRV_GRPC_INVALID_ARGUMENT, "no request message");
    if (r->nmsgs > 1)
        return refuse(r, SRV_GRPC_INVALID_ARGUMENT,
                      "more than one request message for a unary or server-streaming method");
    return SRV_GRPC_OK;
}

/* ------------------------------------------------------------------ requests */

/* The selector copied whole, or false when it does not fit: cut, it could name another set. */
static bool keep(char out[SRV_GRPC_MAX_SELECTOR], const char *s)
{
    return snprintf(out, SRV_GRPC_MAX_SELECTOR, "%s", s ? s : "") < SRV_GRPC_MAX_SELECTOR;
}

int srv_grpc_decode(srv_sync_method method, const unsigned char *msg, size_t len,
                    char selector[SRV_GRPC_MAX_SELECTOR], const char **why)
{
    selector[0] = 0;
    *why = NULL;
    ProtobufCMessage *m = NULL;
    bool fits = true;
    if (method == SRV_SYNC_SYNC_FLAGS) {
        Flagd__Sync__V1__SyncFlagsRequest *q = flagd__sync__v1__sync_flags_request__unpack(NULL, len, msg);
        if (q) {
            fits = keep(selector, q->selector);
            m = &q->base;
        }
    } else if (method == SRV_SYNC_FETCH_ALL_FLAGS) {
        Flagd__Sync__V1__FetchAllFlagsRequest *q =
            flagd__sync__v1__fetch_all_flags_request__unpack(NULL, len, msg);
        if (q) {
            fits = keep(selector, q->selector);
            m = &q->base;
        }
    } else if (method == SRV_SYNC_GET_METADATA) {
        Flagd__Sync__V1__GetMetadataRequest *q =
            flagd__sync__v1__get_metadata_request__unpack(NULL, len, msg);
        m = q ? &q->base : NULL;
    }
    if (!m) {
        *why = "the request message is not a valid protobuf message of the method's request type";
        return SRV_GRPC_INVALID_ARGUMENT;
    }
    protobuf_c_message_free_unpacked(m, NULL);
    if (!fits) {
        selector[0] = 0;
        *why = SRV_GRPC_SELECTOR_TOO_LONG;
        return SRV_GRPC_INVALID_ARGUMENT;
    }
    return SRV_GRPC_OK;
}

/* ------------------------------------------------------------------ responses */

/* A message of size bytes with its prefix, packed by pack. */
static srv_grpc_msg *msg_new(const ProtobufCMessage *m)
{
    size_t size = protobuf_c_message_get_packed_size(m);
    if (size > UINT32_MAX)
        return NULL;
    srv_grpc_msg *g = rd_malloc(sizeof *g + 5 + size);
    if (!g)
        return NULL;
    g->refs = 1;
    g->len = 5 + size;
    g->data[0] = 0; /* not compressed */
    g->data[1] = (unsigned char)(size >> 24);
    g->data[2] = (unsigned char)(size >> 16);
    g->data[3] = (unsigned char)(size >> 8);
    g->data[4] = (unsigned char)size;
    protobuf_c_message_pack(m, g->data + 5);
    return g;
}

srv_grpc_msg *srv_grpc_msg_flags(srv_sync_method method, const char *text, size_t len)
{
    if (memchr(text, 0, len) || text[len] != 0)
        return NULL;
    if (method == SRV_SYNC_FETCH_ALL_FLAGS) {
        Flagd__Sync__V1__FetchAllFlagsResponse r = FLAGD__SYNC__V1__FETCH_ALL_FLAGS_RESPONSE__INIT;
        r.flag_configuration = (char *)text;
        return msg_new(&r.base);
    }
    Google__Protobuf__Struct ctx = GOOGLE__PROTOBUF__STRUCT__INIT;
    Flagd__Sync__V1__SyncFlagsResponse r = FLAGD__SYNC__V1__SYNC_FLAGS_RESPONSE__INIT;
    r.flag_configuration = (char *)text;
    r.sync_context = &ctx;
    return msg_new(&r.base);
}

srv_grpc_msg *srv_grpc_msg_metadata(void)
{
    Google__Protobuf__Struct md = GOOGLE__PROTOBUF__STRUCT__INIT;
    Flagd__Sync__V1__GetMetadataResponse r = FLAGD__SYNC__V1__GET_METADATA_RESPONSE__INIT;
    r.metadata = &md;
    return msg_new(&r.base);
}

srv_grpc_msg *srv_grpc_msg_ref(srv_grpc_msg *m)
{
    if (m)
        m->refs++;
    return m;
}

void srv_grpc_msg_unref(srv_grpc_msg *m)
{
    if (m && --m->refs == 0)
        rd_free(m);
}

void srv_grpc_percent_encode(const char *msg, char *out, size_t cap)
{
    static const char hex[] = "0123456789ABCDEF";
    size_t o = 0;
    for (const unsigned char *p = (const unsigned char *)msg; *p && o + 4 <= cap; p++) {
        if (*p >= 0x20 && *p <= 0x7E && *p != '%') {
            out[o++] = (char)*p;
        } else {
            out[o++] = '%';
            out[o++] = hex[*p >> 4];
            out[o++] = hex[*p & 15];
        }
    }
    if (cap)
        out[o < cap ? o : cap - 1] = 0;
}
