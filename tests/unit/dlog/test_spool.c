/* The decision log's spool (src/lib/dlog/spool.c) and the writer's outage path (writer.c).
 *
 * The file: append, read and advance in order, reopened with what waits, a torn tail and a
 * damaged record cut off (with a log line) and never read, a torn header slot falling back to
 * the other, a crash between the truncation and the head's reset, a record larger than a read,
 * a foreign file refused untouched, a second process locked out.
 *
 * The writer on SQLite, with the store's log append made to fail with RD_ESTORE (the one
 * answer that spools; SQLite itself never gives it): every record acknowledged while it is
 * down, drained in submission order when it is back, nothing lost or twice; new records queued
 * behind a spool that waits; the bound (records past it fail, one log line); a spool left by a
 * stopped writer drained first by the next; a record the store refuses for good dropped alone
 * after three tries; no spool: failures as before; SQLite never spools.
 *
 * On PostgreSQL (when RISKD_PG_URL says it is installed, on a cluster of this test's own, which
 * it stops and restarts): the outage drill (N rows, the server stopped, M more all
 * acknowledged, restarted, exactly N + M rows in submission order), then a writer killed
 * mid-drain, once between a chunk's commit and the head's advance and once by SIGKILL, and a
 * restart: still exactly N + M (+ the K submitted after), no duplicates. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "dlog/dlog_int.h"
#include "riskd/clock.h"
#include "riskd/dlog.h"
#include "store/store_int.h"

#define BASE_MS 1800000000000LL
#define HDR     64

static char dir[64];
static char path[128];

/* ------------------------------------------------------------------ log lines */

static pthread_mutex_t log_lock = PTHREAD_MUTEX_INITIALIZER;
static char logged[16384];
static int lines;

static void on_log(void *ud, rd_dlog_level level, const char *msg)
{
    (void)ud;
    pthread_mutex_lock(&log_lock);
    size_t n = strlen(logged);
    snprintf(logged + n, sizeof logged - n, "%d %s\n", (int)level, msg);
    lines++;
    pthread_mutex_unlock(&log_lock);
}

static void log_reset(void)
{
    pthread_mutex_lock(&log_lock);
    logged[0] = '\0';
    lines = 0;
    pthread_mutex_unlock(&log_lock);
}

static int log_count(const char *needle)
{
    pthread_mutex_lock(&log_lock);
    int n = 0;
    for (const char *p = logged; (p = strstr(p, needle)) != NULL; p++)
        n++;
    pthread_mutex_unlock(&log_lock);
    return n;
}

/* ------------------------------------------------------------------ fixtures */

static int setup(void **state)
{
    (void)state;
    strcpy(dir, "/tmp/riskd-spool-XXXXXX");
    assert_non_null(mkdtemp(dir));
    snprintf(path, sizeof path, "%s/dlog.spool", dir);
    log_reset();
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    assert_int_equal(system(cmd), 0);
    return 0;
}

static char rid[64][32], rec[64][96];

static rd_log_row row(int i)
{
    int k = i % 64;
    snprintf(rid[k], sizeof rid[k], "r-%06d", i);
    snprintf(rec[k], sizeof rec[k], "{\"v\":1,\"request_id\":\"r-%06d\",\"score\":0.%d}", i, i % 1000);
    return (rd_log_row){.ts_ms = BASE_MS + i,
                        .request_id = rid[k],
                        .kind = i % 7 == 3 ? "shadow" : "primary",
                        .model_version = i % 5 == 0 ? NULL : "demo_lr_v1.0",
                        .record = rec[k],
                        .record_len = strlen(rec[k])};
}

static void check_row(const rd_log_row *r, int i)
{
    rd_log_row w = row(i);
    assert_int_equal(r->ts_ms, w.ts_ms);
    assert_string_equal(r->request_id, w.request_id);
    assert_string_equal(r->kind, w.kind);
    if (w.model_version)
        assert_string_equal(r->model_version, w.model_version);
    else
        assert_null(r->model_version);
    assert_int_equal(r->record_len, w.record_len);
    assert_memory_equal(r->record, w.record, w.record_len);
    assert_int_equal(r->record[r->record_len], '\0'); /* libpq's text parameters need it */
}

static void append_range(rd__spool *sp, int from, int to)
{
    rd_err err;
    for (int i = from; i < to; i++) {
        rd_log_row r = row(i);
        assert_int_equal(rd__spool_append(sp, &r, 1, &err), RD_OK);
    }
}

/* Read everything waiting, expecting rows from..to in order; advance past them. */
static void drain_expect(rd__spool *sp, int from, int to, size_t chunk)
{
    rd_err err;
    int i = from;
    for (;;) {
        const rd_log_row *rows;
        size_t n;
        assert_int_equal(rd__spool_read(sp, chunk, &rows, &n, &err), RD_OK);
        if (!n)
            break;
        for (size_t k = 0; k < n; k++)
            check_row(&rows[k], i++);
        assert_int_equal(rd__spool_advance(sp, n, &err), RD_OK);
    }
    assert_int_equal(i, to);
    assert_int_equal(rd__spool_records(sp), 0);
}

static off_t file_size(const char *p)
{
    struct stat st;
    assert_int_equal(stat(p, &st), 0);
    return st.st_size;
}

static void truncate_to(const char *p, off_t size) { assert_int_equal(truncate(p, size), 0); }

static void poke(const char *p, off_t at, const void *bytes, size_t n)
{
    int fd = open(p, O_WRONLY);
    assert_true(fd >= 0);
    assert_int_equal(pwrite(fd, bytes, n, at), (ssize_t)n);
    close(fd);
}

