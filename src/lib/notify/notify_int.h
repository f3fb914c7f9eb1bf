/* Internals of the notify module shared by its files: the type catalogue's details (types.c),
 * read by the formats (format.c); the parsed sink (sink.c), read by the formats and delivery. */
#ifndef RISKD_NOTIFY_INT_H
#define RISKD_NOTIFY_INT_H

#include <nettle/hmac.h>
#include <stdbool.h>
#include <stdint.h>

#include "riskd/notify.h"

/* ------------------------------------------------------------------ the type catalogue (types.c) */

/* How an event of a type is shown and, for an alarm, what Alertmanager alert it fires or
 * resolves (docs/plans/notifications.md §3.2.4). */
typedef struct rd__notify_type_info {
    const char *type;  /* "rollout.rolled_back" */
    const char *title; /* "Rollout rolled back": Slack's and WeCom's heading */
    bool alarm;        /* fires or resolves an alert */
    bool resolves;     /* the resolving half of an alarm (breaker.closed, rollout.resumed, ...) */
    /* Alarms only (NULL otherwise): */
    const char *alertname; /* "RiskdBreakerOpen": the same for the firing and the resolving type */
    const char *severity;  /* "critical" or "warning" (cert.expiring: critical at band <= 1) */
    /* The identifying labels, space-separated: "node" is the envelope's node, "flag" data.flag (else
     * the object's id), any other name the data member of that name (left out when absent). */
    const char *labels;
} rd__notify_type_info;

/* Number of types (at most 64: sinks keep their selection as a bit mask). */
#define RD__NOTIFY_NTYPES 25

/* The catalogue in the stable order of rd_notify_types. */
const rd__notify_type_info *rd__notify_type_table(void);
/* A type's entry, or NULL when the type is unknown. */
const rd__notify_type_info *rd__notify_type_info_of(const char *type, size_t len);
/* A type's index in the catalogue, or -1. */
int rd__notify_type_index(const char *type);

/* ------------------------------------------------------------------ a parsed sink (sink.c) */

#define RD__NOTIFY_NAME_MAX 64 /* 63 bytes and the NUL */

enum {
    RD__NOTIFY_KIND_FLAGS = 1u << 0,
    RD__NOTIFY_KIND_BUNDLE = 1u << 1,
    RD__NOTIFY_KIND_ROLLOUT = 1u << 2,
};

struct rd_notify_sink {
    rd_notify_kind kind;
    int index;                      /* from 1: the position in the config, for messages */
    char *url;                      /* owned; the secret for slack and wecom: never shown */
    char name[RD__NOTIFY_NAME_MAX]; /* given (named) or the default rd_notify_sinks_check set */
    bool named;
    uint64_t events;            /* bit i: type i of the catalogue */
    char *events_text;          /* owned: as given ("*" or the alarm types by default), for describe */
    unsigned kinds;             /* RD__NOTIFY_KIND_* bits; 0: every change kind */
    char *kinds_text;           /* owned, NULL: any */
    char *cacert;               /* owned, NULL: the system's trust */
    bool keyed;                 /* a secret_file was given */
    struct hmac_sha256_ctx key; /* the secret absorbed (nettle's template): copied per signature */
    char *warnings;             /* owned, "" or lines ending in '\n' */
};

#endif
