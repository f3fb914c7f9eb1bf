/* The decision log's spool: batches the store could not take (it was unreachable), kept on the
 * local disk until it answers again (docs/formats.md, "Decision log spool").
 *
 *   header  64 bytes: two slots of 32, "RDSPOOL2" | u64 gen | u64 head | u32 0 | u32 crc32c of
 *           the 28 bytes before; the valid slot with the higher gen holds the head
 *   record  u32 len (its top bit set: format 2) | u32 crc32c(len, payload) | payload: i64 ts_ms |
 *           16 bytes uid | u32 request_id, kind, model_version (0xffffffff: NULL), record, node
 *           (0xffffffff: NULL) lengths | their bytes; little-endian
 *
 * Format 1 (riskd before the records had an identity: "RDSPOOL1", records without the top bit,
 * no uid and no node) is still read, so a spool an upgrade finds drains: its rows have no uid
 * (the store keeps each as sent) and the draining handle's node; each record says its format,
 * so format 2 records appended behind them read back right, and the header is written as
 * "RDSPOOL2" at its next write. An older riskd refuses a format 2 spool (no valid header).
 *
 * Invariants: records are written whole at the end and fdatasync'ed before an append returns
 * (a failed write is cut off again); a record is read only when its checksum holds, and the
 * first one that does not (a write a crash cut short) is cut off with everything after it,
 * with a log line, never read as garbage; the head moves only after the store committed what
 * it passes, and is written to the slot the last write did not use, so a torn header write
 * leaves the previous head (a chunk re-sent, which the store's unique key makes a no-op);
 * when nothing waits the file is cut back to its header (truncate, sync, head reset, sync: a
 * crash in between leaves a head past the end, which reads as empty). One process (an flock),
 * one thread (the writer's). */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "dlog_int.h"

#define HDR        64u
#define SLOT       32u
#define REC_HDR    8u
#define PAYLOAD_V1 24u         /* format 1: ts, 4 lengths */
#define PAYLOAD_HD 44u         /* format 2: ts, uid, 5 lengths */
#define FORMAT2    0x80000000u /* len's top bit */
#define LEN_MAX    0x7fffffffu /* a record's payload at most */
#define NULL_LEN   0xffffffffu
/* A drain chunk reads at most this much (a larger record alone): the writer serves the queue
 * between chunks, so a chunk's commit is what a record arriving during a drain may wait for. */
#define READ_BYTES ((size_t)1 << 20)
#define BLOCK      4096u /* holes are punched in whole blocks past the first */

struct rd__spool {
    int fd;
    char *path;
    rd__dlog_log_fn log;
    void *ud;
    uint64_t gen;        /* the header's last generation */
    uint64_t head, end;  /* the first waiting record; the end of the last whole record */
    uint64_t records;    /* waiting */
    uint64_t punched;    /* the holes reach here */
    bool punch_ok;       /* the file system punches holes */
    unsigned char *rbuf; /* the last read's bytes */
    size_t rcap;
    char *sbuf; /* its rows' strings, NUL-terminated (libpq's text parameters) */
    size_t scap;
    rd_log_row *rows; /* the last read's rows, pointing into sbuf */
    size_t rows_cap;
    uint64_t *ends; /* the offset after each of them */
    size_t ends_cap, nread;
    unsigned char *wbuf; /* an append's bytes */
    size_t wcap;
};

/* ------------------------------------------------------------------ CRC-32C (Castagnoli) */

static uint32_t crc_table[256];
static pthread_once_t crc_once = PTHREAD_ONCE_INIT;

static void crc_init(void)
{
    for (uint32_t i = 0; i < 256; i++) {
        uint32_t c = i;
        for (int k = 0; k < 8; k++)
            c = c & 1 ? (c >> 1) ^ 0x82f63b78u : c >> 1;
        crc_table[i] = c;
    }
}

static uint32_t crc_add(uint32_t crc, const unsigned char *p, size_t n)
{
    crc = ~crc;
    while (n--)
        crc = crc_table[(crc ^ *p++) & 0xff] ^ (crc >> 8);
    return ~crc;
}

/* ------------------------------------------------------------------ little-endian fields */

static void put32(unsigned char *p, uint32_t v)
{
    for (int i = 0; i < 4; i++)
        p[i] = (unsigned char)(v >> (8 * i));
}

