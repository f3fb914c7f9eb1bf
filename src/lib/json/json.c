/* JSON through json-c. json-c builds its own tree; we copy it into the caller's arena as
 * rd_value (counting nodes against the limit) and free json-c's tree at once, so nothing
 * outside this file ever sees a json_object. */
#include "riskd/json.h"

#include <json-c/json.h>
#include <math.h>
#include <string.h>

#define DEFAULT_MAX_BYTES (16u << 20)
#define DEFAULT_MAX_DEPTH 64
#define DEFAULT_MAX_NODES 1000000u

struct conv {
    rd_arena *arena;
    size_t nodes;
    size_t max_nodes;
    rd_err *err;
};

static void line_col(const char *text, size_t off, int *line, int *col)
{
    *line = 1;
    *col = 1;
    for (size_t i = 0; i < off; i++) {
        if (text[i] == '\n') {
            (*line)++;
            *col = 1;
        } else {
            (*col)++;
        }
    }
}

/* json-c recurses over its tree the same way; depth is already bounded by the tokener. */
static int conv_value(struct conv *c, struct json_object *o, rd_value *out);

static int conv_number(struct conv *c, struct json_object *o, rd_value *out)
{
    double d = json_object_get_double(o);
    if (!isfinite(d))
        return rd_err_set(c->err, RD_EPARSE, "number out of range");
    *out = rd_value_number(d);
    return RD_OK;
}

static int conv_array(struct conv *c, struct json_object *o, rd_value *out)
{
    size_t n = json_object_array_length(o);
    rd_value *items = n ? rd_arena_alloc(c->arena, n * sizeof(*items)) : NULL;
    if (n && !items)
        return rd_err_set(c->err, RD_ENOMEM, "out of memory");
    for (size_t i = 0; i < n; i++) {
        int rc = conv_value(c, json_object_array_get_idx(o, i), &items[i]);
        if (rc != RD_OK)
            return rc;
    }
    *out = (rd_value){.type = RD_VARRAY, .len = (uint32_t)n, .u.items = items};
    return RD_OK;
}

static int conv_object(struct conv *c, struct json_object *o, rd_value *out)
{
    size_t n = (size_t)json_object_object_length(o);
    rd_member *m = n ? rd_arena_alloc(c->arena, n * sizeof(*m)) : NULL;
    if (n && !m)
        return rd_err_set(c->err, RD_ENOMEM, "out of memory");
    size_t i = 0;
    json_object_object_foreach(o, key, val)
    {
        size_t klen = strlen(key);
        m[i].key = rd_arena_strndup(c->arena, key, klen);
        m[i].key_len = (uint32_t)klen;
        if (!m[i].key)
            return rd_err_set(c->err, RD_ENOMEM, "out of memory");
        int rc = conv_value(c, val, &m[i].val);
        if (rc != RD_OK)
            return rc;
        i++;
    }
    *out = (rd_value){.type = RD_VOBJECT, .len = (uint32_t)i, .u.members = m};
    return RD_OK;
}

static int conv_value(struct conv *c, struct json_object *o, rd_value *out)
{
    if (++c->nodes > c->max_nodes)
        return rd_err_set(c->err, RD_ELIMIT, "more than %zu values", c->max_nodes);
    switch (json_object_get_type(o)) {
    case json_type_null:
        *out = RD_NULL_VALUE;
        return RD_OK;
    case json_type_boolean:
        *out = rd_value_bool(json_object_get_boolean(o));
        return RD_OK;
    case json_type_int:
    case json_type_double:
        return conv_number(c, o, out);
    case json_type_string: {
        size_t n = (size_t)json_object_get_string_len(o);
        char *s = rd_arena_strndup(c->arena, json_object_get_string(o), n);
        if (!s)
            return rd_err_set(c->err, RD_ENOMEM, "out of memory");
        *out = rd_value_string(s, (uint32_t)n);
        return RD_OK;
    }
    case json_type_array:
        return conv_array(c, o, out);
    case json_type_object:
        return conv_object(c, o, out);
    }
    return rd_err_set(c->err, RD_EINTERNAL, "unknown json-c type");
}