/* One bit of the byte at offset at flipped on the disk (a record's checksum then fails). */
static void flip_bit(off_t at)
{
    char c;
    int fd = open(path, O_RDWR);
    assert_true(fd >= 0);
    assert_int_equal(pread(fd, &c, 1, at), 1);
    c ^= 0x04;
    assert_int_equal(pwrite(fd, &c, 1, at), 1);
    close(fd);
}

static rd__spool *open_spool(void)
{
    rd__spool *sp;
    rd_err err;
    assert_int_equal(rd__spool_open(path, on_log, NULL, &sp, &err), RD_OK);
    return sp;
}

/* Read k records from the head (k must wait there) and advance past them. */
static void take(rd__spool *sp, size_t k)
{
    const rd_log_row *got;
    size_t n;
    rd_err err;
    assert_int_equal(rd__spool_read(sp, k, &got, &n, &err), RD_OK);
    assert_int_equal(n, k);
    assert_int_equal(rd__spool_advance(sp, n, &err), RD_OK);
}

/* ------------------------------------------------------------------ the file */

static void test_file_append_read_advance(void **state)
{
    (void)state;
    rd_err err;
    rd__spool *sp = open_spool();
    assert_int_equal(file_size(path), HDR);
    assert_int_equal(rd__spool_records(sp), 0);
    rd_log_row rows[5];
    uint64_t bytes = 0;
    for (int i = 0; i < 5; i++) {
        rows[i] = row(i);
        bytes += rd__spool_row_bytes(&rows[i]);
    }
    assert_int_equal(rd__spool_append(sp, rows, 5, &err), RD_OK);
    assert_int_equal(rd__spool_records(sp), 5);
    assert_int_equal(rd__spool_bytes(sp), bytes);
    assert_int_equal(file_size(path), HDR + (off_t)bytes);

    const rd_log_row *got;
    size_t n;
    assert_int_equal(rd__spool_read(sp, 2, &got, &n, &err), RD_OK);
    assert_int_equal(n, 2);
    check_row(&got[0], 0);
    check_row(&got[1], 1);
    /* read again without advancing: the same records (the store did not take them) */
    assert_int_equal(rd__spool_read(sp, 3, &got, &n, &err), RD_OK);
    assert_int_equal(n, 3);
    check_row(&got[0], 0);
    assert_int_equal(rd__spool_advance(sp, 2, &err), RD_OK); /* only the first two were taken */
    assert_int_equal(rd__spool_records(sp), 3);
    append_range(sp, 5, 8); /* behind what waits */
    drain_expect(sp, 2, 8, 2);
    assert_int_equal(file_size(path), HDR); /* drained: cut back to the header */
    assert_int_equal(rd__spool_bytes(sp), 0);
    append_range(sp, 8, 10);
    drain_expect(sp, 8, 10, 100);
    rd__spool_close(sp);
    assert_int_equal(lines, 0);
}

static void test_file_reopen(void **state)
{
    (void)state;
    rd__spool *sp = open_spool();
    append_range(sp, 0, 10);
    take(sp, 4);
    rd__spool_close(sp);
    /* a crash after the fourth record's commit: the next run starts at the fifth */
    sp = open_spool();
    assert_int_equal(rd__spool_records(sp), 6);
    assert_non_null(strstr(logged, "6 decision records"));
    assert_non_null(strstr(logged, "left by a previous run"));
    drain_expect(sp, 4, 10, 3);
    rd__spool_close(sp);
    sp = open_spool();
    assert_int_equal(rd__spool_records(sp), 0);
    rd__spool_close(sp);
}

static void test_file_torn_tail(void **state)
{
    (void)state;
    rd__spool *sp = open_spool();
    append_range(sp, 0, 3);
    off_t whole = file_size(path);
    append_range(sp, 3, 4);
    rd__spool_close(sp);
    /* the last record's write cut short by a crash: every length of it is a torn tail */
    off_t full = file_size(path);
    for (off_t cut = whole + 1; cut < full; cut += 7) {
        truncate_to(path, cut);
        log_reset();
        sp = open_spool();
        assert_int_equal(rd__spool_records(sp), 3);
        assert_int_equal(log_count("do not read back as whole records"), 1);
        assert_int_equal(file_size(path), whole); /* cut off, so the next append follows record 3 */
        rd__spool_close(sp);
    }
    /* garbage after the last record (a write of zeros, a stray block) */
    char junk[300];
    memset(junk, 0x5a, sizeof junk);
    poke(path, whole, junk, sizeof junk);
    log_reset();
    sp = open_spool();
    assert_int_equal(rd__spool_records(sp), 3);
    assert_int_equal(log_count("300 bytes at offset"), 1);
    append_range(sp, 3, 6); /* appends go where the torn tail was */
    drain_expect(sp, 0, 6, 4);
    rd__spool_close(sp);
}

static void test_file_damaged_record(void **state)
{
    (void)state;
    rd_err err;
    rd__spool *sp = open_spool();
    append_range(sp, 0, 5);
    rd__spool_close(sp);
    rd_log_row r0 = row(0);
    off_t at = HDR + (off_t)rd__spool_row_bytes(&r0); /* record 1 starts here */
    /* one bit of record 1's payload flipped on the disk: its checksum fails at open */
    flip_bit(at + 30);
    log_reset();
    sp = open_spool();
    assert_int_equal(rd__spool_records(sp), 1); /* record 0 only: nothing after a bad record is trusted */
    assert_int_equal(log_count("do not read back"), 1);
    drain_expect(sp, 0, 1, 10);
    rd__spool_close(sp);

    /* damaged after the open (read by a drain): cut there, the records before it returned */
    sp = open_spool();
    append_range(sp, 0, 5);
    flip_bit(at + 30);
    log_reset();
    const rd_log_row *got;
    size_t n;
    assert_int_equal(rd__spool_read(sp, 10, &got, &n, &err), RD_OK);
    assert_int_equal(n, 1);
    check_row(&got[0], 0);
    assert_int_equal(log_count("does not read back (checksum)"), 1);
    assert_int_equal(log_count("the 3 records after it"), 1);
    assert_int_equal(rd__spool_records(sp), 1);
    assert_int_equal(rd__spool_advance(sp, 1, &err), RD_OK);
    assert_int_equal(file_size(path), HDR);
    rd__spool_close(sp);
}

