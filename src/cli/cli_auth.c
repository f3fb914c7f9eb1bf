/* Who a governance command acts as: the token it was given, authenticated against the data
 * directory's store; the console when it was given none (which only creates the first admin).
 * Shared by riskd user, change, rollback and log. A token's text is never printed. */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "riskd/auth.h"
#include "riskd/clock.h"

/* RISKD_TOKEN's value, trimmed like a token file's. */
static int token_from_env(const char *v, char token[RD_TOKEN_MAX])
{
    while (isspace((unsigned char)*v))
        v++;
    size_t n = strlen(v);
    while (n && isspace((unsigned char)v[n - 1]))
        n--;
    if (!n || n >= RD_TOKEN_MAX) {
        cli_errorf("RISKD_TOKEN does not hold a token (%s)", n ? "too long" : "empty");
        return CLI_REFUSED;
    }
    memcpy(token, v, n);
    token[n] = '\0';
    return CLI_OK;
}

/* The token the command was given, into token: 1 when there is one, 0 for none, or -exit code. */
static int find_token(const char *token_file, char token[RD_TOKEN_MAX])
{
    const char *file = token_file ? token_file : getenv("RISKD_TOKEN_FILE");
    if (file && *file) {
        rd_err err;
        if (rd_token_read_file(file, token, &err) != RD_OK) {
            cli_errorf("%s", err.msg);
            return -cli_exit_for(err.code);
        }
        return 1;
    }
    const char *v = getenv("RISKD_TOKEN");
    if (!v || !*v)
        return 0;
    int rc = token_from_env(v, token);
    return rc ? -rc : 1;
}

int cli_principal(struct rd_store *s, const char *token_file, struct rd_principal *out)
{
    char token[RD_TOKEN_MAX];
    int found = find_token(token_file, token);
    if (found < 0)
        return -found;
    if (!found) {
        memset(out, 0, sizeof *out);
        strcpy(out->user, "console");
        out->console = true;
        return CLI_OK;
    }
    rd_err err;
    int rc = rd_auth_authenticate(s, token, rd_clock_unix_ms(), out, &err);
    explicit_bzero(token, sizeof token);
    if (rc) {
        cli_errorf("%s", err.msg);
        return cli_exit_for(rc);
    }
    return CLI_OK;
}
