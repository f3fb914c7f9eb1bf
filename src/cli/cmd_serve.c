/* riskd serve: the HTTP service (src/server/). This file only reads the configuration. */
#include <stdio.h>

#include "../server/server.h"
#include "cli.h"

int cmd_serve(int argc, char **argv)
{
    srv_config cfg;
    bool check_only, help;
    rd_err err;
    if (srv_config_load(argc, argv, &cfg, &check_only, &help, &err)) {
        cli_errorf("serve: %s", err.msg);
        return cli_exit_for(err.code);
    }
    if (help) {
        fputs(srv_usage, stdout);
        return CLI_OK;
    }
    if (check_only)
        return srv_check(&cfg);
    return srv_run(&cfg);
}