static void test_file_header_slots(void **state)
{
    (void)state;
    rd__spool *sp = open_spool(); /* gen 1 in slot 1 (0 in 0) */
    append_range(sp, 0, 6);
    take(sp, 2); /* gen 2: slot 0 */
    take(sp, 2); /* gen 3: slot 1 */
    rd__spool_close(sp);
    /* the last head write torn (slot 1 garbled): slot 0's head holds, two records come again */
    poke(path, 32 + 12, "\xff\xff", 2);
    sp = open_spool();
    assert_int_equal(rd__spool_records(sp), 4);
    drain_expect(sp, 2, 6, 10);
    rd__spool_close(sp);
}

static void test_file_cut_back_crash(void **state)
{
    (void)state;
    rd__spool *sp = open_spool();
    append_range(sp, 0, 4);
    take(sp, 1);
    rd__spool_close(sp);
    /* drained, truncated, and the crash came before the head was reset: the head is past the
     * end, which reads as empty, and the appends after it are not read from the old head */
    truncate_to(path, HDR);
    sp = open_spool();
    assert_int_equal(rd__spool_records(sp), 0);
    append_range(sp, 10, 14);
    rd__spool_close(sp);
    sp = open_spool();
    assert_int_equal(rd__spool_records(sp), 4);
    drain_expect(sp, 10, 14, 10);
    rd__spool_close(sp);
}

static void test_file_large_record(void **state)
{
    (void)state;
    rd_err err;
    rd__spool *sp = open_spool();
    size_t big = (5u << 20) + 17; /* larger than one read (1 MiB) */
    char *text = malloc(big);
    assert_non_null(text);
    for (size_t i = 0; i < big; i++)
        text[i] = (char)('a' + i % 26);
    rd_log_row r[3] = {row(0), row(1), row(2)};
    r[1].record = text;
    r[1].record_len = big;
    assert_int_equal(rd__spool_append(sp, r, 3, &err), RD_OK);
    rd__spool_close(sp);
    sp = open_spool();
    assert_int_equal(rd__spool_records(sp), 3);
    const rd_log_row *got;
    size_t n, seen = 0;
    while (seen < 3) {
        assert_int_equal(rd__spool_read(sp, 10, &got, &n, &err), RD_OK);
        assert_true(n > 0);
        for (size_t k = 0; k < n; k++, seen++) {
            if (seen == 1) {
                assert_int_equal(got[k].record_len, big);
                assert_memory_equal(got[k].record, text, big);
            } else {
                check_row(&got[k], (int)seen);
            }
        }
        assert_int_equal(rd__spool_advance(sp, n, &err), RD_OK);
    }
    rd__spool_close(sp);
    free(text);
    assert_int_equal(log_count("left by a previous run"), 1);
    assert_int_equal(log_count("read back"), 0);
}

static void test_file_refusals(void **state)
{
    (void)state;
    rd_err err;
    rd__spool *other, *sp = open_spool();
    /* a second writer on the same spool (two riskd on one data directory) */
    assert_int_equal(rd__spool_open(path, on_log, NULL, &other, &err), RD_EIO);
    assert_non_null(strstr(err.msg, "another process is using this spool"));
    rd__spool_close(sp);
    /* a file that is not a spool is left alone */
    char foreign[128];
    snprintf(foreign, sizeof foreign, "%s/notes.txt", dir);
    FILE *f = fopen(foreign, "w");
    assert_non_null(f);
    for (int i = 0; i < 20; i++)
        fputs("not a spool at all\n", f);
    fclose(f);
    off_t size = file_size(foreign);
    assert_int_equal(rd__spool_open(foreign, on_log, NULL, &sp, &err), RD_EINVAL);
    assert_non_null(strstr(err.msg, "not a decision log spool"));
    assert_int_equal(file_size(foreign), size);
    /* a directory that does not exist */
    assert_int_equal(rd__spool_open("/nonexistent-riskd/dlog.spool", on_log, NULL, &sp, &err), RD_EIO);
    assert_non_null(strstr(err.msg, "/nonexistent-riskd/dlog.spool"));
    /* a header whose creation was cut short (fewer than 64 bytes): a new spool */
    truncate_to(path, 20);
    sp = open_spool();
    assert_int_equal(rd__spool_records(sp), 0);
    rd__spool_close(sp);
}

/* Format 2: a record's uid and node come back as written (a NULL node as NULL). */
static void test_file_uid_node(void **state)
{
    (void)state;
    rd__spool *sp = open_spool();
    rd_log_row w[2] = {row(0), row(1)};
    for (int i = 0; i < RD_LOG_UID_BYTES; i++)
        w[0].uid[i] = (uint8_t)(0xf0 + i);
    w[0].node = "node-a";
    rd_err err;
    assert_int_equal(rd__spool_append(sp, w, 2, &err), RD_OK);
    rd__spool_close(sp);
    sp = open_spool();
    const rd_log_row *r;
    size_t n;
    assert_int_equal(rd__spool_read(sp, 10, &r, &n, &err), RD_OK);
    assert_int_equal(n, 2);
    check_row(&r[0], 0);
    check_row(&r[1], 1);
    assert_memory_equal(r[0].uid, w[0].uid, RD_LOG_UID_BYTES);
    assert_string_equal(r[0].node, "node-a");
    static const uint8_t zero[RD_LOG_UID_BYTES];
    assert_memory_equal(r[1].uid, zero, RD_LOG_UID_BYTES);
    assert_null(r[1].node);
    rd__spool_close(sp);
}