static void put64(unsigned char *p, uint64_t v)
{
    for (int i = 0; i < 8; i++)
        p[i] = (unsigned char)(v >> (8 * i));
}

static uint32_t get32(const unsigned char *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static uint64_t get64(const unsigned char *p) { return (uint64_t)get32(p) | (uint64_t)get32(p + 4) << 32; }

/* ------------------------------------------------------------------ file helpers */

/* SAY(sp, level, fmt, ...): a line to the writer's on_log. */
#define SAY(sp, ...) rd__dlog_say((sp)->log, (sp)->ud, __VA_ARGS__)

static int pwrite_all(int fd, const void *buf, size_t n, uint64_t off)
{
    const char *p = buf;
    while (n) {
        ssize_t w = pwrite(fd, p, n, (off_t)off);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return -1;
        p += w, n -= (size_t)w, off += (uint64_t)w;
    }
    return 0;
}

/* Bytes read (fewer only at the end of the file), or -1. */
static ssize_t pread_all(int fd, void *buf, size_t n, uint64_t off)
{
    char *p = buf;
    size_t got = 0;
    while (got < n) {
        ssize_t r = pread(fd, p + got, n - got, (off_t)(off + got));
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0)
            return -1;
        if (r == 0)
            break;
        got += (size_t)r;
    }
    return (ssize_t)got;
}

/* buf with room for need elements (*cap updated), or NULL (buf untouched) when out of memory. */
static void *grow(void *buf, size_t *cap, size_t need, size_t elem)
{
    if (need <= *cap)
        return buf;
    size_t n = *cap ? *cap : 16;
    while (n < need)
        n *= 2;
    void *p = rd_realloc(buf, n * elem);
    if (p)
        *cap = n;
    return p;
}

/* GROW(sp->rbuf, sp->rcap, need): false when out of memory. */
#define GROW(ptr, cap, need) grow_into((void *)&(ptr), grow((ptr), &(cap), (need), sizeof *(ptr)))
static bool grow_into(void *slot, void *p)
{
    if (p)
        memcpy(slot, &p, sizeof p);
    return p != NULL;
}

/* ------------------------------------------------------------------ the header */

static const unsigned char magic[8] = {'R', 'D', 'S', 'P', 'O', 'O', 'L', '2'};
static const unsigned char magic_v1[8] = {'R', 'D', 'S', 'P', 'O', 'O', 'L', '1'};

static void encode_slot(unsigned char s[SLOT], uint64_t gen, uint64_t head)
{
    memcpy(s, magic, sizeof magic);
    put64(s + 8, gen);
    put64(s + 16, head);
    put32(s + 24, 0);
    put32(s + 28, crc_add(0, s, 28));
}

/* A slot of either format (the records say theirs). */
static bool decode_slot(const unsigned char s[SLOT], uint64_t *gen, uint64_t *head)
{
    if ((memcmp(s, magic, sizeof magic) != 0 && memcmp(s, magic_v1, sizeof magic_v1) != 0) ||
        get32(s + 28) != crc_add(0, s, 28))
        return false;
    *gen = get64(s + 8);
    *head = get64(s + 16);
    return true;
}

/* The head written into the slot the last write did not use, and synced. */
static int write_head(rd__spool *sp, uint64_t head, rd_err *err)
{
    unsigned char s[SLOT];
    encode_slot(s, sp->gen + 1, head);
    if (pwrite_all(sp->fd, s, SLOT, ((sp->gen + 1) % 2) * SLOT) < 0 || fdatasync(sp->fd) < 0)
        return rd_err_set(err, RD_EIO, "%s: cannot write the head: %s", sp->path, strerror(errno));
    sp->gen++;
    sp->head = head;
    return RD_OK;
}

/* A new spool: both slots at head = HDR, nothing after. */
static int init_file(rd__spool *sp, rd_err *err)
{
    unsigned char h[HDR];
    encode_slot(h, 1, HDR);
    encode_slot(h + SLOT, 0, HDR);
    if (ftruncate(sp->fd, 0) < 0 || pwrite_all(sp->fd, h, HDR, 0) < 0 || fdatasync(sp->fd) < 0)
        return rd_err_set(err, RD_EIO, "%s: cannot create the spool: %s", sp->path, strerror(errno));
    int rc = rd_fsync_dir_of(sp->path, err);
    if (rc)
        return rc;
    sp->gen = 1;
    sp->head = sp->end = HDR;
    return RD_OK;
}

