/* riskd flags validate | eval | export: the flag engine from the command line (export: cmd_change.c).
 *
 * `eval` reads JSON lines and writes one result line per request, in order, so a test
 * suite or another language can drive the in-process engine exactly as the server will. */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "riskd/auth.h"
#include "riskd/change.h"
#include "riskd/clock.h"
#include "riskd/riskd.h"
#include "riskd/store.h"

#define MAX_FLAGS_BYTES (64u << 20)
#define MAX_LINE_BYTES  (1u << 20)

static const char flags_usage[] =
    "usage: riskd flags <validate|eval|export|import> [options]\n"
    "\n"
    "  validate FILE [--lenient] [--fractional v2|v3]\n"
    "      Check a flagd flag set; prints the number of flags, or the fault with the flag and\n"
    "      JSON path. Exit 1 when the file is invalid.\n"
    "\n"
    "  eval --flags FILE --requests FILE.jsonl|-  [--lenient] [--fractional v2|v3] [--timestamp S]\n"
    "  eval --flags FILE --flag KEY [--type T] [--default JSON] [--context JSON]\n"
    "      Evaluate flags. Each request line is\n"
    "        "
    "{\"flag\":\"key\",\"type\":\"boolean|string|integer|float|object\",\"default\":V,\"context\":{...}}\n"
    "      (type omitted: no type check); each output line, in the same order, is\n"
    "        {\"flag\",\"value\",\"variant\",\"reason\",\"errorCode\",\"errorMessage\",\"metadata\"}\n"
    "      where value is the request's default whenever the flag yields no value.\n"
    "      A --default that is not valid JSON is taken as a string.\n"
    "\n"
    "  export --git DIR [--data-dir DIR] [--target FLAGFILE]\n"
    "      Commit the published versions of a flag file into a Git repository, tagged flags/vN\n"
    "      (riskd flags export --help).\n"
    "\n"
    "  import FILE --store URL [--token-file FILE]\n"
    "      Load the first flag set into a store that holds none (several nodes: riskd serve\n"
    "      --store URL --flags store serves it). Checked as serving checks it, version 1,\n"
    "      audited, every node told. Refused once a flag set is there: later changes are change\n"
    "      requests (riskd change propose --kind flags --target store). Needs a token with the\n"
    "      publish permission once the store has users. Exit 1 refused, 4 store unreachable.\n"
    "\n"
    "  --lenient       accept what flagd accepts: a flag whose targeting cannot compile\n"
    "                  evaluates to ERROR/PARSE_ERROR instead of rejecting the whole file\n"
    "  --fractional    bucketing algorithm: v2 (flagd today, the default) or v3 (CBOR keys)\n"
    "  --timestamp S   what $flagd.timestamp reads (unix seconds; default: now)\n"
    "\n"
    "exit codes: 0 success, 1 invalid flag file, 2 usage error, 3 some requests rejected, 4 I/O error\n";

struct eval_opts {
    rd_flagset_opts fs;
    int64_t timestamp;
};

static int load_flagset(const char *path, const rd_flagset_opts *o, rd_flagset **out)
{
    char *text;
    size_t len;
    rd_err err;
    int rc = rd_file_read(path, MAX_FLAGS_BYTES, &text, &len, &err);
    if (rc != RD_OK) {
        cli_errorf("%s", err.msg);
        return cli_exit_for(rc);
    }
    rc = rd_flagset_parse(text, len, o, out, &err);
    rd_free(text);
    if (rc != RD_OK) {
        cli_errorf("%s: %s", path, err.msg);
        return CLI_INVALID_INPUT;
    }
    return CLI_OK;
}

/* Append one result line. */
static void write_result(rd_buf *b, const char *flag, size_t flag_len, const rd_value *def,
                         const rd_resolution *r)
{
    rd_buf_puts(b, "{\"flag\":");
    if (flag)
        rd_json_write_string(b, flag, flag_len);
    else
        rd_buf_puts(b, "null");
    rd_buf_puts(b, ",\"value\":");
    rd_json_write(b, r->has_value ? &r->value : def);
    rd_buf_puts(b, ",\"variant\":");
    if (r->variant)
        rd_json_write_string(b, r->variant, strlen(r->variant));
    else
        rd_buf_puts(b, "null");
    rd_buf_printf(b, ",\"reason\":\"%s\",\"errorCode\":", rd_reason_name(r->reason));
    if (r->error != RD_FLAG_OK) {
        rd_buf_printf(b, "\"%s\",\"errorMessage\":", rd_flag_error_name(r->error));
        rd_json_write_string(b, r->error_message, strlen(r->error_message));
    } else {
        rd_buf_puts(b, "null,\"errorMessage\":null");
    }
    rd_buf_puts(b, ",\"metadata\":");
    rd_json_write(b, r->metadata);
    rd_buf_puts(b, "}\n");
}

