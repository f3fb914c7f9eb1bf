/* The rollout controller's writes with several writers on one store (review16 #5), on SQLite
 * and, when the test run has a PostgreSQL cluster (RISKD_PG_DIR), on a fresh PostgreSQL
 * database; the flag set is kept in the store (flags = store), each controller has a store
 * handle of its own, as two nodes would:
 *   - a second controller started on a rollout the first one started resumes it without
 *     writing: the row's version and the flag set's version stay as they were;
 *   - a controller whose row another writer moved between its read of the row (follow_store, at
 *     the start of its tick) and its transition is refused whole: no transition recorded, the
 *     flag set and the row as the other writer left them; it adopts the stored row. The other
 *     writer is a `riskd rollout pause` (then nothing of the stale rollback lands), and another
 *     controller making the same rollback (then it is recorded once);
 * and, on SQLite with a flag file, a resume leaves the file alone (same inode: not rewritten).
 * Transitions are made to happen by a breaker_open_seconds gate, whose value the test gives. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "riskd/arena.h"
#include "riskd/change.h"
#include "riskd/rollout.h"
#include "riskd/store.h"

static const char plan_text[] =
    "{\"name\":\"fence\",\"route_flag\":\"credit-model-route\","
    "\"control\":{\"bundle\":\"credit_xgb_v1.0\",\"variant\":\"champion\"},"
    "\"candidate\":{\"bundle\":\"credit_xgb_v1.1\",\"variant\":\"challenger\"},\"interval\":\"1s\","
    "\"gates\":[{\"metric\":\"breaker_open_seconds\",\"pass\":{\"<\":1},\"fail\":{\">=\":5}}],"
    "\"stages\":[{\"name\":\"10%\",\"candidate_weight\":10000,\"hold\":\"10s\",\"deadline\":\"30s\"},"
    "{\"name\":\"50%\",\"candidate_weight\":50000,\"hold\":\"10s\",\"deadline\":\"30s\"}]}";

#define FLAG "credit-model-route"

typedef struct fixture {
    char url[512];
    char dir[128];          /* the spools (and SQLite's database), removed at the end */
    rd_store *s1, *s2, *s3; /* node 1's, node 2's and a command's handles */
} fixture;

static int open_handles(fixture *f)
{
    rd_err err;
    int rc = rd_store_open(f->url, NULL, &f->s1, &err);
    if (!rc)
        rc = rd_store_open(f->url, NULL, &f->s2, &err);
    if (!rc)
        rc = rd_store_open(f->url, NULL, &f->s3, &err);
    if (rc)
        print_error("%s\n", err.msg);
    assert_int_equal(rc, RD_OK);
    char cmd[300];
    snprintf(cmd, sizeof cmd, "mkdir -p %s/n1 %s/n2", f->dir, f->dir);
    assert_int_equal(system(cmd), 0);
    return 0;
}

static int setup_sqlite(void **state)
{
    fixture *f = calloc(1, sizeof *f);
    snprintf(f->dir, sizeof f->dir, "/tmp/riskd-fence-XXXXXX");
    assert_non_null(mkdtemp(f->dir));
    snprintf(f->url, sizeof f->url, "sqlite:%s", f->dir);
    *state = f;
    return open_handles(f);
}

/* A fresh database on the run's cluster (scripts/pg-cluster.sh createdb). */
static int setup_pg(void **state)
{
    const char *pgdir = getenv("RISKD_PG_DIR");
    if (!pgdir || !*pgdir)
        return 0; /* the test itself skips */
    static int n;
    fixture *f = calloc(1, sizeof *f);
    char cmd[600];
    snprintf(cmd, sizeof cmd, "scripts/pg-cluster.sh createdb '%s' fence_%d_%d", pgdir, (int)getpid(), ++n);
    FILE *p = popen(cmd, "r");
    assert_non_null(p);
    assert_non_null(fgets(f->url, sizeof f->url, p));
    assert_int_equal(pclose(p), 0);
    f->url[strcspn(f->url, "\n")] = '\0';
    snprintf(f->dir, sizeof f->dir, "/tmp/riskd-fence-XXXXXX");
    assert_non_null(mkdtemp(f->dir));
    *state = f;
    return open_handles(f);
}

