/* riskd change propose | edit | submit | withdraw | approve | reject | publish | list | show |
 * versions | settings, riskd rollback, riskd flags export: change requests from the command
 * line (include/riskd/change.h, docs/governance.md).
 *
 * Each command is one request of the admin HTTP API (API contract: /v1/admin/...), sent to a
 * server (--server URL, cmd_change_http.c) or carried out by the library on a data
 * directory's store (--data-dir DIR), which answers with the very JSON the server would. The
 * output is then written from that JSON by one set of printers, so both ways print the same.
 * A refusal prints "riskd: <message> (<CODE>)" and exits 7 when it is about who you are or
 * what your role allows, 1 for a refused change (wrong state, stale revision, a file that
 * does not parse), 4 when the server or the store cannot be reached. */
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli.h"
#include "riskd/auth.h"
#include "riskd/change.h"
#include "riskd/clock.h"
#include "riskd/json.h"
#include "riskd/store.h"

#define MAX_FILE_BYTES (16u << 20)

/* ------------------------------------------------------------------ usage */

#define CONN_USAGE                                                                                           \
    "where to:\n"                                                                                            \
    "  --server URL       a riskd server's admin API (http:// or https://)\n"                                \
    "  --data-dir DIR     or the data directory itself, when no server runs on it\n"                         \
    "  --token-file FILE  your token (else $RISKD_TOKEN_FILE, else $RISKD_TOKEN)\n"                          \
    "  --cacert FILE      with https: the CA that signed the server's certificate\n"                         \
    "  --cert FILE --key FILE  a client certificate and its key, when the server asks for one\n"

#define EXIT_USAGE                                                                                           \
    "exit codes: 0 done, 1 refused (invalid file, wrong state, stale revision, not found),\n"                \
    "            2 usage error, 4 I/O error (the server or the store cannot be reached),\n"                  \
    "            7 not authenticated, or not allowed (your role; nobody approves their own change)\n"

static const char change_usage[] =
    "usage: riskd change <command> [options] (--server URL | --data-dir DIR) [--token-file FILE]\n"
    "\n"
    "Change requests: a change to a served flag file, a bundle's registration or a rollout plan\n"
    "takes effect only once a second person approved it (docs/governance.md).\n"
    "\n"
    "commands:\n"
    "  propose   --flags NEW.json [--target FLAGFILE] | --bundle DIR | --rollout PLAN --target FILE\n"
    "  edit      ID --flags NEW.json [--title T]      a new revision (the approvals are cleared)\n"
    "  submit    ID                                   a draft becomes proposed\n"
    "  withdraw  ID [--reason R]\n"
    "  approve   ID [--revision N] [--note T]          never your own change, nor one you edited\n"
    "  reject    ID --reason R\n"
    "  publish   ID                                   an approved change goes live\n"
    "  list      [--state S] [--json]\n"
    "  show      ID [--json] [--payload]              with the flag diff\n"
    "  versions  [--kind K] [--target F] [--json]     what was published, rolled back, adopted\n"
    "  settings  [--approvals flags=2,bundle=1]       approvals each kind needs (admin)\n"
    "\n"
    "riskd rollback (one person, audited) and riskd flags export --git go with them.\n"
    "riskd change <command> --help says more.\n"
    "\n" CONN_USAGE "\n" EXIT_USAGE;

static const char propose_usage[] =
    "usage: riskd change propose --flags NEW.json [--target FLAGFILE] [--title T] [--draft]\n"
    "       riskd change propose --bundle DIR [--title T] [--draft]\n"
    "       riskd change propose --rollout PLAN.json --target PLANFILE [--title T] [--draft]\n"
    "\n"
    "Propose a change and print its id alone (for scripts). The new file is checked as serving\n"
    "would check it: a flag set that does not parse strictly, a plan or a bundle that would be\n"
    "refused is refused now (exit 1). --target is the served file the change replaces (a path\n"
    "on the server's machine; for flags, default: the flag file the server serves); --bundle\n"
    "names a bundle directory to register. --draft keeps it a draft until `change submit`.\n"
    "--json prints the whole change instead of its id.\n"
    "\n" CONN_USAGE "\n" EXIT_USAGE;

static const char edit_usage[] =
    "usage: riskd change edit ID [--flags NEW.json | --rollout PLAN.json] [--title T]\n"
    "\n"
    "Replace the new file (or the title) of a draft, proposed or approved change: the revision\n"
    "goes up, the approvals are cleared, and you become an editor, who may not approve it.\n"
    "\n" CONN_USAGE "\n" EXIT_USAGE;

static const char submit_usage[] = "usage: riskd change submit ID\n"
                                   "\n"
                                   "A draft becomes proposed, open for approval (its author or an editor).\n"
                                   "\n" CONN_USAGE "\n" EXIT_USAGE;

static const char withdraw_usage[] = "usage: riskd change withdraw ID [--reason R]\n"
                                     "\n"
                                     "Withdraw a change that is not published (its author, or an approver).\n"
                                     "\n" CONN_USAGE "\n" EXIT_USAGE;

static const char approve_usage[] =
    "usage: riskd change approve ID [--revision N] [--note T]\n"
    "\n"
    "Approve a proposed change (a manager). Nobody approves a change they wrote or edited, with\n"
    "whatever token. --revision is the revision you reviewed (riskd change show prints it): if\n"
    "the change was edited since, the approval is refused. Once enough people approved (riskd\n"
    "change settings), the change is approved and can be published.\n"
    "\n" CONN_USAGE "\n" EXIT_USAGE;

static const char reject_usage[] = "usage: riskd change reject ID --reason R\n"
                                   "\n"
                                   "Reject someone else's change (a manager).\n"
                                   "\n" CONN_USAGE "\n" EXIT_USAGE;

static const char publish_usage[] =
    "usage: riskd change publish ID\n"
    "\n"
    "Apply an approved change (a manager or an operator): the served file is replaced at once,\n"
    "only if it still holds what the change was proposed against; otherwise propose it again.\n"
    "Prints \"published change ID as version N\".\n"
    "\n" CONN_USAGE "\n" EXIT_USAGE;

static const char list_usage[] = "usage: riskd change list [--state S] [--limit N] [--json]\n"
                                 "\n"
                                 "The changes, newest first (state: draft, proposed, approved, published,\n"
                                 "rejected, withdrawn). --limit: at most N (1 to 10000, default 50).\n"
                                 "\n" CONN_USAGE "\n" EXIT_USAGE;

