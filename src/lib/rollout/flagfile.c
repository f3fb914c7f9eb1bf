/* The flag file rewritten for a stage: the routing flag's targeting (and the shadow flag's
 * default variant) replaced in place, every other byte kept, so a reviewer's diff of the file
 * shows the stage change and nothing else.
 *
 * Invariants: the text is checked to be JSON before the span scanner walks it (the scanner
 * trusts its structure); a replacement is one JSON value (the targeting is parsed alone first,
 * so it cannot smuggle in members); the result parses strictly as a flag set before anything is
 * written; a write happens under an exclusive flock on PATH.lock, only when the file still
 * holds the bytes the caller read (SHA-256), through a temp file that is fsynced and renamed
 * over PATH, the directory fsynced after, the file's mode kept. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "riskd/json.h"
#include "riskd/change.h"
#include "riskd/clock.h"
#include "riskd/rollout.h"

#define MAX_FLAGFILE_BYTES (64u << 20)
#define NONE               ((size_t)-1)

/* ---------------------------------------------------------------- the span scanner */

static size_t skip_ws(const char *t, size_t n, size_t i)
{
    while (i < n && (t[i] == ' ' || t[i] == '\t' || t[i] == '\n' || t[i] == '\r'))
        i++;
    return i;
}

/* t[i] == '"': the index after the closing quote, NONE when the text ends first. */
static size_t skip_string(const char *t, size_t n, size_t i)
{
    for (i++; i < n; i++) {
        if (t[i] == '\\')
            i++;
        else if (t[i] == '"')
            return i + 1;
    }
    return NONE;
}

/* The index after the value starting at t[i]. Iterative: objects and arrays by depth. */
static size_t skip_value(const char *t, size_t n, size_t i)
{
    if (i >= n)
        return NONE;
    if (t[i] == '"')
        return skip_string(t, n, i);
    if (t[i] != '{' && t[i] != '[') {
        while (i < n && !strchr(",}] \t\r\n", t[i]))
            i++;
        return i;
    }
    size_t depth = 0;
    for (; i < n; i++) {
        char c = t[i];
        if (c == '"') {
            size_t e = skip_string(t, n, i);
            if (e == NONE)
                return NONE;
            i = e - 1;
        } else if (c == '{' || c == '[') {
            depth++;
        } else if ((c == '}' || c == ']') && --depth == 0) {
            return i + 1;
        }
    }
    return NONE;
}

static int hex4(const char *s)
{
    int v = 0;
    for (int i = 0; i < 4; i++) {
        char c = s[i];
        v = v * 16 + (c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : c - 'A' + 10);
    }
    return v;
}

/* Whether the string token t[a..b) (quotes included) decodes to want. */
static bool string_equals(const char *t, size_t a, size_t b, const char *want)
{
    size_t wl = strlen(want);
    if (!memchr(t + a, '\\', b - a))
        return b - a - 2 == wl && memcmp(t + a + 1, want, wl) == 0;
    size_t k = 0;
    for (size_t i = a + 1; i + 1 < b; i++) {
        unsigned char buf[4];
        size_t nb = 1;
        if (t[i] != '\\') {
            buf[0] = (unsigned char)t[i];
        } else {
            char e = t[++i];
            if (e != 'u') {
                buf[0] = (unsigned char)(e == 'b'   ? '\b'
                                         : e == 'f' ? '\f'
                                         : e == 'n' ? '\n'
                                         : e == 'r' ? '\r'
                                         : e == 't' ? '\t'
                                                    : e);
            } else {
                unsigned cp = (unsigned)hex4(t + i + 1);
                i += 4;
                if (cp >= 0xD800 && cp < 0xDC00 && i + 6 < b && t[i + 1] == '\\' && t[i + 2] == 'u') {
                    cp = 0x10000 + ((cp - 0xD800) << 10) + ((unsigned)hex4(t + i + 3) - 0xDC00);
                    i += 6;
                }
                if (cp < 0x80) {
                    buf[0] = (unsigned char)cp;
                } else if (cp < 0x800) {
                    buf[0] = (unsigned char)(0xC0 | cp >> 6);
                    buf[1] = (unsigned char)(0x80 | (cp & 0x3F));
                    nb = 2;
                } else if (cp < 0x10000) {
                    buf[0] = (unsigned char)(0xE0 | cp >> 12);
                    buf[1] = (unsigned char)(0x80 | (cp >> 6 & 0x3F));
                    buf[2] = (unsigned char)(0x80 | (cp & 0x3F));
                    nb = 3;
                } else {
                    buf[0] = (unsigned char)(0xF0 | cp >> 18);
                    buf[1] = (unsigned char)(0x80 | (cp >> 12 & 0x3F));
                    buf[2] = (unsigned char)(0x80 | (cp >> 6 & 0x3F));
                    buf[3] = (unsigned char)(0x80 | (cp & 0x3F));
                    nb = 4;
                }
            }
        }
        if (k + nb > wl || memcmp(want + k, buf, nb) != 0)
            return false;
        k += nb;
    }
    return k == wl;
}