static int teardown(void **state)
{
    fixture *f = *state;
    if (!f)
        return 0;
    rd_store_close(f->s1);
    rd_store_close(f->s2);
    rd_store_close(f->s3);
    char cmd[200];
    snprintf(cmd, sizeof cmd, "rm -rf %s", f->dir);
    assert_int_equal(system(cmd), 0);
    free(f);
    return 0;
}

/* ------------------------------------------------------------------ a node */

typedef struct node {
    fixture *f;
    rd_store *s;
    char data_dir[200];
    double breaker;                     /* what the breaker gate reads */
    void (*during_eval)(struct node *); /* run once, inside the gate's evaluation */
    struct node *other;
    rd_controller *c;
} node;

static double breaker_of(void *ud, const char *bundle)
{
    (void)bundle;
    node *n = ud;
    if (n->during_eval) {
        void (*fn)(node *) = n->during_eval;
        n->during_eval = NULL;
        fn(n); /* between the tick's read of the row and its transition */
    }
    return n->breaker;
}

static void start(node *n, fixture *f, rd_store *s, const char *sub, const char *flags_path, int64_t now_ms)
{
    memset(n, 0, sizeof *n);
    n->f = f;
    n->s = s;
    snprintf(n->data_dir, sizeof n->data_dir, "%s/%s", f->dir, sub);
    char plan_path[300];
    snprintf(plan_path, sizeof plan_path, "%s/plan.json", f->dir);
    FILE *pf = fopen(plan_path, "w"); /* the row keeps the plan's text: the command reads it */
    assert_non_null(pf);
    assert_int_equal(fputs(plan_text, pf) >= 0, 1);
    assert_int_equal(fclose(pf), 0);
    rd_plan *p = NULL;
    rd_err err;
    assert_int_equal(rd_plan_parse(plan_text, strlen(plan_text), &p, &err), RD_OK);
    rd_controller_env env = {.store = s,
                             .data_dir = n->data_dir,
                             .flags_path = flags_path,
                             .speed = 1,
                             .breaker_open_seconds = breaker_of,
                             .ud = n};
    int rc = rd_controller_new(p, plan_path, &env, now_ms, &n->c, &err);
    if (rc)
        print_error("%s\n", err.msg);
    assert_int_equal(rc, RD_OK);
}

/* ------------------------------------------------------------------ what the store holds */

static int64_t row_version(rd_store *s, rd_rollout_state *state)
{
    rd_rollout_row r;
    rd_err err;
    assert_int_equal(rd_rollout_get(s, FLAG, &r, &err), RD_OK);
    if (state)
        *state = r.state;
    int64_t v = r.version;
    rd_rollout_row_free(&r);
    return v;
}

static int64_t flags_version(rd_store *s)
{
    char *text, sha[RD_SHA256_HEX];
    size_t len;
    int64_t v;
    rd_err err;
    assert_int_equal(rd_flags_store_read(s, &text, &len, sha, &v, &err), RD_OK);
    rd_free(text);
    return v;
}

typedef struct reasons {
    char got[16][64]; /* newest first, as listed */
    int n;
    char list[16 * 65]; /* oldest first, space-separated */
} reasons;

static int add_reason(void *ud, const rd_transition *t)
{
    reasons *r = ud;
    if (r->n < 16)
        snprintf(r->got[r->n++], sizeof r->got[0], "%s", t->reason);
    return 0;
}

static const char *transitions(rd_store *s, reasons *r)
{
    rd_err err;
    r->n = 0;
    assert_int_equal(rd_transition_list(s, FLAG, 0, add_reason, r, &err), RD_OK);
    size_t at = 0;
    r->list[0] = '\0';
    for (int i = r->n - 1; i >= 0; i--)
        at += (size_t)snprintf(r->list + at, sizeof r->list - at, "%s%s", r->got[i], i ? " " : "");
    return r->list;
}

