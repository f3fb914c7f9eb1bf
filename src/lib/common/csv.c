/* CSV reading. A record is read with getline (a quoted field may continue on the next
 * lines) and unquoted in place: the fields point into the record buffer. */
#include "riskd/csv.h"

#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "riskd/arena.h"

#define MAX_RECORD (1u << 20)

struct rd_csv {
    FILE *f;
    bool own;
    char *buf; /* the record being read */
    size_t cap, len;
    char *line; /* getline's buffer */
    size_t line_cap;
    char **fields;
    size_t ncols, cap_fields;
    char **names; /* header, owned */
    size_t lineno, next_line;
    uint64_t offset, size;
};

/* Append one physical line to the record buffer. Returns bytes read, 0 at EOF, -1 on a read
 * error, -2 when out of memory. */
static ssize_t read_line(rd_csv *c)
{
    ssize_t n = getline(&c->line, &c->line_cap, c->f);
    if (n <= 0)
        return ferror(c->f) ? -1 : 0;
    c->offset += (uint64_t)n;
    c->next_line++;
    if (c->len + (size_t)n + 1 > c->cap) {
        size_t cap = (c->len + (size_t)n + 1) * 2;
        char *b = rd_realloc(c->buf, cap);
        if (!b)
            return -2;
        c->buf = b;
        c->cap = cap;
    }
    memcpy(c->buf + c->len, c->line, (size_t)n + 1);
    c->len += (size_t)n;
    return n;
}

/* Whether the record so far ends inside a quoted field. */
static bool open_quote(const char *s, size_t n)
{
    bool in = false;
    for (size_t i = 0; i < n; i++)
        if (s[i] == '"')
            in = !in;
    return in;
}

static int add_field(rd_csv *c, size_t *n, char *at)
{
    if (*n == c->cap_fields) {
        size_t cap = c->cap_fields ? c->cap_fields * 2 : 16;
        char **f = rd_realloc(c->fields, cap * sizeof(*f));
        if (!f)
            return -1;
        c->fields = f;
        c->cap_fields = cap;
    }
    c->fields[(*n)++] = at;
    return 0;
}

/* Split the record in c->buf into fields, unquoting in place. */
static int split(rd_csv *c, size_t *nfields, rd_err *err)
{
    char *r = c->buf, *w = c->buf, *end = c->buf + c->len;
    while (end > r && (end[-1] == '\n' || end[-1] == '\r'))
        end--;
    size_t n = 0;
    if (add_field(c, &n, w) != 0)
        return rd_err_set(err, RD_ENOMEM, "out of memory");
    bool quoted = false, was_quoted = false;
    for (; r < end; r++) {
        if (quoted) {
            if (*r == '"' && r + 1 < end && r[1] == '"')
                *w++ = *r++;
            else if (*r == '"')
                quoted = false;
            else
                *w++ = *r;
        } else if (*r == '"' && !was_quoted && w == c->fields[n - 1]) {
            quoted = was_quoted = true;
        } else if (*r == ',') {
            *w++ = '\0';
            was_quoted = false;
            if (add_field(c, &n, w) != 0)
                return rd_err_set(err, RD_ENOMEM, "out of memory");
        } else if (was_quoted) {
            return rd_err_set(err, RD_EPARSE, "text after a closing quote in field %zu", n);
        } else {
            *w++ = *r;
        }
    }
    if (quoted)
        return rd_err_set(err, RD_EPARSE, "unterminated quoted field");
    *w = '\0';
    *nfields = n;
    return RD_OK;
}

/* Read one record into c->fields: 1, 0 at the end, or an error. */
static int read_record(rd_csv *c, size_t *n, rd_err *err)
{
    for (;;) {
        c->len = 0;
        c->lineno = c->next_line + 1;
        ssize_t got = read_line(c);
        if (got == -2)
            return rd_err_set(err, RD_ENOMEM, "out of memory");
        if (got < 0)
            return rd_err_set(err, RD_EIO, "read error");
        if (got == 0)
            return 0;
        if (c->lineno == 1 && c->len >= 3 && memcmp(c->buf, "\xef\xbb\xbf", 3) == 0) { /* UTF-8 BOM */
            memmove(c->buf, c->buf + 3, c->len - 2);
            c->len -= 3;
        }
        while (open_quote(c->buf, c->len)) {
            if (c->len > MAX_RECORD)
                break;
            got = read_line(c);
            if (got == -2)
                return rd_err_set(err, RD_ENOMEM, "out of memory");
            if (got <= 0)
                break; /* split reports the open quote */
        }
        if (c->len > MAX_RECORD)
            return rd_err_set(err, RD_ELIMIT, "record longer than %u bytes", MAX_RECORD);
        if (memchr(c->buf, '\0', c->len)) /* a field would end there, silently */
            return rd_err_set(err, RD_EPARSE, "NUL byte in the record");
        if (c->buf[0] == '\n' || (c->buf[0] == '\r' && c->buf[1] == '\n') || c->buf[0] == '\0')
            continue; /* blank line */
        int rc = split(c, n, err);
        return rc == RD_OK ? 1 : rc;
    }
}

