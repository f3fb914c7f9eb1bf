/* The riskd command: shared helpers of the subcommands. */
#ifndef RISKD_CLI_H
#define RISKD_CLI_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "riskd/err.h"

/* Exit codes every subcommand uses. */
enum {
    CLI_OK = 0,
    CLI_INVALID_INPUT = 1, /* a file or document the command was given is invalid */
    CLI_USAGE = 2,         /* wrong arguments */
    CLI_PARTIAL = 3,       /* the run finished but some records were rejected */
    CLI_IO = 4,            /* a file could not be read or written */
    CLI_DIFFERENT = 5,     /* checked, and differences found (replay, skew) */
    CLI_UNTRUSTED = 6,     /* a signature is missing, malformed or made by no trusted key */
    CLI_REFUSED = 7,       /* not authenticated, or the role does not allow it (governance) */
};

/* rd_store_opts.timeout_ms of the commands that scan the decision log (export, replay,
 * reports): a filter that matches sparse rows may go minutes without one coming back, which
 * the server's 10 s would take for a hang. */
#define CLI_SCAN_TIMEOUT_MS 600000

int cmd_flags(int argc, char **argv);
int cmd_predict(int argc, char **argv);
int cmd_bundle(int argc, char **argv);
int cmd_score(int argc, char **argv);
int cmd_serve(int argc, char **argv);
int cmd_auth(int argc, char **argv);
int cmd_log(int argc, char **argv);
int cmd_replay(int argc, char **argv);
/* riskd log erase | retention | hash (cmd_log_privacy.c); usage: riskd log's */
int cli_log_erase(int argc, char **argv, const char *usage);
int cli_log_retention(int argc, char **argv, const char *usage);
int cli_log_hash(int argc, char **argv, const char *usage);
int cmd_rollout(int argc, char **argv);
/* riskd rollout status, and pause|resume|promote|rollback (cmd_rollout_ops.c) */
extern const char cli_rollout_status_usage[];
extern const char cli_rollout_cmd_usage[];
int cli_rollout_status(int argc, char **argv);
int cli_rollout_command(const char *name, int argc, char **argv);
int cmd_outcomes(int argc, char **argv);
int cmd_ab(int argc, char **argv);
int cmd_drift(int argc, char **argv);
int cmd_skew(int argc, char **argv);
int cmd_swapset(int argc, char **argv);
/* riskd change ..., riskd rollback (cmd_change.c), riskd flags export (cli_flags_export) */
int cmd_change(int argc, char **argv);
int cmd_rollback(int argc, char **argv);
extern const char cli_flags_export_usage[];
int cli_flags_export(int argc, char **argv);

int cmd_user(int argc, char **argv);

/* Governance (cli_auth.c): who the command acts as. The token comes from token_file (the
 * --token-file option; may be NULL), else the file RISKD_TOKEN_FILE names, else RISKD_TOKEN;
 * it is authenticated against s into *out. Without any, *out is the console (console = true),
 * which the library lets create the first admin and nothing else. Prints the error and returns
 * its exit code (CLI_REFUSED when the token is refused, CLI_IO when the file is unreadable). */
struct rd_store;
struct rd_principal;
int cli_principal(struct rd_store *s, const char *token_file, struct rd_principal *out);
int cmd_audit(int argc, char **argv);
int cmd_notify(int argc, char **argv);

/* The reports' shared plumbing (cmd_report.c). */
struct rd_buf;
/* Open DIR's store read-only (it must exist); prints the error and returns the exit code. */
int cli_report_store(const char *dir, struct rd_store **s);
/* Write the report: the HTML file when html is set, then JSON (json_out) or the text table to
 * stdout. kind: "ab", "drift", "skew", "swapset". Returns CLI_OK or CLI_IO. */
int cli_report_emit(const char *kind, struct rd_buf *json, struct rd_buf *text, bool json_out,
                    const char *html);
/* The library's progress callback, drawing p (a cli_progress *). */
void cli_report_progress(void *ud, uint64_t done, uint64_t total);

/* A progress bar on stderr when it is a terminal (silent in a pipe or a file): done of
 * total units (total 0: unknown, the count alone is shown), redrawn at most 10 times a
 * second; cli_progress_end finishes the line. */
typedef struct cli_progress {
    const char *what;
    bool tty;
    double last;
    bool drawn;
} cli_progress;
void cli_progress_init(cli_progress *p, const char *what);
void cli_progress_update(cli_progress *p, uint64_t done, uint64_t total, const char *unit);
void cli_progress_end(cli_progress *p);

/* The exit code for a library error code: rd_err_exit_status (RD_EIO: CLI_IO, RD_EUSAGE:
 * CLI_USAGE, the others CLI_INVALID_INPUT). Inline, so the analyzer sees an error is never 0. */
static inline int cli_exit_for(int rd_code) { return rd_err_exit_status(rd_code); }

/* Write one CSV field: quoted (quotes doubled) when it holds a comma, a quote or a line break. */
void cli_csv_field(FILE *out, const char *s);

/* A UTC date (2026-12-01) or time (2026-12-01T08:30:00Z), or unix ms, into *ms: 0, or -1. */
int cli_parse_time(const char *s, int64_t *ms);

/* One request of the admin HTTP API (cmd_change_http.c, libcurl). */
typedef struct cli_http {
    const char *base;                /* "https://riskd.internal:8443" */
    const char *token;               /* sent as a bearer token, never printed */
    const char *cacert, *cert, *key; /* TLS: the CA to trust, a client certificate and its key */
    long timeout_ms;
} cli_http;
/* method path (with its query) and body (NULL: "{}" for a method other than GET): the
 * response's status into *status and its body into resp. RD_OK when a response arrived
 * (whatever its status); RD_EIO when none did (err says why: refused, TLS, timeout),
 * RD_EINVAL for options libcurl refused, RD_ELIMIT for a response over 64 MiB. */
int cli_http_do(const cli_http *h, const char *method, const char *path, const char *body,
                struct rd_buf *resp, long *status, rd_err *err);
/* Append s percent-encoded (a query value) to b. */
void cli_url_escape(struct rd_buf *b, const char *s);

/* Print "riskd: <message>" to stderr. */
void cli_errorf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

#endif