/* A member of an object: where its key starts and ends, and its value's span. */
typedef struct span {
    size_t key, key_end, val, val_end;
} span;

/* The last member named key of the object at t[obj] (JSON parsers keep the last). */
static bool find_member(const char *t, size_t n, size_t obj, const char *key, span *out)
{
    bool found = false;
    size_t i = skip_ws(t, n, obj + 1);
    if (i >= n || t[i] == '}')
        return false;
    for (;;) {
        span s = {.key = i, .key_end = skip_string(t, n, i)};
        if (s.key_end == NONE)
            return false;
        i = skip_ws(t, n, s.key_end);
        s.val = skip_ws(t, n, i + 1); /* past the ':' */
        s.val_end = skip_value(t, n, s.val);
        if (s.val_end == NONE)
            return false;
        if (string_equals(t, s.key, s.key_end, key)) {
            *out = s;
            found = true;
        }
        i = skip_ws(t, n, s.val_end);
        if (i >= n || t[i] != ',')
            return found;
        i = skip_ws(t, n, i + 1);
    }
}

/* The object of flag `key` under "flags" (the object form, or the array form with "key"). */
static bool find_flag(const char *t, size_t n, const char *key, size_t *obj)
{
    span flags, m;
    size_t root = skip_ws(t, n, 0);
    if (root >= n || t[root] != '{' || !find_member(t, n, root, "flags", &flags))
        return false;
    if (t[flags.val] == '{') {
        if (!find_member(t, n, flags.val, key, &m) || t[m.val] != '{')
            return false;
        *obj = m.val;
        return true;
    }
    if (t[flags.val] != '[')
        return false;
    bool found = false;
    size_t i = skip_ws(t, n, flags.val + 1);
    while (i < n && t[i] != ']') {
        size_t end = skip_value(t, n, i);
        if (end == NONE)
            return false;
        if (t[i] == '{' && find_member(t, n, i, "key", &m) && t[m.val] == '"' &&
            string_equals(t, m.val, m.val_end, key)) {
            *obj = i;
            found = true;
        }
        i = skip_ws(t, n, end);
        if (i < n && t[i] == ',')
            i = skip_ws(t, n, i + 1);
    }
    return found;
}

/* An edit: the bytes [a, b) become text. */
typedef struct edit {
    size_t a, b;
    rd_buf text;
} edit;

/* Set member `key` of the flag object at t[obj] to value (JSON text): its value replaced when
 * present, else a member inserted after `after` (or after `fallback`), spaced like that member. */
static int set_member(const char *t, size_t n, size_t obj, const char *key, const char *value,
                      const char *after, const char *fallback, edit *e)
{
    span m;
    rd_buf_init(&e->text);
    if (find_member(t, n, obj, key, &m)) {
        e->a = m.val;
        e->b = m.val_end;
        rd_buf_puts(&e->text, value);
    } else {
        if (!find_member(t, n, obj, after, &m) && !find_member(t, n, obj, fallback, &m))
            return RD_EINVAL;
        size_t lead = m.key;
        while (lead > obj + 1 && strchr(" \t\r\n", t[lead - 1]))
            lead--;
        e->a = e->b = m.val_end;
        rd_buf_putc(&e->text, ',');
        rd_buf_append(&e->text, t + lead, m.key - lead);           /* the line break and indent */
        rd_buf_printf(&e->text, "\"%s\"", key);                    /* keys here are plain ASCII */
        rd_buf_append(&e->text, t + m.key_end, m.val - m.key_end); /* ":" and its spacing */
        rd_buf_puts(&e->text, value);
    }
    return e->text.oom ? RD_ENOMEM : RD_OK;
}

