/* riskd ab: not built yet (issue 13). */
#include <stdio.h>

#include "cli.h"

int cmd_ab(int argc, char **argv)
{
    (void)argc;
    (void)argv;
    cli_errorf("ab: not built yet");
    return CLI_USAGE;
}
