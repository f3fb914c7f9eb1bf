/* riskd user add | list | disable | enable | role | token | revoke | tokens: users, roles and
 * tokens of a data directory (include/riskd/auth.h). The rules (who may do what, the first
 * admin at the console, the last admin kept) are the library's; this file reads argv, finds
 * the caller's token (cli_auth.c) and prints. A new token goes to stdout alone, on one line,
 * so a script can capture it; everything else a command that issues one says goes to stderr. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli.h"
#include "riskd/auth.h"
#include "riskd/clock.h"
#include "riskd/json.h"

#define DAY_MS  86400000LL
#define HOUR_MS 3600000LL
#define MAX_TTL (100LL * 366 * DAY_MS) /* --expires beyond a century is a typo */

static const char usage[] =
    "usage: riskd user add NAME --role ROLE --data-dir DIR [--scopes LIST] [--expires WHEN]\n"
    "       riskd user list --data-dir DIR [--json]\n"
    "       riskd user disable|enable NAME --data-dir DIR\n"
    "       riskd user role NAME ROLE --data-dir DIR\n"
    "       riskd user token NAME --data-dir DIR [--scopes LIST] [--expires WHEN]\n"
    "       riskd user revoke TOKEN_ID --data-dir DIR\n"
    "       riskd user tokens [NAME] --data-dir DIR [--json]\n"
    "   every command also takes --token-file FILE\n"
    "\n"
    "Users, their roles and their tokens, kept in DIR/riskd.db (docs/api.md, \"Roles and the\n"
    "admin API\"). Once DIR has a user, governance is on and each command needs the token of a\n"
    "user whose role has the users permission: --token-file FILE, else the file RISKD_TOKEN_FILE\n"
    "names, else RISKD_TOKEN. The one exception is the first user, an admin, added without a\n"
    "token at the console (riskd user add NAME --role admin --data-dir DIR).\n"
    "\n"
    "add      add NAME with ROLE (viewer, engineer, manager, operator, admin, analyst) and issue\n"
    "         its first token\n"
    "token    issue another token for NAME\n"
    "         Both print the new token alone on stdout: it is shown this once (the store keeps\n"
    "         only its SHA-256). --scopes: a comma-separated list of admin (the default: the\n"
    "         governance commands and the admin API), score, outcomes, pin. --expires: 90d, 12h,\n"
    "         or a UTC date or time (2027-03-01, 2027-03-01T08:30:00Z); default never.\n"
    "list     the users: role, disabled or not, active tokens (--json: one object)\n"
    "disable  NAME's tokens stop working at once (the last active admin cannot be disabled);\n"
    "enable   undoes it\n"
    "role     give NAME the role ROLE\n"
    "revoke   revoke a token by its id (the 12 hex digits after rdk_); anyone may revoke their own\n"
    "tokens   the tokens of NAME, or every token; never their secrets (--json: one object)\n"
    "\n"
    "exit codes: 0 success, 1 invalid input, 2 usage error, 4 I/O error, 7 refused (no token,\n"
    "            a token refused, or a role that does not allow it)\n";

static int usage_error(void)
{
    fputs(usage, stderr);
    return CLI_USAGE;
}

/* ------------------------------------------------------------------ arguments */

enum { OPT_ROLE = 1, OPT_SCOPES = 2, OPT_EXPIRES = 4, OPT_JSON = 8 };

typedef struct user_args {
    const char *dir, *role, *scopes, *expires, *token_file;
    bool json;
    unsigned seen; /* OPT_* given */
    char **pos;    /* the positional arguments */
    int npos;
    /* read from the above before the store is opened, so a typo changes nothing */
    rd_role role_v;
    uint32_t scopes_v;
    int64_t now_ms, expires_ms;
} user_args;

static const char *opt_name(unsigned bit)
{
    return bit == OPT_ROLE      ? "--role"
           : bit == OPT_SCOPES  ? "--scopes"
           : bit == OPT_EXPIRES ? "--expires"
                                : "--json";
}