int rd_flagfile_rewrite(const char *text, size_t len, const char *route_flag, const char *targeting,
                        const char *shadow_flag, const char *shadow_variant, rd_buf *out, rd_err *err)
{
    if (shadow_flag && (!shadow_variant || !strcmp(shadow_flag, route_flag)))
        return rd_err_set(err, RD_EINVAL, "flag file: the shadow flag must be another flag, with a variant");
    rd_arena arena;
    rd_arena_init(&arena, 0);
    rd_json_limits lim = {.max_bytes = MAX_FLAGFILE_BYTES, .max_depth = 128};
    rd_value v;
    int rc = rd_json_parse(text, len, &lim, &arena, &v, err);
    if (rc != RD_OK) {
        rd_arena_deinit(&arena);
        rd_err_prefix(err, "flag file");
        return rc;
    }
    rd_err terr = {0};
    rc = rd_json_parse(targeting, strlen(targeting), NULL, &arena, &v, &terr);
    rd_arena_deinit(&arena);
    if (rc != RD_OK || v.type != RD_VOBJECT)
        return rd_err_set(err, RD_EINVAL, "flags.%s.targeting: the new targeting is not one JSON object%s%s",
                          route_flag, rc ? ": " : "", rc ? terr.msg : "");
    edit e[2];
    size_t ne = 0, obj;
    if (!find_flag(text, len, route_flag, &obj))
        return rd_err_set(err, RD_EINVAL, "flags.%s: not in the flag file", route_flag);
    rc = set_member(text, len, obj, "targeting", targeting, "defaultVariant", "variants", &e[ne++]);
    if (rc == RD_OK && shadow_flag) {
        rd_buf quoted;
        rd_buf_init(&quoted);
        rd_json_write_string(&quoted, shadow_variant, strlen(shadow_variant));
        if (!find_flag(text, len, shadow_flag, &obj))
            rc = RD_ENOTFOUND;
        else
            rc = set_member(text, len, obj, "defaultVariant", rd_buf_cstr(&quoted), "variants", "state",
                            &e[ne++]);
        rd_buf_deinit(&quoted);
    }
    if (rc == RD_OK) {
        if (ne == 2 && e[1].a < e[0].a) {
            edit tmp = e[0];
            e[0] = e[1];
            e[1] = tmp;
        }
        size_t from = 0, start = out->len;
        for (size_t i = 0; i < ne; i++) {
            rd_buf_append(out, text + from, e[i].a - from);
            rd_buf_append(out, e[i].text.data, e[i].text.len);
            from = e[i].b;
        }
        rd_buf_append(out, text + from, len - from);
        if (out->oom) {
            rc = rd_err_set(err, RD_ENOMEM, "out of memory");
        } else {
            rd_flagset *fs;
            rd_err perr;
            rc = rd_flagset_parse(out->data + start, out->len - start, NULL, &fs, &perr);
            if (rc == RD_OK)
                rd_flagset_unref(fs);
            else
                rc = rd_err_set(err, RD_EINVAL, "the result would be refused: %s", perr.msg);
        }
    } else if (rc == RD_ENOTFOUND) {
        rc = rd_err_set(err, RD_EINVAL, "flags.%s: not in the flag file", shadow_flag);
    } else if (rc == RD_EINVAL) {
        rc = rd_err_set(err, RD_EINVAL, "flags.%s: has no variants to place the change after", route_flag);
    } else {
        rc = rd_err_set(err, rc, "out of memory");
    }
    for (size_t i = 0; i < ne; i++)
        rd_buf_deinit(&e[i].text);
    return rc;
}

/* ---------------------------------------------------------------- the atomic update */

int rd_flagfile_sha(const char *path, char sha[RD_SHA256_HEX], rd_err *err)
{
    return rd_sha256_file(path, sha, err);
}

/* Open and lock path's lock file (path resolved through symbolic links into real, so the
 * file a link names is the one locked and rewritten). *lfd: the locked descriptor. */
