/* Operations: liveness, readiness and the Prometheus metrics. */
#include <string.h>

#include "riskd/json.h"
#include "server.h"

void srv_route_health(srv_req *r) { rd_buf_puts(r->out, "{\"status\":\"ok\"}"); }

static void put_str(rd_buf *b, const char *s)
{
    if (s)
        rd_json_write_string(b, s, strlen(s));
    else
        rd_buf_puts(b, "null");
}

/* What a console shows of a bundle's manifest (not its sample rows or reference data). */
static void put_manifest(rd_buf *b, const rd_bundle *bd)
{
    static const char *const keep[] = {"product",    "model_type", "version",   "created_at",
                                       "created_by", "model",      "training",  "files",
                                       "inputs",     "output",     "risk_bands"};
    const rd_value *m = rd_bundle_manifest(bd);
    rd_buf_puts(b, ",\"manifest\":{");
    bool first = true;
    for (size_t i = 0; m && i < sizeof keep / sizeof keep[0]; i++) {
        const rd_value *v = rd_value_get(m, keep[i], strlen(keep[i]));
        if (!v)
            continue;
        rd_buf_printf(b, "%s\"%s\":", first ? "" : ",", keep[i]);
        rd_json_write(b, v);
        first = false;
    }
    rd_buf_putc(b, '}');
}

/* Each bundle with its breaker's state, its fallback rules and any injected fault (and with
 * manifest, what its manifest says of it). */
void srv_bundles_json(rd_buf *b, const rd_decider *d, bool manifest)
{
    size_t nf;
    const rd_fault *faults = rd_decider_faults(d, &nf);
    rd_buf_puts(b, "[");
    for (size_t i = 0; i < rd_decider_count(d); i++) {
        const rd_slot *s = rd_decider_slot(d, i);
        const rd_bundle *bd = rd_slot_bundle(s);
        rd_buf_puts(b, i ? ",{\"name\":" : "{\"name\":");
        put_str(b, rd_slot_name(s));
        rd_buf_printf(b, ",\"breaker\":\"%s\",\"fallback_rules\":%s,\"deadline_ms\":",
                      rd_breaker_state_name(rd_breaker_get_state(rd_slot_breaker(s))),
                      rd_bundle_fallback(bd)   ? "\"bundle\""
                      : rd_decider_fallback(d) ? "\"service\""
                                               : "null");
        if (rd_bundle_deadline_ms(bd))
            rd_buf_printf(b, "%d", rd_bundle_deadline_ms(bd));
        else
            rd_buf_puts(b, "null");
        rd_buf_puts(b, ",\"fault\":");
        const char *fault = NULL;
        char desc[128];
        for (size_t j = 0; j < nf; j++)
            if (!strcmp(faults[j].bundle, rd_slot_name(s))) {
                rd_fault_describe(&faults[j], desc, sizeof desc);
                fault = desc;
            }
        put_str(b, fault);
        rd_buf_puts(b, ",\"digest\":");
        put_str(b, rd_bundle_digest(bd));
        rd_buf_printf(b, ",\"signed\":%s", rd_bundle_signed(bd) ? "true" : "false");
        if (manifest)
            put_manifest(b, bd);
        rd_buf_putc(b, '}');
    }
    rd_buf_putc(b, ']');
}

/* Ready when everything configured is loaded: the flag set, at least one bundle, and a way
 * to pick a bundle for a request that names none; never while draining. The details say how decisions are
 * made now: the routing, the breakers, the fallback rules, and any fault injected for a drill. */
void srv_route_ready(srv_req *r)
{
    const srv_snapshot *s = r->snap;
    const rd_decider *d = s->dec;
    size_t n = rd_decider_count(d);
    if (srv_http_draining()) { /* stopping: the load balancer should send nothing new */
        srv_reply_error(r, 503, "NOT_READY", "riskd is shutting down (SIGTERM or SIGINT): draining");
        return;
    }
    if (r->cfg->bundles[0] && n == 0) {
        srv_reply_error(r, 503, "NOT_READY", "no bundle is loaded from %s", r->cfg->bundles);
        return;
    }
    if (r->cfg->bundles[0] && !rd_decider_can_pick(d)) {
        srv_reply_error(r, 503, "NOT_READY",
                        "%zu bundles are loaded and neither the routing flag %s nor default_bundle picks one",
                        n, r->cfg->route_flag);
        return;
    }
    /* Degraded: a file on disk was refused (the last good one serves), or a routing flag named
     * no bundle and no fallback rules answered. Both are seen at once, not found in a log. */
    rd_buf *b = r->out;
    rd_buf refusals;
    rd_buf_init(&refusals);
    size_t nref = srv_metrics_refusals(&refusals);
    char routing[256];
    bool misrouted = srv_metrics_routing_failed(s->generation, routing, sizeof routing);
    bool degraded = misrouted || (nref && !r->cfg->ready_on_refusal);
    if (degraded) {
        r->status = 503;
        r->error_code = misrouted ? "ROUTING_FAILED" : "RELOAD_REFUSED";
    }
    /* the store away: degraded, but still 200: the node scores and serves OFREP on its last good
       state, and a load balancer must keep sending it traffic */
    bool store_down = srv_cluster_store_down();
    rd_buf_printf(b, "{\"status\":\"%s\",", nref || misrouted || store_down ? "degraded" : "ready");
    if (degraded) {
        rd_buf_printf(b, "\"error\":{\"code\":\"%s\",\"message\":", r->error_code);
        char msg[320];
        snprintf(msg, sizeof msg, "%s",
                 misrouted ? routing : "a reload was refused: the last good state serves (see \"refused\")");
        rd_json_write_string(b, msg, strlen(msg));
        rd_buf_puts(b, "},");
    }
    rd_buf_puts(b, "\"refused\":");
    rd_buf_append(b, rd_buf_cstr(&refusals), refusals.len);
    rd_buf_deinit(&refusals);
    rd_buf_printf(b,
                  ",\"generation\":%llu,\"flags\":%zu,\"routing_flag\":", (unsigned long long)s->generation,
                  s->flags ? rd_flagset_count(s->flags) : 0);
    put_str(b, rd_decider_route_index(d) >= 0 ? r->cfg->route_flag : NULL);
    rd_buf_puts(b, ",\"default_bundle\":");
    put_str(b, rd_decider_default(d) ? rd_slot_name(rd_decider_default(d)) : NULL);
    rd_buf_puts(b, ",\"shadow_flag\":");
    put_str(b, rd_decider_shadow_index(d) >= 0 ? r->cfg->shadow_flag : NULL);
    rd_buf_printf(b, ",\"deadline_ms\":%d,\"fallback_rules\":", r->cfg->deadline_ms);
    put_str(b, rd_decider_fallback(d) ? rd_fallback_version(rd_decider_fallback(d)) : NULL);
    rd_buf_puts(b, ",\"bundles\":");
    srv_bundles_json(b, d, false);
    srv_rollouts_ready_json(b);
    srv_notify_ready_json(b);
    srv_cluster_ready_json(b, s);
    rd_buf_putc(b, '}');
}

void srv_route_metrics(srv_req *r)
{
    r->content_type = "text/plain; version=0.0.4; charset=utf-8";
    srv_metrics_render(r->out, r->snap, r->shadow, r->dlog, srv_http_connections(), srv_http_inflight());
}