static const char show_usage[] =
    "usage: riskd change show ID [--json] [--payload]\n"
    "\n"
    "One change: its state and revision, the approvals of the current revision, its history, and\n"
    "for a flags change the diff against the file it replaces: flags added, removed and changed\n"
    "(each changed flag before and after). --payload adds the new file itself.\n"
    "\n" CONN_USAGE "\n" EXIT_USAGE;

static const char versions_usage[] =
    "usage: riskd change versions [--kind flags|bundle|rollout] [--target F] [--limit N] [--json]\n"
    "\n"
    "The published versions, newest first: each with how it came (publish, rollback, adopt, or\n"
    "rollout: the controller's stage writes), its change request, author, approvers and who\n"
    "published it. --limit: at most N (1 to 10000, default 50).\n"
    "\n" CONN_USAGE "\n" EXIT_USAGE;

static const char settings_usage[] =
    "usage: riskd change settings --approvals KIND=N[,KIND=N...]\n"
    "       riskd change settings --data-dir DIR\n"
    "\n"
    "How many people besides the author must approve a change of each kind (flags, bundle,\n"
    "rollout; 1 to 5, default 1). Setting it needs an admin's token; without --approvals, with\n"
    "a data directory, prints the current values.\n"
    "\n" CONN_USAGE "\n" EXIT_USAGE;

static const char rollback_usage[] =
    "usage: riskd rollback [--kind flags|bundle|rollout] [--target T] [--to N] [--reason R]\n"
    "                      (--server URL | --data-dir DIR) [--token-file FILE]\n"
    "\n"
    "Put a served file back, at once, without an approval: one person with the rollback\n"
    "permission (a manager or an operator) does it, and it is audited. By default the flag file\n"
    "the server serves goes back to what its newest version replaced; --to N restores version N\n"
    "(riskd change versions lists them). For a bundle, the newest registration is revoked.\n"
    "Prints the version the rollback made.\n"
    "\n" CONN_USAGE "\n" EXIT_USAGE;

const char cli_flags_export_usage[] =
    "usage: riskd flags export --git DIR [--data-dir DIR] [--target FLAGFILE]\n"
    "\n"
    "Commit every published version of a flag file (default: the one the server serves) that is\n"
    "not yet in the Git repository DIR (created when missing): one commit per version, tagged\n"
    "flags/vN, its message naming the change request, its author, approvers and publisher, so\n"
    "GitOps tools and flagd's file sync can follow. Run it again after a publish: it adds only\n"
    "the new versions, and prints how many. Reads the store only (--data-dir: default\n"
    "./riskd-data); no token needed.\n"
    "\n"
    "exit codes: 0 done, 1 nothing published, 2 usage error, 4 I/O error (git, the store)\n";

/* ------------------------------------------------------------------ options */

enum {
    O_SERVER = 1u << 0,
    O_DATA_DIR = 1u << 1,
    O_TOKEN_FILE = 1u << 2,
    O_CACERT = 1u << 3,
    O_CERT = 1u << 4,
    O_KEY = 1u << 5,
    O_FLAGS = 1u << 6,
    O_BUNDLE = 1u << 7,
    O_ROLLOUT = 1u << 8,
    O_TARGET = 1u << 9,
    O_TITLE = 1u << 10,
    O_DRAFT = 1u << 11,
    O_REASON = 1u << 12,
    O_REVISION = 1u << 13,
    O_NOTE = 1u << 14,
    O_STATE = 1u << 15,
    O_JSON = 1u << 16,
    O_PAYLOAD = 1u << 17,
    O_KIND = 1u << 18,
    O_TO = 1u << 19,
    O_LIMIT = 1u << 20,
    O_APPROVALS = 1u << 21,
    O_GIT = 1u << 22,
    O_HELP = 1u << 23,
};
#define O_CONN (O_SERVER | O_DATA_DIR | O_TOKEN_FILE | O_CACERT | O_CERT | O_KEY | O_HELP)

typedef struct args {
    const char *server, *dir, *token_file, *cacert, *cert, *key;
    const char *flags, *bundle, *rollout, *target, *title, *reason, *note, *state, *kind, *approvals, *git;
    bool draft, json, payload, help;
    int64_t id, revision, to;
    long limit;
} args;

static const struct option long_opts[] = {
    {"server", required_argument, NULL, 'S'},
    {"data-dir", required_argument, NULL, 'd'}, {"store", required_argument, NULL, 'd'},
    {"token-file", required_argument, NULL, 't'},
    {"cacert", required_argument, NULL, 'C'},
    {"cert", required_argument, NULL, 'c'},
    {"key", required_argument, NULL, 'k'},
    {"flags", required_argument, NULL, 'f'},
    {"bundle", required_argument, NULL, 'b'},
    {"rollout", required_argument, NULL, 'r'},
    {"target", required_argument, NULL, 'T'},
    {"title", required_argument, NULL, 'i'},
    {"draft", no_argument, NULL, 'D'},
    {"reason", required_argument, NULL, 'R'},
    {"revision", required_argument, NULL, 'v'},
    {"note", required_argument, NULL, 'n'},
    {"state", required_argument, NULL, 's'},
    {"json", no_argument, NULL, 'j'},
    {"payload", no_argument, NULL, 'p'},
    {"kind", required_argument, NULL, 'K'},
    {"to", required_argument, NULL, 'o'},
    {"limit", required_argument, NULL, 'l'},
    {"approvals", required_argument, NULL, 'a'},
    {"git", required_argument, NULL, 'g'},
    {"help", no_argument, NULL, 'h'},
    {NULL, 0, NULL, 0},
};

/* The option's bit (for "does not apply"). */
static unsigned opt_bit(int c)
{
    static const char letters[] = "SdtCckfbrTiDRvnsjpKolagh";
    const char *p = strchr(letters, c);
    return p && c ? 1u << (p - letters) : 0;
}

/* A positive integer (an id, a revision, a version); false when s is not one. */
static bool parse_pos(const char *s, int64_t *out)
{
    char *end;
    errno = 0;
    long long v = strtoll(s, &end, 10);
    if (errno || end == s || *end || v <= 0)
        return false;
    *out = v;
    return true;
}

/* Parse argv (argv[0] the subcommand) into a, allowing the options in allowed; with want_id,
 * exactly one positional ID. CLI_OK, or CLI_USAGE after the message. */
