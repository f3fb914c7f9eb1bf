/* riskd auth matrix: the role x action matrix of the admin API, from the library's tables (the
 * same ones the server routes and checks with), as a text table, Markdown (docs/api.md) or
 * JSON (the role x action test is generated from it). */
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "riskd/auth.h"
#include "riskd/json.h"

static const char usage[] =
    "usage: riskd auth matrix [--json | --markdown]\n"
    "\n"
    "Print which role may do which admin action (the role x action matrix the server enforces).\n"
    "\n"
    "options:\n"
    "  --json       [{\"action\", \"method\", \"path\", \"permission\" (null: none, a console\n"
    "               session action), \"allowed\": {role: bool}}]\n"
    "  --markdown   the table docs/api.md holds\n"
    "  -h, --help   show this help\n"
    "\n"
    "exit codes: 0 success, 2 usage error\n";

static void put_json_str(rd_buf *b, const char *s) { rd_json_write_string(b, s, strlen(s)); }

static int matrix_json(rd_buf *b)
{
    size_t n;
    const rd_admin_action_def *acts = rd_admin_actions(&n);
    rd_buf_putc(b, '[');
    for (size_t i = 0; i < n; i++) {
        rd_buf_puts(b, i ? ",\n{\"action\":" : "{\"action\":");
        put_json_str(b, acts[i].name);
        rd_buf_puts(b, ",\"method\":");
        put_json_str(b, acts[i].method);
        rd_buf_puts(b, ",\"path\":");
        put_json_str(b, acts[i].path);
        rd_buf_puts(b, ",\"permission\":");
        if (acts[i].perm)
            put_json_str(b, rd_perm_name(acts[i].perm));
        else
            rd_buf_puts(b, "null"); /* a session action: the caller's own credentials, no permission */
        rd_buf_puts(b, ",\"allowed\":{");
        for (int r = 0; r < RD_ROLE_COUNT; r++) {
            if (r)
                rd_buf_putc(b, ',');
            put_json_str(b, rd_role_name((rd_role)r));
            rd_buf_puts(b, rd_role_allows((rd_role)r, acts[i].action) ? ":true" : ":false");
        }
        rd_buf_puts(b, "}}");
    }
    rd_buf_puts(b, "]\n");
    return b->oom ? RD_ENOMEM : RD_OK;
}

static int matrix_text(rd_buf *b)
{
    size_t n;
    const rd_admin_action_def *acts = rd_admin_actions(&n);
    rd_buf_printf(b, "%-18s %-44s %-15s", "action", "method and path", "permission");
    for (int r = 0; r < RD_ROLE_COUNT; r++)
        rd_buf_printf(b, r + 1 < RD_ROLE_COUNT ? " %-8s" : " %s", rd_role_name((rd_role)r));
    rd_buf_putc(b, '\n');
    for (size_t i = 0; i < n; i++) {
        char mp[128];
        snprintf(mp, sizeof mp, "%s %s", acts[i].method, acts[i].path);
        rd_buf_printf(b, "%-18s %-44s %-15s", acts[i].name, mp, rd_perm_name(acts[i].perm));
        for (int r = 0; r < RD_ROLE_COUNT; r++)
            rd_buf_printf(b, r + 1 < RD_ROLE_COUNT ? " %-8s" : " %s",
                          rd_role_allows((rd_role)r, acts[i].action) ? "yes" : "-");
        rd_buf_putc(b, '\n');
    }
    return b->oom ? RD_ENOMEM : RD_OK;
}

static int matrix(int argc, char **argv)
{
    enum { TEXT, JSON, MARKDOWN } fmt = TEXT;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help")) {
            fputs(usage, stdout);
            return CLI_OK;
        }
        if (!strcmp(argv[i], "--json") && fmt == TEXT) {
            fmt = JSON;
        } else if (!strcmp(argv[i], "--markdown") && fmt == TEXT) {
            fmt = MARKDOWN;
        } else {
            cli_errorf("usage: %s \"%s\" (riskd auth matrix [--json | --markdown])",
                       !strcmp(argv[i], "--json") || !strcmp(argv[i], "--markdown") ? "one format only, not"
                                                                                    : "unknown option",
                       argv[i]);
            return CLI_USAGE;
        }
    }
    rd_buf b;
    rd_buf_init(&b);
    int rc = fmt == JSON ? matrix_json(&b) : fmt == MARKDOWN ? rd_auth_matrix_markdown(&b) : matrix_text(&b);
    if (rc == RD_OK)
        fwrite(b.data, 1, b.len, stdout);
    rd_buf_deinit(&b);
    if (rc) {
        cli_errorf("out of memory");
        return cli_exit_for(rc);
    }
    return fflush(stdout) == 0 ? CLI_OK : CLI_IO;
}

int cmd_auth(int argc, char **argv)
{
    if (argc < 2 || !strcmp(argv[1], "-h") || !strcmp(argv[1], "--help")) {
        fputs(usage, argc < 2 ? stderr : stdout);
        return argc < 2 ? CLI_USAGE : CLI_OK;
    }
    if (!strcmp(argv[1], "matrix"))
        return matrix(argc - 1, argv + 1);
    cli_errorf("auth: unknown command \"%s\" (riskd auth matrix)", argv[1]);
    return CLI_USAGE;
}