/* A request that could not be read: an ERROR line that says why, so order is kept. */
static void write_bad_request(rd_buf *b, const rd_flagset *fs, const char *msg)
{
    static const rd_value null_value = {.type = RD_VNULL};
    rd_resolution r = {.reason = RD_REASON_ERROR,
                       .error = RD_FLAG_INVALID_CONTEXT,
                       .error_message = msg,
                       .metadata = rd_flagset_metadata(fs)};
    write_result(b, NULL, 0, &null_value, &r);
}

/* Evaluate one request line into out. Returns false when the line was rejected. */
static bool eval_line(const rd_flagset *fs, const struct eval_opts *o, const char *line, size_t len,
                      size_t lineno, rd_arena *arena, rd_buf *out)
{
    static const rd_value null_value = {.type = RD_VNULL};
    rd_json_limits lim = {.max_bytes = MAX_LINE_BYTES, .max_depth = 64};
    rd_value req;
    rd_err err;
    char msg[600];
    if (rd_json_parse(line, len, &lim, arena, &req, &err) != RD_OK) {
        snprintf(msg, sizeof(msg), "line %zu: %s", lineno, err.msg);
        write_bad_request(out, fs, msg);
        return false;
    }
    const rd_value *flag = rd_value_get(&req, "flag", 4);
    const rd_value *type = rd_value_get(&req, "type", 4);
    const rd_value *def = rd_value_get(&req, "default", 7);
    const rd_value *ctx = rd_value_get(&req, "context", 7);
    rd_flag_type t = RD_FLAG_ANY;
    const char *why = NULL;
    if (req.type != RD_VOBJECT)
        why = "a request must be a JSON object";
    else if (!flag || flag->type != RD_VSTRING)
        why = "\"flag\" must be a string";
    else if (type && (type->type != RD_VSTRING || rd_flag_type_parse(type->u.s, &t) != RD_OK))
        why = "\"type\" must be one of boolean, string, integer, float, object";
    else if (ctx && ctx->type != RD_VOBJECT && ctx->type != RD_VNULL)
        why = "\"context\" must be an object";
    if (why) {
        snprintf(msg, sizeof(msg), "line %zu: %s", lineno, why);
        write_bad_request(out, fs, msg);
        return false;
    }
    rd_resolution r;
    rd_flag_eval(fs, flag->u.s, flag->len, t, ctx && ctx->type == RD_VOBJECT ? ctx : NULL, o->timestamp,
                 arena, &r);
    write_result(out, flag->u.s, flag->len, def ? def : &null_value, &r);
    return true;
}

static int eval_stream(const rd_flagset *fs, const struct eval_opts *o, FILE *in)
{
    rd_arena arena;
    rd_buf out;
    rd_arena_init(&arena, 64u << 20);
    rd_buf_init(&out);
    char *line = NULL;
    size_t cap = 0, lineno = 0, rejected = 0;
    ssize_t n;
    while ((n = getline(&line, &cap, in)) >= 0) {
        lineno++;
        size_t len = (size_t)n;
        while (len && (line[len - 1] == '\n' || line[len - 1] == '\r'))
            len--;
        if (len == 0)
            continue;
        if (!eval_line(fs, o, line, len, lineno, &arena, &out))
            rejected++;
        rd_arena_reset(&arena);
        if (out.len >= 1u << 16) {
            fwrite(out.data, 1, out.len, stdout);
            rd_buf_reset(&out);
        }
    }
    int io_failed = ferror(in);
    free(line);
    if (out.len)
        fwrite(out.data, 1, out.len, stdout);
    rd_buf_deinit(&out);
    rd_arena_deinit(&arena);
    if (fflush(stdout) != 0 || io_failed) {
        cli_errorf("I/O error: %s", strerror(errno));
        return CLI_IO;
    }
    if (rejected)
        cli_errorf("%zu of %zu requests rejected", rejected, lineno);
    return rejected ? CLI_PARTIAL : CLI_OK;
}