/* Parse argv (argv[0] is the subcommand); -1 after --help, else an exit code. */
static int parse_args(int argc, char **argv, user_args *a)
{
    static const struct option opts[] = {
        {"help", no_argument, NULL, 'h'},
        {"data-dir", required_argument, NULL, 'd'}, {"store", required_argument, NULL, 'd'},
        {"token-file", required_argument, NULL, 't'},
        {"role", required_argument, NULL, 'r'},
        {"scopes", required_argument, NULL, 's'},
        {"expires", required_argument, NULL, 'e'},
        {"json", no_argument, NULL, 'j'},
        {NULL, 0, NULL, 0},
    };
    int c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        switch (c) {
        case 'h': fputs(usage, stdout); return -1;
        case 'd': a->dir = optarg; break;
        case 't': a->token_file = optarg; break;
        case 'r': a->role = optarg, a->seen |= OPT_ROLE; break;
        case 's': a->scopes = optarg, a->seen |= OPT_SCOPES; break;
        case 'e': a->expires = optarg, a->seen |= OPT_EXPIRES; break;
        case 'j': a->json = true, a->seen |= OPT_JSON; break;
        default: return usage_error();
        }
    }
    a->pos = argv + optind;
    a->npos = argc - optind;
    return CLI_OK;
}

/* --expires: "90d", "12h", or a UTC date or time; it must be in the future. */
static int parse_expires(const char *s, int64_t now_ms, int64_t *out)
{
    char *end;
    long long n = strtoll(s, &end, 10);
    int64_t at;
    if (end != s && n > 0 && (!strcmp(end, "d") || !strcmp(end, "h")) && n <= MAX_TTL / HOUR_MS)
        at = now_ms + (int64_t)n * (*end == 'd' ? DAY_MS : HOUR_MS);
    else if (cli_parse_time(s, &at) != 0) {
        cli_errorf(
            "--expires %s: expected 90d, 12h, or a UTC date (2027-03-01) or time (2027-03-01T08:30:00Z)", s);
        return CLI_USAGE;
    }
    if (at <= now_ms) {
        cli_errorf("--expires %s: not in the future (a token that has expired cannot be issued)", s);
        return CLI_USAGE;
    }
    if (at - now_ms > MAX_TTL) {
        cli_errorf(
            "--expires %s: more than a century away; leave --expires out for a token that never expires", s);
        return CLI_USAGE;
    }
    *out = at;
    return CLI_OK;
}

/* The scopes and expiry of a new token from --scopes and --expires. */
static int token_args(user_args *a)
{
    a->scopes_v = RD_SCOPES_DEFAULT;
    a->expires_ms = 0;
    rd_err err;
    if (a->scopes && rd_scopes_parse(a->scopes, &a->scopes_v, &err) != RD_OK) {
        cli_errorf("--scopes: %s", err.msg);
        return CLI_USAGE;
    }
    return a->expires ? parse_expires(a->expires, a->now_ms, &a->expires_ms) : CLI_OK;
}

static int parse_role(const char *name, rd_role *out)
{
    int r = rd_role_parse(name);
    if (r < 0) {
        cli_errorf("unknown role \"%s\" (roles: viewer, engineer, manager, operator, admin, analyst)", name);
        return CLI_USAGE;
    }
    *out = (rd_role)r;
    return CLI_OK;
}

/* ------------------------------------------------------------------ printing */

/* A UTC time to the second, or none when ms is 0. */
static const char *when(int64_t ms, const char *none, char *buf, size_t cap)
{
    if (!ms)
        return none;
    time_t sec = (time_t)(ms / 1000);
    struct tm tm;
    strftime(buf, cap, "%Y-%m-%dT%H:%M:%SZ", gmtime_r(&sec, &tm));
    return buf;
}

static void json_ms(rd_buf *b, const char *key, int64_t ms)
{
    if (ms)
        rd_buf_printf(b, ",\"%s\":%lld", key, (long long)ms);
    else
        rd_buf_printf(b, ",\"%s\":null", key);
}

static void json_str(rd_buf *b, const char *key, const char *v)
{
    rd_buf_printf(b, ",\"%s\":", key);
    rd_json_write_string(b, v, strlen(v));
}

/* Print the buffer (JSON) and report a failed write. */
static int emit(rd_buf *b)
{
    if (b->oom) {
        cli_errorf("out of memory");
        return CLI_INVALID_INPUT;
    }
    fputs(rd_buf_cstr(b), stdout);
    return fflush(stdout) ? CLI_IO : CLI_OK;
}

/* Say what a new token is, on stderr (stdout has the token alone); its id, never its secret. */
static void describe_token(const char *what, const char *token, uint32_t scopes, int64_t exp)
{
    char scope_text[64], buf[40];
    fprintf(stderr, "riskd: %s: token %.12s, scopes %s, %s%s. It is shown once (stdout): keep it now.\n",
            what, token + 4, rd_scopes_format(scopes, scope_text, sizeof scope_text),
            exp ? "expires " : "never expires", exp ? when(exp, "", buf, sizeof buf) : "");
}