/* CRC-32C, to write a format 1 spool as an older riskd did. */
static uint32_t crc32c(uint32_t crc, const unsigned char *p, size_t n)
{
    crc = ~crc;
    while (n--) {
        crc ^= *p++;
        for (int k = 0; k < 8; k++)
            crc = crc & 1 ? (crc >> 1) ^ 0x82f63b78u : crc >> 1;
    }
    return ~crc;
}

static void le32(unsigned char *p, uint32_t v)
{
    for (int i = 0; i < 4; i++)
        p[i] = (unsigned char)(v >> (8 * i));
}

static void le64(unsigned char *p, uint64_t v)
{
    le32(p, (uint32_t)v);
    le32(p + 4, (uint32_t)(v >> 32));
}

/* A format 1 spool (riskd before record ids: "RDSPOOL1", records of ts and four lengths)
 * holding rows 0..n. */
static void write_v1(int n)
{
    unsigned char buf[8192];
    size_t at = HDR;
    memset(buf, 0, HDR);
    for (int slot = 0; slot < 2; slot++) {
        unsigned char *h = buf + 32 * slot;
        memcpy(h, "RDSPOOL1", 8);
        le64(h + 8, slot ? 0 : 1);
        le64(h + 16, HDR);
        le32(h + 28, crc32c(0, h, 28));
    }
    for (int i = 0; i < n; i++) {
        rd_log_row r = row(i);
        uint32_t lid = (uint32_t)strlen(r.request_id), lk = (uint32_t)strlen(r.kind),
                 lm = r.model_version ? (uint32_t)strlen(r.model_version) : 0, lr = (uint32_t)r.record_len;
        uint32_t len = 24 + lid + lk + lm + lr;
        unsigned char *p = buf + at, *q = p + 8;
        le64(q, (uint64_t)r.ts_ms);
        le32(q + 8, lid);
        le32(q + 12, lk);
        le32(q + 16, r.model_version ? lm : 0xffffffffu);
        le32(q + 20, lr);
        q += 24;
        memcpy(q, r.request_id, lid), q += lid;
        memcpy(q, r.kind, lk), q += lk;
        if (lm)
            memcpy(q, r.model_version, lm), q += lm;
        memcpy(q, r.record, lr);
        le32(p, len);
        le32(p + 4, crc32c(crc32c(0, p, 4), p + 8, len));
        at += 8 + len;
    }
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, buf, at), (ssize_t)at);
    close(fd);
}

/* A spool an upgrade finds (format 1) drains: its rows read back without uid or node, the
 * format 2 records appended behind them read back whole, in order, after a reopen too; the
 * header is format 2 from its next write. */
static void test_file_format1(void **state)
{
    (void)state;
    write_v1(5);
    rd__spool *sp = open_spool();
    assert_int_equal(log_count("5 decision records"), 1);
    assert_int_equal(rd__spool_records(sp), 5);
    append_range(sp, 5, 8);
    rd__spool_close(sp);
    sp = open_spool();
    assert_int_equal(rd__spool_records(sp), 8);
    const rd_log_row *r;
    size_t n;
    rd_err err;
    assert_int_equal(rd__spool_read(sp, 2, &r, &n, &err), RD_OK);
    assert_int_equal(n, 2);
    static const uint8_t zero[RD_LOG_UID_BYTES];
    for (size_t k = 0; k < n; k++) {
        check_row(&r[k], (int)k);
        assert_memory_equal(r[k].uid, zero, RD_LOG_UID_BYTES);
        assert_null(r[k].node);
    }
    assert_int_equal(rd__spool_advance(sp, 2, &err), RD_OK);
    char slots[65] = "";
    int fd = open(path, O_RDONLY);
    assert_int_equal(pread(fd, slots, 64, 0), 64);
    close(fd);
    /* the slot the head went to (the other one is the previous head's) */
    assert_true(!memcmp(slots, "RDSPOOL2", 8) || !memcmp(slots + 32, "RDSPOOL2", 8));
    rd__spool_close(sp);
    sp = open_spool();
    drain_expect(sp, 2, 8, 3);
    rd__spool_close(sp);
}

/* ------------------------------------------------------------------ the writer on SQLite,
 * its log append made unreachable on demand */

static rd_store_ops faulty;
static atomic_bool store_down;
static char poison[32]; /* a request id the store refuses (not RD_ESTORE); set before the writer starts */
static atomic_int refusals;

static int fault_append(rd_store *s, const rd_log_row *rows, size_t n, rd_err *err)
{
    if (atomic_load(&store_down))
        return rd_err_set(err, RD_ESTORE, "test: the database is unreachable");
    for (size_t i = 0; poison[0] && i < n; i++)
        if (!strcmp(rows[i].request_id, poison)) {
            atomic_fetch_add(&refusals, 1);
            return rd_err_set(err, RD_EIO, "test: 22021: invalid byte sequence");
        }
    return rd__sqlite_store.log_append(s, rows, n, err);
}

static int fault_ping(rd_store *s, rd_err *err)
{
    (void)s;
    return atomic_load(&store_down) ? rd_err_set(err, RD_ESTORE, "test: the database is unreachable") : RD_OK;
}

static rd_store *open_faulty(void)
{
    rd_store *s;
    rd_err err;
    assert_int_equal(rd_store_open(dir, NULL, &s, &err), RD_OK);
    faulty = rd__sqlite_store;
    faulty.log_append = fault_append;
    faulty.ping = fault_ping;
    s->ops = &faulty;
    return s;
}