int rd_json_parse(const char *text, size_t len, const rd_json_limits *limits, rd_arena *arena,
                  rd_value *out, rd_err *err)
{
    size_t max_bytes = limits && limits->max_bytes ? limits->max_bytes : DEFAULT_MAX_BYTES;
    int max_depth = limits && limits->max_depth ? limits->max_depth : DEFAULT_MAX_DEPTH;
    size_t max_nodes = limits && limits->max_nodes ? limits->max_nodes : DEFAULT_MAX_NODES;

    if (len > max_bytes)
        return rd_err_set(err, RD_ELIMIT, "document of %zu bytes exceeds the limit of %zu", len, max_bytes);
    if (len > INT32_MAX)
        return rd_err_set(err, RD_ELIMIT, "document too large");
    /* json-c counts the outermost container as depth 1 and fails at max_depth itself. */
    struct json_tokener *tok = json_tokener_new_ex(max_depth + 1);
    if (!tok)
        return rd_err_set(err, RD_ENOMEM, "out of memory");
    json_tokener_set_flags(tok, JSON_TOKENER_STRICT | JSON_TOKENER_VALIDATE_UTF8);
    struct json_object *root = json_tokener_parse_ex(tok, text, (int)len);
    enum json_tokener_error jerr = json_tokener_get_error(tok);
    size_t end = json_tokener_get_parse_end(tok);
    if (jerr == json_tokener_continue) {
        /* A number or literal at the very end stays open until the tokener sees a
         * terminator: feed it the end of input. */
        root = json_tokener_parse_ex(tok, "", 1);
        jerr = json_tokener_get_error(tok);
        if (jerr == json_tokener_success)
            end = len;
    }
    int rc = RD_OK;
    int line, col;

    if (jerr == json_tokener_continue) {
        rc = rd_err_set(err, RD_EPARSE, "unexpected end of input");
    } else if (jerr != json_tokener_success) {
        line_col(text, end, &line, &col);
        rc = rd_err_set(err, jerr == json_tokener_error_depth ? RD_ELIMIT : RD_EPARSE,
                        "line %d, column %d: %s%s", line, col, json_tokener_error_desc(jerr),
                        jerr == json_tokener_error_depth ? " (nesting limit)" : "");
    } else {
        for (; end < len; end++) {
            char ch = text[end];
            if (ch != ' ' && ch != '\t' && ch != '\n' && ch != '\r') {
                line_col(text, end, &line, &col);
                rc = rd_err_set(err, RD_EPARSE, "line %d, column %d: unexpected text after the JSON value",
                                line, col);
                break;
            }
        }
    }
    if (rc == RD_OK) {
        struct conv c = {.arena = arena, .max_nodes = max_nodes, .err = err};
        rd_value v;
        rc = conv_value(&c, root, &v);
        if (rc == RD_OK)
            *out = v;
    }
    json_object_put(root);
    json_tokener_free(tok);
    return rc;
}

/* ---- writing ---- */

int rd_json_write_string(rd_buf *b, const char *s, size_t n)
{
    static const char hex[] = "0123456789abcdef";
    rd_buf_putc(b, '"');
    size_t start = 0;
    for (size_t i = 0; i < n; i++) {
        unsigned char ch = (unsigned char)s[i];
        if (ch >= 0x20 && ch != '"' && ch != '\\')
            continue;
        rd_buf_append(b, s + start, i - start);
        start = i + 1;
        char esc[7] = {'\\', 0};
        switch (ch) {
        case '"': esc[1] = '"'; break;
        case '\\': esc[1] = '\\'; break;
        case '\n': esc[1] = 'n'; break;
        case '\r': esc[1] = 'r'; break;
        case '\t': esc[1] = 't'; break;
        case '\b': esc[1] = 'b'; break;
        case '\f': esc[1] = 'f'; break;
        default:
            memcpy(esc + 1, "u00", 3);
            esc[4] = hex[ch >> 4];
            esc[5] = hex[ch & 15];
        }
        rd_buf_puts(b, esc);
    }
    rd_buf_append(b, s + start, n - start);
    return rd_buf_putc(b, '"');
}

int rd_json_write(rd_buf *b, const rd_value *v)
{
    char num[RD_NUM_BUF];
    switch (v->type) {
    case RD_VNULL:
        return rd_buf_puts(b, "null");
    case RD_VBOOL:
        return rd_buf_puts(b, v->u.b ? "true" : "false");
    case RD_VNUMBER:
        if (!isfinite(v->u.n))
            return rd_buf_puts(b, "null");
        return rd_buf_append(b, num, rd_num_format(v->u.n, num));
    case RD_VSTRING:
        return rd_json_write_string(b, v->u.s, v->len);
    case RD_VARRAY:
        rd_buf_putc(b, '[');
        for (uint32_t i = 0; i < v->len; i++) {
            if (i)
                rd_buf_putc(b, ',');
            rd_json_write(b, &v->u.items[i]);
        }
        return rd_buf_putc(b, ']');
    case RD_VOBJECT:
        rd_buf_putc(b, '{');
        for (uint32_t i = 0; i < v->len; i++) {
            if (i)
                rd_buf_putc(b, ',');
            rd_json_write_string(b, v->u.members[i].key, v->u.members[i].key_len);
            rd_buf_putc(b, ':');
            rd_json_write(b, &v->u.members[i].val);
        }
        return rd_buf_putc(b, '}');
    }
    return RD_EINTERNAL;
}
