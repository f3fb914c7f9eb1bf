/* Flag sets for the Python package (riskd.Flags): a flagd file parsed as `riskd flags eval`
 * and `riskd serve --flags` parse it, and flags evaluated by rd_flag_eval, the engine OFREP
 * answers with, into OpenFeature resolution details as JSON.
 *
 * Invariants: the flag set is immutable once opened, so evaluations on many threads share it;
 * each evaluation has its own arena, freed before it returns. Evaluation never fails on the
 * flag's account (that is a resolution with reason ERROR); only the caller's input can fail
 * (a context that is not JSON, or not an object; an unknown type name). */
#include <stdlib.h>
#include <string.h>

#include "riskd/embed.h"
#include "riskd/flags.h"
#include "riskd/json.h"

#define MAX_FLAGS_BYTES (64u << 20) /* as `riskd flags`: the parser's own limit (16 MiB) applies */

struct rd_embed_flags {
    rd_flagset *fs;
};

int rd_embed_flags_parse(const char *json, size_t len, int lenient, int fractional_version,
                         rd_embed_flags **out, rd_err *err)
{
    if (!json || !out)
        return rd_err_set(err, RD_EINVAL, "flags: no text");
    if (fractional_version != 0 && fractional_version != 2 && fractional_version != 3)
        return rd_err_set(err, RD_EINVAL, "fractional: 2 or 3, not %d", fractional_version);
    rd_flagset_opts o = {.lenient = lenient != 0, .fractional_version = fractional_version};
    rd_embed_flags *f = calloc(1, sizeof *f);
    if (!f)
        return rd_err_set(err, RD_ENOMEM, "out of memory");
    int rc = rd_flagset_parse(json, len, &o, &f->fs, err);
    if (rc) {
        free(f);
        return rc;
    }
    *out = f;
    return RD_OK;
}

int rd_embed_flags_open(const char *path, int lenient, int fractional_version, rd_embed_flags **out,
                        rd_err *err)
{
    if (!path)
        return rd_err_set(err, RD_EINVAL, "flags: no path");
    char *text;
    size_t len;
    int rc = rd_file_read(path, MAX_FLAGS_BYTES, &text, &len, err);
    if (rc)
        return rc;
    rc = rd_embed_flags_parse(text, len, lenient, fractional_version, out, err);
    rd_free(text);
    if (rc)
        rd_err_prefix(err, "%s", path); /* as `riskd flags validate` names the file */
    return rc;
}

void rd_embed_flags_free(rd_embed_flags *f)
{
    if (!f)
        return;
    rd_flagset_unref(f->fs);
    free(f);
}

size_t rd_embed_flags_count(const rd_embed_flags *f) { return f ? rd_flagset_count(f->fs) : 0; }

const char *rd_embed_flags_key(const rd_embed_flags *f, size_t i)
{
    return f && i < rd_flagset_count(f->fs) ? rd_flagset_key(f->fs, i) : NULL;
}

/* Hand b to the caller as malloc'd text (rd_embed_free). */
static int give(rd_buf *b, char **out, rd_err *err)
{
    char *text = b->oom ? NULL : malloc(b->len + 1);
    if (text) {
        memcpy(text, b->data ? b->data : "", b->len);
        text[b->len] = '\0';
    }
    rd_buf_deinit(b);
    if (!text)
        return rd_err_set(err, RD_ENOMEM, "out of memory");
    *out = text;
    return RD_OK;
}

int rd_embed_flags_keys(const rd_embed_flags *f, char **json, rd_err *err)
{
    if (!f || !json)
        return rd_err_set(err, RD_EINVAL, "flags: no flag set");
    rd_buf b;
    rd_buf_init(&b);
    rd_buf_putc(&b, '[');
    for (size_t i = 0, n = rd_flagset_count(f->fs); i < n; i++) {
        const char *k = rd_flagset_key(f->fs, i);
        if (i)
            rd_buf_putc(&b, ',');
        rd_json_write_string(&b, k, strlen(k));
    }
    rd_buf_putc(&b, ']');
    return give(&b, json, err);
}

static void put_str_or_null(rd_buf *b, const char *s)
{
    if (s)
        rd_json_write_string(b, s, strlen(s));
    else
        rd_buf_puts(b, "null");
}

int rd_embed_flags_evaluate(const rd_embed_flags *f, const char *key, size_t key_len, const char *type,
                            const char *context_json, size_t ctx_len, int64_t timestamp, char **result,
                            rd_err *err)
{
    if (!f || !key || !result)
        return rd_err_set(err, RD_EINVAL, "flags: no flag set or no key");
    rd_flag_type t = RD_FLAG_ANY;
    if (type && rd_flag_type_parse(type, &t) != RD_OK)
        return rd_err_set(err, RD_EINVAL, "type: one of boolean, string, integer, float, object, not \"%s\"",
                          type);
    if (timestamp < 0)
        return rd_err_set(err, RD_EINVAL, "timestamp: unix seconds (0: now), not %lld", (long long)timestamp);
    rd_arena arena;
    rd_arena_init(&arena, 0);
    rd_value ctx = RD_NULL_VALUE;
    int rc = RD_OK;
    if (context_json && ctx_len) {
        /* the parser's limits: 16 MiB, depth 64, a million values */
        rc = rd_json_parse(context_json, ctx_len, NULL, &arena, &ctx, err);
        if (rc)
            rd_err_prefix(err, "context");
        else if (ctx.type != RD_VOBJECT && ctx.type != RD_VNULL)
            rc = rd_err_set(err, RD_EINVAL, "context must be an object, not %s", rd_vtype_name(ctx.type));
    }
    if (rc) {
        rd_arena_deinit(&arena);
        return rc;
    }
    rd_resolution r;
    rd_flag_eval(f->fs, key, key_len, t, ctx.type == RD_VOBJECT ? &ctx : NULL, timestamp, &arena, &r);
    rd_buf b;
    rd_buf_init(&b);
    rd_buf_puts(&b, "{\"key\":");
    rd_json_write_string(&b, key, key_len);
    if (r.has_value) {
        rd_buf_puts(&b, ",\"value\":");
        rd_json_write(&b, &r.value);
    }
    rd_buf_puts(&b, ",\"variant\":");
    put_str_or_null(&b, r.variant);
    rd_buf_printf(&b, ",\"reason\":\"%s\",\"errorCode\":", rd_reason_name(r.reason));
    if (r.error != RD_FLAG_OK) {
        rd_buf_printf(&b, "\"%s\",\"errorMessage\":", rd_flag_error_name(r.error));
        put_str_or_null(&b, r.error_message ? r.error_message : rd_flag_error_name(r.error));
    } else {
        rd_buf_puts(&b, "null,\"errorMessage\":null");
    }
    rd_buf_puts(&b, ",\"flagMetadata\":");
    rd_json_write(&b, r.metadata);
    rd_buf_putc(&b, '}');
    rd_arena_deinit(&arena); /* the resolution's pointers are in the arena: written out above */
    return give(&b, result, err);
}