/* Keep the names of the header just read: present, distinct, non-empty. */
static int keep_header(rd_csv *c, size_t n, rd_err *err)
{
    char **f = c->fields, **names;
    if (n == 0 || !f)
        return rd_err_set(err, RD_EPARSE, "no columns");
    if (!(names = c->names = rd_calloc(n, sizeof(char *))))
        return rd_err_set(err, RD_ENOMEM, "out of memory");
    for (size_t i = 0; i < n; i++) {
        if (f[i][0] == '\0')
            return rd_err_set(err, RD_EPARSE, "column %zu has no name", i + 1);
        for (size_t j = 0; j < i; j++)
            if (strcmp(names[j], f[i]) == 0)
                return rd_err_set(err, RD_EPARSE, "column \"%s\" appears twice", f[i]);
        if (!(names[i] = rd_strndup(f[i], strlen(f[i]))))
            return rd_err_set(err, RD_ENOMEM, "out of memory");
        c->ncols = i + 1;
    }
    return RD_OK;
}

int rd_csv_open(const char *path, rd_csv **out, rd_err *err)
{
    rd_csv *c = rd_calloc(1, sizeof(*c));
    if (!c)
        return rd_err_set(err, RD_ENOMEM, "out of memory");
    bool std = strcmp(path, "-") == 0;
    c->f = std ? stdin : fopen(path, "r");
    c->own = !std;
    if (!c->f) {
        rd_free(c);
        return rd_err_set(err, RD_EIO, "%s: %s", path, strerror(errno));
    }
    struct stat st;
    if (fstat(fileno(c->f), &st) == 0 && S_ISREG(st.st_mode))
        c->size = (uint64_t)st.st_size;
    size_t n = 0;
    int rc = read_record(c, &n, err);
    if (rc == 1)
        rc = keep_header(c, n, err);
    if (rc < 0)
        rd_err_prefix(err, "line 1");
    else if (rc == 0 && c->ncols == 0)
        rc = rd_err_set(err, RD_EPARSE, "empty (a header line naming the columns is required)");
    if (rc != RD_OK) {
        rd_err_prefix(err, "%s", std ? "stdin" : path);
        rd_csv_close(c);
        return rc;
    }
    *out = c;
    return RD_OK;
}

void rd_csv_close(rd_csv *c)
{
    if (!c)
        return;
    if (c->own)
        fclose(c->f);
    for (size_t i = 0; c->names && i < c->ncols; i++)
        rd_free(c->names[i]);
    rd_free(c->names);
    rd_free(c->fields);
    rd_free(c->buf);
    free(c->line); /* getline's, from malloc */
    rd_free(c);
}

size_t rd_csv_num_columns(const rd_csv *c) { return c->ncols; }
const char *rd_csv_column(const rd_csv *c, size_t i) { return i < c->ncols ? c->names[i] : NULL; }
int rd_csv_find(const rd_csv *c, const char *name)
{
    for (size_t i = 0; i < c->ncols; i++)
        if (strcmp(c->names[i], name) == 0)
            return (int)i;
    return -1;
}
size_t rd_csv_line(const rd_csv *c) { return c->lineno; }
uint64_t rd_csv_offset(const rd_csv *c) { return c->offset; }
uint64_t rd_csv_size(const rd_csv *c) { return c->size; }

int rd_csv_next(rd_csv *c, char ***fields, rd_err *err)
{
    size_t n = 0;
    int rc = read_record(c, &n, err);
    if (rc != 1)
        return rc;
    if (n != c->ncols)
        return rd_err_set(err, RD_EPARSE, "%zu fields, the header has %zu", n, c->ncols);
    *fields = c->fields;
    return 1;
}
