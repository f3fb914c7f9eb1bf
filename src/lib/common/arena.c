/* The allocator hook, arenas and buffers.
 *
 * Invariants: an arena's chunks form a list newest-first; used_bytes counts bytes handed
 * out since the last reset; after a reset at most one chunk remains, at least peak_bytes
 * large, so a workload that repeats needs no further malloc. */
#include "riskd/arena.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static void *default_alloc(void *ud, void *ptr, size_t size)
{
    (void)ud;
    if (size == 0) {
        free(ptr);
        return NULL;
    }
    return realloc(ptr, size);
}

static rd_alloc_fn alloc_fn = default_alloc;
static void *alloc_ud;

void rd_set_allocator(rd_alloc_fn fn, void *ud)
{
    alloc_fn = fn ? fn : default_alloc;
    alloc_ud = fn ? ud : NULL;
}

void *rd_malloc(size_t size) { return alloc_fn(alloc_ud, NULL, size ? size : 1); }

void *rd_calloc(size_t n, size_t size)
{
    if (size && n > SIZE_MAX / size)
        return NULL;
    void *p = rd_malloc(n * size);
    if (p)
        memset(p, 0, n * size);
    return p;
}

void *rd_realloc(void *ptr, size_t size) { return alloc_fn(alloc_ud, ptr, size ? size : 1); }

void rd_free(void *ptr)
{
    if (ptr)
        alloc_fn(alloc_ud, ptr, 0);
}

char *rd_strndup(const char *s, size_t n)
{
    char *p = rd_malloc(n + 1);
    if (p) {
        memcpy(p, s, n);
        p[n] = '\0';
    }
    return p;
}

/* ---- arena ---- */

struct rd_arena_chunk {
    rd_arena_chunk *next;
    size_t cap;
    size_t off;
    _Alignas(max_align_t) unsigned char mem[];
};

#define ARENA_MIN_CHUNK 4096u
#define ARENA_ALIGN     _Alignof(max_align_t)

void rd_arena_init(rd_arena *a, size_t limit_bytes)
{
    memset(a, 0, sizeof(*a));
    a->limit_bytes = limit_bytes;
}

static void chunks_free(rd_arena_chunk *c)
{
    while (c) {
        rd_arena_chunk *next = c->next;
        rd_free(c);
        c = next;
    }
}

void rd_arena_deinit(rd_arena *a)
{
    chunks_free(a->head);
    memset(a, 0, sizeof(*a));
}

void rd_arena_reset(rd_arena *a)
{
    if (a->head && a->head->next) {
        /* Several chunks were needed: replace them by one big enough for the peak. */
        chunks_free(a->head);
        a->head = NULL;
        rd_arena_chunk *c = rd_malloc(sizeof(*c) + a->peak_bytes);
        if (c) {
            c->next = NULL;
            c->cap = a->peak_bytes;
            c->off = 0;
            a->head = c;
        }
    } else if (a->head) {
        a->head->off = 0;
    }
    a->used_bytes = 0;
}

void *rd_arena_alloc(rd_arena *a, size_t size)
{
    if (size > SIZE_MAX / 2 - sizeof(rd_arena_chunk))
        return NULL; /* no chunk header + size could be represented */
    size_t need = (size + ARENA_ALIGN - 1) & ~(ARENA_ALIGN - 1);
    if (a->limit_bytes && a->used_bytes + need > a->limit_bytes)
        return NULL;
    rd_arena_chunk *c = a->head;
    if (!c || c->cap - c->off < need) {
        size_t cap = ARENA_MIN_CHUNK;
        if (c && c->cap < SIZE_MAX / 4 && c->cap * 2 > cap)
            cap = c->cap * 2;
        if (cap < need)
            cap = need;
        rd_arena_chunk *n = rd_malloc(sizeof(*n) + cap);
        if (!n)
            return NULL;
        n->next = c;
        n->cap = cap;
        n->off = 0;
        a->head = c = n;
    }
    void *p = c->mem + c->off;
    c->off += need;
    a->used_bytes += need;
    if (a->used_bytes > a->peak_bytes)
        a->peak_bytes = a->used_bytes;
    return p;
}

char *rd_arena_strndup(rd_arena *a, const char *s, size_t n)
{
    char *p = rd_arena_alloc(a, n + 1);
    if (p) {
        if (n)
            memcpy(p, s, n);
        p[n] = '\0';
    }
    return p;
}

/* ---- arena string builder ---- */

void rd_strb_init(rd_strb *b, rd_arena *a)
{
    memset(b, 0, sizeof(*b));
    b->a = a;
}

void rd_strb_add(rd_strb *b, const char *s, size_t n)
{
    if (b->oom)
        return;
    if (b->len + n + 1 > b->cap) {
        size_t cap = b->cap ? b->cap * 2 : 64;
        while (cap < b->len + n + 1)
            cap *= 2;
        char *p = rd_arena_alloc(b->a, cap);
        if (!p) {
            b->oom = 1;
            return;
        }
        if (b->len)
            memcpy(p, b->p, b->len);
        b->p = p;
        b->cap = cap;
    }
    if (n)
        memcpy(b->p + b->len, s, n);
    b->len += n;
    b->p[b->len] = '\0';
}

/* ---- buffer ---- */