/* ------------------------------------------------------------------ the commands */

static int refused(const rd_err *err)
{
    cli_errorf("%s", err->msg);
    return cli_exit_for(err->code);
}

static int run_add(rd_store *s, const rd_principal *p, const user_args *a)
{
    char token[RD_TOKEN_MAX];
    rd_err err;
    if (rd_user_add(s, p, a->pos[0], a->role_v, a->scopes_v, a->expires_ms, a->now_ms, token, &err) != RD_OK)
        return refused(&err);
    printf("%s\n", token);
    int rc = fflush(stdout) ? CLI_IO : CLI_OK;
    char what[160];
    snprintf(what, sizeof what, "added %s (%s%s)", a->pos[0], rd_role_name(a->role_v),
             p->console ? ", the first admin" : "");
    describe_token(what, token, a->scopes_v, a->expires_ms);
    explicit_bzero(token, sizeof token);
    return rc;
}

static int run_token(rd_store *s, const rd_principal *p, const user_args *a)
{
    char token[RD_TOKEN_MAX];
    rd_err err;
    if (rd_token_issue(s, p, a->pos[0], a->scopes_v, a->expires_ms, a->now_ms, token, &err) != RD_OK)
        return refused(&err);
    printf("%s\n", token);
    int rc = fflush(stdout) ? CLI_IO : CLI_OK;
    char what[96];
    snprintf(what, sizeof what, "a new token for %s", a->pos[0]);
    describe_token(what, token, a->scopes_v, a->expires_ms);
    explicit_bzero(token, sizeof token);
    return rc;
}

static int run_disable(rd_store *s, const rd_principal *p, const user_args *a, bool disabled)
{
    rd_err err;
    if (rd_user_disable(s, p, a->pos[0], disabled, rd_clock_unix_ms(), &err) != RD_OK)
        return refused(&err);
    printf("%s %s\n", a->pos[0], disabled ? "is disabled: its tokens no longer work" : "is enabled");
    return fflush(stdout) ? CLI_IO : CLI_OK;
}

static int run_disable_cmd(rd_store *s, const rd_principal *p, const user_args *a)
{
    return run_disable(s, p, a, true);
}

static int run_enable_cmd(rd_store *s, const rd_principal *p, const user_args *a)
{
    return run_disable(s, p, a, false);
}

static int run_role(rd_store *s, const rd_principal *p, const user_args *a)
{
    rd_err err;
    if (rd_user_set_role(s, p, a->pos[0], a->role_v, a->now_ms, &err) != RD_OK)
        return refused(&err);
    printf("%s is now %s\n", a->pos[0], rd_role_name(a->role_v));
    return fflush(stdout) ? CLI_IO : CLI_OK;
}

static int run_revoke(rd_store *s, const rd_principal *p, const user_args *a)
{
    rd_err err;
    if (rd_token_revoke(s, p, a->pos[0], rd_clock_unix_ms(), &err) != RD_OK)
        return refused(&err);
    printf("token %s is revoked\n", a->pos[0]);
    return fflush(stdout) ? CLI_IO : CLI_OK;
}

/* Whether a listing may go ahead: the users permission, or (for tokens) one's own. With no user
 * at all governance is off and there is nothing to hide: 1 then, the listing is empty. */
static int may_list(rd_store *s, const rd_principal *p, const char *own, const char *doing)
{
    rd_err err;
    bool on = true;
    if (p->console && rd_auth_enabled(s, &on, &err) != RD_OK)
        return refused(&err);
    if (!on) {
        fprintf(stderr, "riskd: no users yet: governance is off (riskd user add NAME --role admin)\n");
        return -1;
    }
    if (own && !p->console && !strcmp(own, p->user))
        return CLI_OK;
    return rd_principal_require(p, RD_PERM_USERS, doing, &err) ? refused(&err) : CLI_OK;
}

typedef struct lister {
    rd_buf *b;
    bool json;
    size_t n;
    int64_t now_ms;
} lister;