/* Nothing waits: the file back to its header. The truncation is synced before the head is
 * reset, so a crash leaves either the old head (past the new end: empty) or the new one. */
static int cut_back(rd__spool *sp, rd_err *err)
{
    if (ftruncate(sp->fd, HDR) < 0 || fdatasync(sp->fd) < 0)
        return rd_err_set(err, RD_EIO, "%s: cannot truncate: %s", sp->path, strerror(errno));
    sp->end = sp->punched = HDR;
    sp->records = 0;
    return write_head(sp, HDR, err);
}

/* ------------------------------------------------------------------ records */

uint64_t rd__spool_row_bytes(const rd_log_row *r)
{
    return REC_HDR + PAYLOAD_HD + strlen(r->request_id) + strlen(r->kind) +
           (r->model_version ? strlen(r->model_version) : 0) + r->record_len +
           (r->node ? strlen(r->node) : 0);
}

static unsigned char *encode_row(unsigned char *p, const rd_log_row *r)
{
    uint32_t lid = (uint32_t)strlen(r->request_id), lk = (uint32_t)strlen(r->kind),
             lm = r->model_version ? (uint32_t)strlen(r->model_version) : 0, lr = (uint32_t)r->record_len,
             ln = r->node ? (uint32_t)strlen(r->node) : 0;
    uint32_t len = PAYLOAD_HD + lid + lk + lm + lr + ln;
    unsigned char *q = p + REC_HDR;
    put64(q, (uint64_t)r->ts_ms);
    memcpy(q + 8, r->uid, RD_LOG_UID_BYTES);
    put32(q + 24, lid);
    put32(q + 28, lk);
    put32(q + 32, r->model_version ? lm : NULL_LEN);
    put32(q + 36, lr);
    put32(q + 40, r->node ? ln : NULL_LEN);
    q += PAYLOAD_HD;
    memcpy(q, r->request_id, lid), q += lid;
    memcpy(q, r->kind, lk), q += lk;
    if (lm)
        memcpy(q, r->model_version, lm), q += lm;
    if (lr)
        memcpy(q, r->record, lr), q += lr;
    if (ln)
        memcpy(q, r->node, ln), q += ln;
    put32(p, len | FORMAT2);
    put32(p + 4, crc_add(crc_add(0, p, 4), p + REC_HDR, len));
    return q;
}

/* A record's layout: where its lengths are, how many, and the payload's header. */
typedef struct layout {
    uint32_t len;  /* the payload's bytes */
    uint32_t hd;   /* its header's */
    uint32_t lens; /* the offset of the lengths in it */
    int nlens;
} layout;

static layout layout_of(const unsigned char *p)
{
    uint32_t l = get32(p);
    if (l & FORMAT2)
        return (layout){l & LEN_MAX, PAYLOAD_HD, 24, 5};
    return (layout){l, PAYLOAD_V1, 8, 4};
}

/* Length i of the record at p: 0 for a NULL. */
static uint32_t field_len(const unsigned char *p, layout y, int i)
{
    uint32_t v = get32(p + REC_HDR + y.lens + 4 * (uint32_t)i);
    return v == NULL_LEN ? 0 : v;
}

/* The length of the record at p (avail bytes there) when it is whole and its checksum holds,
 * else 0; *need receives the bytes it claims (to read a record larger than the buffer). */
static size_t check_record(const unsigned char *p, size_t avail, size_t *need)
{
    *need = REC_HDR;
    if (avail < REC_HDR)
        return 0;
    layout y = layout_of(p);
    *need = REC_HDR + (size_t)y.len;
    if (y.len < y.hd || avail < REC_HDR + (size_t)y.len)
        return 0;
    if (get32(p + 4) != crc_add(crc_add(0, p, 4), p + REC_HDR, y.len))
        return 0;
    uint64_t sum = 0;
    for (int i = 0; i < y.nlens; i++)
        sum += field_len(p, y, i);
    return sum == y.len - y.hd ? REC_HDR + y.len : 0;
}

/* A string of len bytes at *src (NULL when null), copied to *o with a NUL; both advanced. */
static const char *take_str(const unsigned char **src, char **o, uint32_t len, bool null)
{
    if (null)
        return NULL;
    char *s = memcpy(*o, *src, len);
    s[len] = '\0';
    *o += len + 1;
    *src += len;
    return s;
}

