/* Change requests: nothing that decides about applicants changes until a second person
 * approved it (shared/DESIGN.md §6, docs/governance.md).
 *
 * Kinds and what publishing does:
 *   flags    the full new flag file; shown as a diff per flag; published by rewriting the
 *            served flag file (target) atomically, only if it still holds the version the
 *            change was proposed against (compare-and-swap on its SHA-256, the rollout
 *            controller's lock): RD_ECONFLICT otherwise
 *   bundle   a bundle directory (target: its path) registered as allowed to serve: its
 *            manifest's SHA-256 is recorded (the manifest lists every file's checksum); the
 *            manifest, every file and the signature, when there is one, are kept in the
 *            store's blobs when it is proposed (the payload {"name", "digest", "path",
 *            "signature"} names the signature's blob), so nodes serving bundles = store fetch
 *            it from there (bundle_cache.h)
 *   rollout  a rollout plan (the plan file's new text; target: its path): publishing writes
 *            the plan file, and the plan is approved as a whole, so the controller's automatic
 *            transitions need no further approval (each is audited)
 *
 * Lifecycle: draft -> proposed -> approved -> published, or rejected / withdrawn. An edit
 * bumps the revision and clears the approvals (approved -> proposed). Approvals needed per
 * kind: the setting "approvals.<kind>" (default 1, at least 1), counted over distinct users of
 * the current revision. Nobody approves a change they authored or edited, whatever token or
 * path they use: the rule is here, inside the store transaction that records the approval.
 *
 * Every event is an audit entry (audit.h) written in the same transaction. A published change
 * records a version (store.h: rd_version_row) with the version it replaced, so a rollback is
 * one call, allowed to one person with the rollback permission. */
#ifndef RISKD_CHANGE_H
#define RISKD_CHANGE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "riskd/arena.h"
#include "riskd/auth.h"
#include "riskd/err.h"
#include "riskd/hash.h"
#include "riskd/store.h"

typedef enum rd_change_kind {
    RD_CHANGE_FLAGS = 0,
    RD_CHANGE_BUNDLE,
    RD_CHANGE_ROLLOUT,
    RD_CHANGE_KIND_COUNT
} rd_change_kind;
RD_API const char *rd_change_kind_name(rd_change_kind k);
RD_API int rd_change_kind_parse(const char *name); /* -1: none */

typedef enum rd_change_state {
    RD_CS_DRAFT = 0,
    RD_CS_PROPOSED,
    RD_CS_APPROVED,
    RD_CS_PUBLISHED,
    RD_CS_REJECTED,
    RD_CS_WITHDRAWN,
    RD_CS_COUNT
} rd_change_state;
RD_API const char *rd_change_state_name(rd_change_state s);
RD_API int rd_change_state_parse(const char *name); /* -1: none */

typedef struct rd_change_spec {
    rd_change_kind kind;
    const char *target;  /* flags: the served flag file (NULL: the setting "served.flags");
                            rollout: the plan file; bundle: the bundle directory */
    const char *payload; /* flags, rollout: the new file's text; bundle: NULL (read from target) */
    size_t payload_len;
    const char *title; /* one line, "" allowed */
    bool draft;        /* start as a draft (else proposed at once) */
} rd_change_spec;

/* Propose a change (who: RD_PERM_PROPOSE). The payload is checked as serving would check it
 * (a flag set parsed strictly, a plan parsed, a bundle loaded and verified): a change that
 * would be refused on reload is refused now. RD_EINVAL with the reason; *id the new id. */
RD_API int rd_change_propose(rd_store *s, const rd_principal *who, const rd_change_spec *spec, int64_t now_ms,
                             int64_t *id, rd_err *err);
/* Replace the payload (and title, NULL: kept) of a draft, proposed or approved change (who:
 * RD_PERM_PROPOSE). The revision is bumped, approvals cleared, who becomes an editor. */
