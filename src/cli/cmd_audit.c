/* riskd audit verify | head | export | list: the audit chain of a data directory, read back
 * (include/riskd/audit.h; docs/governance.md, "The audit chain"). Every subcommand opens the
 * store read-only: nothing here writes an entry. The rules are the library's; this file reads
 * argv and prints. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "riskd/audit.h"
#include "riskd/json.h"

#define ANCHOR_MAX_BYTES 4096
#define LIST_DEFAULT     20
#define LIST_DETAIL      60 /* bytes of a detail a list row shows */

static const char usage[] =
    "usage: riskd audit verify --data-dir DIR [--anchor FILE | --head HASH --seq N] [--json]\n"
    "       riskd audit head --data-dir DIR [--json]\n"
    "       riskd audit export --data-dir DIR [--format jsonl] [--from SEQ] [--out FILE]\n"
    "       riskd audit list --data-dir DIR [--limit N]\n"
    "\n"
    "The audit chain of DIR/riskd.db: every governance change, one entry each, chained by SHA-256\n"
    "(docs/governance.md, \"The audit chain\", has the byte recipe for an outside verifier).\n"
    "\n"
    "verify   recompute every hash and check that seqs run 1, 2, 3... and that each entry names the\n"
    "         hash of the one before. Prints \"audit chain intact: N entries, head seq S hash H\",\n"
    "         or \"audit chain broken at seq N: PROBLEM\" (edited, deleted, inserted, reordered) and\n"
    "         exits 5. A tail cut off leaves a shorter chain that is intact in itself: to find it,\n"
    "         give the head kept elsewhere, --anchor FILE (what `riskd audit head --json` printed)\n"
    "         or --head HASH --seq N; that entry must then be in the chain with that hash.\n"
    "head     the last entry's seq and hash (seq 0 and 64 zeros for an empty chain): \"seq N hash H\",\n"
    "         or with --json the anchor file {\"seq\":N,\"hash\":\"H\"}. Keep it on another system.\n"
    "export   one entry per line, oldest first, as a JSON object with the members action, actor,\n"
    "         after_sha256, before_sha256, detail (an object), hash, object, prev_hash, seq, time;\n"
    "         --from SEQ starts there; --out FILE writes there instead of stdout.\n"
    "list     the newest entries first (--limit N, default 20, 0: all) as a table.\n"
    "\n"
    "exit codes: 0 success (verify: intact), 1 invalid input (a malformed anchor), 2 usage error,\n"
    "            4 I/O error, 5 verify found the chain broken\n";

static int usage_error(void)
{
    fputs(usage, stderr);
    return CLI_USAGE;
}

static int open_store(const char *dir, rd_store **s) { return cli_report_store(dir, s); }

static int lib_error(const rd_err *err)
{
    cli_errorf("%s", err->msg);
    return cli_exit_for(err->code);
}

/* A whole number in [0, max] from text, or -1. */
static int64_t parse_count(const char *s, int64_t max)
{
    char *end;
    if (!s || !*s || *s == '-' || *s == '+')
        return -1;
    long long v = strtoll(s, &end, 10);
    return *end || v < 0 || v > max ? -1 : (int64_t)v;
}

/* ------------------------------------------------------------------ the anchor */

static bool is_hash(const char *s)
{
    size_t n = strspn(s, "0123456789abcdef");
    return n == RD_SHA256_HEX - 1 && !s[n];
}

/* The anchor file: exactly {"seq": N, "hash": "64 lowercase hex"}, nothing else, so a file
 * that is not what `audit head --json` wrote is refused rather than half-read. */
