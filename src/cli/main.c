/* riskd: one binary, one subcommand per concern. */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "riskd/riskd.h"

static const char usage[] =
    "usage: riskd <command> [options]\n"
    "\n"
    "Put credit-risk and fraud models into production safely.\n"
    "\n"
    "commands:\n"
    "  flags      validate and evaluate flagd flag sets (riskd flags --help)\n"
    "  predict    a model alone on a numeric CSV matrix (riskd predict --help)\n"
    "  bundle     build, verify and inspect model bundles (riskd bundle --help)\n"
    "  score      score raw applications with a bundle (riskd score --help)\n"
    "  serve      the HTTP service: /v1/score and OFREP (riskd serve --help)\n"
    "  auth       the role x action matrix of the admin API (riskd auth matrix)\n"
    "  log        export the decision log; erase one applicant's records (riskd log --help)\n"
    "  replay     re-run logged decisions and compare them bit for bit (riskd replay --help)\n"
    "  rollout    staged rollouts of a candidate bundle by a routing flag (riskd rollout --help)\n"
    "  outcomes   import late labels and see the realised bad rate and KS (riskd outcomes --help)\n"
    "  ab         an A/B report per variant of a routing flag, vs the control (riskd ab --help)\n"
    "  drift      a bundle's training reference against live applications: PSI, KS (riskd drift --help)\n"
    "  skew       online decisions joined to offline features: training-serving skew (riskd skew --help)\n"
    "  swapset    champion vs challenger decisions: swap-ins, swap-outs (riskd swapset --help)\n"
    "  change     change requests: propose, approve, publish (riskd change --help)\n"
    "  rollback   put a served file back to its previous version, at once (riskd rollback --help)\n"
    "  user       users, roles and tokens: who may change what (riskd user --help)\n"
    "  audit      verify, export and list the audit chain of governance changes (riskd audit --help)\n"
    "  notify     send a test notification; list the outbox and failed deliveries (riskd notify --help)\n"
    "\n"
    "options:\n"
    "  -h, --help     show this help\n"
    "  -V, --version  print the version\n"
    "\n"
    "exit codes: 0 success, 1 invalid input, 2 usage error, 3 some records rejected, 4 I/O error,\n"
    "            5 checked and differences found (replay, skew, audit verify), 7 refused (not\n"
    "            authenticated, or the role does not allow it)\n";

void cli_errorf(const char *fmt, ...)
{
    va_list ap;
    fputs("riskd: ", stderr);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fputs(usage, stderr);
        return CLI_USAGE;
    }
    const char *cmd = argv[1];
    if (!strcmp(cmd, "-h") || !strcmp(cmd, "--help") || !strcmp(cmd, "help")) {
        fputs(usage, stdout);
        return CLI_OK;
    }
    if (!strcmp(cmd, "-V") || !strcmp(cmd, "--version")) {
        printf("riskd %s\n", rd_version());
        return CLI_OK;
    }
    if (!strcmp(cmd, "flags"))
        return cmd_flags(argc - 1, argv + 1);
    if (!strcmp(cmd, "predict"))
        return cmd_predict(argc - 1, argv + 1);
    if (!strcmp(cmd, "bundle"))
        return cmd_bundle(argc - 1, argv + 1);
    if (!strcmp(cmd, "score"))
        return cmd_score(argc - 1, argv + 1);
    if (!strcmp(cmd, "serve"))
        return cmd_serve(argc - 1, argv + 1);
    if (!strcmp(cmd, "auth"))
        return cmd_auth(argc - 1, argv + 1);
    if (!strcmp(cmd, "log"))
        return cmd_log(argc - 1, argv + 1);
    if (!strcmp(cmd, "replay"))
        return cmd_replay(argc - 1, argv + 1);
    if (!strcmp(cmd, "rollout"))
        return cmd_rollout(argc - 1, argv + 1);
    if (!strcmp(cmd, "outcomes"))
        return cmd_outcomes(argc - 1, argv + 1);
    if (!strcmp(cmd, "ab"))
        return cmd_ab(argc - 1, argv + 1);
    if (!strcmp(cmd, "drift"))
        return cmd_drift(argc - 1, argv + 1);
    if (!strcmp(cmd, "skew"))
        return cmd_skew(argc - 1, argv + 1);
    if (!strcmp(cmd, "swapset"))
        return cmd_swapset(argc - 1, argv + 1);
    if (!strcmp(cmd, "change"))
        return cmd_change(argc - 1, argv + 1);
    if (!strcmp(cmd, "rollback"))
        return cmd_rollback(argc - 1, argv + 1);
    if (!strcmp(cmd, "user"))
        return cmd_user(argc - 1, argv + 1);
    if (!strcmp(cmd, "audit"))
        return cmd_audit(argc - 1, argv + 1);
    if (!strcmp(cmd, "notify"))
        return cmd_notify(argc - 1, argv + 1);
    cli_errorf("unknown command \"%s\" (try riskd --help)", cmd);
    return CLI_USAGE;
}