static int parse(const char *cmd, int argc, char **argv, unsigned allowed, bool want_id, args *a)
{
    memset(a, 0, sizeof *a);
    a->limit = 50;
    optind = 1;
    opterr = 0;
    int c, li = -1;
    while ((c = getopt_long(argc, argv, ":h", long_opts, &li)) != -1) {
        char name[48]; /* "--title" (argv[optind - 1] may be its value) */
        snprintf(name, sizeof name, "%s%s", li >= 0 ? "--" : "",
                 li >= 0 ? long_opts[li].name : argv[optind - 1]);
        if (c == 'h')
            snprintf(name, sizeof name, "--help");
        li = -1;
        if (c == ':') {
            cli_errorf("%s: %s needs a value", cmd, name);
            return CLI_USAGE;
        }
        if (c == '?') {
            cli_errorf("%s: unknown option \"%s\" (try --help)", cmd, argv[optind - 1]);
            return CLI_USAGE;
        }
        if (!(opt_bit(c) & allowed)) {
            cli_errorf("%s: %s does not apply (try --help)", cmd, name);
            return CLI_USAGE;
        }
        switch (c) {
        case 'S': a->server = optarg; break;
        case 'd': a->dir = optarg; break;
        case 't': a->token_file = optarg; break;
        case 'C': a->cacert = optarg; break;
        case 'c': a->cert = optarg; break;
        case 'k': a->key = optarg; break;
        case 'f': a->flags = optarg; break;
        case 'b': a->bundle = optarg; break;
        case 'r': a->rollout = optarg; break;
        case 'T': a->target = optarg; break;
        case 'i': a->title = optarg; break;
        case 'D': a->draft = true; break;
        case 'R': a->reason = optarg; break;
        case 'n': a->note = optarg; break;
        case 's': a->state = optarg; break;
        case 'j': a->json = true; break;
        case 'p': a->payload = true; break;
        case 'K': a->kind = optarg; break;
        case 'a': a->approvals = optarg; break;
        case 'g': a->git = optarg; break;
        case 'h': a->help = true; break;
        case 'v':
        case 'o':
            if (!parse_pos(optarg, c == 'v' ? &a->revision : &a->to)) {
                cli_errorf("%s: %s must be a positive number", cmd, name);
                return CLI_USAGE;
            }
            break;
        case 'l': {
            char *end;
            errno = 0;
            a->limit = strtol(optarg, &end, 10);
            if (errno || end == optarg || *end || a->limit < 1 || a->limit > 10000) {
                cli_errorf("%s: --limit must be a number from 1 to 10000", cmd);
                return CLI_USAGE;
            }
            break;
        }
        default: return CLI_USAGE;
        }
    }
    if (a->help)
        return CLI_OK;
    if (want_id) {
        if (optind >= argc) {
            cli_errorf("%s: which change? give its ID (riskd change list)", cmd);
            return CLI_USAGE;
        }
        if (!parse_pos(argv[optind], &a->id)) {
            cli_errorf("%s: \"%s\" is not a change id", cmd, argv[optind]);
            return CLI_USAGE;
        }
        optind++;
    }
    if (optind < argc) {
        cli_errorf("%s: unexpected argument \"%s\"", cmd, argv[optind]);
        return CLI_USAGE;
    }
    return CLI_OK;
}

/* ------------------------------------------------------------------ requests */

typedef enum op {
    OP_PROPOSE,
    OP_EDIT,
    OP_SUBMIT,
    OP_WITHDRAW,
    OP_APPROVE,
    OP_REJECT,
    OP_PUBLISH,
    OP_LIST,
    OP_SHOW,
    OP_VERSIONS,
    OP_SETTINGS,
    OP_ROLLBACK,
} op;

/* One admin API request, whichever way it goes. */
typedef struct req {
    op op;
    int64_t id, revision, to;
    const char *kind, *target, *title, *state, *reason, *note;
    const char *payload; /* the new file's text (NUL-terminated), or NULL */
    size_t payload_len;
    bool draft, with_payload;
    size_t limit;
    int approvals[RD_CHANGE_KIND_COUNT]; /* settings: 0 = not set */
} req;

static bool is_write(op o) { return o != OP_LIST && o != OP_SHOW && o != OP_VERSIONS; }

/* The connection: a server, or a data directory's store and the caller's principal. */
typedef struct conn {
    bool http;
    cli_http h;
    char token[RD_TOKEN_MAX];
    rd_store *s;
    rd_principal who;
    bool have_who;
} conn;

/* The token for a server: --token-file, else $RISKD_TOKEN_FILE, else $RISKD_TOKEN. */
static int http_token(const char *file, char token[RD_TOKEN_MAX])
{
    rd_err err;
    if (!file)
        file = getenv("RISKD_TOKEN_FILE");
    if (file && *file) {
        int rc = rd_token_read_file(file, token, &err);
        if (rc) {
            cli_errorf("%s (%s)", err.msg, rd_err_name(rc));
            return cli_exit_for(rc);
        }
        return CLI_OK;
    }
    const char *env = getenv("RISKD_TOKEN");
    if (env && strlen(env) >= RD_TOKEN_MAX) {
        cli_errorf("RISKD_TOKEN is too long to be a token (UNAUTHENTICATED)");
        return CLI_REFUSED;
    }
    if (env && *env) {
        snprintf(token, RD_TOKEN_MAX, "%s", env);
        return CLI_OK;
    }
    cli_errorf("no token: give --token-file FILE (or set RISKD_TOKEN_FILE or RISKD_TOKEN) (UNAUTHENTICATED)");
    return CLI_REFUSED;
}

/* Open the way to a server or a store. write: the request changes something (a principal is
 * needed with a store; reads need only the store, opened read-only). */
static int conn_open(conn *c, const char *cmd, const args *a, bool write)
{
    memset(c, 0, sizeof *c);
    if (a->server && a->dir) {
        cli_errorf("%s: give --server URL or --data-dir DIR, not both", cmd);
        return CLI_USAGE;
    }
    if (!a->server && !a->dir) {
        cli_errorf("%s: give --server URL (a running riskd) or --data-dir DIR (its data directory)", cmd);
        return CLI_USAGE;
    }
    if (a->server) {
        if (a->key && !a->cert) {
            cli_errorf("%s: --key goes with --cert", cmd);
            return CLI_USAGE;
        }
        c->http = true;
        c->h = (cli_http){.base = a->server,
                          .token = c->token,
                          .cacert = a->cacert,
                          .cert = a->cert,
                          .key = a->key,
                          .timeout_ms = 120000};
        return http_token(a->token_file, c->token);
    }
    if (a->cacert || a->cert || a->key) {
        cli_errorf("%s: --cacert, --cert and --key go with --server", cmd);
        return CLI_USAGE;
    }
    rd_err err;
    rd_store_opts o = {.read_only = !write};
    int rc = rd_store_open(a->dir, &o, &c->s, &err);
    if (rc) {
        cli_errorf("%s (%s)", err.msg, rd_err_name(rc));
        return cli_exit_for(rc);
    }
    if (write) {
        if ((rc = cli_principal(c->s, a->token_file, &c->who)) != CLI_OK) {
            rd_store_close(c->s);
            c->s = NULL;
            return rc;
        }
        c->have_who = true;
    }
    return CLI_OK;
}

