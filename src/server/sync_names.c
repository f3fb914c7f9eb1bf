/* The names of the flagd sync service's methods and of the gRPC status codes: shared by the
 * service (sync.c) and the metrics (metrics.c), and free of the HTTP/2 and protobuf libraries
 * so the fuzz targets that link the metrics need neither. */
#include "server.h"

static const char *const method_names[SRV_SYNC_NMETHODS] = {"SyncFlags", "FetchAllFlags", "GetMetadata",
                                                            "other"};

const char *srv_sync_method_name(srv_sync_method m)
{
    return (unsigned)m < SRV_SYNC_NMETHODS ? method_names[m] : "other";
}

/* The canonical names (grpc/doc/statuscodes.md), indexed by code. */
static const char *const code_names[SRV_GRPC_NCODES] = {
    "OK",        "CANCELLED",      "UNKNOWN",           "INVALID_ARGUMENT",   "DEADLINE_EXCEEDED",
    "NOT_FOUND", "ALREADY_EXISTS", "PERMISSION_DENIED", "RESOURCE_EXHAUSTED", "FAILED_PRECONDITION",
    "ABORTED",   "OUT_OF_RANGE",   "UNIMPLEMENTED",     "INTERNAL",           "UNAVAILABLE",
    "DATA_LOSS", "UNAUTHENTICATED"};

const char *srv_grpc_code_name(int code)
{
    return code >= 0 && code < SRV_GRPC_NCODES ? code_names[code] : "UNKNOWN";
}
