/* Fault injection, a drill tool: delay, errors and fixed scores for one bundle. */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "decide_int.h"
#include "riskd/clock.h"
#include "riskd/hash.h"

static int bad(rd_err *err, const char *spec, const char *why)
{
    return rd_err_set(err, RD_EINVAL,
                      "fault \"%.80s\": %s (write BUNDLE:delay_ms=N, BUNDLE:error_rate=P or BUNDLE:score=X)",
                      spec, why);
}

static int parse_num(const char *v, double lo, double hi, double *out)
{
    char *end;
    errno = 0;
    double x = strtod(v, &end);
    if (errno || end == v || *end || !isfinite(x) || x < lo || x > hi)
        return -1;
    *out = x;
    return 0;
}

static const char *const kOps[] = {"<", "<=", ">", ">=", "=="};

/* "P@FEATURE<OP>N": the share, the feature, the comparison and its number. */
static int set_decline(rd_fault *f, const char *spec, const char *v, rd_err *err)
{
    static const char why[] =
        "decline: P@FEATURE<OP>N, P from 0 to 1, OP one of < <= > >= == (decline=0.3@Age<25)";
    const char *at = strchr(v, '@');
    char share[64];
    if (!at || (size_t)(at - v) >= sizeof share)
        return bad(err, spec, why);
    memcpy(share, v, (size_t)(at - v));
    share[at - v] = '\0';
    double p;
    if (parse_num(share, 0, 1, &p))
        return bad(err, spec, why);
    const char *name = at + 1, *op = name + strcspn(name, "<>=");
    size_t nl = (size_t)(op - name);
    if (!nl || nl >= sizeof f->decline_feature || !*op)
        return bad(err, spec, why);
    int o = op[0] == '<'   ? (op[1] == '=' ? 1 : 0)
            : op[0] == '>' ? (op[1] == '=' ? 3 : 2)
            : op[1] == '=' ? 4
                           : -1;
    if (o < 0)
        return bad(err, spec, why);
    double n;
    if (parse_num(op + strlen(kOps[o]), -1e300, 1e300, &n))
        return bad(err, spec, why);
    f->decline = p;
    memcpy(f->decline_feature, name, nl);
    f->decline_feature[nl] = '\0';
    f->decline_op = o;
    f->decline_at = n;
    return RD_OK;
}

bool rd__fault_meets(const rd_fault *f, const rd_value *features)
{
    if (!f || f->decline <= 0 || !features)
        return false;
    const rd_value *v = rd_value_get(features, f->decline_feature, strlen(f->decline_feature));
    if (!v || v->type != RD_VNUMBER)
        return false;
    double x = v->u.n, c = f->decline_at;
    return f->decline_op == 0   ? x < c
           : f->decline_op == 1 ? x <= c
           : f->decline_op == 2 ? x > c
           : f->decline_op == 3 ? x >= c
                                : x == c;
}

double rd__fault_id_draw(const char *id, size_t len)
{
    /* the request's own draw: the same id is declined (or not) on every run and every node */
    return (double)rd_murmur3_32(id, len, 0x5eed) / 4294967296.0;
}

static int set_one(rd_fault *f, const char *spec, char *kv, rd_err *err)
{
    char *eq = strchr(kv, '=');
    if (!eq)
        return bad(err, spec, "each setting is key=value");
    *eq = '\0';
    const char *v = eq + 1;
    double x;
    if (!strcmp(kv, "delay_ms")) {
        if (parse_num(v, 0, 600000, &x) || x != floor(x))
            return bad(err, spec, "delay_ms: an integer from 0 to 600000");
        f->delay_ms = (int)x;
    } else if (!strcmp(kv, "error_rate")) {
        if (parse_num(v, 0, 1, &x))
            return bad(err, spec, "error_rate: a number from 0 to 1");
        f->error_rate = x;
    } else if (!strcmp(kv, "score")) {
        if (parse_num(v, -1e300, 1e300, &x))
            return bad(err, spec, "score: a finite number");
        f->has_score = true;
        f->score = x;
    } else if (!strcmp(kv, "decline")) {
        return set_decline(f, spec, v, err);
    } else if (!strcmp(kv, "for_ms")) {
        if (parse_num(v, 1, 86400000, &x) || x != floor(x))
            return bad(err, spec, "for_ms: an integer from 1 to 86400000");
        f->for_ms = (int)x;
        f->until_ns = rd_clock_ns() + (int64_t)f->for_ms * 1000000;
    } else {
        return bad(err, spec, "unknown setting (delay_ms, error_rate, score, decline, for_ms)");
    }
    return RD_OK;
}

int rd_fault_parse(const char *spec, rd_fault *f, rd_err *err)
{
    const char *colon = strchr(spec, ':');
    if (!colon || colon == spec)
        return bad(err, spec, "no bundle name before ':'");
    size_t nl = (size_t)(colon - spec);
    if (nl >= sizeof f->bundle)
        return bad(err, spec, "the bundle name is too long");
    if (f->bundle[0] && (strlen(f->bundle) != nl || memcmp(f->bundle, spec, nl) != 0))
        return bad(err, spec, "merged into the faults of another bundle");
    memcpy(f->bundle, spec, nl);
    f->bundle[nl] = '\0';
    char buf[256];
    size_t rest = strlen(colon + 1);
    if (rest >= sizeof buf || rest == 0)
        return bad(err, spec, rest ? "too long" : "no setting after ':'");
    memcpy(buf, colon + 1, rest + 1);
    char *save = NULL;
    for (char *kv = strtok_r(buf, ",", &save); kv; kv = strtok_r(NULL, ",", &save))
        if (set_one(f, spec, kv, err))
            return err->code;
    return RD_OK;
}

bool rd_fault_active(const rd_fault *f, int64_t now) { return f && (!f->until_ns || now < f->until_ns); }

void rd_fault_describe(const rd_fault *f, char *buf, size_t cap)
{
    size_t n = 0;
    buf[0] = '\0';
    if (f->delay_ms && n < cap)
        n += (size_t)snprintf(buf + n, cap - n, "%sdelay_ms=%d", n ? "," : "", f->delay_ms);
    if (f->error_rate > 0 && n < cap)
        n += (size_t)snprintf(buf + n, cap - n, "%serror_rate=%g", n ? "," : "", f->error_rate);
    if (f->has_score && n < cap)
        n += (size_t)snprintf(buf + n, cap - n, "%sscore=%g", n ? "," : "", f->score);
    if (f->decline > 0 && n < cap)
        n += (size_t)snprintf(buf + n, cap - n, "%sdecline=%g@%s%s%g", n ? "," : "", f->decline,
                              f->decline_feature, kOps[f->decline_op], f->decline_at);
    if (f->for_ms && n < cap)
        snprintf(buf + n, cap - n, "%sfor_ms=%d%s", n ? "," : "", f->for_ms,
                 rd_fault_active(f, rd_clock_ns()) ? "" : " (ended)");
}