static int read_anchor(const char *path, int64_t *seq, char hash[RD_SHA256_HEX])
{
    char *text;
    size_t len;
    rd_err err;
    if (rd_file_read(path, ANCHOR_MAX_BYTES, &text, &len, &err) != RD_OK)
        return lib_error(&err);
    rd_arena a;
    rd_arena_init(&a, 0);
    rd_value v;
    int rc = CLI_OK;
    if (rd_json_parse(text, len, NULL, &a, &v, &err) != RD_OK) {
        cli_errorf("%s: not JSON: %s", path, err.msg);
        rc = CLI_INVALID_INPUT;
        goto out;
    }
    const rd_value *s = v.type == RD_VOBJECT ? rd_value_get(&v, "seq", 3) : NULL;
    const rd_value *h = v.type == RD_VOBJECT ? rd_value_get(&v, "hash", 4) : NULL;
    if (v.type != RD_VOBJECT || v.len != 2 || !s || !h || s->type != RD_VNUMBER || h->type != RD_VSTRING ||
        !(s->u.n >= 0 && s->u.n <= RD_MAX_SAFE_INTEGER && s->u.n == (double)(int64_t)s->u.n) ||
        !is_hash(h->u.s)) {
        cli_errorf("%s: an anchor is {\"seq\": N, \"hash\": \"64 lowercase hex digits\"} and nothing else "
                   "(riskd audit head --json writes one)",
                   path);
        rc = CLI_INVALID_INPUT;
        goto out;
    }
    *seq = (int64_t)s->u.n;
    memcpy(hash, h->u.s, RD_SHA256_HEX);
out:
    rd_arena_deinit(&a);
    rd_free(text);
    return rc;
}

/* ------------------------------------------------------------------ verify */

typedef struct verify_args {
    const char *dir, *anchor, *head, *seq;
    bool json;
} verify_args;

static int parse_verify(int argc, char **argv, verify_args *a)
{
    static const struct option opts[] = {
        {"help", no_argument, NULL, 'h'},
        {"data-dir", required_argument, NULL, 'd'}, {"store", required_argument, NULL, 'd'},
        {"anchor", required_argument, NULL, 'a'},
        {"head", required_argument, NULL, 'H'},
        {"seq", required_argument, NULL, 's'},
        {"json", no_argument, NULL, 'j'},
        {NULL, 0, NULL, 0},
    };
    int c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        switch (c) {
        case 'h': fputs(usage, stdout); return -1;
        case 'd': a->dir = optarg; break;
        case 'a': a->anchor = optarg; break;
        case 'H': a->head = optarg; break;
        case 's': a->seq = optarg; break;
        case 'j': a->json = true; break;
        default: return usage_error();
        }
    }
    if (!a->dir || optind != argc)
        return usage_error();
    if (a->anchor && (a->head || a->seq)) {
        cli_errorf("--anchor, or --head with --seq: not both");
        return CLI_USAGE;
    }
    if (!a->head != !a->seq) {
        cli_errorf("--head and --seq go together (the anchor's hash and its seq)");
        return CLI_USAGE;
    }
    return CLI_OK;
}

/* The anchor the arguments give: *hash NULL when none. */
static int pick_anchor(const verify_args *a, int64_t *seq, char buf[RD_SHA256_HEX], const char **hash)
{
    *hash = NULL;
    if (a->anchor) {
        int rc = read_anchor(a->anchor, seq, buf);
        if (!rc)
            *hash = buf;
        return rc;
    }
    if (!a->head)
        return CLI_OK;
    if (!is_hash(a->head) || (*seq = parse_count(a->seq, (int64_t)RD_MAX_SAFE_INTEGER)) < 0) {
        cli_errorf("--head is 64 lowercase hex digits and --seq a whole number from 0");
        return CLI_USAGE;
    }
    memcpy(buf, a->head, RD_SHA256_HEX);
    *hash = buf;
    return CLI_OK;
}

static void on_progress(void *ud, uint64_t done, uint64_t total)
{
    cli_progress_update(ud, done, total, "entries");
}

static void print_verdict(const rd_audit_verify_result *r, bool json)
{
    if (!json) {
        if (r->first_bad)
            printf("audit chain broken at seq %lld: %s\n", (long long)r->first_bad, r->problem);
        else
            printf("audit chain intact: %llu entries, head seq %lld hash %s\n",
                   (unsigned long long)r->entries, (long long)r->head_seq, r->head_hash);
        return;
    }
    rd_buf b;
    rd_buf_init(&b);
    rd_buf_printf(&b, "{\"intact\":%s,\"entries\":%llu,\"head_seq\":%lld,\"head_hash\":\"%s\",\"first_bad\":",
                  r->first_bad ? "false" : "true", (unsigned long long)r->entries, (long long)r->head_seq,
                  r->head_hash);
    if (r->first_bad) {
        rd_buf_printf(&b, "%lld,\"problem\":", (long long)r->first_bad);
        rd_json_write_string(&b, r->problem, strlen(r->problem));
    } else {
        rd_buf_puts(&b, "null,\"problem\":null");
    }
    rd_buf_puts(&b, "}\n");
    fputs(rd_buf_cstr(&b), stdout);
    rd_buf_deinit(&b);
}