static int eval_one(const rd_flagset *fs, const struct eval_opts *o, const char *key, const char *type,
                    const char *def_text, const char *ctx_text)
{
    rd_arena arena;
    rd_arena_init(&arena, 0);
    rd_value def = RD_NULL_VALUE, ctx = {.type = RD_VOBJECT};
    rd_flag_type t = RD_FLAG_ANY;
    rd_err err;
    int rc = CLI_OK;
    if (type && rd_flag_type_parse(type, &t) != RD_OK) {
        cli_errorf("--type: must be one of boolean, string, integer, float, object");
        rc = CLI_USAGE;
    } else if (def_text && rd_json_parse(def_text, strlen(def_text), NULL, &arena, &def, &err) != RD_OK) {
        def = rd_value_string(def_text, (uint32_t)strlen(def_text));
    }
    if (rc == CLI_OK && ctx_text &&
        rd_json_parse(ctx_text, strlen(ctx_text), NULL, &arena, &ctx, &err) != RD_OK) {
        cli_errorf("--context: %s", err.msg);
        rc = CLI_USAGE;
    } else if (rc == CLI_OK && ctx.type != RD_VOBJECT) {
        cli_errorf("--context: must be a JSON object");
        rc = CLI_USAGE;
    }
    if (rc == CLI_OK) {
        rd_resolution r;
        rd_buf out;
        rd_buf_init(&out);
        rd_flag_eval(fs, key, strlen(key), t, &ctx, o->timestamp, &arena, &r);
        write_result(&out, key, strlen(key), &def, &r);
        fputs(rd_buf_cstr(&out), stdout);
        rd_buf_deinit(&out);
    }
    rd_arena_deinit(&arena);
    return rc;
}

static int parse_fractional(const char *s, int *out)
{
    if (!strcmp(s, "v2") || !strcmp(s, "2"))
        *out = 2;
    else if (!strcmp(s, "v3") || !strcmp(s, "3"))
        *out = 3;
    else {
        cli_errorf("--fractional: must be v2 or v3");
        return CLI_USAGE;
    }
    return CLI_OK;
}

enum {
    OPT_LENIENT = 256,
    OPT_FRACTIONAL,
    OPT_TIMESTAMP,
    OPT_FLAGS,
    OPT_REQUESTS,
    OPT_FLAG,
    OPT_TYPE,
    OPT_DEFAULT,
    OPT_CONTEXT
};

static const struct option long_opts[] = {
    {"help", no_argument, NULL, 'h'},
    {"lenient", no_argument, NULL, OPT_LENIENT},
    {"fractional", required_argument, NULL, OPT_FRACTIONAL},
    {"timestamp", required_argument, NULL, OPT_TIMESTAMP},
    {"flags", required_argument, NULL, OPT_FLAGS},
    {"requests", required_argument, NULL, OPT_REQUESTS},
    {"flag", required_argument, NULL, OPT_FLAG},
    {"type", required_argument, NULL, OPT_TYPE},
    {"default", required_argument, NULL, OPT_DEFAULT},
    {"context", required_argument, NULL, OPT_CONTEXT},
    {NULL, 0, NULL, 0},
};

struct args {
    struct eval_opts eo;
    const char *flags, *requests, *flag, *type, *def, *ctx;
};

static int parse_args(int argc, char **argv, struct args *a)
{
    int c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "h", long_opts, NULL)) != -1) {
        char *end;
        switch (c) {
        case 'h': fputs(flags_usage, stdout); exit(CLI_OK);
        case OPT_LENIENT: a->eo.fs.lenient = true; break;
        case OPT_FRACTIONAL:
            if (parse_fractional(optarg, &a->eo.fs.fractional_version) != CLI_OK)
                return CLI_USAGE;
            break;
        case OPT_TIMESTAMP:
            errno = 0;
            a->eo.timestamp = strtoll(optarg, &end, 10);
            if (errno || *end || a->eo.timestamp <= 0) {
                cli_errorf("--timestamp: must be a positive number of seconds");
                return CLI_USAGE;
            }
            break;
        case OPT_FLAGS: a->flags = optarg; break;
        case OPT_REQUESTS: a->requests = optarg; break;
        case OPT_FLAG: a->flag = optarg; break;
        case OPT_TYPE: a->type = optarg; break;
        case OPT_DEFAULT: a->def = optarg; break;
        case OPT_CONTEXT: a->ctx = optarg; break;
        default: fputs(flags_usage, stderr); return CLI_USAGE;
        }
    }
    return CLI_OK;
}

static int flags_validate(int argc, char **argv)
{
    struct args a = {0};
    int rc = parse_args(argc, argv, &a);
    if (rc != CLI_OK)
        return rc;
    if (optind != argc - 1) {
        cli_errorf("flags validate: give exactly one FILE");
        return CLI_USAGE;
    }
    rd_flagset *fs;
    if ((rc = load_flagset(argv[optind], &a.eo.fs, &fs)) != CLI_OK)
        return rc;
    printf("%s: ok, %zu flags\n", argv[optind], rd_flagset_count(fs));
    rd_flagset_unref(fs);
    return CLI_OK;
}

