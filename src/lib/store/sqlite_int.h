/* Internals of the SQLite backend, shared by its files (sqlite.c: the decision log and blobs;
 * the outcome and rollout tables in their own files). */
#ifndef RISKD_SQLITE_INT_H
#define RISKD_SQLITE_INT_H

#include <sqlite3.h>

#include "store_int.h"

typedef struct sq_store {
    rd_store base;
    sqlite3 *db;
    sqlite3_stmt *insert, *blob_has, *blob_get, *blob_put;
} sq_store;

/* Fill err from the connection's last error ("DB: what: message"); RD_EIO, RD_ENOMEM or
 * RD_EINVAL (corrupt). */
int rd__sq_fail(sq_store *s, rd_err *err, const char *what);

#endif