RD_API int rd_change_edit(rd_store *s, const rd_principal *who, int64_t id, const char *payload, size_t len,
                          const char *title, int64_t now_ms, rd_err *err);
/* draft -> proposed (the author or an editor). */
RD_API int rd_change_submit(rd_store *s, const rd_principal *who, int64_t id, int64_t now_ms, rd_err *err);
/* -> withdrawn (the author, or anyone with RD_PERM_APPROVE). */
RD_API int rd_change_withdraw(rd_store *s, const rd_principal *who, int64_t id, const char *why,
                              int64_t now_ms, rd_err *err);
/* Approve revision (0: the current one; else it must be the current one, or RD_ECONFLICT: it
 * was edited after you read it). who: RD_PERM_APPROVE, not the author nor an editor, not an
 * approver of this revision already. Enough approvals: -> approved. */
RD_API int rd_change_approve(rd_store *s, const rd_principal *who, int64_t id, int64_t revision,
                             const char *note, int64_t now_ms, rd_err *err);
/* -> rejected (who: RD_PERM_APPROVE, not the author). */
RD_API int rd_change_reject(rd_store *s, const rd_principal *who, int64_t id, const char *why, int64_t now_ms,
                            rd_err *err);
/* Apply an approved change to what serves (who: RD_PERM_PUBLISH; the author may publish once
 * someone else approved). *version receives the version made. */
RD_API int rd_change_publish(rd_store *s, const rd_principal *who, int64_t id, int64_t now_ms,
                             int64_t *version, rd_err *err);

/* Roll target of kind back (who: RD_PERM_ROLLBACK, alone): to version to (0: the version the
 * newest one replaced), written with the same compare-and-swap. A bundle rollback revokes the
 * newest registration: the bundle goes back to the digest it replaced, or, when it replaced
 * none, to a version with an empty sha (the bundle serves nowhere). Audited; *version receives
 * the version made. */
RD_API int rd_change_rollback(rd_store *s, const rd_principal *who, rd_change_kind kind, const char *target,
                              int64_t to, const char *why, int64_t now_ms, int64_t *version, rd_err *err);

/* The change as JSON: {id, kind, target, state, title, author, revision, created, updated,
 * base_sha256, payload_sha256, editors, approvals, approvals_required, history, version,
 * diff}; diff (flags): {added: [...], removed: [...], changed: {flag: {before, after}},
 * evaluators_changed, metadata_changed, sections: {key: {before, after}}} against the base
 * (sections: every other top-level member that differs, $evaluators and metadata among them);
 * with_payload adds "payload" (the text). */
RD_API int rd_change_show_json(rd_store *s, int64_t id, bool with_payload, rd_buf *out, rd_err *err);
/* The changes (state NULL: all), newest first, without payloads or diffs: a JSON array. */
RD_API int rd_change_list_json(rd_store *s, const char *state, size_t limit, rd_buf *out, rd_err *err);
/* The published versions of kind/target (NULL: all), newest first: a JSON array. */
RD_API int rd_change_versions_json(rd_store *s, const char *kind, const char *target, size_t limit,
                                   rd_buf *out, rd_err *err);

/* A diff of two flag files per flag (the object rd_change_show_json gives as "diff"). */
RD_API int rd_flags_diff_json(const char *before, size_t before_len, const char *after, size_t after_len,
                              rd_buf *out, rd_err *err);

/* Required approvals of kind (the setting, default 1). */
RD_API int rd_change_required(rd_store *s, rd_change_kind kind, int *n, rd_err *err);
/* Set them (who: RD_PERM_USERS; 1..5). Audited. */
RD_API int rd_change_set_required(rd_store *s, const rd_principal *who, rd_change_kind kind, int n,
                                  int64_t now_ms, rd_err *err);

/* What serves must have been published (require_approval = on): whether sha is a published
 * version of kind/target (*ok; *why says what is wrong, for the log). For flags, the file
 * the rollout controller wrote for a published plan counts (rd_change_record_write). */