static rd_dlog *writer(rd_store *s, const char *spool, size_t max_bytes, size_t batch_max)
{
    rd_dlog_opts o = {.durability = RD_DLOG_ACK,
                      .batch_max = batch_max,
                      .spool_path = spool,
                      .spool_max_bytes = max_bytes,
                      .on_log = on_log};
    rd_dlog *l;
    rd_err err;
    assert_int_equal(rd_dlog_new(s, &o, &l, &err), RD_OK);
    return l;
}

/* Submit rows from..to; *ok receives how many rd_dlog_wait acknowledged. */
static int submit(rd_dlog *l, int from, int to)
{
    uint64_t seq[4096];
    assert_true(to - from <= 4096);
    for (int i = from; i < to; i++) {
        rd_log_row r = row(i);
        assert_int_equal(rd_dlog_submit(l, &r, &seq[i - from]), RD_OK);
    }
    int ok = 0;
    for (int i = from; i < to; i++)
        ok += rd_dlog_wait(l, seq[i - from]);
    return ok;
}

static rd_dlog_stats stats(rd_dlog *l)
{
    rd_dlog_stats st;
    rd_dlog_get_stats(l, &st);
    return st;
}

/* Wait (30 s at most: a hang, not a timing) until nothing waits in the spool. */
static void wait_drained(rd_dlog *l)
{
    int64_t deadline = rd_clock_ns() + 30000000000LL;
    while (stats(l).spool_records > 0 && rd_clock_ns() < deadline)
        usleep(20000);
    assert_int_equal(stats(l).spool_records, 0);
}

typedef struct got_rows {
    int n;
    int dup;
    int out_of_order;
    int last;
    char first_bad[64];
} got_rows;

static int collect(void *ud, const rd_log_row *r)
{
    got_rows *g = ud;
    int i = atoi(r->request_id + 2);
    if (i <= g->last) {
        g->out_of_order++;
        if (i == g->last)
            g->dup++;
        if (!g->first_bad[0])
            snprintf(g->first_bad, sizeof g->first_bad, "%s after r-%06d", r->request_id, g->last);
    }
    g->last = i;
    g->n++;
    return 0;
}

/* The store holds exactly the rows 0..n (minus skip, -1: none), in submission order by id. */
static void expect_stored(rd_store *s, int n, int skip)
{
    got_rows g = {.last = -1};
    rd_err err;
    assert_int_equal(rd_store_log_scan(s, NULL, collect, &g, &err), RD_OK);
    if (g.first_bad[0])
        print_message("out of order: %s\n", g.first_bad);
    assert_int_equal(g.out_of_order, 0);
    assert_int_equal(g.dup, 0);
    assert_int_equal(g.n, n - (skip >= 0));
    assert_int_equal(g.last, n - 1);
}

static void expect_stored_dir(int n, int skip)
{
    rd_store *s;
    rd_err err;
    assert_int_equal(rd_store_open(dir, &(rd_store_opts){.read_only = true}, &s, &err), RD_OK);
    expect_stored(s, n, skip);
    rd_store_close(s);
}

static void test_writer_outage(void **state)
{
    (void)state;
    rd_store *s = open_faulty();
    rd_dlog *l = writer(s, path, 0, 0);
    assert_int_equal(submit(l, 0, 100), 100);
    assert_int_equal(stats(l).spooled, 0);
    assert_false(stats(l).store_down);

    atomic_store(&store_down, true);
    /* every record acknowledged while the store is away: the spool has them */
    for (int from = 100; from < 1000; from += 100)
        assert_int_equal(submit(l, from, from + 100), 100);
    rd_dlog_stats st = stats(l);
    assert_true(st.store_down);
    assert_int_equal(st.spooled, 900);
    assert_int_equal(st.spool_records, 900);
    assert_true(st.spool_bytes > 900 * 40);
    assert_int_equal(st.failed, 0);
    assert_int_equal(st.committed, 1000);
    assert_int_equal(log_count("the store is unreachable"), 1);
    assert_int_equal(log_count("go to the spool"), 1);
    expect_stored_dir(100, -1);

    int64_t t0 = rd_clock_ns();
    atomic_store(&store_down, false);
    wait_drained(l);
    /* tried again 1 s after the loss (then 2 s, ...): within a few seconds, not at once */
    assert_true(rd_clock_ns() - t0 < 20000000000LL);
    st = stats(l);
    assert_false(st.store_down);
    assert_int_equal(st.drained, 900);
    assert_int_equal(st.failed, 0);
    assert_int_equal(file_size(path), HDR);
    assert_int_equal(log_count("the store answers again after"), 1);
    assert_int_equal(log_count("is drained"), 1);
    /* and records go straight to the store again */
    assert_int_equal(submit(l, 1000, 1010), 10);
    assert_int_equal(stats(l).spooled, 900);
    rd_dlog_free(l);
    expect_stored(s, 1010, -1);
    rd_store_close(s);
}

/* Records submitted while the spool drains go behind it, never past it. */
static void test_writer_order(void **state)
{
    (void)state;
    rd_store *s = open_faulty();
    rd_dlog *l = writer(s, path, 0, 50); /* small chunks: many rounds of queue and drain */
    atomic_store(&store_down, true);
    assert_int_equal(submit(l, 0, 2000), 2000);
    atomic_store(&store_down, false);
    /* submitted from another thread's point of view while the spool waits and drains */
    for (int from = 2000; from < 4000; from += 100)
        assert_int_equal(submit(l, from, from + 100), 100);
    wait_drained(l);
    rd_dlog_stats st = stats(l);
    assert_true(st.spooled >= 2000);
    assert_int_equal(st.drained, st.spooled);
    assert_int_equal(st.failed, 0);
    rd_dlog_free(l);
    expect_stored(s, 4000, -1);
    rd_store_close(s);
}

