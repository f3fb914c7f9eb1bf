/* Internals of the decision log module shared by its files: the redaction of a record's
 * inputs (redact.c), used by the record encoder (record.c). */
#ifndef RISKD_DLOG_INT_H
#define RISKD_DLOG_INT_H

#include "riskd/dlog.h"

#define RD_REDACT_PREFIX "hmac-sha256:"

typedef enum rd_redact_how { RD_REDACT_HASH = 0, RD_REDACT_DROP } rd_redact_how;

/* The index of name in r, or (size_t)-1 (also for r NULL). */
size_t rd__redact_find(const rd_dlog_redact *r, const char *name, size_t len);
/* Write v (a request's context or features; NULL: null) with r applied to its members;
 * seen[i] is set for each name of r found there. A hash that fails sets b->oom. */
void rd__redact_write_inputs(rd_buf *b, const rd_value *v, const rd_dlog_redact *r, bool seen[RD_REDACT_MAX]);
/* Write ,"redacted":{name: "hash"|"drop", ...} for the names seen, nothing when none was. */
void rd__redact_write_summary(rd_buf *b, const rd_dlog_redact *r, const bool seen[RD_REDACT_MAX]);

#endif
