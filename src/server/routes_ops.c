/* Operations: liveness, readiness and the Prometheus metrics. */
#include <string.h>

#include "riskd/json.h"
#include "server.h"

void srv_route_health(srv_req *r) { rd_buf_puts(r->out, "{\"status\":\"ok\"}"); }

/* Ready when everything configured is loaded: the flag set, at least one bundle, and a way
 * to pick a bundle for a request that names none. */
void srv_route_ready(srv_req *r)
{
    const srv_snapshot *s = r->snap;
    if (r->cfg->bundles[0] && s->nbundles == 0) {
        srv_reply_error(r, 503, "NOT_READY", "no bundle is loaded from %s", r->cfg->bundles);
        return;
    }
    if (r->cfg->bundles[0] && !srv_snapshot_can_pick(s)) {
        srv_reply_error(r, 503, "NOT_READY",
                        "%zu bundles are loaded and neither the routing flag %s nor default_bundle picks one",
                        s->nbundles, r->cfg->route_flag);
        return;
    }
    rd_buf *b = r->out;
    rd_buf_printf(b, "{\"status\":\"ready\",\"generation\":%llu,\"flags\":%zu,\"routing_flag\":",
                  (unsigned long long)s->generation, s->flags ? rd_flagset_count(s->flags) : 0);
    if (s->route_index >= 0)
        rd_json_write_string(b, r->cfg->route_flag, strlen(r->cfg->route_flag));
    else
        rd_buf_puts(b, "null");
    rd_buf_puts(b, ",\"default_bundle\":");
    if (s->fallback)
        rd_json_write_string(b, rd_bundle_name(s->fallback->b), strlen(rd_bundle_name(s->fallback->b)));
    else
        rd_buf_puts(b, "null");
    rd_buf_puts(b, ",\"bundles\":[");
    for (size_t i = 0; i < s->nbundles; i++) {
        const char *n = rd_bundle_name(s->bundles[i]->b);
        if (i)
            rd_buf_putc(b, ',');
        rd_json_write_string(b, n, strlen(n));
    }
    rd_buf_puts(b, "]}");
}

void srv_route_metrics(srv_req *r)
{
    r->content_type = "text/plain; version=0.0.4; charset=utf-8";
    srv_metrics_render(r->out, (int64_t)r->snap->generation, srv_http_connections(), srv_http_inflight());
}