static void conn_close(conn *c)
{
    if (c->s)
        rd_store_close(c->s);
    memset(c->token, 0, sizeof c->token);
}

/* A string member of a JSON body (skipped when v is NULL). */
static void body_str(rd_buf *b, bool *first, const char *key, const char *v, size_t len)
{
    if (!v)
        return;
    rd_buf_printf(b, "%s\"%s\":", *first ? "" : ",", key);
    rd_json_write_string(b, v, len);
    *first = false;
}

static void body_s(rd_buf *b, bool *first, const char *key, const char *v)
{
    body_str(b, first, key, v, v ? strlen(v) : 0);
}

/* The method, path and body of r (the API contract). */
static const char *http_shape(const req *r, rd_buf *path, rd_buf *body)
{
    static const char *const verbs[] = {[OP_SUBMIT] = "submit",
                                        [OP_WITHDRAW] = "withdraw",
                                        [OP_APPROVE] = "approve",
                                        [OP_REJECT] = "reject",
                                        [OP_PUBLISH] = "publish"};
    bool first = true;
    rd_buf_putc(body, '{');
    const char *method = "POST";
    switch (r->op) {
    case OP_PROPOSE:
        rd_buf_puts(path, "/v1/admin/changes");
        body_s(body, &first, "kind", r->kind);
        body_s(body, &first, "target", r->target);
        body_str(body, &first, "payload", r->payload, r->payload_len);
        body_s(body, &first, "title", r->title);
        rd_buf_printf(body, "%s\"draft\":%s", first ? "" : ",", r->draft ? "true" : "false");
        break;
    case OP_EDIT:
        method = "PUT";
        rd_buf_printf(path, "/v1/admin/changes/%lld", (long long)r->id);
        body_str(body, &first, "payload", r->payload, r->payload_len);
        body_s(body, &first, "title", r->title);
        break;
    case OP_SUBMIT:
    case OP_WITHDRAW:
    case OP_APPROVE:
    case OP_REJECT:
    case OP_PUBLISH:
        rd_buf_printf(path, "/v1/admin/changes/%lld/%s", (long long)r->id, verbs[r->op]);
        if (r->op == OP_APPROVE && r->revision) {
            rd_buf_printf(body, "\"revision\":%lld", (long long)r->revision);
            first = false;
        }
        body_s(body, &first, "note", r->note);
        body_s(body, &first, "reason", r->reason);
        break;
    case OP_LIST:
        method = "GET";
        rd_buf_printf(path, "/v1/admin/changes?limit=%zu", r->limit);
        if (r->state) {
            rd_buf_puts(path, "&state=");
            cli_url_escape(path, r->state);
        }
        break;
    case OP_SHOW:
        method = "GET";
        rd_buf_printf(path, "/v1/admin/changes/%lld%s", (long long)r->id,
                      r->with_payload ? "?payload=1" : "");
        break;
    case OP_VERSIONS:
        method = "GET";
        rd_buf_printf(path, "/v1/admin/versions?limit=%zu", r->limit);
        if (r->kind) {
            rd_buf_puts(path, "&kind=");
            cli_url_escape(path, r->kind);
        }
        if (r->target) {
            rd_buf_puts(path, "&target=");
            cli_url_escape(path, r->target);
        }
        break;
    case OP_SETTINGS:
        method = "PUT";
        rd_buf_puts(path, "/v1/admin/settings");
        rd_buf_puts(body, "\"approvals\":{");
        for (int k = 0; k < RD_CHANGE_KIND_COUNT; k++)
            if (r->approvals[k]) {
                rd_buf_printf(body, "%s\"%s\":%d", first ? "" : ",", rd_change_kind_name((rd_change_kind)k),
                              r->approvals[k]);
                first = false;
            }
        rd_buf_putc(body, '}');
        break;
    case OP_ROLLBACK:
        rd_buf_puts(path, "/v1/admin/rollback");
        body_s(body, &first, "kind", r->kind);
        body_s(body, &first, "target", r->target);
        if (r->to) {
            rd_buf_printf(body, "%s\"to\":%lld", first ? "" : ",", (long long)r->to);
            first = false;
        }
        body_s(body, &first, "reason", r->reason);
        break;
    }
    rd_buf_putc(body, '}');
    return method;
}

/* The exit code of an error response: who you are or what you may do (7), the server or the
 * way to it (4), else the request itself (1). */
static int http_exit(long status)
{
    if (status == 401 || status == 403 || status == 429)
        return CLI_REFUSED;
    if (status >= 500)
        return CLI_IO;
    return CLI_INVALID_INPUT;
}

static int http_run(conn *c, const req *r, rd_buf *out)
{
    rd_buf path, body;
    rd_buf_init(&path);
    rd_buf_init(&body);
    const char *method = http_shape(r, &path, &body);
    long status = 0;
    rd_err err;
    int rc = path.oom || body.oom
                 ? rd_err_set(&err, RD_ENOMEM, "out of memory")
                 : cli_http_do(&c->h, method, rd_buf_cstr(&path), rd_buf_cstr(&body), out, &status, &err);
    rd_buf_deinit(&path);
    rd_buf_deinit(&body);
    if (rc) {
        cli_errorf("%s (%s)", err.msg, rd_err_name(rc));
        return rc == RD_EINVAL ? CLI_USAGE : CLI_IO;
    }
    if (status >= 200 && status < 300)
        return CLI_OK;
    /* {"error":{"code":"...","message":"..."}} */
    rd_arena a;
    rd_arena_init(&a, 0);
    rd_value v;
    const rd_value *e = NULL, *code = NULL, *msg = NULL;
    if (rd_json_parse(out->data ? out->data : "", out->len, NULL, &a, &v, &err) == RD_OK &&
        (e = rd_value_get(&v, "error", 5)) != NULL) {
        code = rd_value_get(e, "code", 4);
        msg = rd_value_get(e, "message", 7);
    }
    if (msg && msg->type == RD_VSTRING)
        cli_errorf("%s (%s)", msg->u.s, code && code->type == RD_VSTRING ? code->u.s : "?");
    else
        cli_errorf("%s: HTTP %ld%s%.200s", c->h.base, status, out->len ? ": " : "", rd_buf_cstr(out));
    rd_arena_deinit(&a);
    return http_exit(status);
}

