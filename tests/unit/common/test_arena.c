/* Memory: arena allocations are aligned for any type and stay intact across many chunks;
 * after rd_arena_reset the same workload makes no call at all to the allocator hook (the
 * promise that lets evaluation run without malloc); limit_bytes caps use; every
 * out-of-memory path (a hook that fails the Nth allocation) reports failure without
 * crashing or leaking; rd_strb, rd_buf_printf and rd_file_read keep their contracts. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "riskd/arena.h"

/* ---- allocator hooks ---- */

struct hook {
    size_t allocs;  /* calls that ask for memory (malloc or realloc) */
    size_t frees;   /* calls with size 0 */
    size_t fail_at; /* 0 = never; else the fail_at-th allocation returns NULL */
};

static void *hook_alloc(void *ud, void *ptr, size_t size)
{
    struct hook *h = ud;
    if (size == 0) {
        h->frees++;
        free(ptr);
        return NULL;
    }
    h->allocs++;
    if (h->fail_at && h->allocs == h->fail_at)
        return NULL;
    return realloc(ptr, size);
}

static int restore_allocator(void **state)
{
    (void)state;
    rd_set_allocator(NULL, NULL);
    return 0;
}

/* ---- arena ---- */

static void test_alignment(void **state)
{
    (void)state;
    rd_arena a;
    rd_arena_init(&a, 0);
    static const size_t sizes[] = {1, 3, 7, 8, 9, 15, 16, 17, 31, 33, 100, 4095, 4096, 4097, 10000, 0};
    for (int round = 0; round < 4; round++) {
        for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
            unsigned char *p = rd_arena_alloc(&a, sizes[i]);
            assert_non_null(p);
            assert_int_equal((uintptr_t)p % _Alignof(max_align_t), 0);
            if (sizes[i])
                memset(p, 0xab, sizes[i]); /* ASan: the whole size is ours */
        }
    }
    char *s = rd_arena_strndup(&a, "hello, world", 5);
    assert_non_null(s);
    assert_int_equal((uintptr_t)s % _Alignof(max_align_t), 0);
    assert_string_equal(s, "hello");
    char *e = rd_arena_strndup(&a, NULL, 0);
    assert_non_null(e);
    assert_string_equal(e, "");
    rd_arena_deinit(&a);
}

/* Fill n allocations of varying size with a pattern derived from their index. */
static void workload(rd_arena *a, unsigned char **ptrs, size_t *sizes, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        sizes[i] = 1 + (i * 37) % 700;
        ptrs[i] = rd_arena_alloc(a, sizes[i]);
        assert_non_null(ptrs[i]);
        memset(ptrs[i], (int)(i & 0xff), sizes[i]);
    }
    rd_strb sb;
    rd_strb_init(&sb, a);
    for (int i = 0; i < 300; i++)
        rd_strb_add(&sb, "0123456789", 10);
    assert_false(sb.oom);
    assert_int_equal(sb.len, 3000);
}

static void check_workload(unsigned char **ptrs, const size_t *sizes, size_t n)
{
    for (size_t i = 0; i < n; i++)
        for (size_t j = 0; j < sizes[i]; j++)
            if (ptrs[i][j] != (unsigned char)(i & 0xff))
                fail_msg("allocation %zu byte %zu overwritten", i, j);
}

enum { NALLOC = 500 };