static void test_writer_bound(void **state)
{
    (void)state;
    rd_store *s = open_faulty();
    uint64_t max = 0;
    for (int i = 0; i < 10; i++) {
        rd_log_row r = row(i);
        r.node = rd_store_node(s); /* the writer's, spooled with each record */
        max += rd__spool_row_bytes(&r);
    }
    rd_dlog *l = writer(s, path, (size_t)max, 0); /* room for the first ten records exactly */
    atomic_store(&store_down, true);
    int ok = submit(l, 0, 30);
    assert_int_equal(ok, 10);
    rd_dlog_stats st = stats(l);
    assert_int_equal(st.spooled, 10);
    assert_int_equal(st.failed, 20);
    assert_int_equal(st.spool_bytes, max);
    /* more batches past the bound: still failed, one log line a minute, not one a batch */
    for (int i = 30; i < 40; i++)
        assert_int_equal(submit(l, i, i + 1), 0);
    assert_int_equal(log_count("is full"), 1);
    assert_int_equal(stats(l).failed, (uint64_t)(40 - ok));
    atomic_store(&store_down, false);
    wait_drained(l);
    assert_int_equal(stats(l).drained, (uint64_t)ok);
    rd_dlog_free(l);
    /* what was acknowledged is there, in order; what failed is not */
    got_rows g = {.last = -1};
    rd_err err;
    assert_int_equal(rd_store_log_scan(s, NULL, collect, &g, &err), RD_OK);
    assert_int_equal(g.n, ok);
    assert_int_equal(g.last, ok - 1);
    assert_int_equal(g.out_of_order, 0);
    rd_store_close(s);
}

/* A writer stopped during the outage leaves its spool; the next one drains it first. */
static void test_writer_restart(void **state)
{
    (void)state;
    rd_store *s = open_faulty();
    rd_dlog *l = writer(s, path, 0, 0);
    assert_int_equal(submit(l, 0, 50), 50);
    atomic_store(&store_down, true);
    assert_int_equal(submit(l, 50, 300), 250);
    rd_dlog_free(l); /* the store is away: nothing drained at the stop */
    assert_true(file_size(path) > HDR);
    expect_stored_dir(50, -1);

    log_reset();
    l = writer(s, path, 0, 0);
    assert_int_equal(log_count("250 decision records"), 1);
    assert_int_equal(stats(l).spool_records, 250);
    assert_int_equal(submit(l, 300, 320), 20); /* behind the spool, while the store is away */
    atomic_store(&store_down, false);
    wait_drained(l);
    assert_int_equal(submit(l, 320, 330), 10);
    rd_dlog_free(l);
    expect_stored(s, 330, -1);
    rd_store_close(s);
}

/* A record the store refuses for good (an error that is not RD_ESTORE) costs itself alone. */
static void test_writer_refused_record(void **state)
{
    (void)state;
    snprintf(poison, sizeof poison, "r-%06d", 57);
    atomic_store(&refusals, 0);
    rd_store *s = open_faulty();
    rd_dlog *l = writer(s, path, 0, 0);
    atomic_store(&store_down, true);
    assert_int_equal(submit(l, 0, 100), 100);
    atomic_store(&store_down, false);
    wait_drained(l); /* 1 s, then the chunk, one at a time, record 57 three times (1 s, 2 s) */
    rd_dlog_stats st = stats(l);
    assert_int_equal(st.undeliverable, 1);
    assert_int_equal(st.drained, 99);
    assert_int_equal(atomic_load(&refusals), 1 + 3);
    assert_int_equal(log_count("trying them one at a time"), 1);
    assert_int_equal(log_count("request r-000057 3 times"), 1);
    rd_dlog_free(l);
    poison[0] = '\0';
    expect_stored(s, 100, 57);
    rd_store_close(s);
}

/* Without a spool: a store that cannot be reached fails the records, as before. */
static void test_writer_no_spool(void **state)
{
    (void)state;
    rd_store *s = open_faulty();
    rd_dlog *l = writer(s, NULL, 0, 0);
    assert_int_equal(submit(l, 0, 10), 10);
    atomic_store(&store_down, true);
    assert_int_equal(submit(l, 10, 20), 0);
    rd_dlog_stats st = stats(l);
    assert_true(st.store_down);
    assert_int_equal(st.failed, 10);
    assert_int_equal(st.spooled, 0);
    atomic_store(&store_down, false);
    assert_int_equal(submit(l, 20, 30), 10);
    assert_false(stats(l).store_down);
    rd_dlog_free(l);
    assert_int_equal(access(path, F_OK), -1);
    rd_store_close(s);
}

/* SQLite answers or fails with an I/O error, never RD_ESTORE: the spool stays empty. */
static void test_writer_sqlite_never_spools(void **state)
{
    (void)state;
    rd_store *s;
    rd_err err;
    assert_int_equal(rd_store_open(dir, NULL, &s, &err), RD_OK);
    assert_false(rd_store_shared(s));
    rd_dlog *l = writer(s, path, 0, 0);
    assert_int_equal(submit(l, 0, 500), 500);
    rd_dlog_stats st = stats(l);
    assert_int_equal(st.spooled, 0);
    assert_int_equal(st.committed, 500);
    rd_dlog_free(l);
    assert_int_equal(file_size(path), HDR);
    expect_stored(s, 500, -1);
    rd_store_close(s);
}

/* ------------------------------------------------------------------ PostgreSQL */

static char pg_dir[64];
static char pg_why[512]; /* why the PostgreSQL cases are skipped, "" when they run */

static int sh_out(const char *cmd, char *out, size_t cap)
{
    FILE *p = popen(cmd, "r");
    if (!p)
        return -1;
    size_t n = fread(out, 1, cap - 1, p);
    out[n] = '\0';
    while (n && (out[n - 1] == '\n' || out[n - 1] == '\r'))
        out[--n] = '\0';
    return pclose(p);
}

