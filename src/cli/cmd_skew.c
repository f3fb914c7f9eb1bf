/* riskd skew: not built yet (issue 13). */
#include <stdio.h>

#include "cli.h"

int cmd_skew(int argc, char **argv)
{
    (void)argc;
    (void)argv;
    cli_errorf("skew: not built yet");
    return CLI_USAGE;
}