static int cmd_verify(int argc, char **argv)
{
    verify_args a = {0};
    int rc = parse_verify(argc, argv, &a);
    if (rc)
        return rc < 0 ? CLI_OK : rc;
    int64_t anchor_seq = 0;
    char buf[RD_SHA256_HEX];
    const char *anchor_hash;
    if ((rc = pick_anchor(&a, &anchor_seq, buf, &anchor_hash)))
        return rc;
    rd_store *s;
    if ((rc = open_store(a.dir, &s)))
        return rc;
    cli_progress bar;
    cli_progress_init(&bar, "riskd audit verify");
    rd_audit_verify_result r;
    rd_err err;
    rc = rd_audit_verify(s, anchor_seq, anchor_hash, on_progress, &bar, &r, &err);
    cli_progress_end(&bar);
    rd_store_close(s);
    if (rc)
        return lib_error(&err);
    print_verdict(&r, a.json);
    if (fflush(stdout) != 0)
        return CLI_IO;
    return r.first_bad ? CLI_DIFFERENT : CLI_OK;
}

/* ------------------------------------------------------------------ head, export, list */

/* Parse the options the other subcommands share. */
typedef struct args {
    const char *dir, *format, *out;
    int64_t from, limit;
    bool json;
} args;

static int parse_args(int argc, char **argv, const char *shortname, args *a)
{
    static const struct option opts[] = {
        {"help", no_argument, NULL, 'h'},        {"data-dir", required_argument, NULL, 'd'}, {"store", required_argument, NULL, 'd'},
        {"json", no_argument, NULL, 'j'},        {"format", required_argument, NULL, 'F'},
        {"from", required_argument, NULL, 'f'},  {"out", required_argument, NULL, 'o'},
        {"limit", required_argument, NULL, 'l'}, {NULL, 0, NULL, 0},
    };
    int c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        if (c == 'h') {
            fputs(usage, stdout);
            return -1;
        }
        if (c == 'd') {
            a->dir = optarg;
            continue;
        }
        if (c == '?' || !strchr(shortname, c))
            return usage_error(); /* an option of another subcommand */
        switch (c) {
        case 'j': a->json = true; break;
        case 'o': a->out = optarg; break;
        case 'F':
            if (strcmp(optarg, "jsonl") != 0) {
                cli_errorf("--format: jsonl (one entry per line) is the only format");
                return CLI_USAGE;
            }
            a->format = optarg;
            break;
        case 'f':
        case 'l':
            if ((*(c == 'f' ? &a->from : &a->limit) = parse_count(optarg, INT64_MAX)) < 0) {
                cli_errorf("--%s: \"%s\" is not a whole number from 0", c == 'f' ? "from" : "limit", optarg);
                return CLI_USAGE;
            }
            break;
        }
    }
    if (!a->dir || optind != argc)
        return usage_error();
    return CLI_OK;
}

static int cmd_head(int argc, char **argv)
{
    args a = {0};
    int rc = parse_args(argc, argv, "j", &a);
    if (rc)
        return rc < 0 ? CLI_OK : rc;
    rd_store *s;
    if ((rc = open_store(a.dir, &s)))
        return rc;
    int64_t seq;
    char hash[RD_SHA256_HEX];
    rd_err err;
    rc = rd_audit_head(s, &seq, hash, &err);
    rd_store_close(s);
    if (rc)
        return lib_error(&err);
    if (a.json)
        printf("{\"seq\":%lld,\"hash\":\"%s\"}\n", (long long)seq, hash);
    else
        printf("seq %lld hash %s\n", (long long)seq, hash);
    return fflush(stdout) ? CLI_IO : CLI_OK;
}

typedef struct writer {
    FILE *out;
    uint64_t n;
    cli_progress bar;
} writer;

static int write_line(void *ud, const char *json, size_t len)
{
    writer *w = ud;
    fwrite(json, 1, len, w->out);
    fputc('\n', w->out);
    if (++w->n % 1024 == 0)
        cli_progress_update(&w->bar, w->n, 0, "entries");
    return ferror(w->out) ? CLI_IO : 0;
}