static void test_many_chunks_then_reset_needs_no_malloc(void **state)
{
    (void)state;
    static unsigned char *ptrs[NALLOC];
    static size_t sizes[NALLOC];
    struct hook h = {0};
    rd_set_allocator(hook_alloc, &h);

    rd_arena a;
    rd_arena_init(&a, 0);
    workload(&a, ptrs, sizes, NALLOC);
    check_workload(ptrs, sizes, NALLOC); /* no allocation overlaps another */
    assert_true(h.allocs > 3);           /* ~180 KB: it did need several chunks */
    assert_true(a.used_bytes >= 180000);

    rd_arena_reset(&a);
    assert_int_equal(a.used_bytes, 0);
    h.allocs = h.frees = 0;
    workload(&a, ptrs, sizes, NALLOC);
    check_workload(ptrs, sizes, NALLOC);
    assert_int_equal(h.allocs, 0);
    assert_int_equal(h.frees, 0);

    /* Steady state: the reset itself no longer touches the allocator either. */
    for (int round = 0; round < 3; round++) {
        rd_arena_reset(&a);
        workload(&a, ptrs, sizes, NALLOC);
        check_workload(ptrs, sizes, NALLOC);
    }
    assert_int_equal(h.allocs, 0);
    assert_int_equal(h.frees, 0);

    rd_arena_deinit(&a);
    assert_true(h.frees >= 1);
    rd_set_allocator(NULL, NULL);
}

static void test_limit(void **state)
{
    (void)state;
    rd_arena a;
    rd_arena_init(&a, 256);
    assert_non_null(rd_arena_alloc(&a, 200));
    assert_null(rd_arena_alloc(&a, 100)); /* 200 + 100 > 256 */
    assert_non_null(rd_arena_alloc(&a, 8));
    assert_null(rd_arena_alloc(&a, 1000));
    assert_true(a.used_bytes <= 256);
    rd_arena_reset(&a);
    /* The limit is on use since the last reset, not on the arena's lifetime. */
    assert_non_null(rd_arena_alloc(&a, 256));
    assert_null(rd_arena_alloc(&a, 1));
    rd_arena_deinit(&a);

    rd_arena_init(&a, 100);
    assert_null(rd_arena_alloc(&a, 101));
    rd_arena_deinit(&a);
}

/* Static so the teardown frees it even when an assertion jumps out of the test. */
static rd_arena huge_arena;

static int huge_teardown(void **state)
{
    (void)state;
    rd_arena_deinit(&huge_arena);
    return 0;
}

static void test_huge_request_fails(void **state)
{
    (void)state;
    rd_arena *a = &huge_arena;
    rd_arena_init(a, 0);
    assert_null(rd_arena_alloc(a, SIZE_MAX));
    assert_null(rd_arena_alloc(a, SIZE_MAX - 1));
    /* Already a multiple of the alignment, so rounding up does not overflow, but adding
     * the chunk header does: the arena must not hand out a pointer past a tiny block. */
    assert_null(rd_arena_alloc(a, SIZE_MAX - (_Alignof(max_align_t) - 1)));
    assert_null(rd_arena_alloc(a, SIZE_MAX / 2 + 1));
    /* The arena is still usable. */
    char *p = rd_arena_alloc(a, 16);
    assert_non_null(p);
    memset(p, 0, 16);
}

static void test_arena_oom(void **state)
{
    (void)state;
    struct hook h = {.fail_at = 1};
    rd_set_allocator(hook_alloc, &h);
    rd_arena a;
    rd_arena_init(&a, 0);
    assert_null(rd_arena_alloc(&a, 10));
    assert_null(a.head);
    /* The next allocation succeeds: a failure leaves the arena consistent. */
    char *p = rd_arena_alloc(&a, 10);
    assert_non_null(p);
    memcpy(p, "123456789", 10);

    /* Growing into a second chunk fails; the first chunk's data is untouched. */
    h.allocs = 0;
    h.fail_at = 1;
    assert_null(rd_arena_alloc(&a, 100000));
    assert_string_equal(p, "123456789");
    assert_string_equal(rd_arena_strndup(&a, "abc", 3), "abc"); /* fits the first chunk */
    rd_arena_deinit(&a);

    /* rd_strb: the failure is sticky and reported. */
    h.allocs = 0;
    h.fail_at = 2;
    rd_arena_init(&a, 0);
    rd_strb sb;
    rd_strb_init(&sb, &a);
    rd_strb_add(&sb, "abc", 3);
    assert_false(sb.oom);
    char big[5000];
    memset(big, 'x', sizeof(big));
    rd_strb_add(&sb, big, sizeof(big)); /* needs a second chunk: fails */
    assert_true(sb.oom);
    rd_strb_add(&sb, "d", 1);
    assert_true(sb.oom);
    assert_string_equal(sb.p, "abc");
    rd_arena_deinit(&a);
    rd_set_allocator(NULL, NULL);
}

