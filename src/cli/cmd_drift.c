/* riskd drift: not built yet (issue 13). */
#include <stdio.h>

#include "cli.h"

int cmd_drift(int argc, char **argv)
{
    (void)argc;
    (void)argv;
    cli_errorf("drift: not built yet");
    return CLI_USAGE;
}