static int lock_file(const char *path, char real[PATH_MAX], int *lfd, rd_err *err)
{
    if (!realpath(path, real))
        return rd_err_set(err, RD_EIO, "%s: %s", path, strerror(errno));
    char lock[PATH_MAX + 8];
    snprintf(lock, sizeof lock, "%s.lock", real);
    int fd = open(lock, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (fd < 0 && errno == EACCES)
        fd = open(lock, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return rd_err_set(err, RD_EIO, "%s: cannot open the lock file: %s", lock, strerror(errno));
    int rc;
    while ((rc = flock(fd, LOCK_EX)) < 0 && errno == EINTR)
        ;
    if (rc < 0) {
        rc = rd_err_set(err, RD_EIO, "%s: cannot lock: %s", lock, strerror(errno));
        close(fd);
        return rc;
    }
    *lfd = fd;
    return RD_OK;
}

static void unlock_file(int lfd)
{
    flock(lfd, LOCK_UN);
    close(lfd);
}

/* Read the locked file and check it still holds expected_sha (NULL: anything). */
static int read_checked(const char *path, const char *real, const char *expected_sha, char **text,
                        size_t *len, struct stat *st, rd_err *err)
{
    int rc = rd_file_read(real, MAX_FLAGFILE_BYTES, text, len, err);
    if (rc != RD_OK)
        return rc;
    if (stat(real, st) < 0)
        return rd_err_set(err, RD_EIO, "%s: %s", path, strerror(errno));
    char now[RD_SHA256_HEX];
    rd_sha256_hex(*text, *len, now);
    if (expected_sha && strcmp(expected_sha, now) != 0)
        return rd_err_set(err, RD_ECONFLICT,
                          "%s: changed since it was read (sha %.12s... now %.12s...): read it again", path,
                          expected_sha, now);
    return RD_OK;
}

int rd_flagfile_update(const char *path, const char *expected_sha, const char *route_flag,
                       const char *targeting, const char *shadow_flag, const char *shadow_variant,
                       char new_sha[RD_SHA256_HEX], rd_err *err)
{
    char real[PATH_MAX];
    int lfd, rc = lock_file(path, real, &lfd, err);
    if (rc)
        return rc;
    char *text = NULL;
    size_t len;
    struct stat st;
    rd_buf out;
    rd_buf_init(&out);
    if ((rc = read_checked(path, real, expected_sha, &text, &len, &st, err)) != RD_OK)
        goto done;
    if ((rc = rd_flagfile_rewrite(text, len, route_flag, targeting, shadow_flag, shadow_variant, &out,
                                  err)) != RD_OK) {
        rd_err_prefix(err, "%s", path);
        goto done;
    }
    if ((rc = rd_file_replace(real, out.data, out.len, st.st_mode, err)) != RD_OK)
        goto done;
    if (new_sha)
        rd_sha256_hex(out.data, out.len, new_sha);
done:
    rd_free(text);
    rd_buf_deinit(&out);
    unlock_file(lfd);
    return rc;
}

int rd_file_replace_cas(const char *path, const char *expected_sha, const char *text, size_t len, rd_err *err)
{
    char real[PATH_MAX];
    int lfd, rc = lock_file(path, real, &lfd, err);
    if (rc)
        return rc;
    char *old = NULL;
    size_t old_len;
    struct stat st;
    if ((rc = read_checked(path, real, expected_sha, &old, &old_len, &st, err)) == RD_OK)
        rc = rd_file_replace(real, text, len, st.st_mode, err);
    rd_free(old);
    unlock_file(lfd);
    return rc;
}

static void note_detail(rd_buf *d, const char *flag, const char *stage);

void rd_rollout_note_write(rd_store *s, const char *path, const char *before_sha, const char *after_sha,
                           const char *flag, const char *stage, const char *actor)
{
    if (!s)
        return;
    rd_buf d;
    rd_buf_init(&d);
    note_detail(&d, flag, stage);
    rd_err e;
    if (!d.oom)
        rd_change_record_write(s, RD_CHANGE_FLAGS, path, before_sha, after_sha, "rollout", actor,
                               rd_buf_cstr(&d), rd_clock_unix_ms(), &e);
    rd_buf_deinit(&d);
}

/* ---------------------------------------------------------------- flag targets */

int rd_flagtarget_sha(rd_store *s, const char *target, char sha[RD_SHA256_HEX], rd_err *err)
{
    if (!rd_change_target_in_store(target))
        return rd_flagfile_sha(target, sha, err);
    if (!s)
        return rd_err_set(err, RD_EINVAL, "the flag set kept in the store needs the store");
    rd_version_row v;
    int rc = rd_store_version_find(s, "flags", RD_FLAGS_STORE, NULL, &v, err);
    if (!rc)
        snprintf(sha, RD_SHA256_HEX, "%s", v.sha);
    return rc;
}

static void note_detail(rd_buf *d, const char *flag, const char *stage)
{
    rd_buf_puts(d, "{\"flag\":");
    rd_json_write_string(d, flag, strlen(flag));
    rd_buf_puts(d, ",\"stage\":");
    rd_json_write_string(d, stage, strlen(stage));
    rd_buf_putc(d, '}');
}

/* The store's write: read, compare, rewrite, keep, record; all or nothing. */
static int store_update(rd_store *s, const char *expected_sha, const char *route_flag, const char *targeting,
                        const char *shadow_flag, const char *shadow_variant, const char *stage,
                        const char *actor, char new_sha[RD_SHA256_HEX], rd_err *err)
{
    int rc = rd_store_begin(s, err);
    if (rc)
        return rc;
    char *text = NULL, before[RD_SHA256_HEX], sha[RD_SHA256_HEX];
    size_t len;
    int64_t version;
    rd_buf out, d;
    rd_buf_init(&out);
    rd_buf_init(&d);
    rc = rd_flags_store_read(s, &text, &len, before, &version, err);
    if (!rc && expected_sha && strcmp(before, expected_sha) != 0)
        rc = rd_err_set(err, RD_ECONFLICT,
                        "the flag set in the store changed since it was read (version %lld): not written",
                        (long long)version);
    if (!rc && (rc = rd_flagfile_rewrite(text, len, route_flag, targeting, shadow_flag, shadow_variant, &out,
                                         err)) != RD_OK)
        rd_err_prefix(err, "the flag set in the store");
    if (!rc)
        rc = rd_store_blob_put(s, out.data, out.len, sha, err);
    note_detail(&d, route_flag, stage);
    if (!rc && strcmp(sha, before) != 0)
        rc = d.oom ? rd_err_set(err, RD_ENOMEM, "out of memory")
                   : rd_change_record_write(s, RD_CHANGE_FLAGS, RD_FLAGS_STORE, before, sha, "rollout", actor,
                                            rd_buf_cstr(&d), rd_clock_unix_ms(), err);
    rd_free(text);
    rd_buf_deinit(&out);
    rd_buf_deinit(&d);
    if (rc) {
        rd_store_rollback(s);
        return rc;
    }
    if ((rc = rd_store_commit(s, err)) == RD_OK && new_sha)
        memcpy(new_sha, sha, RD_SHA256_HEX);
    return rc;
}

int rd_flagtarget_update(rd_store *s, const char *target, const char *expected_sha, const char *route_flag,
                         const char *targeting, const char *shadow_flag, const char *shadow_variant,
                         const char *stage, const char *actor, char new_sha[RD_SHA256_HEX], rd_err *err)
{
    if (rd_change_target_in_store(target)) {
        if (!s)
            return rd_err_set(err, RD_EINVAL, "the flag set kept in the store needs the store");
        return store_update(s, expected_sha, route_flag, targeting, shadow_flag, shadow_variant, stage, actor,
                            new_sha, err);
    }
    char before[RD_SHA256_HEX], sha[RD_SHA256_HEX];
    rd_err e;
    if (rd_flagfile_sha(target, before, &e) != RD_OK)
        before[0] = '\0';
    int rc = rd_flagfile_update(target, expected_sha, route_flag, targeting, shadow_flag, shadow_variant, sha,
                                err);
    if (rc == RD_OK) {
        rd_rollout_note_write(s, target, before, sha, route_flag, stage, actor);
        if (new_sha)
            memcpy(new_sha, sha, RD_SHA256_HEX);
    }
    return rc;
}