/* ---- rd_strb ---- */

static void test_strb(void **state)
{
    (void)state;
    rd_arena a;
    rd_arena_init(&a, 0);
    rd_strb sb;
    rd_strb_init(&sb, &a);
    assert_int_equal(sb.len, 0);
    rd_strb_add(&sb, "", 0);
    assert_non_null(sb.p);
    assert_string_equal(sb.p, "");
    rd_strb_add(&sb, "ab\0cd", 5); /* embedded NUL kept, len counts it */
    assert_int_equal(sb.len, 5);
    assert_memory_equal(sb.p, "ab\0cd", 6);
    char expect[2000];
    memcpy(expect, "ab\0cd", 5);
    size_t n = 5;
    for (int i = 0; i < 150; i++) { /* several growths, each copying the old content */
        char piece[16];
        int k = snprintf(piece, sizeof(piece), "<%d>", i);
        rd_strb_add(&sb, piece, (size_t)k);
        memcpy(expect + n, piece, (size_t)k);
        n += (size_t)k;
    }
    assert_false(sb.oom);
    assert_int_equal(sb.len, n);
    assert_memory_equal(sb.p, expect, n);
    assert_int_equal(sb.p[n], '\0');
    assert_true(sb.cap > sb.len);

    /* Under an arena limit the builder stops with oom set instead of writing past it. */
    rd_arena small;
    rd_arena_init(&small, 128);
    rd_strb_init(&sb, &small);
    for (int i = 0; i < 20; i++)
        rd_strb_add(&sb, "0123456789", 10);
    assert_true(sb.oom);
    assert_true(small.used_bytes <= 128);
    assert_true(sb.len < 200);
    rd_arena_deinit(&small);
    rd_arena_deinit(&a);
}

/* ---- rd_buf ---- */

static void test_buf(void **state)
{
    (void)state;
    rd_buf b;
    rd_buf_init(&b);
    assert_string_equal(rd_buf_cstr(&b), "");
    assert_int_equal(rd_buf_puts(&b, "x="), RD_OK);
    assert_int_equal(rd_buf_printf(&b, "%d|%s|%.2f|%05x", -42, "str", 1.5, 0xbeefu), RD_OK);
    assert_int_equal(rd_buf_putc(&b, '!'), RD_OK);
    assert_string_equal(rd_buf_cstr(&b), "x=-42|str|1.50|0beef!");
    assert_int_equal(b.len, strlen("x=-42|str|1.50|0beef!"));

    /* A formatted piece far larger than the initial capacity. */
    char big[3000];
    memset(big, 'y', sizeof(big) - 1);
    big[sizeof(big) - 1] = '\0';
    rd_buf_reset(&b);
    assert_string_equal(rd_buf_cstr(&b), "");
    assert_int_equal(rd_buf_printf(&b, "[%s]", big), RD_OK);
    assert_int_equal(b.len, sizeof(big) + 1);
    assert_int_equal(rd_buf_cstr(&b)[0], '[');
    assert_int_equal(rd_buf_cstr(&b)[b.len - 1], ']');
    assert_int_equal(rd_buf_cstr(&b)[b.len], '\0');

    /* printf after other content appends, and the result stays NUL-terminated. */
    assert_int_equal(rd_buf_printf(&b, "%s", ""), RD_OK);
    assert_int_equal(b.len, sizeof(big) + 1);
    assert_int_equal(rd_buf_append(&b, "\0z", 2), RD_OK);
    assert_int_equal(b.len, sizeof(big) + 3);
    assert_int_equal(b.data[b.len], '\0');
    rd_buf_deinit(&b);
    assert_null(b.data);
    assert_int_equal(b.len, 0);
}