static int print_user(void *ud, const rd_user_info *u)
{
    lister *l = ud;
    char buf[40];
    if (l->json) {
        rd_buf_puts(l->b, l->n ? ",{\"name\":" : "{\"name\":");
        rd_json_write_string(l->b, u->name, strlen(u->name));
        json_str(l->b, "role", rd_role_name(u->role));
        rd_buf_printf(l->b, ",\"disabled\":%s,\"active_tokens\":%zu,\"active_sessions\":%zu",
                      u->disabled ? "true" : "false", u->active_tokens, u->active_sessions);
        json_ms(l->b, "created_ms", u->created_ms);
        json_str(l->b, "created_by", u->created_by);
        rd_buf_putc(l->b, '}');
    } else {
        printf("%-24s %-9s %-9s %6zu  %-20s  %s\n", u->name, rd_role_name(u->role),
               u->disabled ? "disabled" : "active", u->active_tokens,
               when(u->created_ms, "-", buf, sizeof buf), u->created_by);
    }
    l->n++;
    return 0;
}

static int run_list(rd_store *s, const rd_principal *p, const user_args *a)
{
    int rc = may_list(s, p, NULL, "list users");
    if (rc > 0)
        return rc;
    rd_buf b;
    rd_buf_init(&b);
    lister l = {.b = &b, .json = a->json};
    rd_err err;
    if (a->json)
        rd_buf_puts(&b, "{\"users\":[");
    else
        printf("%-24s %-9s %-9s %6s  %-20s  %s\n", "NAME", "ROLE", "STATUS", "TOKENS", "CREATED", "BY");
    if (rc == 0 && rd_user_list(s, print_user, &l, &err) != RD_OK) {
        rd_buf_deinit(&b);
        return refused(&err);
    }
    rc = CLI_OK;
    if (a->json) {
        rd_buf_puts(&b, "]}\n");
        rc = emit(&b);
    }
    rd_buf_deinit(&b);
    return rc ? rc : (fflush(stdout) ? CLI_IO : CLI_OK);
}

static const char *token_status(const rd_token_info *t, int64_t now_ms)
{
    if (t->revoked_ms)
        return "revoked";
    return t->expires_ms && t->expires_ms <= now_ms ? "expired" : "active";
}

static int print_token(void *ud, const rd_token_info *t)
{
    lister *l = ud;
    char scopes[64], c[40], e[40], u[40];
    rd_scopes_format(t->scopes, scopes, sizeof scopes);
    if (l->json) {
        rd_buf_puts(l->b, l->n ? ",{\"id\":" : "{\"id\":");
        rd_json_write_string(l->b, t->id, strlen(t->id));
        json_str(l->b, "user", t->user);
        json_str(l->b, "scopes", scopes);
        json_str(l->b, "status", token_status(t, l->now_ms));
        json_ms(l->b, "created_ms", t->created_ms);
        json_ms(l->b, "expires_ms", t->expires_ms);
        json_ms(l->b, "revoked_ms", t->revoked_ms);
        json_ms(l->b, "last_used_ms", t->last_used_ms);
        json_str(l->b, "created_by", t->created_by);
        json_str(l->b, "parent", t->parent);
        rd_buf_putc(l->b, '}');
    } else {
        printf("%-12s  %-24s %-22s %-8s %-20s  %-20s  %s\n", t->id, t->user, scopes,
               token_status(t, l->now_ms), when(t->created_ms, "-", c, sizeof c),
               when(t->expires_ms, "never", e, sizeof e), when(t->last_used_ms, "never", u, sizeof u));
    }
    l->n++;
    return 0;
}

static int run_tokens(rd_store *s, const rd_principal *p, const user_args *a)
{
    const char *user = a->npos ? a->pos[0] : NULL;
    /* without the users permission and without NAME: one's own tokens */
    if (!user && !p->console && !(p->perms & RD_PERM_USERS))
        user = p->user;
    int rc = may_list(s, p, user, "list other users' tokens");
    if (rc > 0)
        return rc;
    rd_buf b;
    rd_buf_init(&b);
    lister l = {.b = &b, .json = a->json, .now_ms = rd_clock_unix_ms()};
    rd_err err;
    if (a->json)
        rd_buf_puts(&b, "{\"tokens\":[");
    else
        printf("%-12s  %-24s %-22s %-8s %-20s  %-20s  %s\n", "ID", "USER", "SCOPES", "STATUS", "CREATED",
               "EXPIRES", "LAST USED");
    if (rc == 0 && rd_token_list(s, user, print_token, &l, &err) != RD_OK) {
        rd_buf_deinit(&b);
        return refused(&err);
    }
    rc = CLI_OK;
    if (a->json) {
        rd_buf_puts(&b, "]}\n");
        rc = emit(&b);
    }
    rd_buf_deinit(&b);
    return rc ? rc : (fflush(stdout) ? CLI_IO : CLI_OK);
}