/* rollback's answer: {"kind","target","version"} */
static int rollback_json(rd_store *s, const req *r, int64_t version, rd_buf *out)
{
    const char *target = r->target;
    char served[1024], real[PATH_MAX];
    rd_err e;
    if ((!target || !*target) && (!r->kind || !strcmp(r->kind, "flags")) &&
        rd_store_setting_get(s, "served.flags", served, sizeof served, &e) == RD_OK)
        target = served;
    if (target && r->kind && !strcmp(r->kind, "bundle"))
        ; /* a bundle's name */
    else if (target && realpath(target, real))
        target = real;
    rd_buf_printf(out, "{\"kind\":\"%s\",\"target\":", r->kind ? r->kind : "flags");
    rd_json_write_string(out, target ? target : "", target ? strlen(target) : 0);
    rd_buf_printf(out, ",\"version\":%lld}", (long long)version);
    return RD_OK;
}

static int settings_json(rd_store *s, rd_buf *out, rd_err *err)
{
    rd_buf_puts(out, "{\"approvals\":{");
    for (int k = 0; k < RD_CHANGE_KIND_COUNT; k++) {
        int n;
        int rc = rd_change_required(s, (rd_change_kind)k, &n, err);
        if (rc)
            return rc;
        rd_buf_printf(out, "%s\"%s\":%d", k ? "," : "", rd_change_kind_name((rd_change_kind)k), n);
    }
    rd_buf_puts(out, "}}");
    return RD_OK;
}

/* The library's answer to r, as the server would give it. */
static int lib_call(conn *c, const req *r, rd_buf *out, rd_err *err)
{
    rd_store *s = c->s;
    const rd_principal *who = &c->who;
    int64_t now = rd_clock_unix_ms(), id = r->id, version = 0;
    int rc = RD_OK;
    switch (r->op) {
    case OP_PROPOSE: {
        int k = rd_change_kind_parse(r->kind);
        rd_change_spec spec = {.kind = (rd_change_kind)k,
                               .target = r->target,
                               .payload = r->payload,
                               .payload_len = r->payload_len,
                               .title = r->title ? r->title : "",
                               .draft = r->draft};
        rc = rd_change_propose(s, who, &spec, now, &id, err);
        break;
    }
    case OP_EDIT: rc = rd_change_edit(s, who, id, r->payload, r->payload_len, r->title, now, err); break;
    case OP_SUBMIT: rc = rd_change_submit(s, who, id, now, err); break;
    case OP_WITHDRAW: rc = rd_change_withdraw(s, who, id, r->reason, now, err); break;
    case OP_APPROVE: rc = rd_change_approve(s, who, id, r->revision, r->note, now, err); break;
    case OP_REJECT: rc = rd_change_reject(s, who, id, r->reason, now, err); break;
    case OP_PUBLISH: rc = rd_change_publish(s, who, id, now, &version, err); break;
    case OP_LIST: return rd_change_list_json(s, r->state, r->limit, out, err);
    case OP_SHOW: return rd_change_show_json(s, id, r->with_payload, out, err);
    case OP_VERSIONS: return rd_change_versions_json(s, r->kind, r->target, r->limit, out, err);
    case OP_SETTINGS:
        for (int k = 0; k < RD_CHANGE_KIND_COUNT && !rc; k++)
            if (r->approvals[k])
                rc = rd_change_set_required(s, who, (rd_change_kind)k, r->approvals[k], now, err);
        return rc ? rc : settings_json(s, out, err);
    case OP_ROLLBACK: {
        int k = rd_change_kind_parse(r->kind ? r->kind : "flags");
        if (k < 0)
            return rd_err_set(err, RD_EINVAL, "kind \"%s\": one of flags, bundle, rollout", r->kind);
        rc = rd_change_rollback(s, who, (rd_change_kind)k, r->target, r->to, r->reason, now, &version, err);
        return rc ? rc : rollback_json(s, r, version, out);
    }
    }
    return rc ? rc : rd_change_show_json(s, id, false, out, err);
}

/* Carry r out either way; on success out holds the answer's JSON. Prints the error and returns
 * the exit code otherwise. */
static int run(conn *c, const req *r, rd_buf *out)
{
    if (c->http)
        return http_run(c, r, out);
    rd_err err;
    rd_err_clear(&err);
    int rc = lib_call(c, r, out, &err);
    if (rc) {
        cli_errorf("%s (%s)", err.msg[0] ? err.msg : rd_strerror(rc), rd_err_name(rc));
        return cli_exit_for(rc);
    }
    if (out->oom) {
        cli_errorf("out of memory (OUT_OF_MEMORY)");
        return CLI_INVALID_INPUT;
    }
    return CLI_OK;
}

/* ------------------------------------------------------------------ printing */

static const rd_value *mem(const rd_value *o, const char *k)
{
    return o && o->type == RD_VOBJECT ? rd_value_get(o, k, strlen(k)) : NULL;
}

static const char *str(const rd_value *o, const char *k)
{
    const rd_value *v = mem(o, k);
    return v && v->type == RD_VSTRING ? v->u.s : "";
}

static long long num(const rd_value *o, const char *k)
{
    const rd_value *v = mem(o, k);
    return v && v->type == RD_VNUMBER ? (long long)v->u.n : 0;
}

/* unix ms as 2026-12-07T05:00:00Z ("-" for 0) */
static const char *when(long long ms, char buf[32])
{
    if (ms <= 0)
        return "-";
    time_t sec = (time_t)(ms / 1000);
    struct tm tm;
    gmtime_r(&sec, &tm);
    strftime(buf, 32, "%Y-%m-%dT%H:%M:%SZ", &tm);
    return buf;
}

/* A JSON value compactly, on one line. */
static void print_json(const rd_value *v)
{
    rd_buf b;
    rd_buf_init(&b);
    rd_json_write(&b, v);
    fputs(rd_buf_cstr(&b), stdout);
    rd_buf_deinit(&b);
}