static void test_buf_oom(void **state)
{
    (void)state;
    struct hook h = {.fail_at = 1};
    rd_set_allocator(hook_alloc, &h);
    rd_buf b;
    rd_buf_init(&b);
    assert_int_equal(rd_buf_puts(&b, "hello"), RD_ENOMEM);
    assert_true(b.oom);
    assert_string_equal(rd_buf_cstr(&b), "");
    /* Sticky: later appends fail even though the allocator works again. */
    assert_int_equal(rd_buf_putc(&b, 'x'), RD_ENOMEM);
    assert_int_equal(rd_buf_printf(&b, "%d", 1), RD_ENOMEM);
    assert_string_equal(rd_buf_cstr(&b), "");
    /* A reset clears the condition. */
    rd_buf_reset(&b);
    assert_int_equal(rd_buf_puts(&b, "ok"), RD_OK);
    assert_string_equal(rd_buf_cstr(&b), "ok");

    /* Failing a growth keeps the old storage (no leak: ASan checks) and reports oom. */
    h.allocs = 0;
    h.fail_at = 1;
    char big[1000];
    memset(big, 'z', sizeof(big));
    assert_int_equal(rd_buf_append(&b, big, sizeof(big)), RD_ENOMEM);
    assert_true(b.oom);
    assert_string_equal(rd_buf_cstr(&b), "");
    h.allocs = 0;
    h.fail_at = 1;
    rd_buf_reset(&b);
    assert_int_equal(rd_buf_printf(&b, "%s", "short"), RD_OK); /* fits: no allocation */
    assert_int_equal(rd_buf_printf(&b, "%.*s", 900, big), RD_ENOMEM);
    assert_string_equal(rd_buf_cstr(&b), "");
    rd_buf_deinit(&b);

    /* rd_strndup and rd_calloc report failure too. */
    h.allocs = 0;
    h.fail_at = 1;
    assert_null(rd_strndup("abc", 3));
    h.allocs = 0;
    assert_null(rd_calloc(4, 4));
    assert_null(rd_calloc(SIZE_MAX / 2, 4)); /* overflow caught before any call */
    rd_set_allocator(NULL, NULL);

    char *s = rd_strndup("abcdef", 3);
    assert_string_equal(s, "abc");
    rd_free(s);
    int *z = rd_calloc(8, sizeof(int));
    for (int i = 0; i < 8; i++)
        assert_int_equal(z[i], 0);
    rd_free(z);
    rd_free(NULL);
}

/* ---- rd_file_read ---- */

static char tmpdir[64];

static void tmp_path(char *out, size_t n, const char *name) { snprintf(out, n, "%s/%s", tmpdir, name); }

static void write_file(const char *path, const void *data, size_t n)
{
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    if (n)
        assert_int_equal(fwrite(data, 1, n, f), n);
    assert_int_equal(fclose(f), 0);
}

static int file_setup(void **state)
{
    (void)state;
    snprintf(tmpdir, sizeof(tmpdir), "/tmp/riskd-test-arena-XXXXXX");
    return mkdtemp(tmpdir) ? 0 : -1;
}

static int file_teardown(void **state)
{
    (void)state;
    static const char *names[] = {"data.bin", "empty", "big"};
    char p[128];
    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
        tmp_path(p, sizeof(p), names[i]);
        unlink(p);
    }
    rmdir(tmpdir);
    rd_set_allocator(NULL, NULL);
    return 0;
}

static void test_file_read(void **state)
{
    (void)state;
    char path[128];
    tmp_path(path, sizeof(path), "data.bin");
    static const char data[] = "line 1\n\0binary\xff\n";
    write_file(path, data, sizeof(data) - 1);

    char *out = NULL;
    size_t len = 0;
    rd_err err;
    assert_int_equal(rd_file_read(path, 0, &out, &len, &err), RD_OK);
    assert_int_equal(len, sizeof(data) - 1);
    assert_memory_equal(out, data, len);
    assert_int_equal(out[len], '\0');
    rd_free(out);

    /* Exactly max_bytes is allowed; one byte less is a limit error. */
    out = NULL;
    assert_int_equal(rd_file_read(path, sizeof(data) - 1, &out, &len, &err), RD_OK);
    rd_free(out);
    out = (char *)(uintptr_t)0x1;
    len = 77;
    assert_int_equal(rd_file_read(path, sizeof(data) - 2, &out, &len, &err), RD_ELIMIT);
    assert_int_equal(err.code, RD_ELIMIT);
    assert_non_null(strstr(err.msg, path));
    assert_ptr_equal(out, (char *)(uintptr_t)0x1); /* untouched */
    assert_int_equal(len, 77);
}

