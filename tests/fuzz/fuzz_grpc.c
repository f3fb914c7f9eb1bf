/* libFuzzer: the flagd sync service's request path without sockets (src/server/sync_grpc.c): the
 * length-prefixed gRPC message reader fed the input in pieces whose sizes the input chooses, then the
 * protobuf decoding of the first message as each method's request type. Nothing may crash, leak or
 * read out of bounds; the reader keeps at most one message of SRV_GRPC_MAX_REQUEST bytes, in a buffer
 * at most twice the bytes of it that arrived (never the length a prefix declares); a request
 * it accepts decodes or is refused INVALID_ARGUMENT.
 *
 * Input: byte 0 picks the method (mod 4, 3 = unknown) and a chunk size (>> 2, 1..64); the rest is the
 * HTTP/2 DATA of one request. */
#include <assert.h>
#include <stdint.h>
#include <string.h>

#include "sync_grpc.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    srv_sync_method method = (srv_sync_method)(data[0] & 3);
    size_t chunk = (size_t)(data[0] >> 2) + 1;
    data++;
    size--;
    srv_grpc_reader r;
    srv_grpc_reader_init(&r);
    for (size_t off = 0; off < size; off += chunk) {
        srv_grpc_reader_feed(&r, data + off, size - off < chunk ? size - off : chunk);
        /* the buffer follows the bytes that arrived, never the length a prefix declares */
        assert(r.msg_cap <= r.msg_len && r.msg_cap <= (r.msg_have > 512 ? 2 * r.msg_have : 1024));
    }
    int code = srv_grpc_reader_finish(&r);
    if (code == SRV_GRPC_OK) {
        assert(r.nmsgs == 1 && r.msg_have == r.msg_len && r.msg_len <= SRV_GRPC_MAX_REQUEST);
        char selector[SRV_GRPC_MAX_SELECTOR];
        const char *why;
        int dc = srv_grpc_decode(method, r.msg, r.msg_len, selector, &why);
        assert(dc == SRV_GRPC_OK || dc == SRV_GRPC_INVALID_ARGUMENT);
        assert(strlen(selector) < SRV_GRPC_MAX_SELECTOR);
        (void)srv_grpc_method((const char *)r.msg, r.msg_len);
    } else {
        assert(r.why != NULL);
    }
    srv_grpc_reader_deinit(&r);
    return 0;
}
