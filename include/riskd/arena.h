/* Memory: the allocator hook, the arena for request-scoped data, and a growable buffer.
 *
 * Every heap allocation of libriskd goes through the hook, so a test build can count
 * allocations (evaluation must make none) or fail them on demand. */
#ifndef RISKD_ARENA_H
#define RISKD_ARENA_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "riskd/err.h"

/* The allocator hook: realloc semantics (ptr NULL = malloc, size 0 = free, returns NULL). */
typedef void *(*rd_alloc_fn)(void *ud, void *ptr, size_t size);

/* Install a hook (fn NULL restores the C library's). Not thread-safe: call before use. */
RD_API void rd_set_allocator(rd_alloc_fn fn, void *ud);
RD_API void *rd_malloc(size_t size);
RD_API void *rd_calloc(size_t n, size_t size);
RD_API void *rd_realloc(void *ptr, size_t size);
RD_API void rd_free(void *ptr);
/* A copy of the n bytes at s plus a NUL, owned by the caller (rd_free); NULL on OOM. */
RD_API char *rd_strndup(const char *s, size_t n);

/* A bump allocator. Allocation is a pointer increment; everything is released at once by
 * rd_arena_reset (which keeps one chunk as large as the peak use, so a steady workload
 * stops calling malloc) or rd_arena_deinit. Not thread-safe: one arena per thread. */
typedef struct rd_arena_chunk rd_arena_chunk;
typedef struct rd_arena {
    rd_arena_chunk *head; /* current chunk, newest first */
    size_t used_bytes;    /* in use across chunks since the last reset */
    size_t peak_bytes;    /* the most ever in use, so reset can size one chunk for it */
    size_t limit_bytes;   /* 0 = unlimited; above it allocations fail */
} rd_arena;

RD_API void rd_arena_init(rd_arena *a, size_t limit_bytes);
RD_API void rd_arena_deinit(rd_arena *a);
RD_API void rd_arena_reset(rd_arena *a);
/* size bytes aligned for any type; NULL when out of memory or over the limit. */
RD_API void *rd_arena_alloc(rd_arena *a, size_t size);
/* A NUL-terminated copy of n bytes in the arena; NULL on failure. */
RD_API char *rd_arena_strndup(rd_arena *a, const char *s, size_t n);

/* A string builder whose storage comes from an arena (growth copies; the old space is
 * reclaimed at the arena's reset). p is NUL-terminated once anything was added. */
typedef struct rd_strb {
    rd_arena *a;
    char *p;
    size_t len, cap;
    int oom; /* sticky: the arena could not grow, the content is incomplete */
} rd_strb;

RD_API void rd_strb_init(rd_strb *b, rd_arena *a);
RD_API void rd_strb_add(rd_strb *b, const char *s, size_t n);

/* A growable byte buffer (always NUL-terminated when len > 0 or after rd_buf_cstr). */
typedef struct rd_buf {
    char *data;
    size_t len;
    size_t cap;
    int oom; /* sticky: an append failed, the content is incomplete */
} rd_buf;

RD_API void rd_buf_init(rd_buf *b);
RD_API void rd_buf_deinit(rd_buf *b);
RD_API void rd_buf_reset(rd_buf *b);
RD_API int rd_buf_append(rd_buf *b, const void *data, size_t n);
RD_API int rd_buf_puts(rd_buf *b, const char *s);
RD_API int rd_buf_putc(rd_buf *b, char c);
RD_API int rd_buf_printf(rd_buf *b, const char *fmt, ...) RD_PRINTF(2, 3);
/* The content as a C string (never NULL; "" when empty or after OOM). */
RD_API const char *rd_buf_cstr(rd_buf *b);

/* Read a whole file into a new NUL-terminated buffer (caller frees with rd_free).
 * Fails with RD_EIO (message names the file) or RD_ELIMIT over max_bytes. */
RD_API int rd_file_read(const char *path, size_t max_bytes, char **out, size_t *out_len, rd_err *err);
/* fsync the directory that holds path ("." for a bare name), so that a file created, renamed
 * or removed there stays so after a crash. RD_EIO naming the directory ("DIR: cannot sync: ..."). */
RD_API int rd_fsync_dir_of(const char *path, rd_err *err);
/* Replace path with text, whole or not at all: through path.tmp.PID, with mode, fsynced, renamed
 * over path, the directory synced. RD_EIO naming the file. */
RD_API int rd_file_replace(const char *path, const char *text, size_t len, mode_t mode, rd_err *err);

#endif
