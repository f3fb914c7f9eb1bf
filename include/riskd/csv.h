/* CSV reading (RFC 4180): a header line naming the columns, then one record per line;
 * fields may be quoted ("a,b", "say ""hi""", line breaks inside quotes); an empty field is a
 * missing value. Used by the batch CLI and the bundle builder. */
#ifndef RISKD_CSV_H
#define RISKD_CSV_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "riskd/err.h"

typedef struct rd_csv rd_csv;

/* Open path ("-" reads stdin) and read its header. Refuses an empty file, an empty or
 * repeated column name, and a header longer than the record limit. */
RD_API int rd_csv_open(const char *path, rd_csv **out, rd_err *err);
RD_API void rd_csv_close(rd_csv *c);

RD_API size_t rd_csv_num_columns(const rd_csv *c);
RD_API const char *rd_csv_column(const rd_csv *c, size_t i);
/* Index of the named column, or -1. */
RD_API int rd_csv_find(const rd_csv *c, const char *name);

/* Read the next record: returns 1 with the fields in *fields (NUL-terminated, borrowed until
 * the next call), 0 at the end, or an error code: RD_EPARSE for a record with the wrong
 * number of fields or an unterminated quote (the reader continues with the next record;
 * rd_csv_line names the record's line, the message does not), RD_ELIMIT for a record over 1 MiB, RD_EIO.
 * Blank lines are skipped. */
RD_API int rd_csv_next(rd_csv *c, char ***fields, rd_err *err);
/* The line the last record started on (1 is the header). */
RD_API size_t rd_csv_line(const rd_csv *c);
/* Bytes read so far and the file's size (0 when unknown, e.g. a pipe), for progress bars. */
RD_API uint64_t rd_csv_offset(const rd_csv *c);
RD_API uint64_t rd_csv_size(const rd_csv *c);

#endif