/* ------------------------------------------------------------------ dispatch */

typedef struct subcommand {
    const char *name;
    int min_pos, max_pos; /* positional arguments */
    unsigned opts;        /* OPT_* it takes */
    bool creates;         /* may create the data directory (the first admin's add) */
    int (*run)(rd_store *s, const rd_principal *p, const user_args *a);
} subcommand;

static const subcommand subcommands[] = {
    {"add", 1, 1, OPT_ROLE | OPT_SCOPES | OPT_EXPIRES, true, run_add},
    {"list", 0, 0, OPT_JSON, false, run_list},
    {"disable", 1, 1, 0, false, run_disable_cmd},
    {"enable", 1, 1, 0, false, run_enable_cmd},
    {"role", 2, 2, 0, false, run_role},
    {"token", 1, 1, OPT_SCOPES | OPT_EXPIRES, false, run_token},
    {"revoke", 1, 1, 0, false, run_revoke},
    {"tokens", 0, 1, OPT_JSON, false, run_tokens},
};

/* The arguments fit the subcommand: -1 when they do, else CLI_USAGE. */
static int check_args(const subcommand *c, const user_args *a)
{
    if (!a->dir) {
        cli_errorf("user %s needs --data-dir DIR", c->name);
        return CLI_USAGE;
    }
    for (unsigned bit = 1; bit <= OPT_JSON; bit <<= 1)
        if ((a->seen & bit) && !(c->opts & bit)) {
            cli_errorf("user %s does not take %s", c->name, opt_name(bit));
            return CLI_USAGE;
        }
    if (a->npos < c->min_pos || a->npos > c->max_pos) {
        cli_errorf("user %s: wrong number of arguments (riskd user --help)", c->name);
        return CLI_USAGE;
    }
    return -1;
}

/* The values the subcommand takes, read before anything is opened. */
static int read_values(const subcommand *c, user_args *a)
{
    a->now_ms = rd_clock_unix_ms();
    if (!strcmp(c->name, "add") && !a->role) {
        cli_errorf("user add needs --role (viewer, engineer, manager, operator, admin, analyst)");
        return CLI_USAGE;
    }
    const char *role = a->role ? a->role : !strcmp(c->name, "role") ? a->pos[1] : NULL;
    int rc = role ? parse_role(role, &a->role_v) : CLI_OK;
    return rc ? rc : token_args(a);
}

/* DIR's store: created for the first admin's add, else it must exist already. */
static int open_store(const char *dir, bool creates, rd_store **s)
{
    rd_err err;
    if (!creates) {
        rd_store_opts ro = {.read_only = true};
        if (rd_store_open(dir, &ro, s, &err) != RD_OK) {
            cli_errorf("%s", err.msg);
            return cli_exit_for(err.code);
        }
        rd_store_close(*s); /* it exists: open it for writing (an older schema is migrated) */
    }
    rd_store_opts rw = {0};
    if (rd_store_open(dir, &rw, s, &err) != RD_OK) {
        cli_errorf("%s", err.msg);
        return cli_exit_for(err.code);
    }
    return CLI_OK;
}

static int run(const subcommand *c, int argc, char **argv)
{
    user_args a = {0};
    int rc = parse_args(argc, argv, &a);
    if (rc)
        return rc < 0 ? CLI_OK : rc;
    if ((rc = check_args(c, &a)) >= 0 || (rc = read_values(c, &a)))
        return rc;
    rd_store *s;
    if ((rc = open_store(a.dir, c->creates, &s)))
        return rc;
    rd_principal p;
    if (!(rc = cli_principal(s, a.token_file, &p)))
        rc = c->run(s, &p, &a);
    rd_store_close(s);
    return rc;
}

int cmd_user(int argc, char **argv)
{
    if (argc < 2)
        return usage_error();
    if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")) {
        fputs(usage, stdout);
        return CLI_OK;
    }
    for (size_t i = 0; i < sizeof subcommands / sizeof *subcommands; i++)
        if (!strcmp(argv[1], subcommands[i].name))
            return run(&subcommands[i], argc - 1, argv + 1);
    cli_errorf("user: unknown subcommand \"%s\" (riskd user --help)", argv[1]);
    return CLI_USAGE;
}