/* The row of a checked record at p, its strings copied to strs (NUL-terminated each); returns
 * the end of what it used there. */
static char *decode_row(const unsigned char *p, rd_log_row *r, char *strs)
{
    layout y = layout_of(p);
    const unsigned char *q = p + REC_HDR, *src = q + y.hd;
    memset(r, 0, sizeof *r);
    r->ts_ms = (int64_t)get64(q);
    r->label = -1;
    if (y.nlens == 5)
        memcpy(r->uid, q + 8, RD_LOG_UID_BYTES);
    char *o = strs;
    r->request_id = take_str(&src, &o, field_len(p, y, 0), false);
    r->kind = take_str(&src, &o, field_len(p, y, 1), false);
    r->model_version = take_str(&src, &o, field_len(p, y, 2), get32(q + y.lens + 8) == NULL_LEN);
    r->record_len = field_len(p, y, 3);
    r->record = take_str(&src, &o, (uint32_t)r->record_len, false);
    if (y.nlens == 5)
        r->node = take_str(&src, &o, field_len(p, y, 4), get32(q + y.lens + 16) == NULL_LEN);
    return o;
}

/* Read size bytes at off into rbuf; *got the bytes read. */
static int read_at(rd__spool *sp, uint64_t off, size_t size, size_t *got, rd_err *err)
{
    *got = 0;
    if (!GROW(sp->rbuf, sp->rcap, size ? size : 1))
        return rd_err_set(err, RD_ENOMEM, "out of memory");
    ssize_t r = pread_all(sp->fd, sp->rbuf, size, off);
    if (r < 0)
        return rd_err_set(err, RD_EIO, "%s: cannot read: %s", sp->path, strerror(errno));
    *got = (size_t)r;
    return RD_OK;
}

/* Read from off (the file ends at limit): READ_BYTES at most, or the whole of a first record
 * larger than that. */
static int read_from(rd__spool *sp, uint64_t off, uint64_t limit, size_t *got, rd_err *err)
{
    size_t want = (size_t)(limit - off < READ_BYTES ? limit - off : READ_BYTES), need;
    int rc = read_at(sp, off, want, got, err);
    if (!rc && check_record(sp->rbuf, *got, &need) == 0 && need > *got && off + need <= limit)
        rc = read_at(sp, off, need, got, err);
    return rc;
}

/* ------------------------------------------------------------------ open */

/* The records after the head, checked: counted, and the first bad one cut off with the rest. */
static int scan(rd__spool *sp, uint64_t size, rd_err *err)
{
    uint64_t off = sp->head;
    sp->records = 0;
    while (off < size) {
        size_t got, at = 0, len, need;
        int rc = read_from(sp, off, size, &got, err);
        if (rc)
            return rc;
        while ((len = check_record(sp->rbuf + at, got - at, &need)) > 0) {
            at += len;
            sp->records++;
        }
        if (at == 0)
            break; /* a bad record (a split one is read whole by the next round) */
        off += at;
    }
    if (off < size) {
        SAY(sp, RD_DLOG_WARN,
            "%s: %llu bytes at offset %llu do not read back as whole records (a write a crash cut "
            "short): dropped; %llu records kept",
            sp->path, (unsigned long long)(size - off), (unsigned long long)off,
            (unsigned long long)sp->records);
        if (ftruncate(sp->fd, (off_t)off) < 0 || fdatasync(sp->fd) < 0)
            return rd_err_set(err, RD_EIO, "%s: cannot truncate: %s", sp->path, strerror(errno));
    }
    sp->end = off;
    return RD_OK;
}

