/* riskd swapset: not built yet (issue 13). */
#include <stdio.h>

#include "cli.h"

int cmd_swapset(int argc, char **argv)
{
    (void)argc;
    (void)argv;
    cli_errorf("swapset: not built yet");
    return CLI_USAGE;
}