static void import_flags(fixture *f)
{
    char *text;
    size_t len;
    int64_t v;
    rd_err err;
    assert_int_equal(rd_file_read("examples/flags/routing.json", 1 << 20, &text, &len, &err), RD_OK);
    assert_int_equal(rd_flags_store_import(f->s1, "test", text, len, 1000, &v, &err), RD_OK);
    rd_free(text);
}

/* ------------------------------------------------------------------ the cases */

#define SKIP_WITHOUT_PG(f)                                                                                   \
    do {                                                                                                     \
        if (!(f)) {                                                                                          \
            print_message("skipped: postgresql not installed (no RISKD_PG_DIR cluster)\n");                  \
            skip();                                                                                          \
            return;                                                                                          \
        }                                                                                                    \
    } while (0)

/* Node 2 starts on the rollout node 1 started: it resumes it and writes nothing. */
static void resume_writes_nothing(void **state)
{
    fixture *f = *state;
    SKIP_WITHOUT_PG(f);
    import_flags(f);
    node n1, n2;
    reasons r;
    start(&n1, f, f->s1, "n1", RD_FLAGS_STORE, 10000);
    int64_t row = row_version(f->s3, NULL), flags = flags_version(f->s3);
    assert_int_equal(row, 1);
    assert_int_equal(flags, 2); /* the import, then stage 0 */
    start(&n2, f, f->s2, "n2", RD_FLAGS_STORE, 11000);
    assert_int_equal(row_version(f->s3, NULL), row);
    assert_int_equal(flags_version(f->s3), flags);
    assert_string_equal(transitions(f->s3, &r), "start");
    /* and node 1, which did not move, can still make its transition */
    n1.breaker = 100;
    rd_err err;
    assert_int_equal(rd_controller_tick(n1.c, 13000, &err), RD_OK);
    rd_rollout_state st;
    assert_int_equal(row_version(f->s3, &st), row + 1);
    assert_int_equal(st, RD_ROLLOUT_ROLLED_BACK);
    assert_int_equal(flags_version(f->s3), flags + 1);
    assert_string_equal(transitions(f->s3, &r), "start rollback");
    rd_controller_free(n1.c);
    rd_controller_free(n2.c);
}

static void pause_by_command(node *n)
{
    rd_err err;
    int rc =
        rd_rollout_command(n->f->s3, n->f->dir, FLAG, RD_CMD_PAUSE, "cli:test", "fence test", 12500, &err);
    if (rc)
        print_error("%s\n", err.msg);
    assert_int_equal(rc, RD_OK);
}

/* A pause lands between node 1's read of the row and its rollback: the rollback is refused
 * whole (no flags written, no transition, the row as the pause left it) and node 1 adopts. */
static void stale_rollback_refused(void **state)
{
    fixture *f = *state;
    SKIP_WITHOUT_PG(f);
    import_flags(f);
    node n1;
    reasons r;
    start(&n1, f, f->s1, "n1", RD_FLAGS_STORE, 10000);
    int64_t flags = flags_version(f->s3);
    n1.breaker = 100;
    n1.during_eval = pause_by_command;
    rd_err err;
    assert_int_equal(rd_controller_tick(n1.c, 13000, &err), RD_OK);
    rd_rollout_state st;
    assert_int_equal(row_version(f->s3, &st), 2); /* the start's, then the pause's */
    assert_int_equal(st, RD_ROLLOUT_PAUSED);
    assert_int_equal(flags_version(f->s3), flags);
    assert_string_equal(transitions(f->s3, &r), "start pause");
    int stage;
    rd_controller_state(n1.c, &st, &stage);
    assert_int_equal(st, RD_ROLLOUT_PAUSED); /* adopted */
    /* and its status says the pause was the last transition, not its own start */
    rd_buf b;
    rd_buf_init(&b);
    rd_controller_status_json(n1.c, 13000, &b);
    if (!strstr(rd_buf_cstr(&b), "\"to_state\":\"paused\",\"reason\":\"pause\""))
        fail_msg("the adopted row's transition is not the last one: %s", rd_buf_cstr(&b));
    rd_buf_deinit(&b);
    /* nothing waits in node 1's spool to be recorded later either */
    assert_int_equal(rd_spool_pending(n1.data_dir), 0);
    rd_controller_free(n1.c);
}

