/* The line spool (linespool.h): the file discipline the rollout transitions' and the
 * notifications' spools share. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "riskd/arena.h"
#include "riskd/linespool.h"

int rd_linespool_lock(const char *path, rd_err *err)
{
    char lock[PATH_MAX + 8];
    snprintf(lock, sizeof lock, "%s.lock", path);
    int fd = open(lock, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (fd < 0) {
        rd_err_set(err, RD_EIO, "%s: %s", lock, strerror(errno));
        return -1;
    }
    int rc;
    while ((rc = flock(fd, LOCK_EX)) < 0 && errno == EINTR)
        ;
    if (rc < 0) {
        rd_err_set(err, RD_EIO, "%s: cannot lock: %s", lock, strerror(errno));
        close(fd);
        return -1;
    }
    return fd;
}

void rd_linespool_unlock(int fd)
{
    if (fd < 0)
        return;
    flock(fd, LOCK_UN);
    close(fd);
}

/* Write the line (after a newline when the file ends in a torn one) and its newline at once. */
static int append_fd(int fd, const char *path, const char *line, size_t n, size_t max_bytes, rd_err *err)
{
    struct stat st;
    char last = '\n';
    if (fstat(fd, &st) < 0 || (st.st_size > 0 && pread(fd, &last, 1, st.st_size - 1) != 1))
        return rd_err_set(err, RD_EIO, "%s: %s", path, strerror(errno));
    size_t total = n + 1 + (last != '\n');
    if (max_bytes && (size_t)st.st_size + total > max_bytes)
        return rd_err_set(err, RD_ELIMIT, "%s: full (%lld bytes, the bound is %zu)", path,
                          (long long)st.st_size, max_bytes);
    char *buf = rd_malloc(total);
    if (!buf)
        return rd_err_set(err, RD_ENOMEM, "out of memory");
    size_t o = 0;
    if (last != '\n') /* a torn last line gets its own line, so this one stays whole */
        buf[o++] = '\n';
    memcpy(buf + o, line, n);
    buf[o + n] = '\n';
    int rc = RD_OK;
    if (write(fd, buf, total) != (ssize_t)total || fsync(fd) < 0)
        rc = rd_err_set(err, RD_EIO, "%s: cannot append: %s", path, strerror(errno));
    rd_free(buf);
    return rc;
}

int rd_linespool_append(const char *path, const char *line, size_t n, size_t max_bytes, rd_err *err)
{
    int lfd = rd_linespool_lock(path, err);
    if (lfd < 0)
        return RD_EIO;
    bool created = access(path, F_OK) != 0;
    int rc, fd = open(path, O_RDWR | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    if (fd < 0)
        rc = rd_err_set(err, RD_EIO, "%s: %s", path, strerror(errno));
    else
        rc = append_fd(fd, path, line, n, max_bytes, err);
    if (fd >= 0)
        close(fd);
    if (!rc && created)
        rc = rd_fsync_dir_of(path, err);
    rd_linespool_unlock(lfd);
    return rc;
}

int rd_linespool_rewrite(const char *path, const char *rest, size_t n, rd_err *err)
{
    if (n == 0) {
        if (unlink(path) < 0 && errno != ENOENT)
            return rd_err_set(err, RD_EIO, "%s: cannot remove: %s", path, strerror(errno));
    } else {
        char tmp[PATH_MAX + 16];
        snprintf(tmp, sizeof tmp, "%s.tmp", path);
        int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
        bool ok = fd >= 0 && write(fd, rest, n) == (ssize_t)n && fsync(fd) == 0;
        if (fd >= 0 && close(fd) < 0)
            ok = false;
        if (!ok || rename(tmp, path) < 0) {
            int e = errno;
            unlink(tmp);
            return rd_err_set(err, RD_EIO, "%s: cannot rewrite: %s", path, strerror(e));
        }
    }
    return rd_fsync_dir_of(path, err);
}

size_t rd_linespool_count(const char *path, size_t max_bytes)
{
    char *text;
    size_t len, n = 0;
    if (access(path, F_OK) != 0 || rd_file_read(path, max_bytes, &text, &len, NULL) != RD_OK)
        return 0;
    for (size_t i = 0, start = 0; i < len; i++)
        if (text[i] == '\n') {
            n += i > start; /* a complete, non-empty line */
            start = i + 1;
        }
    rd_free(text);
    return n;
}