/* "mia, noor" from a JSON array of strings or of {"user"} objects. */
static void print_users(const rd_value *arr)
{
    for (uint32_t i = 0; arr && arr->type == RD_VARRAY && i < arr->len; i++) {
        const rd_value *it = &arr->u.items[i];
        printf("%s%s", i ? ", " : "", it->type == RD_VSTRING ? it->u.s : str(it, "user"));
    }
}

/* The members of a flag that differ between b and a: "defaultVariant, targeting". */
static void print_changed_keys(const rd_value *b, const rd_value *a)
{
    size_t n = 0;
    for (int side = 0; side < 2; side++) {
        const rd_value *from = side ? b : a, *other = side ? a : b;
        for (uint32_t i = 0; from && from->type == RD_VOBJECT && i < from->len; i++) {
            const rd_member *m = &from->u.members[i];
            const rd_value *o = mem(other, m->key);
            if (side ? o != NULL : o && rd_value_equal(o, &m->val))
                continue; /* the second pass adds only the members the new flag lacks */
            printf("%s%s", n++ ? ", " : "", m->key);
        }
    }
}

static void print_diff(const rd_value *d)
{
    const rd_value *added = mem(d, "added"), *removed = mem(d, "removed"), *changed = mem(d, "changed");
    size_t n = 0;
    printf("diff against the file it replaces:\n");
    for (uint32_t i = 0; added && added->type == RD_VARRAY && i < added->len; i++, n++)
        printf("  + %s (added)\n", added->u.items[i].type == RD_VSTRING ? added->u.items[i].u.s : "?");
    for (uint32_t i = 0; removed && removed->type == RD_VARRAY && i < removed->len; i++, n++)
        printf("  - %s (removed)\n", removed->u.items[i].type == RD_VSTRING ? removed->u.items[i].u.s : "?");
    for (uint32_t i = 0; changed && changed->type == RD_VOBJECT && i < changed->len; i++, n++) {
        const rd_member *m = &changed->u.members[i];
        const rd_value *b = mem(&m->val, "before"), *a = mem(&m->val, "after");
        printf("  ~ %s (changed: ", m->key);
        print_changed_keys(b, a);
        printf(")\n      before: ");
        if (b)
            print_json(b);
        printf("\n      after:  ");
        if (a)
            print_json(a);
        printf("\n");
    }
    const rd_value *ev = mem(d, "evaluators_changed"), *md = mem(d, "metadata_changed");
    if (ev && ev->type == RD_VBOOL && ev->u.b) {
        printf("  ~ $evaluators (changed)\n");
        n++;
    }
    if (md && md->type == RD_VBOOL && md->u.b) {
        printf("  ~ metadata (changed)\n");
        n++;
    }
    if (!n)
        printf("  no flag differs (only the file's layout)\n");
}

static void print_show(const rd_value *c)
{
    char t1[32], t2[32];
    printf("change %lld: %s, %s, revision %lld\n", num(c, "id"), str(c, "kind"), str(c, "state"),
           num(c, "revision"));
    if (*str(c, "title"))
        printf("  title      %s\n", str(c, "title"));
    printf("  target     %s\n", str(c, "target"));
    printf("  author     %s (editors: ", str(c, "author"));
    print_users(mem(c, "editors"));
    printf(")\n  created    %s, updated %s\n", when(num(c, "created_ms"), t1),
           when(num(c, "updated_ms"), t2));
    const rd_value *ap = mem(c, "approvals");
    size_t have = ap && ap->type == RD_VARRAY ? ap->len : 0;
    printf("  approvals  %zu of %lld", have, num(c, "approvals_required"));
    for (size_t i = 0; i < have; i++) {
        const rd_value *it = &ap->u.items[i];
        printf("%s%s (revision %lld, %s)", i ? ", " : ": ", str(it, "user"), num(it, "revision"),
               when(num(it, "ts_ms"), t1));
    }
    printf("\n");
    printf("  replaces   sha256 %s\n", *str(c, "base_sha256") ? str(c, "base_sha256") : "(nothing)");
    printf("  new file   sha256 %s\n", str(c, "payload_sha256"));
    if (num(c, "version"))
        printf("  published  version %lld by %s, %s\n", num(c, "version"), str(c, "published_by"),
               when(num(c, "published_ms"), t1));
    const rd_value *h = mem(c, "history");
    printf("history:\n");
    for (uint32_t i = 0; h && h->type == RD_VARRAY && i < h->len; i++) {
        const rd_value *e = &h->u.items[i];
        printf("  %s  %-12s %-9s revision %lld -> %s%s%s\n", when(num(e, "ts_ms"), t1), str(e, "actor"),
               str(e, "event"), num(e, "revision"), str(e, "state"), *str(e, "note") ? ": " : "",
               str(e, "note"));
    }
    const rd_value *d = mem(c, "diff");
    if (d && d->type == RD_VOBJECT)
        print_diff(d);
    else if (!strcmp(str(c, "kind"), "flags"))
        printf("diff: not available (the file it replaces is not kept)\n");
    const rd_value *p = mem(c, "payload");
    if (p && p->type == RD_VSTRING) {
        printf("new file:\n%s", p->u.s);
        if (!p->len || p->u.s[p->len - 1] != '\n')
            printf("\n");
    }
}

static void print_list(const rd_value *arr)
{
    char t[32];
    if (!arr->len) {
        printf("no change requests\n");
        return;
    }
    printf("%-5s %-8s %-10s %4s %-9s %-12s %-20s %s\n", "ID", "KIND", "STATE", "REV", "APPROVALS", "AUTHOR",
           "UPDATED", "TITLE");
    for (uint32_t i = 0; i < arr->len; i++) {
        const rd_value *c = &arr->u.items[i];
        const rd_value *ap = mem(c, "approvals");
        char apr[24];
        snprintf(apr, sizeof apr, "%u/%lld", ap && ap->type == RD_VARRAY ? ap->len : 0,
                 num(c, "approvals_required"));
        printf("%-5lld %-8s %-10s %4lld %-9s %-12s %-20s %s\n", num(c, "id"), str(c, "kind"), str(c, "state"),
               num(c, "revision"), apr, str(c, "author"), when(num(c, "updated_ms"), t), str(c, "title"));
    }
}