static int flags_eval(int argc, char **argv)
{
    struct args a = {0};
    int rc = parse_args(argc, argv, &a);
    if (rc != CLI_OK)
        return rc;
    if (!a.flags || (!a.requests == !a.flag) || optind != argc) {
        cli_errorf("flags eval: give --flags FILE and either --requests FILE or --flag KEY");
        return CLI_USAGE;
    }
    rd_flagset *fs;
    if ((rc = load_flagset(a.flags, &a.eo.fs, &fs)) != CLI_OK)
        return rc;
    if (a.flag) {
        rc = eval_one(fs, &a.eo, a.flag, a.type, a.def, a.ctx);
    } else {
        FILE *in = strcmp(a.requests, "-") ? fopen(a.requests, "r") : stdin;
        if (!in) {
            cli_errorf("%s: %s", a.requests, strerror(errno));
            rc = CLI_IO;
        } else {
            rc = eval_stream(fs, &a.eo, in);
            if (in != stdin)
                fclose(in);
        }
    }
    rd_flagset_unref(fs);
    return rc;
}

static int has_user(void *ud, const rd_user_row *u)
{
    (void)u;
    *(bool *)ud = true;
    return 1; /* one is enough */
}

/* Who may import: anyone at the console of a store without users (its set-up), else a token
 * with the publish permission. */
static int import_principal(rd_store *s, const char *token_file, rd_principal *who)
{
    int rc = cli_principal(s, token_file, who);
    if (rc || !who->console)
        return rc;
    rd_err err;
    bool any = false;
    rc = rd_store_user_list(s, has_user, &any, &err);
    if (rc && rc != 1) {
        cli_errorf("%s", err.msg);
        return cli_exit_for(rc);
    }
    if (any) {
        cli_errorf("flags import: %s has users: give a token with the publish permission (--token-file)",
                   rd_store_name(s));
        return CLI_REFUSED;
    }
    return CLI_OK;
}

static int flags_import(int argc, char **argv)
{
    const char *store = NULL, *token_file = NULL;
    static const struct option opts[] = {{"store", required_argument, NULL, 's'},
                                         {"data-dir", required_argument, NULL, 's'},
                                         {"token-file", required_argument, NULL, 't'},
                                         {"help", no_argument, NULL, 'h'},
                                         {0, 0, 0, 0}};
    int o;
    optind = 1;
    while ((o = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        switch (o) {
        case 's': store = optarg; break;
        case 't': token_file = optarg; break;
        case 'h': fputs(flags_usage, stdout); return CLI_OK;
        default: return CLI_USAGE;
        }
    }
    if (optind + 1 != argc || !store) {
        cli_errorf("usage: riskd flags import FILE --store URL [--token-file FILE]");
        return CLI_USAGE;
    }
    char *text;
    size_t len;
    rd_err err;
    int rc = rd_file_read(argv[optind], MAX_FLAGS_BYTES, &text, &len, &err);
    if (rc) {
        cli_errorf("%s", err.msg);
        return cli_exit_for(rc);
    }
    rd_store *s = NULL;
    rd_principal who;
    int64_t version = 0;
    if ((rc = rd_store_open(store, NULL, &s, &err)) == RD_OK) {
        int prc = import_principal(s, token_file, &who);
        if (prc) {
            rd_store_close(s);
            rd_free(text);
            return prc;
        }
        if (!who.console)
            rc = rd_principal_require(&who, RD_PERM_PUBLISH, "import a flag set", &err);
        if (!rc)
            rc = rd_flags_store_import(s, rd_principal_name(&who), text, len, rd_clock_unix_ms(), &version,
                                       &err);
    }
    rd_free(text);
    if (rc) {
        cli_errorf("flags import: %s", err.msg);
        rd_store_close(s);
        return cli_exit_for(rc);
    }
    printf("imported %s into %s as flag set version %lld\n", argv[optind], rd_store_name(s),
           (long long)version);
    rd_store_close(s);
    return CLI_OK;
}

int cmd_flags(int argc, char **argv)
{
    if (argc < 2 || !strcmp(argv[1], "-h") || !strcmp(argv[1], "--help")) {
        fputs(flags_usage, argc < 2 ? stderr : stdout);
        return argc < 2 ? CLI_USAGE : CLI_OK;
    }
    if (!strcmp(argv[1], "validate"))
        return flags_validate(argc - 1, argv + 1);
    if (!strcmp(argv[1], "eval"))
        return flags_eval(argc - 1, argv + 1);
    if (!strcmp(argv[1], "export"))
        return cli_flags_export(argc - 1, argv + 1);
    if (!strcmp(argv[1], "import"))
        return flags_import(argc - 1, argv + 1);
    cli_errorf("flags: unknown subcommand \"%s\" (validate, eval, export or import)", argv[1]);
    return CLI_USAGE;
}
