/* What the auth module's files share: token text, randomness, names and times. */
#ifndef RISKD_AUTH_INT_H
#define RISKD_AUTH_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "riskd/arena.h"
#include "riskd/auth.h"

#define RD__TOKEN_PREFIX     "rdk_"
#define RD__TOKEN_ID_HEX     12 /* 48 random bits: unique enough for ids, checked on issue anyway */
#define RD__TOKEN_SECRET_LEN 43 /* 256 bits in base64url without padding */
#define RD__TOKEN_LEN        (4 + RD__TOKEN_ID_HEX + 1 + RD__TOKEN_SECRET_LEN)

/* A new token into token and its id into id (RD_TOKEN_ID_MAX). */
int rd__auth_token_new(char token[RD_TOKEN_MAX], char id[RD_TOKEN_ID_MAX], rd_err *err);
/* Whether token has the exact shape rdk_<12 hex>_<43 base64url>; its id into id when it has. */
bool rd__auth_token_parse(const char *token, char id[RD_TOKEN_ID_MAX]);
/* Equal hashes, in time that does not depend on where they differ. */
bool rd__auth_hash_equal(const char *a, const char *b);

/* Token text checked against the store at now_ms: its shape, its row, its secret (in constant
 * time, before anything else about it is said), not revoked nor expired, its user there and
 * enabled. The row into *row, the principal into *p. Marks nothing; says nothing about parent. */
int rd__auth_check_token(rd_store *s, const char *token, int64_t now_ms, rd_token_row *row, rd_principal *p,
                         rd_err *err);
/* Mark the token used at now_ms, at most once a minute (best effort). */
void rd__auth_mark_used(rd_store *s, const rd_token_row *seen, int64_t now_ms);

/* In the caller's transaction: draw a fresh token (its text into fresh, its id into t->id), its
 * hash into t->hash, and store the row t (the other fields the caller's). No audit entry. */
int rd__auth_token_insert(rd_store *s, rd_token_row *t, char fresh[RD_TOKEN_MAX], rd_err *err);
/* Append one audit entry; detail is a JSON object without its closing brace (closed here). */
int rd__auth_audit(rd_store *s, const rd_principal *actor, const char *action, const char *object,
                   rd_buf *detail, int64_t now_ms, rd_err *err);
/* End the transaction: commit when rc is RD_OK, else roll back; returns the outcome. */
int rd__auth_finish(rd_store *s, int rc, rd_err *err);

/* Whether name is a valid user name ([a-z0-9][a-z0-9._-]{0,62}, not a reserved actor name). */
bool rd__auth_user_name_ok(const char *name);

/* ms as "2026-12-07T05:00:00.123Z" (at least 32 bytes). */
void rd__auth_time(int64_t ms, char *buf, size_t cap);

/* Append "key":"value" (value JSON-escaped) to b, with a comma unless it is the first member. */
void rd__auth_json_member(rd_buf *b, const char *key, const char *value);

#endif