static void pg_cmd(const char *what)
{
    char cmd[256], out[256];
    snprintf(cmd, sizeof cmd, "scripts/pg-cluster.sh %s %s 2>&1", what, pg_dir);
    int rc = sh_out(cmd, out, sizeof out);
    if (rc != 0)
        print_message("pg-cluster.sh %s: %s\n", what, out);
    assert_int_equal(rc, 0);
}

/* A fresh database of this test's cluster; its URL into url. */
static void pg_db(const char *name, char *url, size_t cap)
{
    char cmd[256];
    snprintf(cmd, sizeof cmd, "scripts/pg-cluster.sh createdb %s %s 2>&1", pg_dir, name);
    assert_int_equal(sh_out(cmd, url, cap), 0);
}

static int pg_setup(void **state)
{
    (void)state;
    if (!getenv("RISKD_PG_URL")) {
        snprintf(pg_why, sizeof pg_why, "postgresql not installed (RISKD_PG_URL unset)");
        return 0;
    }
    strcpy(pg_dir, "/tmp/riskd-spoolpg-XXXXXX");
    if (!mkdtemp(pg_dir))
        return -1;
    char cmd[256], url[256];
    snprintf(cmd, sizeof cmd, "scripts/pg-cluster.sh start %s 2>&1", pg_dir);
    if (sh_out(cmd, url, sizeof url) != 0) {
        snprintf(pg_why, sizeof pg_why, "cannot start a cluster: %.200s", url);
        return 0;
    }
    rd_store *s;
    rd_err err;
    int rc = rd_store_open(url, NULL, &s, &err);
    if (rc == RD_EINVAL && strstr(err.msg, "sqlite:DIR only"))
        snprintf(pg_why, sizeof pg_why, "this riskd has no postgresql backend yet (branch pg16 not merged)");
    else if (rc)
        snprintf(pg_why, sizeof pg_why, "cannot open %.200s: %.200s", url, err.msg);
    else
        rd_store_close(s);
    return 0;
}

static int pg_teardown(void **state)
{
    (void)state;
    if (pg_dir[0]) {
        char cmd[256];
        snprintf(cmd, sizeof cmd, "scripts/pg-cluster.sh destroy %s >/dev/null 2>&1", pg_dir);
        if (system(cmd) != 0)
            return -1;
    }
    return 0;
}

static bool pg_skip(void)
{
    if (!pg_why[0])
        return false;
    print_message("skipped: %s\n", pg_why);
    return true;
}

static rd_store *pg_open(const char *url)
{
    rd_store *s;
    rd_err err;
    int rc = rd_store_open(url, &(rd_store_opts){.node = "spool-test"}, &s, &err);
    if (rc)
        print_message("%s\n", err.msg);
    assert_int_equal(rc, RD_OK);
    return s;
}

static int count_rows(rd_store *s)
{
    got_rows g = {.last = -1};
    rd_err err;
    return rd_store_log_scan(s, NULL, collect, &g, &err) == RD_OK ? g.n : -1;
}

#define PG_N 1000
#define PG_M 3000

/* Submit rows from..to (a multiple of 500 apart) in rounds of 500, each acknowledged whole. */
static void submit_all(rd_dlog *l, int from, int to)
{
    for (int i = from; i < to; i += 500)
        assert_int_equal(submit(l, i, i + 500), 500);
}

/* The outage drill of issue 16: N rows, PostgreSQL stopped, M more (every one acknowledged,
 * spooled), PostgreSQL back, the spool drained: exactly N + M rows, in submission order. */
static void test_pg_outage(void **state)
{
    (void)state;
    if (pg_skip())
        skip();
    char url[256];
    pg_db("spool_outage", url, sizeof url);
    rd_store *s = pg_open(url);
    assert_true(rd_store_shared(s));
    rd_dlog *l = writer(s, path, 0, 0);
    submit_all(l, 0, PG_N);
    pg_cmd("stop");
    submit_all(l, PG_N, PG_N + PG_M);
    rd_dlog_stats st = stats(l);
    assert_true(st.store_down);
    assert_int_equal(st.spooled, PG_M);
    assert_int_equal(st.failed, 0);
    pg_cmd("restart");
    wait_drained(l);
    st = stats(l);
    assert_int_equal(st.drained, PG_M);
    assert_false(st.store_down);
    assert_int_equal(st.failed, 0);
    rd_dlog_free(l);
    rd_store_close(s);
    s = pg_open(url);
    expect_stored(s, PG_N + PG_M, -1);
    rd_store_close(s);
    assert_int_equal(file_size(path), HDR);
}

static int chunks_left;

/* The crash between a chunk's commit and the head's advance. */
static void crash_after_commit(size_t n)
{
    (void)n;
    if (--chunks_left == 0)
        _exit(42);
}

static void slow_drain(size_t n)
{
    (void)n;
    usleep(50000); /* a window of a second between 2,000 rows and all: the parent, polling under load, kills
                      inside it */
}

/* A child process that drains the spool into url with chunks of 100, the hook in it, on a
 * store handle named node. */
static pid_t drain_child_as(const char *url, const char *node, void (*hook)(size_t))
{
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid)
        return pid;
    rd__dlog_after_drain_commit = hook;
    rd_store *s;
    rd_err err;
    if (rd_store_open(url, &(rd_store_opts){.node = node}, &s, &err))
        _exit(3);
    rd_dlog_opts o = {.durability = RD_DLOG_ACK, .batch_max = 100, .spool_path = path};
    rd_dlog *l;
    if (rd_dlog_new(s, &o, &l, &err))
        _exit(4);
    sleep(60); /* the hook or the parent ends it */
    _exit(5);
}

static pid_t drain_child(const char *url, void (*hook)(size_t))
{
    return drain_child_as(url, "spool-test", hook);
}

static int node_a_rows(void *ud, const rd_log_row *r)
{
    int *n = ud;
    *n += r->node && !strcmp(r->node, "node-a");
    return 0;
}

