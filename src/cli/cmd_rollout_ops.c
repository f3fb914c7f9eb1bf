/* riskd rollout status | pause | resume | promote | rollback: the rollouts in a data
 * directory's store, as the controller inside `riskd serve` last evaluated them, and the
 * manual commands it follows at its next tick (include/riskd/rollout.h). */
#include <getopt.h>
#include <math.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"
#include "riskd/clock.h"
#include "riskd/json.h"
#include "riskd/auth.h"
#include "riskd/rollout.h"

const char cli_rollout_status_usage[] =
    "usage: riskd rollout status --data-dir DIR [--flag KEY] [--json]\n"
    "\n"
    "The rollouts recorded in DIR/riskd.db: for each, its state (running, holding, paused,\n"
    "promoted, rolled_back), the current stage and the time in it, and every gate of the stage\n"
    "as the controller last evaluated it: value, threshold, noise floor, samples and verdict;\n"
    "then the last transitions. --json prints one object per rollout with a top-level \"state\"\n"
    "and \"stage\" (the current stage's name), the controller's last evaluation (\"evaluation\",\n"
    "its \"gates\"), \"transitions\" (newest first) and \"pending_spool\" (transitions waiting to\n"
    "be stored); with several rollouts, the top level is the first (by flag) and \"rollouts\"\n"
    "lists them all.\n"
    "\n"
    "exit codes: 0 success, 1 no rollout (or not that flag), 2 usage error, 4 I/O error\n";

const char cli_rollout_cmd_usage[] =
    "usage: riskd rollout pause|resume|promote|rollback --data-dir DIR --flag KEY [--reason TEXT]\n"
    "                                                [--actor NAME] [--token-file F]\n"
    "\n"
    "Change a running rollout by hand; the controller inside riskd serve follows at its next\n"
    "evaluation. pause stops the gates' evaluation (the traffic stays where it is); resume\n"
    "continues a paused or holding rollout, or starts a rolled-back one again from its first\n"
    "stage; promote moves to the last stage (the candidate takes the traffic); rollback sends\n"
    "everyone to the control at once (candidate weight 0, segment and shadow off). promote and\n"
    "rollback rewrite the flag file first, so the traffic moves even when the store cannot be\n"
    "written: the transition then waits in DIR/rollout.spool and is stored when it can be.\n"
    "Every command is recorded with its actor (default: the user name) and reason. Once the data\n"
    "directory has users (docs/governance.md), a token is needed (--token-file, RISKD_TOKEN_FILE\n"
    "or RISKD_TOKEN): promote needs the publish permission, the others rollback; the actor is\n"
    "then the token's user.\n"
    "\n"
    "exit codes: 0 done, 1 refused (no such rollout, or not in a state that allows it),\n"
    "            2 usage error, 4 the store could not be written (for promote and rollback the\n"
    "            flag file was rewritten all the same: the message says so)\n";

typedef struct ops_args {
    const char *dir, *flag, *reason, *actor, *token_file;
    bool json, help;
} ops_args;

static int parse(int argc, char **argv, ops_args *a)
{
    static const struct option opts[] = {
        {"help", no_argument, NULL, 'h'},
        {"data-dir", required_argument, NULL, 'd'},
        {"store", required_argument, NULL, 'd'},
        {"flag", required_argument, NULL, 'f'},
        {"reason", required_argument, NULL, 'r'},
        {"actor", required_argument, NULL, 'a'},
        {"token-file", required_argument, NULL, 't'},
        {"json", no_argument, NULL, 'j'},
        {NULL, 0, NULL, 0},
    };
    memset(a, 0, sizeof *a);
    optind = 1;
    opterr = 0;
    int o;
    while ((o = getopt_long(argc, argv, ":h", opts, NULL)) != -1) {
        switch (o) {
        case 'h': a->help = true; break;
        case 'd': a->dir = optarg; break;
        case 'f': a->flag = optarg; break;
        case 'r': a->reason = optarg; break;
        case 'a': a->actor = optarg; break;
        case 't': a->token_file = optarg; break;
        case 'j': a->json = true; break;
        case ':': cli_errorf("usage: %s needs a value", argv[optind - 1]); return CLI_USAGE;
        default: cli_errorf("usage: unknown option \"%s\"", argv[optind - 1]); return CLI_USAGE;
        }
    }
    if (optind < argc) {
        cli_errorf("usage: unexpected argument \"%s\"", argv[optind]);
        return CLI_USAGE;
    }
    if (!a->help && !a->dir) {
        cli_errorf("usage: give --data-dir DIR (riskd serve's data_dir)");
        return CLI_USAGE;
    }
    return CLI_OK;
}