static void test_file_read_big_over_limit(void **state)
{
    (void)state;
    /* Larger than the internal read chunk, so the limit is checked across reads. */
    char path[128];
    tmp_path(path, sizeof(path), "big");
    size_t n = 200000;
    char *data = malloc(n);
    assert_non_null(data);
    for (size_t i = 0; i < n; i++)
        data[i] = (char)('a' + (char)(i % 23));
    write_file(path, data, n);
    char *out = NULL;
    size_t len = 0;
    rd_err err;
    assert_int_equal(rd_file_read(path, 100000, &out, &len, &err), RD_ELIMIT);
    assert_null(out);
    assert_int_equal(rd_file_read(path, 0, &out, &len, &err), RD_OK);
    assert_int_equal(len, n);
    assert_memory_equal(out, data, n);
    rd_free(out);

    /* Out of memory while reading: RD_ENOMEM, nothing leaked, output untouched. */
    struct hook h = {.fail_at = 2};
    rd_set_allocator(hook_alloc, &h);
    out = NULL;
    assert_int_equal(rd_file_read(path, 0, &out, &len, &err), RD_ENOMEM);
    assert_int_equal(err.code, RD_ENOMEM);
    assert_null(out);
    rd_set_allocator(NULL, NULL);
    free(data);
}

static void test_file_read_empty_and_missing(void **state)
{
    (void)state;
    char path[128];
    tmp_path(path, sizeof(path), "empty");
    write_file(path, "", 0);
    char *out = NULL;
    size_t len = 99;
    rd_err err;
    assert_int_equal(rd_file_read(path, 10, &out, &len, &err), RD_OK);
    assert_non_null(out); /* a real, empty, NUL-terminated buffer */
    assert_int_equal(len, 0);
    assert_string_equal(out, "");
    rd_free(out);

    tmp_path(path, sizeof(path), "no-such-file.json");
    out = NULL;
    assert_int_equal(rd_file_read(path, 0, &out, &len, &err), RD_EIO);
    assert_int_equal(err.code, RD_EIO);
    assert_non_null(strstr(err.msg, path));
    assert_null(out);
    assert_int_equal(rd_file_read(path, 0, &out, &len, NULL), RD_EIO);

    /* A directory opens but cannot be read: still RD_EIO naming it. */
    assert_int_equal(rd_file_read(tmpdir, 0, &out, &len, &err), RD_EIO);
    assert_non_null(strstr(err.msg, tmpdir));
    assert_null(out);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_alignment),
        cmocka_unit_test_teardown(test_many_chunks_then_reset_needs_no_malloc, restore_allocator),
        cmocka_unit_test(test_limit),
        cmocka_unit_test_teardown(test_arena_oom, restore_allocator),
        cmocka_unit_test(test_strb),
        cmocka_unit_test(test_buf),
        cmocka_unit_test_teardown(test_buf_oom, restore_allocator),
        cmocka_unit_test_teardown(test_file_read, restore_allocator),
        cmocka_unit_test_teardown(test_file_read_big_over_limit, restore_allocator),
        cmocka_unit_test_teardown(test_file_read_empty_and_missing, restore_allocator),
        /* Last: if the size overflow comes back, ASan aborts the process here. */
        cmocka_unit_test_teardown(test_huge_request_fails, huge_teardown),
    };
    return cmocka_run_group_tests(tests, file_setup, file_teardown);
}
