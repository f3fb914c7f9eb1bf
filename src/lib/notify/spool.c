/* The notifications' spool (notify.h): events with no store transaction (a breaker trip, the
 * store going away) wait in DATA_DIR/notify.spool, one envelope per line, until the store takes
 * them. Every envelope has its identity from birth, so a drain repeated after a crash between
 * the commit and the rewrite stores nothing twice (the outbox's uid is unique). */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "outbox_int.h"
#include "riskd/linespool.h"
#include "riskd/notify.h"

#define MAX_SPOOL_READ (256u << 20)

int rd_notify_spool_append(const char *path, const char *json, size_t len, size_t max_bytes, rd_err *err)
{
    if (memchr(json, '\n', len))
        return rd_err_set(err, RD_EINVAL, "%s: an event must be one line", path);
    return rd_linespool_append(path, json, len, max_bytes, err);
}

size_t rd_notify_spool_count(const char *path) { return rd_linespool_count(path, MAX_SPOOL_READ); }

/* Keep a line that is not an envelope aside (PATH.bad) for a person to read, instead of
 * blocking every event behind it. */
static void set_aside(const char *path, const char *line, size_t n)
{
    char bad[PATH_MAX + 8];
    snprintf(bad, sizeof bad, "%s.bad", path);
    rd_linespool_append(bad, line, n, 16u << 20, NULL);
}

typedef struct drain_ctx {
    const char *path;
    rd_store *s;
    size_t max, drained, bad;
} drain_ctx;

/* Append the first lines of text to the outbox in one transaction; *used: the bytes consumed. */
static int drain_text(drain_ctx *c, const char *text, size_t len, size_t *used, rd_err *err)
{
    int rc = rd_store_begin(c->s, err);
    if (rc)
        return rc;
    size_t start = 0, lines = 0, bad = 0;
    while (start < len && (!c->max || lines < c->max)) {
        const char *nl = memchr(text + start, '\n', len - start);
        if (!nl) /* a torn last line: its writer died before the newline */
            break;
        size_t n = (size_t)(nl - (text + start));
        rd_err lerr = {0};
        if (n) {
            int lrc = rd_notify_enqueue_json(c->s, text + start, n, NULL, &lerr);
            if (lrc == RD_EINVAL || lrc == RD_EPARSE || lrc == RD_ELIMIT) {
                set_aside(c->path, text + start, n);
                bad++;
            } else if (lrc) {
                rd_err_set(err, lrc, "%s", lerr.msg);
                rd_store_rollback(c->s);
                return lrc;
            }
            lines++;
        }
        start = (size_t)(nl - text) + 1;
    }
    if (start < len && !memchr(text + start, '\n', len - start) && (!c->max || lines < c->max))
        start = len; /* the torn line is dropped */
    if ((rc = rd_store_commit(c->s, err)))
        return rc;
    c->drained += lines - bad;
    c->bad += bad;
    *used = start;
    return RD_OK;
}

int rd_notify_spool_drain(const char *path, rd_store *s, size_t max, size_t *drained, size_t *bad,
                          rd_err *err)
{
    drain_ctx c = {.path = path, .s = s, .max = max};
    if (drained)
        *drained = 0;
    if (bad)
        *bad = 0;
    if (access(path, F_OK) != 0)
        return RD_OK;
    int lfd = rd_linespool_lock(path, err);
    if (lfd < 0)
        return RD_EIO;
    char *text = NULL;
    size_t len = 0, used = 0;
    int rc = access(path, F_OK) != 0 ? RD_OK : rd_file_read(path, MAX_SPOOL_READ, &text, &len, err);
    if (!rc && len)
        rc = drain_text(&c, text, len, &used, err);
    if (!rc && used) /* the lines left the file only once the store committed them */
        rc = rd_linespool_rewrite(path, text + used, len - used, err);
    rd_free(text);
    rd_linespool_unlock(lfd);
    if (drained)
        *drained = c.drained;
    if (bad)
        *bad = c.bad;
    return rc;
}