static int open_store(const char *dir, bool read_only, rd_store **s)
{
    rd_err err;
    char url[1100];
    snprintf(url, sizeof url, "%s%s", strstr(dir, "://") ? "" : "sqlite:", dir); /* --store URL */
    rd_store_opts o = {.read_only = read_only};
    int rc = rd_store_open(url, &o, s, &err);
    if (rc)
        cli_errorf("%s", err.msg);
    return rc;
}

/* ------------------------------------------------------------------ status */

#define MAX_LISTED 64

typedef struct status_ctx {
    rd_buf cur;             /* --json: the rollout being written */
    char *objs[MAX_LISTED]; /* --json: each rollout's object */
    size_t nobjs;
    rd_store *s;
    const char *only, *dir;
    bool json;
    size_t n;
    int rc;
} status_ctx;

static int print_transition(void *ud, const rd_transition *t)
{
    status_ctx *c = ud;
    char when[32];
    time_t sec = (time_t)(t->ts_ms / 1000);
    struct tm tm;
    gmtime_r(&sec, &tm);
    strftime(when, sizeof when, "%Y-%m-%dT%H:%M:%SZ", &tm);
    if (c->json) {
        if (c->n++)
            rd_buf_putc(&c->cur, ',');
        rd_transition_json(t, &c->cur);
    } else {
        printf("  %s  %-9s stage %d -> %d  %s -> %s  by %s: %s\n", when, t->reason, t->from_stage,
               t->to_stage, t->from_state, t->to_state, t->actor, t->detail);
    }
    return 0;
}

/* One gate of the controller's status JSON, as a line of text. */
static void print_gate(const rd_value *g)
{
    const rd_value *m = rd_value_get(g, "metric", 6), *cmp = rd_value_get(g, "compare", 7),
                   *v = rd_value_get(g, "value", 5), *verdict = rd_value_get(g, "verdict", 7),
                   *n = rd_value_get(g, "n", 1), *min = rd_value_get(g, "min_samples", 11),
                   *nf = rd_value_get(g, "noise_floor", 11), *crit = rd_value_get(g, "critical", 8),
                   *note = rd_value_get(g, "note", 4), *pass = rd_value_get(g, "pass", 4),
                   *fail = rd_value_get(g, "fail", 4);
    char val[48] = "-", thr[96] = "", floor_[48] = "";
    if (v && v->type == RD_VNUMBER)
        snprintf(val, sizeof val, "%.4g", v->u.n);
    if (pass && pass->type == RD_VOBJECT && pass->len && pass->u.members[0].val.type == RD_VNUMBER)
        snprintf(thr, sizeof thr, "pass %s %.4g", pass->u.members[0].key, pass->u.members[0].val.u.n);
    if (fail && fail->type == RD_VOBJECT && fail->len && fail->u.members[0].val.type == RD_VNUMBER) {
        size_t l = strlen(thr);
        snprintf(thr + l, sizeof thr - l, "%sfail %s %.4g", l ? ", " : "", fail->u.members[0].key,
                 fail->u.members[0].val.u.n);
    }
    if (nf && nf->type == RD_VNUMBER)
        snprintf(floor_, sizeof floor_, "noise floor %.4g", nf->u.n);
    else if (crit && crit->type == RD_VNUMBER)
        snprintf(floor_, sizeof floor_, "critical %.4g", crit->u.n);
    printf("    %-22s %-10s %10s  %-30s %-20s n %.0f/%.0f  %s%s%s\n",
           m && m->type == RD_VSTRING ? m->u.s : "?", cmp && cmp->type == RD_VSTRING ? cmp->u.s : "", val,
           thr, floor_, n && n->type == RD_VNUMBER ? n->u.n : 0,
           min && min->type == RD_VNUMBER ? min->u.n : 0,
           verdict && verdict->type == RD_VSTRING ? verdict->u.s : "?",
           note && note->type == RD_VSTRING ? ": " : "", note && note->type == RD_VSTRING ? note->u.s : "");
}

