/* The riskd command: shared helpers of the subcommands. */
#ifndef RISKD_CLI_H
#define RISKD_CLI_H

/* Exit codes every subcommand uses. */
enum {
    CLI_OK = 0,
    CLI_INVALID_INPUT = 1, /* a file or document the command was given is invalid */
    CLI_USAGE = 2,         /* wrong arguments */
    CLI_PARTIAL = 3,       /* the run finished but some records were rejected */
    CLI_IO = 4,            /* a file could not be read or written */
};

int cmd_flags(int argc, char **argv);
int cmd_predict(int argc, char **argv);

/* Print "riskd: <message>" to stderr. */
void cli_errorf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

#endif