static void print_versions(const rd_value *arr)
{
    char t[32];
    if (!arr->len) {
        printf("no published versions\n");
        return;
    }
    printf("%-8s %7s %-9s %6s %-12s %-16s %-12s %-20s %-12s %s\n", "KIND", "VERSION", "HOW", "CHANGE",
           "AUTHOR", "APPROVERS", "BY", "WHEN", "SHA256", "TARGET");
    for (uint32_t i = 0; i < arr->len; i++) {
        const rd_value *v = &arr->u.items[i];
        char change[24] = "-";
        if (num(v, "change"))
            snprintf(change, sizeof change, "%lld", num(v, "change"));
        printf("%-8s %7lld %-9s %6s %-12s %-16s %-12s %-20s %-12.12s %s\n", str(v, "kind"), num(v, "version"),
               str(v, "how"), change, *str(v, "author") ? str(v, "author") : "-",
               *str(v, "approvers") ? str(v, "approvers") : "-", str(v, "published_by"),
               when(num(v, "ts_ms"), t), str(v, "sha256"), str(v, "target"));
    }
}

/* Write the answer of r as the command prints it: JSON (json) or text. */
static int emit(const req *r, const rd_buf *out, bool json)
{
    if (json) {
        printf("%s\n", out->data ? out->data : "");
        return fflush(stdout) == 0 ? CLI_OK : CLI_IO;
    }
    rd_arena a;
    rd_arena_init(&a, 0);
    rd_value v;
    rd_err err;
    if (rd_json_parse(out->data ? out->data : "", out->len, NULL, &a, &v, &err) != RD_OK) {
        cli_errorf("the answer is not JSON: %s (PARSE_ERROR)", err.msg);
        rd_arena_deinit(&a);
        return CLI_IO;
    }
    const rd_value *ap = mem(&v, "approvals");
    switch (r->op) {
    case OP_PROPOSE: printf("%lld\n", num(&v, "id")); break;
    case OP_PUBLISH:
        printf("published change %lld as version %lld\n", num(&v, "id"), num(&v, "version"));
        break;
    case OP_EDIT:
    case OP_SUBMIT:
    case OP_WITHDRAW:
    case OP_APPROVE:
    case OP_REJECT:
        printf("change %lld is %s (revision %lld, %u of %lld approvals)\n", num(&v, "id"), str(&v, "state"),
               num(&v, "revision"), ap && ap->type == RD_VARRAY ? ap->len : 0, num(&v, "approvals_required"));
        break;
    case OP_LIST:
        if (v.type == RD_VARRAY)
            print_list(&v);
        break;
    case OP_SHOW: print_show(&v); break;
    case OP_VERSIONS:
        if (v.type == RD_VARRAY)
            print_versions(&v);
        break;
    case OP_SETTINGS:
        printf("approvals required:");
        for (uint32_t i = 0; ap && ap->type == RD_VOBJECT && i < ap->len; i++)
            printf(" %s=%.0f", ap->u.members[i].key,
                   ap->u.members[i].val.type == RD_VNUMBER ? ap->u.members[i].val.u.n : 0.0);
        printf("\n");
        break;
    case OP_ROLLBACK:
        printf("rolled back %s %s: now version %lld\n", str(&v, "kind"), str(&v, "target"),
               num(&v, "version"));
        break;
    }
    rd_arena_deinit(&a);
    return fflush(stdout) == 0 ? CLI_OK : CLI_IO;
}

/* ------------------------------------------------------------------ the commands */

/* Read the new file for a propose or edit (rd_free it). */
static int read_payload(const char *path, char **text, size_t *len)
{
    rd_err err;
    int rc = rd_file_read(path, MAX_FILE_BYTES, text, len, &err);
    if (rc) {
        cli_errorf("%s (%s)", err.msg, rd_err_name(rc));
        return rc == RD_ELIMIT ? CLI_INVALID_INPUT : CLI_IO;
    }
    return CLI_OK;
}

/* "flags=2,bundle=1" into approvals per kind. */
static int parse_approvals(const char *spec, int approvals[RD_CHANGE_KIND_COUNT])
{
    char buf[256];
    snprintf(buf, sizeof buf, "%s", spec);
    char *save = NULL;
    int n = 0;
    for (char *item = strtok_r(buf, ",", &save); item; item = strtok_r(NULL, ",", &save)) {
        char *eq = strchr(item, '=');
        int64_t v = 0;
        if (eq)
            *eq = '\0';
        int k = rd_change_kind_parse(item);
        if (!eq || k < 0 || !parse_pos(eq + 1, &v) || v > 5) {
            cli_errorf(
                "settings: --approvals: \"%s%s%s\" is not KIND=N (KIND flags, bundle or rollout; N 1 to 5)",
                item, eq ? "=" : "", eq ? eq + 1 : "");
            return CLI_USAGE;
        }
        approvals[k] = (int)v;
        n++;
    }
    if (!n) {
        cli_errorf("settings: --approvals: give KIND=N[,KIND=N...]");
        return CLI_USAGE;
    }
    return CLI_OK;
}

/* Fill r from a for the subcommand's op; reads the new file. payload receives what to free. */
static int build(const char *cmd, const args *a, req *r, char **payload)
{
    r->id = a->id;
    r->revision = a->revision;
    r->to = a->to;
    r->title = a->title;
    r->reason = a->reason;
    r->note = a->note;
    r->state = a->state;
    r->draft = a->draft;
    r->with_payload = a->payload;
    r->limit = (size_t)a->limit;
    r->kind = a->kind;
    r->target = a->target;
    const char *file = NULL;
    if (r->op == OP_PROPOSE) {
        int given = !!a->flags + !!a->bundle + !!a->rollout;
        if (given != 1) {
            cli_errorf("%s: give one of --flags NEW.json, --bundle DIR, --rollout PLAN.json", cmd);
            return CLI_USAGE;
        }
        r->kind = a->flags ? "flags" : a->bundle ? "bundle" : "rollout";
        file = a->flags ? a->flags : a->rollout;
        if (a->bundle) {
            if (a->target) {
                cli_errorf("%s: --bundle DIR is the target; --target does not apply", cmd);
                return CLI_USAGE;
            }
            r->target = a->bundle;
        }
        if (a->rollout && !a->target) {
            cli_errorf("%s: --rollout needs --target PLANFILE (the plan file it replaces or creates)", cmd);
            return CLI_USAGE;
        }
    } else if (r->op == OP_EDIT) {
        if (a->flags && a->rollout) {
            cli_errorf("%s: give --flags or --rollout, not both", cmd);
            return CLI_USAGE;
        }
        file = a->flags ? a->flags : a->rollout;
        if (!file && !a->title) {
            cli_errorf("%s: nothing to change: give --flags NEW.json (or --rollout) and/or --title", cmd);
            return CLI_USAGE;
        }
    } else if (r->op == OP_REJECT && !a->reason) {
        cli_errorf("%s: say why: --reason TEXT", cmd);
        return CLI_USAGE;
    } else if ((r->op == OP_VERSIONS || r->op == OP_ROLLBACK) && a->kind &&
               rd_change_kind_parse(a->kind) < 0) {
        cli_errorf("%s: --kind must be flags, bundle or rollout", cmd);
        return CLI_USAGE;
    } else if (r->op == OP_LIST && a->state && rd_change_state_parse(a->state) < 0) {
        cli_errorf("%s: --state must be draft, proposed, approved, published, rejected or withdrawn", cmd);
        return CLI_USAGE;
    } else if (r->op == OP_SETTINGS && a->approvals) {
        int rc = parse_approvals(a->approvals, r->approvals);
        if (rc)
            return rc;
    }
    if (file) {
        int rc = read_payload(file, payload, &r->payload_len);
        if (rc)
            return rc;
        r->payload = *payload;
    }
    return CLI_OK;
}