static void print_text(const rd_rollout_row *r, const rd_value *st)
{
    int64_t now = (int64_t)time(NULL) * 1000;
    printf("rollout %s (plan %s, %s)\n", r->flag, r->plan_name, r->plan_path);
    printf("  state    %s\n  stage    %d %s, for %.0f s\n", rd_rollout_state_name(r->state), r->stage,
           r->stage_name, (double)(now - r->stage_started_ms) / 1000.0);
    if (!st) {
        printf("  gates    not evaluated yet\n");
        return;
    }
    const rd_value *w = rd_value_get(st, "candidate_share", 15),
                   *cn = rd_value_get(st, "candidate_decisions", 19),
                   *ms = rd_value_get(st, "min_samples", 11), *al = rd_value_get(st, "alert", 5),
                   *sp = rd_value_get(st, "speed", 5);
    if (w && w->type == RD_VNUMBER)
        printf("  traffic  candidate %.3f%%\n", w->u.n * 100);
    if (cn && cn->type == RD_VNUMBER)
        printf("  samples  %.0f candidate decisions of %.0f\n", cn->u.n,
               ms && ms->type == RD_VNUMBER ? ms->u.n : 0);
    if (sp && sp->type == RD_VNUMBER && sp->u.n != 1)
        printf("  speed    x%.0f (--rollout-speed: hold times, intervals and deadlines divided)\n", sp->u.n);
    if (al && al->type == RD_VSTRING)
        printf("  ALERT    %s\n", al->u.s);
    const rd_value *g = rd_value_get(st, "gates", 5);
    printf("  gates (last evaluation):\n");
    for (uint32_t i = 0; g && g->type == RD_VARRAY && i < g->len; i++)
        print_gate(&g->u.items[i]);
}

/* The exposure caps of a rollout, from the store (every node's share): text or JSON. */
typedef struct exp_ctx {
    rd_buf *json; /* NULL: text */
    size_t n;
} exp_ctx;

static void money(char *out, size_t cap, bool has, int64_t units, double unit)
{
    if (has)
        snprintf(out, cap, "%.2f", (double)units * unit);
    else
        snprintf(out, cap, "-");
}

static int exposure_row(void *ud, const rd_exposure_stage_row *s, const rd_exposure_totals *t)
{
    exp_ctx *x = ud;
    if (x->json) {
        rd_buf *b = x->json;
        rd_buf_printf(b, "%s{\"stage\":", x->n++ ? "," : "");
        rd_json_write_string(b, s->stage, strlen(s->stage));
        rd_buf_printf(b, ",\"stage_started_ms\":%lld,\"field\":", (long long)s->stage_started_ms);
        rd_json_write_string(b, s->field, strlen(s->field));
        char n[RD_NUM_BUF];
        rd_num_format(s->unit, n);
        rd_buf_printf(b, ",\"unit\":%s", n);
        if (s->has_amount)
            rd_buf_printf(
                b,
                ",\"cap_amount\":%.2f,\"used_amount\":%.2f,\"held_amount\":%.2f,\"lost_amount\":%.2f,"
                "\"reserved_amount\":%.2f",
                (double)s->cap_amount * s->unit, (double)t->spent_amount * s->unit,
                (double)t->held_amount * s->unit, (double)t->lost_amount * s->unit,
                (double)s->reserved_amount * s->unit);
        if (s->has_count)
            rd_buf_printf(b, ",\"cap_count\":%lld,\"used_count\":%lld", (long long)s->cap_count,
                          (long long)t->spent_count);
        rd_buf_printf(b, ",\"capped\":%llu,\"nodes\":%zu,\"reached_ms\":%lld}", (unsigned long long)t->capped,
                      t->nodes, (long long)s->exhausted_ms);
        return 0;
    }
    if (!x->n++)
        printf("  exposure (the candidate's approvals, every node):\n");
    char cap[32], used[32], held[32], lost[32];
    money(cap, sizeof cap, s->has_amount, s->cap_amount, s->unit);
    money(used, sizeof used, s->has_amount, t->spent_amount, s->unit);
    money(held, sizeof held, s->has_amount, t->held_amount, s->unit);
    money(lost, sizeof lost, s->has_amount, t->lost_amount, s->unit);
    printf("    %-10s", s->stage);
    if (s->has_amount)
        printf(" used %s of %s %s (%.1f%%), held %s by %zu node%s, lost %s", used, cap, s->field,
               s->cap_amount ? 100.0 * (double)t->spent_amount / (double)s->cap_amount : 0.0, held, t->nodes,
               t->nodes == 1 ? "" : "s", lost);
    if (s->has_count)
        printf("%s %lld of %lld approvals", s->has_amount ? ";" : "", (long long)t->spent_count,
               (long long)s->cap_count);
    printf(", %llu capped%s\n", (unsigned long long)t->capped, s->exhausted_ms ? ", REACHED" : "");
    return 0;
}

