/* A line spool: a local file of JSON lines that something could not hand to the store yet (a
 * rollout transition, a notification), appended whole and fsynced, drained in order.
 *
 * Invariants: a line is appended in one write and fsynced before the append returns; when the
 * file does not end in a newline (a writer died mid-line), the next line starts on a new one, so
 * a torn line never swallows a complete one; a drain rewrites the file through PATH.tmp and a
 * rename (a crash leaves the old or the new file whole); appends and drains are serialised by
 * an flock on PATH.lock. */
#ifndef RISKD_LINESPOOL_H
#define RISKD_LINESPOOL_H

#include <stddef.h>

#include "riskd/err.h"

/* Take PATH.lock exclusively: the descriptor, or -1 (RD_EIO in err). */
RD_API int rd_linespool_lock(const char *path, rd_err *err);
RD_API void rd_linespool_unlock(int fd);
/* Append line (n bytes, without its newline) under the lock. RD_ELIMIT, and nothing written,
 * when the file would grow past max_bytes (0: no bound). */
RD_API int rd_linespool_append(const char *path, const char *line, size_t n, size_t max_bytes, rd_err *err);
/* With the lock held: replace the file by the n bytes at rest (n == 0: remove it). */
RD_API int rd_linespool_rewrite(const char *path, const char *rest, size_t n, rd_err *err);
/* Complete, non-empty lines in the file (0 when it does not exist or cannot be read). */
RD_API size_t rd_linespool_count(const char *path, size_t max_bytes);

#endif
