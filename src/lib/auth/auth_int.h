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

/* Whether name is a valid user name ([a-z0-9][a-z0-9._-]{0,62}, not a reserved actor name). */
bool rd__auth_user_name_ok(const char *name);

/* ms as "2026-12-07T05:00:00.123Z" (at least 32 bytes). */
void rd__auth_time(int64_t ms, char *buf, size_t cap);

/* Append "key":"value" (value JSON-escaped) to b, with a comma unless it is the first member. */
void rd__auth_json_member(rd_buf *b, const char *key, const char *value);

#endif
