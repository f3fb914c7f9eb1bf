/* riskd log erase | retention | hash: personal data in the decision log (docs/governance.md,
 * "Personal data in the decision log"). The rules (who may erase, the retention floor, what
 * the audit entry holds) are the library's (include/riskd/dlog.h); this file reads argv,
 * finds the caller's token and prints. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "riskd/auth.h"
#include "riskd/clock.h"
#include "riskd/dlog.h"
#include "riskd/json.h"

typedef struct opts {
    const char *dir, *key, *reason, *token_file, *days, *key_file;
} opts;

/* Parse the options named in allowed (their short letters); the rest of argv is refused. */
static int parse(int argc, char **argv, const char *allowed, const char *usage, opts *o, int *first_arg)
{
    static const struct option longs[] = {
        {"help", no_argument, NULL, 'h'},
        {"data-dir", required_argument, NULL, 'd'}, {"store", required_argument, NULL, 'd'},
        {"targeting-key", required_argument, NULL, 'k'},
        {"reason", required_argument, NULL, 'r'},
        {"token-file", required_argument, NULL, 'T'},
        {"days", required_argument, NULL, 'n'},
        {"log-redact-key-file", required_argument, NULL, 'K'},
        {NULL, 0, NULL, 0},
    };
    int c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "h", longs, NULL)) != -1) {
        if (c == 'h') {
            fputs(usage, stdout);
            return -1;
        }
        if (c == '?' || !strchr(allowed, c)) {
            if (c != '?')
                cli_errorf("%s does not take %s", argv[0], argv[optind - 1]);
            fputs(usage, stderr);
            return CLI_USAGE;
        }
        *(c == 'd'   ? &o->dir
          : c == 'k' ? &o->key
          : c == 'r' ? &o->reason
          : c == 'T' ? &o->token_file
          : c == 'n' ? &o->days
                     : &o->key_file) = optarg;
    }
    *first_arg = optind;
    return CLI_OK;
}

/* The store of dir, which must already be one (erasing never creates a data directory). */
static int open_rw(const char *dir, rd_store **s)
{
    rd_err err;
    rd_store_opts ro = {.read_only = true};
    int rc = rd_store_open(dir, &ro, s, &err);
    if (!rc) {
        rd_store_close(*s);
        rc = rd_store_open(dir, NULL, s, &err);
    }
    if (rc) {
        cli_errorf("%s", err.msg);
        return cli_exit_for(rc);
    }
    return CLI_OK;
}

int cli_log_erase(int argc, char **argv, const char *usage)
{
    opts o = {0};
    int first, rc = parse(argc, argv, "dkrT", usage, &o, &first);
    if (rc)
        return rc < 0 ? CLI_OK : rc;
    if (!o.dir || !o.key || first != argc) {
        cli_errorf("log erase needs --targeting-key and --data-dir");
        return CLI_USAGE;
    }
    rd_store *s;
    if ((rc = open_rw(o.dir, &s)))
        return rc;
    rd_principal p;
    if ((rc = cli_principal(s, o.token_file, &p))) {
        rd_store_close(s);
        return rc;
    }
    rd_dlog_erased e;
    rd_err err;
    rc = rd_dlog_erase(s, &p, o.key, rd_clock_unix_ms(), o.reason, &e, &err);
    rd_store_close(s);
    if (rc) {
        cli_errorf("%s", err.msg);
        return cli_exit_for(rc);
    }
    printf("erased %llu decisions of %s (%llu shadow scores, %llu outcomes); audited as decisions.erase\n",
           (unsigned long long)e.decisions, e.object, (unsigned long long)e.shadows,
           (unsigned long long)e.outcomes);
    if (!e.scrubbed)
        fprintf(stderr,
                "riskd log erase: another process was reading the store: the old copies of the erased "
                "pages leave its write-ahead log at its next checkpoint\n");
    return CLI_OK;
}

int cli_log_retention(int argc, char **argv, const char *usage)
{
    opts o = {0};
    int first, rc = parse(argc, argv, "dnT", usage, &o, &first);
    if (rc)
        return rc < 0 ? CLI_OK : rc;
    if (!o.dir || first != argc) {
        cli_errorf("log retention needs --data-dir");
        return CLI_USAGE;
    }
    char *end;
    long days = o.days ? strtol(o.days, &end, 10) : 0;
    if (o.days && (end == o.days || *end || days < 0 || days > RD_RETENTION_FLOOR_MAX)) {
        cli_errorf("--days: a number of days from 0 to %d, not \"%s\"", RD_RETENTION_FLOOR_MAX, o.days);
        return CLI_USAGE;
    }
    rd_store *s;
    rd_err err;
    int was = 0;
    if ((rc = open_rw(o.dir, &s)))
        return rc;
    if ((rc = rd_dlog_retention_get(s, &was, &err)) == RD_OK && !o.days) {
        printf("retention floor: %d days%s\n", was,
               was == RD_RETENTION_FLOOR_DEFAULT ? " (the default: about Regulation B's 25 months)" : "");
        rd_store_close(s);
        return CLI_OK;
    }
    rd_principal p;
    if (!rc && (rc = cli_principal(s, o.token_file, &p))) {
        rd_store_close(s);
        return rc;
    }
    if (!rc)
        rc = rd_dlog_retention_set(s, &p, (int)days, rd_clock_unix_ms(), &err);
    rd_store_close(s);
    if (rc) {
        cli_errorf("%s", err.msg);
        return cli_exit_for(rc);
    }
    printf("retention floor: %d -> %ld days (audited as settings.retention_floor)\n", was, days);
    return CLI_OK;
}

int cli_log_hash(int argc, char **argv, const char *usage)
{
    opts o = {0};
    int first, rc = parse(argc, argv, "K", usage, &o, &first);
    if (rc)
        return rc < 0 ? CLI_OK : rc;
    if (!o.key_file || first != argc - 1) {
        cli_errorf("log hash needs --log-redact-key-file and one VALUE");
        return CLI_USAGE;
    }
    const char *text = argv[first];
    rd_arena a;
    rd_arena_init(&a, 0);
    rd_value v;
    /* JSON as the request carried it; any other text is the string itself */
    if (rd_json_parse(text, strlen(text), NULL, &a, &v, NULL) != RD_OK)
        v = rd_value_string(text, (uint32_t)strlen(text));
    rd_dlog_redact *r = NULL;
    rd_err err;
    char h[RD_REDACT_HASH_MAX];
    rc = rd_dlog_redact_new("value", o.key_file, &r, &err);
    if (!rc)
        rc = rd_dlog_redact_hash(r, &v, h, &err);
    rd_dlog_redact_free(r);
    rd_arena_deinit(&a);
    if (rc) {
        cli_errorf("%s", err.msg);
        return cli_exit_for(rc);
    }
    puts(h);
    return CLI_OK;
}