/* Read the header and the records of an existing file. */
static int load(rd__spool *sp, uint64_t size, rd_err *err)
{
    unsigned char h[HDR];
    uint64_t g0 = 0, g1 = 0, h0 = 0, h1 = 0;
    ssize_t got = size >= HDR ? pread_all(sp->fd, h, HDR, 0) : 0;
    if (got < 0)
        return rd_err_set(err, RD_EIO, "%s: cannot read: %s", sp->path, strerror(errno));
    bool v0 = got == HDR && decode_slot(h, &g0, &h0), v1 = got == HDR && decode_slot(h + SLOT, &g1, &h1);
    if (!v0 && !v1) {
        if (size > HDR)
            return rd_err_set(err, RD_EINVAL, "%s: not a decision log spool (no valid header): move it away",
                              sp->path);
        return init_file(sp, err); /* empty, or its creation was cut short: nothing can wait in it */
    }
    bool first = v0 && (!v1 || g0 >= g1);
    sp->gen = first ? g0 : g1;
    sp->head = first ? h0 : h1;
    if (sp->head < HDR)
        sp->head = HDR;
    if (sp->head >= size) /* cut back before the head was reset: nothing waits */
        return cut_back(sp, err);
    sp->punched = sp->head & ~(uint64_t)(BLOCK - 1);
    int rc = scan(sp, size, err);
    if (!rc && sp->records == 0)
        rc = cut_back(sp, err);
    if (!rc && sp->records)
        SAY(sp, RD_DLOG_INFO, "%s: %llu decision records (%llu bytes) left by a previous run: drained first",
            sp->path, (unsigned long long)sp->records, (unsigned long long)(sp->end - sp->head));
    return rc;
}

int rd__spool_open(const char *path, rd__dlog_log_fn log, void *ud, rd__spool **out, rd_err *err)
{
    pthread_once(&crc_once, crc_init);
    rd__spool *sp = rd_calloc(1, sizeof *sp);
    if (!sp || !(sp->path = rd_strndup(path, strlen(path)))) {
        rd_free(sp);
        return rd_err_set(err, RD_ENOMEM, "out of memory");
    }
    sp->log = log;
    sp->ud = ud;
    sp->punch_ok = true;
    sp->punched = BLOCK;
    int rc = RD_OK;
    struct stat st;
    if ((sp->fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600)) < 0)
        rc = rd_err_set(err, RD_EIO, "%s: cannot open the spool: %s", path, strerror(errno));
    else if (flock(sp->fd, LOCK_EX | LOCK_NB) < 0)
        rc = rd_err_set(err, RD_EIO, "%s: %s", path,
                        errno == EWOULDBLOCK ? "another process is using this spool (locked)"
                                             : strerror(errno));
    else if (fstat(sp->fd, &st) < 0)
        rc = rd_err_set(err, RD_EIO, "%s: %s", path, strerror(errno));
    else if (!S_ISREG(st.st_mode))
        rc = rd_err_set(err, RD_EINVAL, "%s: not a regular file", path);
    else
        rc = load(sp, (uint64_t)st.st_size, err);
    if (rc) {
        rd__spool_close(sp);
        return rc;
    }
    if (sp->punched < BLOCK)
        sp->punched = BLOCK;
    *out = sp;
    return RD_OK;
}

void rd__spool_close(rd__spool *sp)
{
    if (!sp)
        return;
    if (sp->fd >= 0)
        close(sp->fd); /* the flock goes with it */
    rd_free(sp->path);
    rd_free(sp->rbuf);
    rd_free(sp->sbuf);
    rd_free(sp->rows);
    rd_free(sp->ends);
    rd_free(sp->wbuf);
    rd_free(sp);
}

/* ------------------------------------------------------------------ append, read, advance */

int rd__spool_append(rd__spool *sp, const rd_log_row *rows, size_t n, rd_err *err)
{
    size_t total = 0;
    for (size_t i = 0; i < n; i++) {
        uint64_t b = rd__spool_row_bytes(&rows[i]);
        if (b - REC_HDR > LEN_MAX)
            return rd_err_set(err, RD_ELIMIT, "a decision record of %llu bytes cannot be spooled",
                              (unsigned long long)b);
        total += (size_t)b;
    }
    if (!GROW(sp->wbuf, sp->wcap, total))
        return rd_err_set(err, RD_ENOMEM, "out of memory");
    unsigned char *p = sp->wbuf;
    for (size_t i = 0; i < n; i++)
        p = encode_row(p, &rows[i]);
    if (pwrite_all(sp->fd, sp->wbuf, total, sp->end) < 0 || fdatasync(sp->fd) < 0) {
        int e = errno;
        if (ftruncate(sp->fd, (off_t)sp->end) < 0) { /* the next append overwrites it anyway */
        }
        return rd_err_set(err, RD_EIO, "%s: cannot append: %s", sp->path, strerror(e));
    }
    sp->end += total;
    sp->records += n;
    return RD_OK;
}

