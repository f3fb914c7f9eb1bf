/* The event type catalogue: every type riskd raises, in a stable order (sinks keep their
 * selection as a bit mask over it, so a type is only ever added at the end), with its title for
 * people and, for an alarm, the Alertmanager alert it fires or resolves.
 *
 * The firing and the resolving type of one alarm share alertname, severity and labels, so the
 * resolve carries the same label set as the alert it ends (Alertmanager identifies an alert by
 * its labels). */
#include <string.h>

#include "notify_int.h"

/* The one list: X(type, title, alarm, resolves, alertname, severity, labels). */
#define RD__NOTIFY_TYPES(X)                                                                                  \
    X("change.proposed", "Change proposed", false, false, NULL, NULL, NULL)                                  \
    X("change.revised", "Change revised", false, false, NULL, NULL, NULL)                                    \
    X("change.approved", "Change approved", false, false, NULL, NULL, NULL)                                  \
    X("change.rejected", "Change rejected", false, false, NULL, NULL, NULL)                                  \
    X("change.withdrawn", "Change withdrawn", false, false, NULL, NULL, NULL)                                \
    X("change.published", "Change published", false, false, NULL, NULL, NULL)                                \
    X("change.rolled_back", "Change rolled back", false, false, NULL, NULL, NULL)                            \
    X("rollout.started", "Rollout started", false, false, NULL, NULL, NULL)                                  \
    X("rollout.advanced", "Rollout advanced", false, false, NULL, NULL, NULL)                                \
    X("rollout.promoted", "Rollout promoted", false, false, NULL, NULL, NULL)                                \
    X("rollout.held", "Rollout held", true, false, "RiskdRolloutHeld", "warning", "flag")                    \
    X("rollout.resumed", "Rollout resumed", true, true, "RiskdRolloutHeld", "warning", "flag")               \
    X("rollout.paused", "Rollout paused", false, false, NULL, NULL, NULL)                                    \
    /* a stage's exposure cap reached: the control answers the candidate's approvals; one-shot */            \
    X("rollout.exposure_capped", "Rollout exposure cap reached", true, false, "RiskdRolloutExposureCapped",  \
      "warning", "flag")                                                                                     \
    /* a one-shot: nothing resolves it, its endsAt does */                                                   \
    X("rollout.rolled_back", "Rollout rolled back", true, false, "RiskdRolloutRolledBack", "critical",       \
      "flag")                                                                                                \
    X("breaker.opened", "Circuit breaker opened", true, false, "RiskdBreakerOpen", "critical",               \
      "node bundle")                                                                                         \
    X("breaker.closed", "Circuit breaker closed", true, true, "RiskdBreakerOpen", "critical", "node bundle") \
    X("drift.alarm", "Drift alarm", true, false, "RiskdDrift", "warning",                                    \
      "bundle variant role statistic input")                                                                 \
    X("drift.cleared", "Drift cleared", true, true, "RiskdDrift", "warning",                                 \
      "bundle variant role statistic input")                                                                 \
    X("dlog.backlog", "Decision log backlog", true, false, "RiskdDecisionLogBacklog", "critical", "node")    \
    X("dlog.backlog_cleared", "Decision log backlog cleared", true, true, "RiskdDecisionLogBacklog",         \
      "critical", "node")                                                                                    \
    X("store.unavailable", "Store unavailable", true, false, "RiskdStoreUnavailable", "critical", "node")    \
    X("store.available", "Store available again", true, true, "RiskdStoreUnavailable", "critical", "node")   \
    X("cert.expiring", "Certificate expiring", true, false, "RiskdCertificateExpiring", "warning",           \
      "node subject")                                                                                        \
    /* an alarm so that an Alertmanager sink can be tested too; it ends a minute after */                    \
    X("notify.test", "Test notification", true, false, "RiskdNotificationTest", "info", "node")

#define RD__INFO(t, title, alarm, res, name, sev, labels) {t, title, alarm, res, name, sev, labels},
static const rd__notify_type_info TYPES[] = {RD__NOTIFY_TYPES(RD__INFO)};
#define RD__NAME(t, ...) t,
static const char *const NAMES[] = {RD__NOTIFY_TYPES(RD__NAME)};
_Static_assert(sizeof TYPES / sizeof *TYPES == RD__NOTIFY_NTYPES,
               "RD__NOTIFY_NTYPES is the catalogue's size");
_Static_assert(RD__NOTIFY_NTYPES <= 64, "sinks keep their selection in 64 bits");

const char *const *rd_notify_types(size_t *n)
{
    if (n)
        *n = RD__NOTIFY_NTYPES;
    return NAMES;
}

const rd__notify_type_info *rd__notify_type_table(void) { return TYPES; }

const rd__notify_type_info *rd__notify_type_info_of(const char *type, size_t len)
{
    for (size_t i = 0; type && i < RD__NOTIFY_NTYPES; i++)
        if (strlen(TYPES[i].type) == len && !memcmp(TYPES[i].type, type, len))
            return &TYPES[i];
    return NULL;
}

int rd__notify_type_index(const char *type)
{
    const rd__notify_type_info *t = type ? rd__notify_type_info_of(type, strlen(type)) : NULL;
    return t ? (int)(t - TYPES) : -1;
}

bool rd_notify_type_known(const char *type) { return rd__notify_type_index(type) >= 0; }

bool rd_notify_type_alarm(const char *type)
{
    const rd__notify_type_info *t = type ? rd__notify_type_info_of(type, strlen(type)) : NULL;
    return t && t->alarm;
}