/* review16 #10: a spool written on node-a, drained by a process named node-b (a new pod on the
 * same volume) that dies between a chunk's commit and the head's advance, then by another:
 * every row once, each under node-a, the node that decided. */
static void test_pg_node_rename(void **state)
{
    (void)state;
    if (pg_skip())
        skip();
    char url[256];
    pg_db("spool_node", url, sizeof url);
    rd_store *s = pg_open(url); /* makes the schema before the children meet it */
    rd_store_close(s);
    enum { N = 300 };
    rd__spool *sp = open_spool();
    rd_err err;
    for (int i = 0; i < N; i++) {
        rd_log_row r = row(i);
        r.node = "node-a";
        memset(r.uid, 0x5a, sizeof r.uid);
        memcpy(r.uid + 8, &i, sizeof i);
        assert_int_equal(rd__spool_append(sp, &r, 1, &err), RD_OK);
    }
    rd__spool_close(sp);
    chunks_left = 1;
    pid_t pid = drain_child_as(url, "node-b", crash_after_commit);
    int status;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(WIFEXITED(status));
    assert_int_equal(WEXITSTATUS(status), 42);
    s = pg_open(url); /* "spool-test": a third name */
    assert_int_equal(count_rows(s), 100);
    rd_dlog *l = writer(s, path, 0, 0); /* the first chunk again, then the rest */
    wait_drained(l);
    rd_dlog_free(l);
    expect_stored(s, N, -1);
    int a = 0;
    assert_int_equal(rd_store_log_scan(s, NULL, node_a_rows, &a, &err), RD_OK);
    assert_int_equal(a, N);
    rd_store_close(s);
}

static void test_pg_crash_mid_drain(void **state)
{
    (void)state;
    if (pg_skip())
        skip();
    char url[256];
    pg_db("spool_crash", url, sizeof url);
    rd_store *s = pg_open(url);
    rd_dlog *l = writer(s, path, 0, 0);
    submit_all(l, 0, PG_N);
    pg_cmd("stop");
    submit_all(l, PG_N, PG_N + PG_M);
    rd_dlog_free(l); /* stopped in the outage: the spool keeps M records */
    rd_store_close(s);
    pg_cmd("restart");

    /* 1. the drainer dies after its third chunk's commit, before the head moves past it */
    chunks_left = 3;
    pid_t pid = drain_child(url, crash_after_commit);
    int status;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(WIFEXITED(status));
    assert_int_equal(WEXITSTATUS(status), 42);
    s = pg_open(url);
    assert_int_equal(count_rows(s), PG_N + 300);
    rd__spool *sp;
    rd_err err;
    assert_int_equal(rd__spool_open(path, NULL, NULL, &sp, &err), RD_OK);
    assert_int_equal(rd__spool_records(sp), PG_M - 200); /* the third chunk is sent again */
    rd__spool_close(sp);

    /* 2. the drainer killed (SIGKILL) at some moment of a slower drain */
    pid = drain_child(url, slow_drain);
    int64_t deadline = rd_clock_ns() + 60000000000LL;
    int n;
    while ((n = count_rows(s)) < PG_N + 1000 && rd_clock_ns() < deadline)
        usleep(5000);
    kill(pid, SIGKILL);
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(WIFSIGNALED(status));
    n = count_rows(s);
    print_message("killed with %d of %d rows in the database\n", n, PG_N + PG_M);
    assert_true(n >= PG_N + 1000 && n < PG_N + PG_M);

    /* 3. the next writer drains what is left first, then K more behind it */
    l = writer(s, path, 0, 0);
    assert_int_equal(submit(l, PG_N + PG_M, PG_N + PG_M + 100), 100);
    wait_drained(l);
    rd_dlog_free(l);
    expect_stored(s, PG_N + PG_M + 100, -1);
    rd_store_close(s);
}

int main(void)
{
    /* one group (run-tests.sh reads one result line): the cluster is started once, for the
     * PostgreSQL cases at the end */
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_file_append_read_advance, setup, teardown),
        cmocka_unit_test_setup_teardown(test_file_reopen, setup, teardown),
        cmocka_unit_test_setup_teardown(test_file_torn_tail, setup, teardown),
        cmocka_unit_test_setup_teardown(test_file_damaged_record, setup, teardown),
        cmocka_unit_test_setup_teardown(test_file_header_slots, setup, teardown),
        cmocka_unit_test_setup_teardown(test_file_cut_back_crash, setup, teardown),
        cmocka_unit_test_setup_teardown(test_file_large_record, setup, teardown),
        cmocka_unit_test_setup_teardown(test_file_refusals, setup, teardown),
        cmocka_unit_test_setup_teardown(test_file_uid_node, setup, teardown),
        cmocka_unit_test_setup_teardown(test_file_format1, setup, teardown),
        cmocka_unit_test_setup_teardown(test_writer_outage, setup, teardown),
        cmocka_unit_test_setup_teardown(test_writer_order, setup, teardown),
        cmocka_unit_test_setup_teardown(test_writer_bound, setup, teardown),
        cmocka_unit_test_setup_teardown(test_writer_restart, setup, teardown),
        cmocka_unit_test_setup_teardown(test_writer_refused_record, setup, teardown),
        cmocka_unit_test_setup_teardown(test_writer_no_spool, setup, teardown),
        cmocka_unit_test_setup_teardown(test_writer_sqlite_never_spools, setup, teardown),
        cmocka_unit_test_setup_teardown(test_pg_outage, setup, teardown),
        cmocka_unit_test_setup_teardown(test_pg_crash_mid_drain, setup, teardown),
        cmocka_unit_test_setup_teardown(test_pg_node_rename, setup, teardown),
    };
    return cmocka_run_group_tests(tests, pg_setup, pg_teardown);
}
