/* The audit chain: an append-only list of what was changed, by whom, each entry chained to the
 * one before by SHA-256, so an edit, a deletion, an insertion or a reordering is detected by
 * walking it (docs/governance.md, "The audit chain").
 *
 * An entry: {seq, time, actor, action, object, before_sha256, after_sha256, detail, prev_hash,
 * hash} with
 *     hash = SHA-256(prev_hash || canonical JSON of {action, actor, after_sha256,
 *                    before_sha256, detail, object, seq, time})
 * as lowercase hex; prev_hash of the first entry is 64 zeros; seq counts from 1 without gaps;
 * time is the RFC 3339 UTC time with milliseconds ("2026-12-07T05:00:00.123Z"); detail is a
 * JSON object; the shas are 64 hex digits or "" (a creation has no before, a deletion no
 * after). Canonical JSON: RFC 8785 (JCS), rd_json_write_canonical.
 *
 * The bytes hashed, exactly: the 64 ASCII characters of prev_hash, immediately followed by
 * the UTF-8 of
 *     {"action":A,"actor":A,"after_sha256":S,"before_sha256":S,"detail":D,"object":O,
 *      "seq":N,"time":T}
 * without any white space: the members in that (sorted) order; strings with only '"', '\\'
 * and U+0000..U+001F escaped (\b \f \n \r \t, the others \u00xx, lowercase hex), all other
 * text as itself; D the detail in JCS form (members sorted by their keys' UTF-16 code units,
 * numbers as JavaScript's Number#toString prints the double: 1.0 -> 1, 1e21 -> 1e+21); N the
 * seq in decimal; T the time string. docs/governance.md has a worked example, and
 * tests/interop/audit_verify.py recomputes a chain from `riskd audit export` with Python alone.
 *
 * The store refuses UPDATE and DELETE on the table (triggers); verification trusts nothing of
 * that and recomputes every hash. Truncating the tail is only detectable against a head kept
 * elsewhere (rd_audit_head: write it to another system as an anchor). */
#ifndef RISKD_AUDIT_H
#define RISKD_AUDIT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "riskd/arena.h"
#include "riskd/err.h"
#include "riskd/hash.h"
#include "riskd/store.h"

/* What a caller records. Strings may be NULL for "" (detail NULL: {}). */
typedef struct rd_audit_entry {
    int64_t ts_ms;      /* 0: now */
    const char *actor;  /* "alice", "controller", "console:root", "anonymous" */
    const char *action; /* "change.approve", "flags.publish", "rollout.rollback", "auth.failed" */
    const char *object; /* "change/12", "flags:/etc/riskd/flags.json", "user/bob" */
    const char *before_sha256, *after_sha256;
    const char *detail_json; /* a JSON object, or NULL */
} rd_audit_entry;

/* Append e; when the caller holds a store transaction (rd_store_begin) it is part of it, so
 * the change and its entry commit together or not at all (a store failure here rolls the
 * caller's transaction back; a refused entry leaves it alone). RD_EINVAL, nothing written,
 * when detail_json is not a JSON object, is over 64 KiB or holds a token ("rdk_" + 12 hex +
 * "_"), a sha is not 64 lowercase hex digits nor "", actor, action or object is empty, over
 * 4096 bytes or not UTF-8, or ts_ms is outside the years 1970..9999; RD_EIO. seq (may be
 * NULL) receives its number. */
RD_API int rd_audit_append(rd_store *s, const rd_audit_entry *e, int64_t *seq, rd_err *err);

/* The last entry's seq and hash (0 and 64 zeros when empty): the anchor to keep elsewhere. */
RD_API int rd_audit_head(rd_store *s, int64_t *seq, char hash[RD_SHA256_HEX], rd_err *err);

typedef struct rd_audit_verify_result {
    uint64_t entries;  /* entries walked */
    int64_t first_bad; /* 0: the chain is intact; else the first bad seq */
    char problem[512]; /* in words: "seq 7: hash does not match its content (edited)" */
    int64_t head_seq;  /* the last entry found intact (0: none) */
    char head_hash[RD_SHA256_HEX];
} rd_audit_verify_result;

/* Walk the whole chain, recomputing every hash, in constant memory; it stops at the first bad
 * entry (docs/governance.md, "What verify reports", says which seq is named for which damage).
 * With anchor_hash (not NULL), the entry anchor_seq must be in the chain with that hash (a
 * truncated tail or a rewritten chain is then found: first_bad is the first seq missing or
 * differing). Returns RD_OK when the walk could be done (the verdict is in out), RD_EINVAL for
 * a malformed anchor (a seq below 0, a hash not 64 lowercase hex digits), RD_EIO otherwise.
 * progress (may be NULL) is called now and then with entries walked and the total. */
RD_API int rd_audit_verify(rd_store *s, int64_t anchor_seq, const char *anchor_hash,
                           void (*progress)(void *ud, uint64_t done, uint64_t total), void *ud,
                           rd_audit_verify_result *out, rd_err *err);

/* Each entry with from_seq <= seq (0: all), in seq order, as its JSON object (the ten members,
 * detail as an object) without a newline; valid during the call. limit 0: all. A non-zero
 * return of fn stops the walk and is returned. */
RD_API int rd_audit_each(rd_store *s, int64_t from_seq, size_t limit,
                         int (*fn)(void *ud, const char *json, size_t len), void *ud, rd_err *err);
/* The newest entries first (for a console or `audit list`), at most limit. */
RD_API int rd_audit_latest(rd_store *s, size_t limit, int (*fn)(void *ud, const char *json, size_t len),
                           void *ud, rd_err *err);

/* The hash of an entry (exposed for the tests and other verifiers): prev_hash || canonical
 * JSON of the eight members above. detail_json must be a JSON object. */
RD_API int rd_audit_hash(int64_t seq, int64_t ts_ms, const char *actor, const char *action,
                         const char *object, const char *before_sha256, const char *after_sha256,
                         const char *detail_json, const char *prev_hash, char hash[RD_SHA256_HEX],
                         rd_err *err);

#endif
