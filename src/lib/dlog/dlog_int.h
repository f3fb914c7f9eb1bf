/* Internals of the decision log module shared by its files: the redaction of a record's
 * inputs (redact.c), used by the record encoder (record.c); the spool file (spool.c), used by
 * the writer (writer.c). */
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

/* rd_dlog_opts.on_log's type, and a printf-style line into it (log NULL: nothing): the writer's
 * reports and the spool's (writer.c). */
typedef void (*rd__dlog_log_fn)(void *ud, rd_dlog_level level, const char *msg);
void rd__dlog_say(rd__dlog_log_fn log, void *ud, rd_dlog_level level, const char *fmt, ...) RD_PRINTF(4, 5);

/* ------------------------------------------------------------------ the spool file (spool.c)
 *
 * One thread at a time (the writer's); one process (an flock). docs/formats.md, "Decision log
 * spool", has the format. */
typedef struct rd__spool rd__spool;

/* Open the spool at path, creating it (with its directory entry synced) when missing, and
 * lock it. The records after the head are checked: the first that does not read back whole
 * (a write a crash cut short) is cut off with everything after it, and log (may be NULL) says
 * so. RD_EIO (naming the path: cannot open, read, write or lock; naming its directory when a
 * new spool's entry cannot be synced), RD_EINVAL (not a regular file, or a file of more than a
 * header with no valid header: not a spool; left untouched), RD_ENOMEM. */
int rd__spool_open(const char *path, rd__dlog_log_fn log, void *ud, rd__spool **out, rd_err *err);
void rd__spool_close(rd__spool *sp);
/* The bytes a row takes in the file. */
uint64_t rd__spool_row_bytes(const rd_log_row *r);
/* Append rows[0..n) behind what waits, written and fdatasync'ed before it returns: all or
 * none (a failed write is cut off again). RD_EIO, RD_ENOMEM. */
int rd__spool_append(rd__spool *sp, const rd_log_row *rows, size_t n, rd_err *err);
/* Read up to max records from the head (fewer when they pass 1 MiB): *rows borrowed from
 * sp until the next read, advance or close; *n = 0 when nothing waits. A record whose
 * checksum fails is cut off with everything after it, logged, and the records before it are
 * returned. RD_EIO, RD_ENOMEM. */
int rd__spool_read(rd__spool *sp, size_t max, const rd_log_row **rows, size_t *n, rd_err *err);
/* The first n records of the last read are in the store: the head moves past them (written
 * and synced, so a crash before this re-sends them, never skips them); the space before it is
 * given back (a hole punched), and the file is cut back to its header when nothing waits. */
int rd__spool_advance(rd__spool *sp, size_t n, rd_err *err);
uint64_t rd__spool_records(const rd__spool *sp); /* waiting */
uint64_t rd__spool_bytes(const rd__spool *sp);   /* waiting, headers included */
/* The bytes the spool holds on the disk for the bound: those waiting, or the whole file when
 * the file system cannot punch holes. */
uint64_t rd__spool_used(const rd__spool *sp);
const char *rd__spool_path(const rd__spool *sp);

/* A test hook (tests/unit/dlog/test_spool.c): called by the writer between a drained chunk's
 * commit and the head's advance (a crash there re-sends the chunk). NULL in production. */
extern void (*rd__dlog_after_drain_commit)(size_t n);

#endif