typedef struct sub {
    const char *name;
    op op;
    const char *usage;
    unsigned opts;
    bool want_id;
} sub;

static const sub subs[] = {
    {"propose", OP_PROPOSE, propose_usage,
     O_CONN | O_FLAGS | O_BUNDLE | O_ROLLOUT | O_TARGET | O_TITLE | O_DRAFT | O_JSON, false},
    {"edit", OP_EDIT, edit_usage, O_CONN | O_FLAGS | O_ROLLOUT | O_TITLE | O_JSON, true},
    {"submit", OP_SUBMIT, submit_usage, O_CONN | O_JSON, true},
    {"withdraw", OP_WITHDRAW, withdraw_usage, O_CONN | O_REASON | O_JSON, true},
    {"approve", OP_APPROVE, approve_usage, O_CONN | O_REVISION | O_NOTE | O_JSON, true},
    {"reject", OP_REJECT, reject_usage, O_CONN | O_REASON | O_JSON, true},
    {"publish", OP_PUBLISH, publish_usage, O_CONN | O_JSON, true},
    {"list", OP_LIST, list_usage, O_CONN | O_STATE | O_LIMIT | O_JSON, false},
    {"show", OP_SHOW, show_usage, O_CONN | O_JSON | O_PAYLOAD, true},
    {"versions", OP_VERSIONS, versions_usage, O_CONN | O_KIND | O_TARGET | O_LIMIT | O_JSON, false},
    {"settings", OP_SETTINGS, settings_usage, O_CONN | O_APPROVALS | O_JSON, false},
    {"rollback", OP_ROLLBACK, rollback_usage, O_CONN | O_KIND | O_TARGET | O_TO | O_REASON | O_JSON, false},
};

static int run_sub(const sub *sb, const char *cmd, int argc, char **argv)
{
    args a;
    int rc = parse(cmd, argc, argv, sb->opts, sb->want_id, &a);
    if (rc || a.help) {
        if (a.help && !rc)
            fputs(sb->usage, stdout);
        return rc;
    }
    req r = {.op = sb->op};
    char *payload = NULL;
    if ((rc = build(cmd, &a, &r, &payload)) != CLI_OK)
        return rc;
    bool write = is_write(sb->op);
    if (sb->op == OP_SETTINGS && !a.approvals) {
        if (a.server) {
            cli_errorf("%s: the admin API sets the approvals only: give --approvals KIND=N", cmd);
            rd_free(payload);
            return CLI_USAGE;
        }
        write = false;
    }
    conn c;
    if ((rc = conn_open(&c, cmd, &a, write)) == CLI_OK) {
        rd_buf out;
        rd_buf_init(&out);
        if (sb->op == OP_SETTINGS && !write) {
            rd_err err;
            int lrc = settings_json(c.s, &out, &err);
            if (lrc) {
                cli_errorf("%s (%s)", err.msg, rd_err_name(lrc));
                rc = cli_exit_for(lrc);
            }
        } else {
            rc = run(&c, &r, &out);
        }
        if (rc == CLI_OK)
            rc = emit(&r, &out, a.json);
        rd_buf_deinit(&out);
        conn_close(&c);
    }
    rd_free(payload);
    return rc;
}

int cmd_change(int argc, char **argv)
{
    if (argc < 2 || !strcmp(argv[1], "-h") || !strcmp(argv[1], "--help") || !strcmp(argv[1], "help")) {
        fputs(change_usage, argc < 2 ? stderr : stdout);
        return argc < 2 ? CLI_USAGE : CLI_OK;
    }
    for (size_t i = 0; i < sizeof subs / sizeof *subs; i++)
        if (subs[i].op != OP_ROLLBACK && !strcmp(argv[1], subs[i].name)) {
            char cmd[48];
            snprintf(cmd, sizeof cmd, "change %s", subs[i].name);
            return run_sub(&subs[i], cmd, argc - 1, argv + 1);
        }
    cli_errorf("change: unknown command \"%s\" (riskd change --help lists them)", argv[1]);
    return CLI_USAGE;
}

int cmd_rollback(int argc, char **argv)
{
    return run_sub(&subs[sizeof subs / sizeof *subs - 1], "rollback", argc, argv);
}

/* ------------------------------------------------------------------ riskd flags export */

int cli_flags_export(int argc, char **argv)
{
    args a;
    int rc = parse("flags export", argc, argv, O_DATA_DIR | O_TARGET | O_GIT | O_HELP, false, &a);
    if (rc || a.help) {
        if (a.help && !rc)
            fputs(cli_flags_export_usage, stdout);
        return rc;
    }
    if (!a.git) {
        cli_errorf("flags export: give --git DIR (the repository to commit the versions into)");
        return CLI_USAGE;
    }
    rd_store *s;
    rd_err err;
    rd_store_opts o = {.read_only = true};
    const char *dir = a.dir ? a.dir : "riskd-data";
    if ((rc = rd_store_open(dir, &o, &s, &err)) != RD_OK) {
        cli_errorf("%s (%s)", err.msg, rd_err_name(rc));
        return cli_exit_for(rc);
    }
    size_t added = 0;
    rc = rd_change_export_git(s, a.target, a.git, &added, &err);
    rd_store_close(s);
    if (rc) {
        cli_errorf("flags export: %s (%s)", err.msg, rd_err_name(rc));
        return cli_exit_for(rc);
    }
    printf("added %zu version%s to %s\n", added, added == 1 ? "" : "s", a.git);
    return CLI_OK;
}