static int status_one(void *ud, const rd_rollout_row *r)
{
    status_ctx *c = ud;
    if (c->only && strcmp(c->only, r->flag) != 0)
        return 0;
    rd_err err;
    char *st = NULL;
    rd_arena a;
    rd_arena_init(&a, 0);
    rd_value v;
    bool have = rd_rollout_get_status(c->s, r->flag, &st, &err) == RD_OK &&
                rd_json_parse(st, strlen(st), NULL, &a, &v, &err) == RD_OK;
    if (c->json) {
        rd_buf b;
        rd_buf_init(&b);
        c->rc++;
        rd_buf_puts(&b, "{\"flag\":");
        rd_json_write_string(&b, r->flag, strlen(r->flag));
        rd_buf_printf(&b, ",\"state\":\"%s\",\"stage\":", rd_rollout_state_name(r->state));
        rd_json_write_string(&b, r->stage_name, strlen(r->stage_name));
        rd_buf_printf(&b, ",\"stage_index\":%d,\"stage_started_ms\":%lld,\"plan\":", r->stage,
                      (long long)r->stage_started_ms);
        rd_json_write_string(&b, r->plan_name, strlen(r->plan_name));
        rd_buf_puts(&b, ",\"plan_path\":");
        rd_json_write_string(&b, r->plan_path, strlen(r->plan_path));
        const rd_value *gates = have ? rd_value_get(&v, "gates", 5) : NULL;
        rd_buf_puts(&b, ",\"gates\":");
        if (gates)
            rd_json_write(&b, gates);
        else
            rd_buf_puts(&b, "[]");
        rd_buf_puts(&b, ",\"exposure\":[");
        exp_ctx x = {.json = &b};
        rd_store_exposure_list(c->s, r->flag, exposure_row, &x, &err);
        rd_buf_putc(&b, ']');
        rd_buf_printf(&b, ",\"pending_spool\":%zu,\"evaluation\":%s,\"transitions\":[",
                      rd_spool_pending(c->dir), have ? st : "null");
        rd_buf_reset(&c->cur);
        rd_buf_append(&c->cur, b.data, b.len);
        rd_buf_deinit(&b);
        c->n = 0;
        rd_transition_list(c->s, r->flag, 20, print_transition, c, &err);
        rd_buf_puts(&c->cur, "]}");
        if (c->nobjs < MAX_LISTED)
            c->objs[c->nobjs++] = rd_strndup(c->cur.data, c->cur.len);
    } else {
        print_text(r, have ? &v : NULL);
        exp_ctx x = {0};
        rd_store_exposure_list(c->s, r->flag, exposure_row, &x, &err);
        printf("  transitions (newest first):\n");
        rd_transition_list(c->s, r->flag, 10, print_transition, c, &err);
        size_t sp = rd_spool_pending(c->dir);
        if (sp)
            printf("  %zu transitions wait in %s/rollout.spool for the store\n", sp, c->dir);
        c->rc++;
    }
    rd_free(st);
    rd_arena_deinit(&a);
    return 0;
}

