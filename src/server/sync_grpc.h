/* gRPC for the flagd sync service, without sockets or HTTP/2: the length-prefixed message reader,
 * the requests decoded from protobuf, and the responses encoded once and shared by every stream
 * that sends them. Used by sync.c and by the fuzz target tests/fuzz/fuzz_grpc.c. Not thread-safe:
 * everything here belongs to the sync thread (the fuzz target has one thread too). */
#ifndef RISKD_SYNC_GRPC_H
#define RISKD_SYNC_GRPC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "server.h"

enum {
    SRV_GRPC_OK = 0,
    SRV_GRPC_CANCELLED = 1,
    SRV_GRPC_INVALID_ARGUMENT = 3,
    SRV_GRPC_NOT_FOUND = 5,
    SRV_GRPC_RESOURCE_EXHAUSTED = 8,
    SRV_GRPC_FAILED_PRECONDITION = 9,
    SRV_GRPC_UNIMPLEMENTED = 12,
    SRV_GRPC_INTERNAL = 13,
    SRV_GRPC_UNAVAILABLE = 14,
};

/* The longest request message taken (the requests are two short strings: 64 KiB is generous). */
#define SRV_GRPC_MAX_REQUEST 65536
/* The selector buffer: at most SRV_GRPC_MAX_SELECTOR - 1 bytes; a longer selector (header or
 * field) is refused INVALID_ARGUMENT with SRV_GRPC_SELECTOR_TOO_LONG, never cut (cut, it could
 * name another set, and the client could not tell why it was not found). */
#define SRV_GRPC_MAX_SELECTOR      256
#define SRV_GRPC_SELECTOR_TOO_LONG "selector longer than 255 bytes"

/* The method of a request's :path ("/flagd.sync.v1.FlagSyncService/SyncFlags"), SRV_SYNC_OTHER for
 * any other path. */
srv_sync_method srv_grpc_method(const char *path, size_t len);

/* Reads the DATA of one request: 5-byte prefixes (compressed flag, big-endian length) and their
 * messages, fed in pieces as they arrive. The first message is kept (at most max_bytes); later
 * ones are only counted. Once code is not OK the reader ignores what follows. */
typedef struct srv_grpc_reader {
    unsigned char hdr[5];
    size_t hdr_have;
    uint32_t need;      /* bytes of the message being read still to come */
    unsigned char *msg; /* the first message (rd_realloc), msg_len bytes, complete once nmsgs >= 1 */
    size_t msg_len, msg_have;
    size_t msg_cap;  /* bytes allocated for msg: grows with msg_have (at most 2x, from 1 KiB) */
    size_t nmsgs;    /* messages complete so far */
    bool in_body;    /* reading a message, not a prefix */
    int code;        /* SRV_GRPC_OK, or why the request is refused */
    const char *why; /* the refusal's message (static) */
} srv_grpc_reader;

void srv_grpc_reader_init(srv_grpc_reader *r);
void srv_grpc_reader_deinit(srv_grpc_reader *r);
/* Take n more bytes. Returns r->code: INVALID_ARGUMENT for a prefix whose flag is neither 0 nor
 * 1, UNIMPLEMENTED for a compressed message (no encoding is accepted), RESOURCE_EXHAUSTED for a
 * message over SRV_GRPC_MAX_REQUEST, INTERNAL when out of memory. */
int srv_grpc_reader_feed(srv_grpc_reader *r, const uint8_t *data, size_t n);
/* At the end of the request: exactly one whole message, or why not (the reader's own refusal
 * first). */
int srv_grpc_reader_finish(srv_grpc_reader *r);

/* What a request asks, decoded from the reader's message (method: which message type). Returns
 * OK or INVALID_ARGUMENT (not a protobuf message of that type, or a selector over
 * SRV_GRPC_MAX_SELECTOR - 1 bytes; why says so). selector gets the request's selector ("" when
 * absent or refused). */
int srv_grpc_decode(srv_sync_method method, const unsigned char *msg, size_t len,
                    char selector[SRV_GRPC_MAX_SELECTOR], const char **why);

/* One encoded response message with its 5-byte prefix, shared (refcounted) by the streams that
 * send it. */
typedef struct srv_grpc_msg {
    int refs;
    size_t len;
    unsigned char data[];
} srv_grpc_msg;

/* The flag set text as a SyncFlagsResponse (with an empty sync_context, as flagd sends without
 * static context) or a FetchAllFlagsResponse. NULL when out of memory or when text holds a NUL
 * byte (a protobuf string here is a C string; a flag file that parsed as JSON has none). */
srv_grpc_msg *srv_grpc_msg_flags(srv_sync_method method, const char *text, size_t len);
/* GetMetadataResponse: metadata is an empty Struct (flagd's answer without --context-value). */
srv_grpc_msg *srv_grpc_msg_metadata(void);
srv_grpc_msg *srv_grpc_msg_ref(srv_grpc_msg *m);
void srv_grpc_msg_unref(srv_grpc_msg *m);

/* The grpc-message header value: msg percent-encoded as the gRPC spec asks (bytes outside
 * 0x20..0x7E and '%'), cut to fit cap (NUL-terminated). */
void srv_grpc_percent_encode(const char *msg, char *out, size_t cap);

#endif