RD_API int rd_change_served_ok(rd_store *s, rd_change_kind kind, const char *target, const char *sha,
                               bool *ok, char *why, size_t cap, rd_err *err);
/* Adopt what target holds now as its version 1 (how "adopt"), when it has no version yet: the
 * first start with require_approval = on takes the file in force as the baseline. Audited.
 * *adopted says whether it did. */
RD_API int rd_change_adopt(rd_store *s, rd_change_kind kind, const char *target, const char *sha,
                           const char *actor, int64_t now_ms, bool *adopted, rd_err *err);
/* Record a write to a served file that needs no change request of its own: the rollout
 * controller's stage change (how "rollout", actor "controller", the plan's change). Makes a
 * version and an audit entry in one transaction. */
RD_API int rd_change_record_write(rd_store *s, rd_change_kind kind, const char *target,
                                  const char *before_sha, const char *after_sha, const char *how,
                                  const char *actor, const char *detail_json, int64_t now_ms, rd_err *err);

/* Before a rollout writes the flag file at path: when the store requires approval (the setting
 * "approval.required" = "1", which riskd serve keeps) and the file holds something other than
 * its newest published version (a hand edit the server refused), put the published version
 * back first (audited "flags.restore"), so the rollout's write never carries an unreviewed
 * edit into a recorded version. *restored says whether it did. */
RD_API int rd_change_restore_published(rd_store *s, const char *path, const char *actor, int64_t now_ms,
                                       bool *restored, rd_err *err);

/* Commit every published version of the flag file target (NULL: the setting "served.flags")
 * not yet in the Git repository dir (created when missing) as a commit whose message names
 * the change request, its author, approvers and publisher, tagged flags/v{N}. *added receives
 * how many were added. Uses the git command. */
RD_API int rd_change_export_git(rd_store *s, const char *target, const char *dir, size_t *added, rd_err *err);

/* ------------------------------------------------------------------ flags kept in the store
 *
 * With several nodes (riskd serve flags = store), the flag set in force is no file: it is the
 * newest published version of kind "flags" and target RD_FLAGS_STORE, its text a blob. Every
 * function above takes that target like a path: publishing and rolling back write no file (the
 * version is the write, checked against the newest version inside the governance transaction,
 * the same compare-and-swap a file gets), and each tells every node (rd_store_notify). */
#define RD_FLAGS_STORE "store"
RD_API bool rd_change_target_in_store(const char *target);
/* The flag set in force in the store: its text (rd_free it), SHA-256 and version number.
 * RD_ENOTFOUND when none was imported yet. */
RD_API int rd_flags_store_read(rd_store *s, char **text, size_t *len, char sha[RD_SHA256_HEX],
                               int64_t *version, rd_err *err);
/* The flag set a node serves from the store, kept in its data directory (DIR/flags.kept: a
 * header naming the store, the version and the SHA-256, then the text), so that the node can
 * start while the store is unreachable. Written whole or not at all. Reading it: RD_ENOTFOUND
 * when none is kept; RD_EINVAL when it is damaged (its text does not match its SHA-256) or was
 * kept from another store than store_name. */
#define RD_FLAGS_KEPT_FILE "flags.kept" /* in the node's data directory */
RD_API int rd_flags_kept_write(const char *dir, const char *store_name, int64_t version, const char *sha,
                               const char *text, size_t len, rd_err *err);
RD_API int rd_flags_kept_read(const char *dir, const char *store_name, char **text, size_t *len,
                              char sha[RD_SHA256_HEX], int64_t *version, rd_err *err);
/* Load the first flag set into a store that holds none (riskd flags import): checked as
 * serving checks it, version 1 (how "import"), audited, every node told. RD_ECONFLICT once a
 * flag set is there: later changes go through change requests. */
RD_API int rd_flags_store_import(rd_store *s, const char *actor, const char *text, size_t len, int64_t now_ms,
                                 int64_t *version, rd_err *err);

#endif
