/* The event type catalogue (src/lib/notify/types.c) against the list issue 20's plan gives
 * (docs/plans/notifications.md §1.2): the stable order, the alarms, and the Alertmanager
 * identity the firing and the resolving half of an alarm share. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>
#include <string.h>

#include "notify/notify_int.h"
#include "riskd/notify.h"

static const char *const WANT[] = {
    "change.proposed",      "change.revised",
    "change.approved",      "change.rejected",
    "change.withdrawn",     "change.published",
    "change.rolled_back",   "rollout.started",
    "rollout.advanced",     "rollout.promoted",
    "rollout.held",         "rollout.resumed",
    "rollout.paused",       "rollout.exposure_capped",
    "rollout.rolled_back",  "breaker.opened",
    "breaker.closed",       "drift.alarm",
    "drift.cleared",        "dlog.backlog",
    "dlog.backlog_cleared", "store.unavailable",
    "store.available",      "cert.expiring",
    "notify.test",
};

static const char *const ALARMS[] = {
    "rollout.held",         "rollout.resumed",
    "rollout.rolled_back",  "breaker.opened",
    "breaker.closed",       "drift.alarm",
    "drift.cleared",        "dlog.backlog",
    "dlog.backlog_cleared", "store.unavailable",
    "store.available",      "cert.expiring",
    "notify.test",          "rollout.exposure_capped",
};

static bool in(const char *const *list, size_t n, const char *s)
{
    for (size_t i = 0; i < n; i++)
        if (!strcmp(list[i], s))
            return true;
    return false;
}

static void test_order_and_alarms(void **state)
{
    (void)state;
    size_t n;
    const char *const *t = rd_notify_types(&n);
    assert_int_equal(n, sizeof WANT / sizeof *WANT);
    for (size_t i = 0; i < n; i++) {
        assert_string_equal(t[i], WANT[i]);
        assert_true(rd_notify_type_known(t[i]));
        assert_int_equal(rd_notify_type_alarm(t[i]), in(ALARMS, sizeof ALARMS / sizeof *ALARMS, t[i]));
    }
    assert_false(rd_notify_type_known("change"));
    assert_false(rd_notify_type_known("change.proposed "));
    assert_false(rd_notify_type_known(""));
    assert_false(rd_notify_type_known(NULL));
    assert_false(rd_notify_type_alarm("change.proposed"));
    assert_false(rd_notify_type_alarm("nope.nope"));
    assert_false(rd_notify_type_alarm(NULL));
}

static void test_table(void **state)
{
    (void)state;
    const rd__notify_type_info *t = rd__notify_type_table();
    for (size_t i = 0; i < RD__NOTIFY_NTYPES; i++) {
        assert_string_equal(t[i].type, WANT[i]);
        assert_non_null(t[i].title);
        assert_true(t[i].title[0] >= 'A' && t[i].title[0] <= 'Z');
        assert_int_equal(rd__notify_type_index(WANT[i]), (int)i);
        if (!t[i].alarm) {
            assert_null(t[i].alertname);
            assert_false(t[i].resolves);
            continue;
        }
        assert_non_null(t[i].alertname);
        assert_true(!strcmp(t[i].severity, "critical") || !strcmp(t[i].severity, "warning") ||
                    (!strcmp(t[i].type, "notify.test") && !strcmp(t[i].severity, "info")));
        assert_non_null(t[i].labels);
    }
    assert_string_equal(t[rd__notify_type_index("change.proposed")].title, "Change proposed");
    assert_string_equal(t[rd__notify_type_index("rollout.rolled_back")].title, "Rollout rolled back");
    /* the plan's table: alertname, labels, severity */
    struct {
        const char *fire, *resolve, *name, *labels, *sev;
    } am[] = {
        {"breaker.opened", "breaker.closed", "RiskdBreakerOpen", "node bundle", "critical"},
        {"drift.alarm", "drift.cleared", "RiskdDrift", "bundle variant role statistic input", "warning"},
        {"dlog.backlog", "dlog.backlog_cleared", "RiskdDecisionLogBacklog", "node", "critical"},
        {"store.unavailable", "store.available", "RiskdStoreUnavailable", "node", "critical"},
        {"rollout.held", "rollout.resumed", "RiskdRolloutHeld", "flag", "warning"},
        {"cert.expiring", NULL, "RiskdCertificateExpiring", "node subject", "warning"},
        {"rollout.rolled_back", NULL, "RiskdRolloutRolledBack", "flag", "critical"},
    };
    for (size_t i = 0; i < sizeof am / sizeof *am; i++) {
        const rd__notify_type_info *f = &t[rd__notify_type_index(am[i].fire)];
        assert_string_equal(f->alertname, am[i].name);
        assert_string_equal(f->labels, am[i].labels);
        assert_string_equal(f->severity, am[i].sev);
        assert_false(f->resolves);
        if (!am[i].resolve)
            continue;
        const rd__notify_type_info *r = &t[rd__notify_type_index(am[i].resolve)];
        assert_true(r->resolves);
        assert_string_equal(r->alertname, am[i].name);
        assert_string_equal(r->labels, am[i].labels);
        assert_string_equal(r->severity, am[i].sev);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_order_and_alarms),
        cmocka_unit_test(test_table),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