static void other_node_rolls_back(node *n)
{
    rd_err err;
    n->other->breaker = 100;
    assert_int_equal(rd_controller_tick(n->other->c, 12500, &err), RD_OK);
}

/* Two controllers on one rollout (a leader that lost its lock and the one that took it): node
 * 2 rolls back while node 1 is evaluating; node 1's own rollback is refused, so the rollback
 * is recorded once and the flag set written once. */
static void two_controllers_one_transition(void **state)
{
    fixture *f = *state;
    SKIP_WITHOUT_PG(f);
    import_flags(f);
    node n1, n2;
    reasons r;
    start(&n1, f, f->s1, "n1", RD_FLAGS_STORE, 10000);
    start(&n2, f, f->s2, "n2", RD_FLAGS_STORE, 10000);
    int64_t row = row_version(f->s3, NULL), flags = flags_version(f->s3);
    n1.breaker = 100;
    n1.other = &n2;
    n1.during_eval = other_node_rolls_back;
    rd_err err;
    assert_int_equal(rd_controller_tick(n1.c, 13000, &err), RD_OK);
    rd_rollout_state st;
    assert_int_equal(row_version(f->s3, &st), row + 1);
    assert_int_equal(st, RD_ROLLOUT_ROLLED_BACK);
    assert_int_equal(flags_version(f->s3), flags + 1);
    assert_string_equal(transitions(f->s3, &r), "start rollback");
    int stage;
    rd_controller_state(n1.c, &st, &stage);
    assert_int_equal(st, RD_ROLLOUT_ROLLED_BACK);
    assert_int_equal(rd_spool_pending(n1.data_dir), 0);
    rd_controller_free(n1.c);
    rd_controller_free(n2.c);
}

/* A flag file (SQLite): a resume with the stage unchanged leaves the file alone (not rewritten:
 * the same inode) and the row's version as it was. */
static void resume_leaves_file(void **state)
{
    fixture *f = *state;
    char path[300], cmd[600];
    snprintf(path, sizeof path, "%s/flags.json", f->dir);
    snprintf(cmd, sizeof cmd, "cp examples/flags/routing.json %s", path);
    assert_int_equal(system(cmd), 0);
    node n1, n2;
    start(&n1, f, f->s1, "n1", path, 10000);
    struct stat a, b;
    assert_int_equal(stat(path, &a), 0);
    int64_t row = row_version(f->s3, NULL);
    start(&n2, f, f->s2, "n2", path, 11000);
    assert_int_equal(stat(path, &b), 0);
    assert_int_equal(a.st_ino, b.st_ino);
    assert_int_equal(row_version(f->s3, NULL), row);
    rd_controller_free(n1.c);
    rd_controller_free(n2.c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_prestate_setup_teardown(resume_writes_nothing, setup_sqlite, teardown, NULL),
        cmocka_unit_test_prestate_setup_teardown(resume_writes_nothing, setup_pg, teardown, NULL),
        cmocka_unit_test_prestate_setup_teardown(stale_rollback_refused, setup_sqlite, teardown, NULL),
        cmocka_unit_test_prestate_setup_teardown(stale_rollback_refused, setup_pg, teardown, NULL),
        cmocka_unit_test_prestate_setup_teardown(two_controllers_one_transition, setup_sqlite, teardown,
                                                 NULL),
        cmocka_unit_test_prestate_setup_teardown(two_controllers_one_transition, setup_pg, teardown, NULL),
        cmocka_unit_test_prestate_setup_teardown(resume_leaves_file, setup_sqlite, teardown, NULL),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
