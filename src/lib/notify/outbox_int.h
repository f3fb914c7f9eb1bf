/* Inside the notify module: the envelope's identity, time and fields, shared by the event
 * writer, the spool and the delivery. */
#ifndef RISKD_NOTIFY_OUTBOX_INT_H
#define RISKD_NOTIFY_OUTBOX_INT_H

#include <stdbool.h>
#include <stdint.h>

#include "riskd/arena.h"
#include "riskd/err.h"
#include "riskd/value.h"

void rd__notify_uuid_text(const uint8_t u[16], char out[37]);
bool rd__notify_uuid_valid(const char *s, size_t n);

/* The fields of a stored envelope the outbox and the filters need (strings in the arena). */
typedef struct rd_notify_envelope {
    rd_value root;
    const char *id, *type, *node, *object_kind, *object_id;
    const char *change_kind; /* data.change_kind, or NULL */
    int64_t ts_ms;
} rd_notify_envelope;
int rd__notify_envelope_read(const char *json, size_t len, rd_arena *a, rd_notify_envelope *out, rd_err *err);

#endif