static int cmd_export(int argc, char **argv)
{
    args a = {0};
    int rc = parse_args(argc, argv, "Ffo", &a);
    if (rc)
        return rc < 0 ? CLI_OK : rc;
    rd_store *s;
    if ((rc = open_store(a.dir, &s)))
        return rc;
    writer w = {.out = a.out && strcmp(a.out, "-") != 0 ? fopen(a.out, "w") : stdout};
    if (!w.out) {
        cli_errorf("%s: cannot write", a.out);
        rd_store_close(s);
        return CLI_IO;
    }
    cli_progress_init(&w.bar, "riskd audit export");
    rd_err err;
    rc = rd_audit_each(s, a.from, 0, write_line, &w, &err);
    cli_progress_end(&w.bar);
    rd_store_close(s);
    if (rc < 0)
        rc = lib_error(&err);
    else if (rc == CLI_IO)
        cli_errorf("%s: cannot write", a.out ? a.out : "stdout");
    if ((w.out != stdout ? fclose(w.out) : fflush(w.out)) != 0 && !rc) {
        cli_errorf("%s: cannot write", a.out ? a.out : "stdout");
        rc = CLI_IO;
    }
    return rc;
}

static const char *str(const rd_value *o, const char *k)
{
    const rd_value *v = rd_value_get(o, k, strlen(k));
    return v && v->type == RD_VSTRING ? v->u.s : "";
}

/* One row of the table: the entry's JSON (what rd_audit_latest gives) read back. */
static int list_row(void *ud, const char *json, size_t len)
{
    rd_arena *a = ud;
    rd_arena_reset(a);
    rd_value v;
    if (rd_json_parse(json, len, NULL, a, &v, NULL) != RD_OK)
        return CLI_INVALID_INPUT;
    const rd_value *seq = rd_value_get(&v, "seq", 3), *detail = rd_value_get(&v, "detail", 6);
    rd_buf d;
    rd_buf_init(&d);
    if (detail)
        rd_json_write(&d, detail);
    const char *dt = rd_buf_cstr(&d);
    size_t n = strlen(dt), show = n > LIST_DETAIL ? LIST_DETAIL : n;
    while (show < n && show > 0 && ((unsigned char)dt[show] & 0xC0) == 0x80)
        show--; /* cut between characters, not inside one */
    printf("%6lld  %-24s  %-16s  %-20s  %-28s  %.*s%s\n", seq ? (long long)seq->u.n : 0LL, str(&v, "time"),
           str(&v, "actor"), str(&v, "action"), str(&v, "object"), (int)show, dt, show < n ? "..." : "");
    rd_buf_deinit(&d);
    return 0;
}

static int cmd_list(int argc, char **argv)
{
    args a = {.limit = LIST_DEFAULT};
    int rc = parse_args(argc, argv, "l", &a);
    if (rc)
        return rc < 0 ? CLI_OK : rc;
    rd_store *s;
    if ((rc = open_store(a.dir, &s)))
        return rc;
    rd_arena ar;
    rd_arena_init(&ar, 0);
    printf("%6s  %-24s  %-16s  %-20s  %-28s  %s\n", "seq", "time", "actor", "action", "object", "detail");
    rd_err err;
    rc = rd_audit_latest(s, (size_t)a.limit, list_row, &ar, &err);
    rd_arena_deinit(&ar);
    rd_store_close(s);
    if (rc < 0)
        return lib_error(&err);
    return rc ? rc : fflush(stdout) ? CLI_IO : CLI_OK;
}

int cmd_audit(int argc, char **argv)
{
    static const struct {
        const char *name;
        int (*fn)(int, char **);
    } subs[] = {{"verify", cmd_verify}, {"head", cmd_head}, {"export", cmd_export}, {"list", cmd_list}};
    for (size_t i = 0; argc >= 2 && i < sizeof subs / sizeof *subs; i++)
        if (!strcmp(argv[1], subs[i].name))
            return subs[i].fn(argc - 1, argv + 1);
    if (argc >= 2 && (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h"))) {
        fputs(usage, stdout);
        return CLI_OK;
    }
    return usage_error();
}
