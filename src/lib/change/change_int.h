/* Internals of the change module, shared by its files: lifecycle.c (propose .. approve),
 * publish.c (publish, rollback, what may serve), show.c (JSON views, the flag diff), git.c. */
#ifndef RISKD_CHANGE_INT_H
#define RISKD_CHANGE_INT_H

#include "riskd/audit.h"
#include "riskd/change.h"

/* Fetch change id inside the caller's transaction (row freed by rd_store_change_row_free). */
int ch_load(rd_store *s, int64_t id, rd_change_row *r, rd_err *err);
rd_change_state ch_state(const rd_change_row *r);
rd_change_kind ch_kind(const rd_change_row *r);

/* Append elem (a JSON value) to the JSON array *arr (reallocated). RD_ENOMEM. */
int ch_array_append(char **arr, const char *elem, rd_err *err);
/* Whether the JSON array of strings or of objects with "user" holds name. */
bool ch_array_has_user(const char *arr, const char *name);
/* Number of items of a JSON array (0 when it does not parse). */
size_t ch_array_len(const char *arr);

/* Record event on r's history and in the audit chain (inside the caller's transaction). */
int ch_event(rd_store *s, rd_change_row *r, const rd_principal *who, const char *event, const char *note,
             const char *before_sha, const char *after_sha, int64_t now_ms, rd_err *err);

/* The notification of event (change.proposed, ...; nothing for a draft), into the outbox inside
 * the caller's transaction (events.c). */
int ch_notify(rd_store *s, const rd_change_row *r, const rd_principal *who, const char *event,
              const char *note, int64_t now_ms, rd_err *err);
/* change.rolled_back for the version v a rollback made. */
int ch_notify_rollback(rd_store *s, const rd_principal *who, const rd_version_row *v, const char *why,
                       rd_err *err);

/* Check a payload as serving would (a flag set parsed strictly, a plan parsed, the size bound):
 * RD_EINVAL with the reason when it would be refused. */
int ch_check_payload(rd_change_kind kind, const char *text, size_t len, rd_err *err);

/* The served flag file the store knows ("served.flags"), or "" */
void ch_served_flags(rd_store *s, char *out, size_t cap);
/* A target path as the store keys it: the real path of the file (of its directory when the
 * file does not exist yet). */
int ch_canonical_path(const char *path, char *out, size_t cap, rd_err *err);

#endif