/* Records past a bad one cannot be found again: cut them off, saying how many were lost. */
static int cut_corrupt(rd__spool *sp, uint64_t off, size_t good, rd_err *err)
{
    SAY(sp, RD_DLOG_ERROR,
        "%s: the record at offset %llu does not read back (checksum): it and the %llu records after it "
        "are dropped",
        sp->path, (unsigned long long)off, (unsigned long long)(sp->records - good - 1));
    if (ftruncate(sp->fd, (off_t)off) < 0 || fdatasync(sp->fd) < 0)
        return rd_err_set(err, RD_EIO, "%s: cannot truncate: %s", sp->path, strerror(errno));
    sp->end = off;
    sp->records = good;
    return RD_OK;
}

/* The rows of the k checked records at the start of rbuf, into rows and sbuf. */
static int decode_all(rd__spool *sp, size_t k, rd_err *err)
{
    size_t strs = 0;
    for (size_t i = 0, off = 0; i < k; i++) {
        strs += (get32(sp->rbuf + off) & LEN_MAX) + 5; /* the payload holds its strings, and a NUL each */
        off = (size_t)(sp->ends[i] - sp->head);
    }
    if (!GROW(sp->rows, sp->rows_cap, k) || !GROW(sp->sbuf, sp->scap, strs))
        return rd_err_set(err, RD_ENOMEM, "out of memory");
    char *o = sp->sbuf;
    for (size_t i = 0, off = 0; i < k; i++) {
        o = decode_row(sp->rbuf + off, &sp->rows[i], o);
        off = (size_t)(sp->ends[i] - sp->head);
    }
    return RD_OK;
}

int rd__spool_read(rd__spool *sp, size_t max, const rd_log_row **rows, size_t *n, rd_err *err)
{
    *n = 0;
    sp->nread = 0;
    if (!sp->records || !max)
        return RD_OK;
    size_t got, at = 0, len, need = 0, k = 0;
    int rc = read_from(sp, sp->head, sp->end, &got, err);
    while (!rc && k < max && k < sp->records && (len = check_record(sp->rbuf + at, got - at, &need)) > 0) {
        if (!GROW(sp->ends, sp->ends_cap, k + 1))
            return rd_err_set(err, RD_ENOMEM, "out of memory");
        at += len;
        sp->ends[k++] = sp->head + at;
    }
    if (rc)
        return rc;
    /* a record that stops here although it should be whole (it fits in what was read, or
     * claims more than the file holds, or is the first) is damaged: never read as a row */
    bool split = at + need > got && sp->head + at + need <= sp->end;
    if (k < max && k < sp->records && (k == 0 || !split) && (rc = cut_corrupt(sp, sp->head + at, k, err)))
        return rc;
    if (k && (rc = decode_all(sp, k, err)) != RD_OK)
        return rc;
    sp->nread = k;
    *rows = sp->rows;
    *n = k;
    return RD_OK;
}

/* Give the disk blocks before the head back (the offsets stay): a long drain beside new
 * batches would otherwise grow the file by everything that passed through it. */
static void punch(rd__spool *sp)
{
    uint64_t to = sp->head & ~(uint64_t)(BLOCK - 1);
    if (!sp->punch_ok || to <= sp->punched)
        return;
    if (fallocate(sp->fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, (off_t)sp->punched,
                  (off_t)(to - sp->punched)) < 0) {
        sp->punch_ok = false; /* the bound counts the whole file from now on */
        return;
    }
    sp->punched = to;
}

int rd__spool_advance(rd__spool *sp, size_t n, rd_err *err)
{
    if (!n)
        return RD_OK;
    if (n > sp->nread)
        return rd_err_set(err, RD_EINTERNAL, "spool: advancing past what was read");
    uint64_t head = sp->ends[n - 1];
    sp->nread = 0;
    if (head >= sp->end)
        return cut_back(sp, err);
    int rc = write_head(sp, head, err);
    if (rc)
        return rc;
    sp->records -= n;
    punch(sp);
    return RD_OK;
}

uint64_t rd__spool_records(const rd__spool *sp) { return sp->records; }

uint64_t rd__spool_bytes(const rd__spool *sp) { return sp->end - sp->head; }

uint64_t rd__spool_used(const rd__spool *sp) { return sp->punch_ok ? sp->end - sp->head : sp->end - HDR; }

const char *rd__spool_path(const rd__spool *sp) { return sp->path; }