int cli_rollout_status(int argc, char **argv)
{
    ops_args a;
    int rc = parse(argc, argv, &a);
    if (rc || a.help) {
        fputs(cli_rollout_status_usage, a.help ? stdout : stderr);
        return rc;
    }
    rd_store *s;
    if ((rc = open_store(a.dir, false, &s)))
        return cli_exit_for(rc);
    rd_err err;
    size_t drained = 0;
    if (rd_spool_pending(a.dir))
        rd_spool_drain(a.dir, s, &drained, &err); /* the store is writable now: catch up */
    status_ctx c = {.s = s, .only = a.flag, .dir = a.dir, .json = a.json};
    rd_buf_init(&c.cur);
    rc = rd_rollout_list(s, status_one, &c, &err);
    if (a.json && c.nobjs) {
        /* the first rollout's fields at the top level ("state", "stage": with one rollout, or
           --flag, the one asked about), and every rollout in "rollouts" */
        size_t n0 = strlen(c.objs[0]);
        printf("%.*s,\"rollouts\":[", (int)(n0 - 1), c.objs[0]);
        for (size_t i = 0; i < c.nobjs; i++)
            printf("%s%s", i ? "," : "", c.objs[i]);
        printf("]}\n");
    }
    for (size_t i = 0; i < c.nobjs; i++)
        rd_free(c.objs[i]);
    rd_buf_deinit(&c.cur);
    rd_store_close(s);
    if (rc) {
        cli_errorf("%s", err.msg);
        return cli_exit_for(rc);
    }
    if (c.rc == 0) {
        if (a.flag)
            cli_errorf("no rollout of flag \"%s\" in %s", a.flag, a.dir);
        else
            cli_errorf("no rollout in %s (riskd serve --rollout PLAN starts one)", a.dir);
        return CLI_INVALID_INPUT;
    }
    return CLI_OK;
}

/* ------------------------------------------------------------------ commands */

/* Once governance is on, a rollout command is a governed action: the token's user must hold
 * the permission (promote: publish; the others: rollback), and is the actor. */
static int governed_actor(rd_store *s, const ops_args *a, int cmd, char *actor, size_t cap)
{
    bool on = false;
    rd_err err;
    if (rd_auth_enabled(s, &on, &err) != RD_OK || !on)
        return CLI_OK;
    rd_principal who;
    int rc = cli_principal(s, a->token_file, &who);
    if (rc)
        return rc;
    /* the admin API's action table says which permission each command needs */
    const rd_admin_action_def *acts = rd_admin_actions(NULL);
    uint32_t perm = acts[cmd == RD_CMD_PROMOTE ? RD_ACT_ROLLOUT_PROMOTE : RD_ACT_ROLLOUT_PAUSE].perm;
    if ((rc = rd_principal_require(&who, perm,
                                   cmd == RD_CMD_PROMOTE ? "promote a rollout" : "change a rollout", &err))) {
        cli_errorf("%s", err.msg);
        return cli_exit_for(rc);
    }
    snprintf(actor, cap, "%s", rd_principal_name(&who));
    return CLI_OK;
}

int cli_rollout_command(const char *name, int argc, char **argv)
{
    static const char *const names[] = {"pause", "resume", "promote", "rollback"};
    int cmd = -1;
    for (int i = 0; i < 4; i++)
        if (!strcmp(name, names[i]))
            cmd = i;
    ops_args a;
    int rc = cmd < 0 ? CLI_USAGE : parse(argc, argv, &a);
    if (rc || a.help) {
        fputs(cli_rollout_cmd_usage, rc == CLI_OK ? stdout : stderr);
        return rc;
    }
    if (!a.flag) {
        cli_errorf("usage: give --flag KEY (the rollout's routing flag; riskd rollout status lists them)");
        return CLI_USAGE;
    }
    char actor[160];
    const struct passwd *pw = getpwuid(getuid());
    snprintf(actor, sizeof actor, "cli:%s", a.actor ? a.actor : pw ? pw->pw_name : "unknown");
    rd_store *s;
    if ((rc = open_store(a.dir, false, &s)))
        return cli_exit_for(rc);
    rd_err err;
    if ((rc = governed_actor(s, &a, cmd, actor, sizeof actor))) {
        rd_store_close(s);
        return rc;
    }
    rc = rd_rollout_command(s, a.dir, a.flag, (rd_rollout_cmd)cmd, actor, a.reason, rd_clock_unix_ms(), &err);
    rd_store_close(s);
    if (rc) {
        cli_errorf("rollout %s: %s", names[cmd], err.msg);
        return cli_exit_for(rc);
    }
    printf("rollout %s: %s done; riskd serve follows at its next evaluation\n", a.flag, names[cmd]);
    return CLI_OK;
}