void rd_buf_init(rd_buf *b) { memset(b, 0, sizeof(*b)); }

void rd_buf_deinit(rd_buf *b)
{
    rd_free(b->data);
    memset(b, 0, sizeof(*b));
}

void rd_buf_reset(rd_buf *b)
{
    b->len = 0;
    b->oom = 0;
    if (b->data)
        b->data[0] = '\0';
}

static int buf_reserve(rd_buf *b, size_t extra)
{
    if (b->oom)
        return RD_ENOMEM;
    if (b->len + extra + 1 <= b->cap)
        return RD_OK;
    size_t cap = b->cap ? b->cap : 256;
    while (cap < b->len + extra + 1)
        cap *= 2;
    char *p = rd_realloc(b->data, cap);
    if (!p) {
        b->oom = 1;
        return RD_ENOMEM;
    }
    b->data = p;
    b->cap = cap;
    return RD_OK;
}

int rd_buf_append(rd_buf *b, const void *data, size_t n)
{
    if (buf_reserve(b, n) != RD_OK)
        return RD_ENOMEM;
    if (n)
        memcpy(b->data + b->len, data, n);
    b->len += n;
    b->data[b->len] = '\0';
    return RD_OK;
}

int rd_buf_puts(rd_buf *b, const char *s) { return rd_buf_append(b, s, strlen(s)); }

int rd_buf_putc(rd_buf *b, char c) { return rd_buf_append(b, &c, 1); }

int rd_buf_printf(rd_buf *b, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n < 0 || buf_reserve(b, (size_t)n) != RD_OK)
        return RD_ENOMEM;
    va_start(ap, fmt);
    vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap);
    va_end(ap);
    b->len += (size_t)n;
    return RD_OK;
}

const char *rd_buf_cstr(rd_buf *b) { return (b->data && !b->oom) ? b->data : ""; }

int rd_file_read(const char *path, size_t max_bytes, char **out, size_t *out_len, rd_err *err)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return rd_err_set(err, RD_EIO, "%s: %s", path, strerror(errno));
    rd_buf b;
    rd_buf_init(&b);
    char chunk[65536];
    size_t n;
    int rc = RD_OK;
    while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0) {
        if (max_bytes && b.len + n > max_bytes) {
            rc = rd_err_set(err, RD_ELIMIT, "%s: larger than %zu bytes", path, max_bytes);
            break;
        }
        if (rd_buf_append(&b, chunk, n) != RD_OK) {
            rc = rd_err_set(err, RD_ENOMEM, "%s: out of memory", path);
            break;
        }
    }
    if (rc == RD_OK && ferror(f))
        rc = rd_err_set(err, RD_EIO, "%s: read error", path);
    fclose(f);
    if (rc != RD_OK) {
        rd_buf_deinit(&b);
        return rc;
    }
    if (rd_buf_append(&b, "", 0) != RD_OK) { /* ensure a buffer exists for empty files */
        rd_buf_deinit(&b);
        return rd_err_set(err, RD_ENOMEM, "%s: out of memory", path);
    }
    *out = b.data;
    *out_len = b.len;
    return RD_OK;
}

int rd_fsync_dir_of(const char *path, rd_err *err)
{
    char dir[PATH_MAX];
    snprintf(dir, sizeof dir, "%s", path);
    char *slash = strrchr(dir, '/');
    if (slash == dir)
        dir[1] = '\0';
    else if (slash)
        *slash = '\0';
    else
        snprintf(dir, sizeof dir, ".");
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    int rc = fd < 0 ? -1 : fsync(fd);
    int e = errno;
    if (fd >= 0)
        close(fd);
    return rc < 0 ? rd_err_set(err, RD_EIO, "%s: cannot sync: %s", dir, strerror(e)) : RD_OK;
}

static int write_all(int fd, const char *p, size_t n)
{
    while (n) {
        ssize_t w = write(fd, p, n);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return -1;
        p += w;
        n -= (size_t)w;
    }
    return 0;
}

int rd_file_replace(const char *path, const char *text, size_t len, mode_t mode, rd_err *err)
{
    char tmp[PATH_MAX + 32];
    snprintf(tmp, sizeof tmp, "%s.tmp.%ld", path, (long)getpid());
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0600);
    if (fd < 0)
        return rd_err_set(err, RD_EIO, "%s: cannot create: %s", tmp, strerror(errno));
    int rc = RD_OK;
    if (fchmod(fd, mode & 07777) < 0 || write_all(fd, text, len) < 0 || fsync(fd) < 0)
        rc = rd_err_set(err, RD_EIO, "%s: cannot write: %s", tmp, strerror(errno));
    if (close(fd) < 0 && rc == RD_OK)
        rc = rd_err_set(err, RD_EIO, "%s: cannot write: %s", tmp, strerror(errno));
    if (rc == RD_OK && rename(tmp, path) < 0)
        rc = rd_err_set(err, RD_EIO, "%s: cannot replace it: %s", path, strerror(errno));
    if (rc != RD_OK) {
        unlink(tmp);
        return rc;
    }
    if (rd_fsync_dir_of(path, err) != RD_OK) {
        rd_err_prefix(err, "%s: written, but its directory could not be synced", path);
        return RD_EIO;
    }
    return RD_OK;
}
