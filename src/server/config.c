/* riskd serve's configuration: defaults, then a file, then RISKD_* variables, then the
 * command line; every value goes through one table and one validator, so a bad value is
 * reported the same way wherever it came from, naming where it came from. */
#include <ctype.h>
#include <errno.h>
#include <getopt.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "riskd/arena.h"
#include "riskd/bundle_cache.h"
#include "riskd/text.h"
#include "server.h"

rd_store_opts srv_store_opts;

const char srv_usage[] =
    "usage: riskd serve [options]\n"
    "\n"
    "Serve scoring (/v1/score) and flag evaluation (OFREP) over HTTP.\n"
    "Flags alone serve OFREP; bundles alone serve scoring with a single model.\n"
    "\n"
    "options (each also a config file key, e.g. max_body_bytes = 65536, and a RISKD_* variable,\n"
    "e.g. RISKD_MAX_BODY_BYTES; the command line wins over the environment, which wins over the file):\n"
    "  --config FILE            read `key = value` lines from FILE (also RISKD_CONFIG)\n"
    "  --flags FILE             flagd flag set to serve and route with\n"
    "  --bundles DIR            directory of bundle directories (name_vX.Y/manifest.json); store:\n"
    "                           the bundles the store publishes (change requests), each node\n"
    "                           fetching and verifying them into DATA_DIR/bundle-cache when the\n"
    "                           store is checked (--store-check-ms, or a notification)\n"
    "  --listen HOST:PORT       address to listen on (default 127.0.0.1:8080; port 0: the\n"
    "                           kernel picks one, printed on stdout)\n"
    "  --data-dir DIR           state directory (default ./riskd-data): the SQLite store, or with\n"
    "                           --store the node's local files (the decision log's spool)\n"
    "  --store URL              the store several nodes share: postgresql://user@host:port/db (libpq\n"
    "                           URI); default sqlite:DATA_DIR. With it, --flags store serves the flag\n"
    "                           set kept in the store (riskd flags import loads the first one)\n"
    "  --store-check-ms N       how often the store is asked for a newer flag set or bundles, in\n"
    "                           case a change notification was missed (default 5000)\n"
    "  --store-timeout-ms N     the longest a call waits for a shared store without a byte of\n"
    "                           answer, then it counts as unreachable (default 10000)\n"
    "  --no-store-watch         do not listen for the store's change notifications (NOTIFY\n"
    "                           riskd_changes): changes arrive at the next check only\n"
    "  --route-flag KEY         flag whose string value names the bundle (default model-route)\n"
    "  --default-bundle NAME    bundle used when the routing flag gives none\n"
    "  --threads N              HTTP worker threads (default: one per core)\n"
    "  --max-body-bytes N       request body limit (default 1000000; 413 above)\n"
    "  --max-batch N            rows per /v1/score/batch request (default 1000)\n"
    "  --max-json-depth N       nesting limit of a request body (default 32; 400 LIMIT_EXCEEDED\n"
    "                           above, a 413 is for the size alone)\n"
    "  --max-json-fields N      values in a request body (default 200000; 400 above)\n"
    "  --max-connections N      open connections (default 10000)\n"
    "  --sse-max-streams N      OFREP event streams (GET /ofrep/v1/events) open at once; they\n"
    "                           take connections, so below max_connections (default: half of\n"
    "                           it; 0: no streams, none advertised in the bulk response)\n"
    "  --sse-heartbeat-s N      a comment line on every stream every N s (default 15)\n"
    "  --sse-inactivity-s N     advertised to clients: close a hidden page's stream after N s\n"
    "                           (default 120)\n"
    "  --reasons N              reason codes per decision, 0..16 (default: the bundle's)\n"
    "  --reload-interval-ms N   how often files are checked for changes (default 1000)\n"
    "  --drain-timeout-ms N     on SIGTERM, longest wait for in-flight requests (default 10000)\n"
    "  --connection-timeout-s N idle keep-alive connections are closed after N s (default 30)\n"
    "  --log-level LEVEL        debug, info, warn or error (default info)\n"
    "  --fixed-time UNIX        evaluate $flagd.timestamp at this time (replays, tests)\n"
    "  --lenient                accept flag sets the way flagd does (default: refuse what\n"
    "                           the flagd schema forbids)\n"
    "  --ready-on-refusal       /ready stays 200 while a refused flag file, bundle or fallback\n"
    "                           rules file is not in force (default: 503 with the refusal, so\n"
    "                           a bad push is seen at once; the last good state serves either way)\n"
    "  --require-signed-bundles serve only bundles whose signature.ed25519 one of the keys in\n"
    "                           bundle_pubkey made (riskd bundle sign); others are refused\n"
    "  --bundle-pubkey FILE     the trusted Ed25519 public keys, base64, one a line (riskd bundle\n"
    "                           keygen); needs require_signed_bundles\n"
    "\n"
    "the decision path:\n"
    "  --unknown-inputs MODE    features that name no input of the bundle's pipeline: reject\n"
    "                           (default: 400 naming them), warn (listed in the answer's\n"
    "                           \"unrecognised\") or ignore (default: the pipeline's\n"
    "                           unknown_inputs, else reject)\n"
    "  --shadow-flag KEY        object flag {\"bundles\": [...]} naming the bundles that score each\n"
    "                           request in shadow, off the caller's clock (default: none)\n"
    "  --shadow-threads N       shadow scoring threads (default 1)\n"
    "  --shadow-queue N         decisions waiting for shadow scoring; more are dropped and\n"
    "                           counted (default 1024)\n"
    "  --deadline-ms N          a decision's deadline from the request's arrival (default 200;\n"
    "                           0: none); a bundle's serving.deadline_ms wins\n"
    "  --fallback FILE          service-wide fallback rules, for bundles without their own and\n"
    "                           when no bundle can answer (docs/formats.md)\n"
    "  --breaker MODE           circuit breaker per bundle: window (default), consecutive, off\n"
    "  --breaker-window-ms N    window mode: the failure-rate window (default 10000)\n"
    "  --breaker-min-calls N    window mode: calls in the window before it can open (default 20)\n"
    "  --breaker-failure-percent N  window mode: failures (errors, deadline overruns) that open\n"
    "                           it, in percent of the calls (default 50)\n"
    "  --breaker-open-ms N      window mode: open time, doubled on each re-open (default 5000)\n"
    "  --breaker-open-max-ms N  window mode: the longest open time (default 60000)\n"
    "  --breaker-half-open-calls N  window mode: trial calls when half-open (default 10)\n"
    "  --breaker-half-open-timeout-ms N  window mode: trials unfinished by then re-open it\n"
    "                           (default 10000)\n"
    "  --breaker-fail-max N     consecutive mode: failures in a row that open it (default 5)\n"
    "  --breaker-reset-ms N     consecutive mode: open time before one trial (default 60000)\n"
    "  --fault BUNDLE:SPEC      a drill tool, repeatable: inject delay_ms=N, error_rate=P or\n"
    "                           score=X into one bundle's calls (logged at start, shown in /ready);\n"
    "                           for_ms=N ends them N ms after the start (an outage that heals)\n"
    "  --compat-routes          also serve POST /score, the textbook FastAPI service's route\n"
    "  --require-approval       serve only published versions (docs/governance.md): a flag file,\n"
    "                           bundle or rollout plan that no approved change request published\n"
    "                           (a hand edit) is refused on reload and logged; the first start\n"
    "                           adopts the files in force as version 1\n"
    "\n"
    "authentication (the admin API, /v1/admin/..., always needs a bearer token: riskd user add):\n"
    "  --auth                   the scoring side needs tokens too: POST /v1/outcomes a token with\n"
    "                           the outcomes scope, a pinned score request (\"bundle\") the pin scope\n"
    "                           (default off)\n"
    "  --auth-scoring           /v1/score, /v1/score/batch, /score and OFREP need a token with the\n"
    "                           score scope (needs auth; default off)\n"
    "  --allow-pinning MODE     on, off or auto (default): may a score request name its bundle,\n"
    "                           bypassing the routing; auto is on without auth, off with it\n"
    "  --auth-max-failures N    failed authentications per client address a minute before its\n"
    "                           requests are refused (429) until the minute ends (default 10)\n"
    "  --auth-stale-ms N        while the store is unreachable, a token it vouched for at most N\n"
    "                           ms ago still admits scoring and OFREP (default 300000; 0: never)\n"
    "\n"
    "the decision log (DATA_DIR/riskd.db; riskd log export, riskd replay):\n"
    "  --no-log                 do not record decisions (default: every one is; log = off)\n"
    "  --log-durability MODE    async (default: answered before the record's commit; a kill -9\n"
    "                           loses at most the last ~50 ms of decisions) or ack (answered\n"
    "                           after its commit, one group commit for concurrent requests)\n"
    "  --log-on-full MODE       reject (default: 503 LOG_BACKLOG, no decision without its\n"
    "                           record) or drop (decide, count the record dropped)\n"
    "  --log-queue N            records waiting for the writer (default 65536)\n"
    "  --log-retention-days N   prune decisions older than N days (default 0: keep all)\n"
    "  --log-spool PATH         with a shared store (PostgreSQL): where decision records wait,\n"
    "                           acknowledged, while the database is unreachable, drained in order\n"
    "                           when it is back (default DATA_DIR/dlog.spool; off: none, records\n"
    "                           fail during an outage; SQLite needs none)\n"
    "  --log-spool-max-bytes N  the spool's bound: past it records fail (default 1073741824)\n"
    "  --log-redact LIST        inputs (features, context attributes) logged as a keyed hash, or\n"
    "                           not at all with :drop: ssn:drop,email,phone (docs/governance.md)\n"
    "  --log-redact-key-file F  the HMAC-SHA256 key of those hashes: 32 or more random bytes\n"
    "  --node NAME              this node's name in the records (default: the host name)\n"
    "\n"
    "the rollout controller and monitoring (GET /v1/monitor, GET /v1/rollouts):\n"
    "  --rollout PLAN           run the staged rollout of a plan (docs/schema/rollout.json), one per\n"
    "                           routing flag, repeatable: gates evaluated every interval, the flag\n"
    "                           file rewritten at each stage change (riskd rollout status)\n"
    "  --rollout-speed N        divide every hold time, interval and deadline by N (drills and tests;\n"
    "                           said in /ready and the logs; default 1)\n"
    "  --no-monitor             do not accumulate statistics per bundle (default: on; needed by\n"
    "                           --rollout)\n"
    "  --monitor-bucket-ms N    the sliding window's bucket (default 60000)\n"
    "  --monitor-buckets N      buckets in the sliding window (default 10)\n"
    "  --monitor-history N      buckets of decision counts kept for rates over time (GET\n"
    "                           /v1/admin/monitor; default 180: 3 hours of 1-minute buckets)\n"
    "\n"
    "notifications (docs/notifications.md; riskd notify test|list):\n"
    "  --notify SPEC            a sink, repeatable: KIND url=URL|url_file=F [secret_file=F]\n"
    "                           [events=GLOB,...] [kinds=flags,bundle,rollout] [name=N] [cacert=F];\n"
    "                           KIND webhook (signed with secret_file: X-Riskd-Signature), slack,\n"
    "                           wecom or alertmanager; e.g. 'webhook url=http://127.0.0.1:9000/hook\n"
    "                           secret_file=hook.key events=change.*'. Every node carries the same\n"
    "                           sinks; the holder of the notify leadership delivers\n"
    "  --notify-console-url URL base of the console links in notifications (https://riskd.example.com)\n"
    "  --notify-timeout-ms N    per delivery attempt (default 5000)\n"
    "  --notify-max-attempts N  attempts before an event is recorded as failed (default 12)\n"
    "  --notify-backoff-ms N    first retry wait, doubled each time with jitter (default 1000)\n"
    "  --notify-backoff-max-ms N  the longest retry wait (default 300000)\n"
    "  --notify-poll-ms N       the outbox is looked at least this often (default 1000)\n"
    "  --notify-retention-days N  events kept in the outbox (default 30)\n"
    "  --notify-alert-hold-s N  Alertmanager: a firing alarm's endsAt is its time + N (default 3600)\n"
    "  --notify-store-down-s N  store.unavailable once the store is away this long (default 10)\n"
    "  --notify-backlog-percent N  dlog.backlog when the log queue is N% full (default 80)\n"
    "  --notify-drift-psi X     drift.alarm when a score or input PSI passes X and its noise floor\n"
    "                           (default 0.25; off)\n"
    "  --notify-cert-days N     cert.expiring N days before the TLS certificate ends (default 14)\n"
    "  --notify-spool-max-bytes N  bound of DATA_DIR/notify.spool (default 16777216)\n"
    "\n"
    "TLS (docs/api.md, \"TLS and mutual TLS\"; scripts/dev-certs.sh makes test certificates):\n"
    "  --tls-cert FILE          PEM server certificate (its chain may follow); with --tls-key the\n"
    "                           service speaks HTTPS only, TLS 1.2 and 1.3. Reloaded when the files\n"
    "                           change (a refused file leaves the last good certificate serving)\n"
    "  --tls-key FILE           PEM private key of --tls-cert (unencrypted)\n"
    "  --tls-client-ca FILE     PEM CA bundle: clients are asked for a certificate, verified\n"
    "                           against it; a request that needs one and has none or a bad one\n"
    "                           gets 401 CLIENT_CERT_REQUIRED or CLIENT_CERT_INVALID\n"
    "  --mtls all|admin         which routes need a client certificate: all (default with\n"
    "                           --tls-client-ca) or admin (only those under /v1/admin/)\n"
    "\n"
    "CORS (browsers calling OFREP and the scoring routes from another origin; docs/api.md, \"CORS\"):\n"
    "  --cors-origins LIST      origins allowed, comma-separated scheme://host[:port] (no path,\n"
    "                           no trailing slash), or * for any (default: none, no CORS; OPTIONS\n"
    "                           is answered 405). Preflights get 204, or 403 CORS_ORIGIN_DENIED\n"
    "  --cors-credentials       also send Access-Control-Allow-Credentials: true (cookies, HTTP\n"
    "                           auth); refused with cors_origins = *\n"
    "\n"
    "the web console (/ui/; docs/api.md, \"Console sessions\"): signing in with a token opens a\n"
    "session, a child token held in an HttpOnly, SameSite=Strict cookie, accepted on /v1/admin/ only,\n"
    "whose changes need its CSRF token (X-CSRF-Token) and this server's origin:\n"
    "  --no-console             no console: /ui/ answers 404, sign-in is refused (console = off)\n"
    "  --console-session-max-s N  a session's longest life, never past its token's (default 43200)\n"
    "  --console-session-idle-s N a session unused for N s ends (default 1800; kept to the minute)\n"
    "  --console-cookie-secure MODE  auto (default: with --tls-cert), on (TLS ended at a proxy: the\n"
    "                           origin checked is https://HOST) or off: the cookie's Secure flag\n"
    "                           and its __Host- name prefix\n"
    "\n"
    "request limits and lingering:\n"
    "  --linger-max-bytes N     a body refused before it is read (413 by Content-Length, 415,\n"
    "                           401 client certificate) is read and dropped, up to N bytes more,\n"
    "                           so the client reads the answer instead of a reset connection\n"
    "                           (default 67108864; 0: answer at once and close)\n"
    "  --linger-timeout-ms N    ... for at most N ms (default 5000); past either bound the\n"
    "                           connection is closed\n"
    "the flagd sync service (docs/api.md, \"flagd sync\"): flagd daemons and flagd in-process providers\n"
    "sync the flag set over gRPC (flagd.sync.v1.FlagSyncService: SyncFlags, FetchAllFlags, GetMetadata):\n"
    "  --sync-listen HOST:PORT  serve it on this address (default off; port 0: the kernel picks one,\n"
    "                           printed on stdout as \"sync listening on HOST:PORT\"); h2c, or TLS\n"
    "                           with ALPN h2 when --tls-cert is set\n"
    "  --sync-max-streams N     SyncFlags streams open at once (default 1000); more are refused\n"
    "                           with RESOURCE_EXHAUSTED\n"
    "  --sync-max-connections N sync connections open at once (default 2 x sync_max_streams; apart\n"
    "                           from max_connections); more are closed at accept\n"
    "\n"
    "  --check-config           validate the configuration and the files, then exit\n"
    "  -h, --help               show this help\n"
    "\n"
    "signals: SIGHUP reloads now, SIGTERM/SIGINT drain in-flight requests and stop.\n"
    "exit codes: 0 stopped cleanly, 1 invalid configuration or files, 2 usage error,\n"
    "            4 cannot listen or read\n";

typedef enum { K_STR, K_INT, K_SIZE, K_LEVEL, K_BOOL, K_TIME, K_FAULT, K_ROLLOUT, K_ORIGINS, K_NOTIFY } kind;

struct key {
    const char *name; /* config file key; the option is --name with '-' for '_' */
    kind k;
    size_t off;
    size_t cap;       /* K_STR: buffer size */
    long long lo, hi; /* K_INT, K_SIZE, K_TIME: range */
};

#define S(f)         K_STR, offsetof(srv_config, f), sizeof(((srv_config *)0)->f), 0, 0
#define I(f, lo, hi) K_INT, offsetof(srv_config, f), 0, lo, hi
#define Z(f, lo, hi) K_SIZE, offsetof(srv_config, f), 0, lo, hi

static const struct key keys[] = {
    {"flags", S(flags)},
    {"bundles", S(bundles)},
    {"listen", S(listen)},
    {"data_dir", S(data_dir)},
    {"store", S(store)},
    {"store_check_ms", I(store_check_ms, 100, 3600000)},
    {"store_timeout_ms", I(store_timeout_ms, 1000, 3600000)},
    {"store_watch", K_BOOL, offsetof(srv_config, store_watch), 0, 0, 0},
    {"route_flag", S(route_flag)},
    {"default_bundle", S(default_bundle)},
    {"threads", I(threads, 0, 256)},
    {"max_body_bytes", Z(max_body_bytes, 64, 1LL << 30)},
    {"max_batch", Z(max_batch, 1, 1000000)},
    {"max_json_depth", I(max_json_depth, 2, 1000)},
    {"max_json_fields", Z(max_json_fields, 16, 100000000)},
    {"max_connections", Z(max_connections, 1, 1000000)},
    {"sse_max_streams", Z(sse_max_streams, 0, 1000000)},
    {"sse_heartbeat_s", I(sse_heartbeat_s, 1, 3600)},
    {"sse_inactivity_s", I(sse_inactivity_s, 0, 86400)},
    {"reasons", I(reasons, -1, RD_BUNDLE_MAX_REASONS)},
    {"reload_interval_ms", I(reload_interval_ms, 50, 3600000)},
    {"drain_timeout_ms", I(drain_timeout_ms, 0, 3600000)},
    {"connection_timeout_s", I(connection_timeout_s, 1, 86400)},
    {"log_level", K_LEVEL, offsetof(srv_config, log_level), 0, 0, 0},
    {"fixed_time", K_TIME, offsetof(srv_config, fixed_time), 0, 0, 4102444800LL},
    {"lenient", K_BOOL, offsetof(srv_config, lenient), 0, 0, 0},
    {"ready_on_refusal", K_BOOL, offsetof(srv_config, ready_on_refusal), 0, 0, 0},
    {"require_signed_bundles", K_BOOL, offsetof(srv_config, require_signed_bundles), 0, 0, 0},
    {"bundle_pubkey", S(bundle_pubkey)},
    {"shadow_flag", S(shadow_flag)},
    {"shadow_threads", I(shadow_threads, 1, 64)},
    {"shadow_queue", Z(shadow_queue, 1, 10000000)},
    {"deadline_ms", I(deadline_ms, 0, 600000)},
    {"fallback", S(fallback)},
    {"breaker", S(breaker)},
    {"breaker_window_ms", I(breaker_window_ms, 10, 3600000)},
    {"breaker_min_calls", I(breaker_min_calls, 1, 1000000)},
    {"breaker_failure_percent", I(breaker_failure_percent, 1, 100)},
    {"breaker_open_ms", I(breaker_open_ms, 1, 3600000)},
    {"breaker_open_max_ms", I(breaker_open_max_ms, 1, 3600000)},
    {"breaker_half_open_calls", I(breaker_half_open_calls, 1, 1000)},
    {"breaker_half_open_timeout_ms", I(breaker_half_open_timeout_ms, 1, 3600000)},
    {"breaker_fail_max", I(breaker_fail_max, 1, 1000000)},
    {"breaker_reset_ms", I(breaker_reset_ms, 1, 3600000)},
    {"fault", K_FAULT, 0, 0, 0, 0},
    {"compat_routes", K_BOOL, offsetof(srv_config, compat_routes), 0, 0, 0},
    {"require_approval", K_BOOL, offsetof(srv_config, require_approval), 0, 0, 0},
    {"auth", K_BOOL, offsetof(srv_config, auth), 0, 0, 0},
    {"auth_scoring", K_BOOL, offsetof(srv_config, auth_scoring), 0, 0, 0},
    {"allow_pinning", S(allow_pinning)},
    {"auth_max_failures", I(auth_max_failures, 1, 1000000)},
    {"auth_stale_ms", I(auth_stale_ms, 0, 86400000)},
    {"log", K_BOOL, offsetof(srv_config, log), 0, 0, 0},
    {"log_durability", S(log_durability)},
    {"log_on_full", S(log_on_full)},
    {"unknown_inputs", S(unknown_inputs)},
    {"log_queue", Z(log_queue, 1, 10000000)},
    {"log_retention_days", I(log_retention_days, 0, 36500)},
    {"log_spool", S(log_spool)},
    {"log_spool_max_bytes", Z(log_spool_max_bytes, 4096, 1LL << 50)},
    {"log_redact", S(log_redact)},
    {"log_redact_key_file", S(log_redact_key_file)},
    {"node", S(node)},
    {"rollout", K_ROLLOUT, 0, 0, 0, 0},
    {"rollout_speed", I(rollout_speed, 1, 100000)},
    {"notify", K_NOTIFY, 0, 0, 0, 0},
    {"notify_console_url", S(notify_console_url)},
    {"notify_timeout_ms", I(notify_timeout_ms, 100, 600000)},
    {"notify_max_attempts", I(notify_max_attempts, 1, 1000)},
    {"notify_backoff_ms", I(notify_backoff_ms, 10, 3600000)},
    {"notify_backoff_max_ms", I(notify_backoff_max_ms, 10, 86400000)},
    {"notify_poll_ms", I(notify_poll_ms, 50, 3600000)},
    {"notify_retention_days", I(notify_retention_days, 1, 36500)},
    {"notify_alert_hold_s", I(notify_alert_hold_s, 60, 2592000)},
    {"notify_store_down_s", I(notify_store_down_s, 1, 86400)},
    {"notify_backlog_percent", I(notify_backlog_percent, 1, 100)},
    {"notify_drift_psi", S(notify_drift_psi)},
    {"notify_cert_days", I(notify_cert_days, 1, 365)},
    {"notify_spool_max_bytes", Z(notify_spool_max_bytes, 4096, 1LL << 40)},
    {"monitor", K_BOOL, offsetof(srv_config, monitor), 0, 0, 0},
    {"monitor_bucket_ms", I(monitor_bucket_ms, 100, 3600000)},
    {"monitor_buckets", I(monitor_buckets, 1, 1000)},
    {"monitor_history", I(monitor_history, 0, 100000)},
    {"tls_cert", S(tls_cert)},
    {"tls_key", S(tls_key)},
    {"tls_client_ca", S(tls_client_ca)},
    {"mtls", S(mtls)},
    {"cors_origins", K_ORIGINS, offsetof(srv_config, cors_origins), sizeof(((srv_config *)0)->cors_origins),
     0, 0},
    {"cors_credentials", K_BOOL, offsetof(srv_config, cors_credentials), 0, 0, 0},
    {"console", K_BOOL, offsetof(srv_config, console), 0, 0, 0},
    {"console_session_max_s", I(console_session_max_s, 60, 2592000)},
    {"console_session_idle_s", I(console_session_idle_s, 60, 2592000)},
    {"console_cookie_secure", S(console_cookie_secure)},
    {"linger_max_bytes", Z(linger_max_bytes, 0, 1LL << 40)},
    {"linger_timeout_ms", I(linger_timeout_ms, 0, 600000)},
    {"sync_listen", S(sync_listen)},
    {"sync_max_streams", Z(sync_max_streams, 1, 1000000)},
    {"sync_max_connections", Z(sync_max_connections, 1, 1000000)},
};
#define NKEYS (sizeof keys / sizeof keys[0])

static void defaults(srv_config *c)
{
    memset(c, 0, sizeof *c);
    strcpy(c->listen, "127.0.0.1:8080");
    strcpy(c->data_dir, "riskd-data");
    strcpy(c->route_flag, "model-route");
    c->max_body_bytes = 1000000; /* flagd's --max-request-body default */
    c->max_batch = 1000;
    c->max_json_depth = 32;
    c->max_json_fields = 200000;
    c->max_connections = 10000;
    c->sse_max_streams = SIZE_MAX; /* half of max_connections, resolved in validate */
    c->sse_heartbeat_s = 15;
    c->sse_inactivity_s = 120; /* the OFREP web provider's own default */
    c->reasons = -1;
    c->reload_interval_ms = 1000;
    c->drain_timeout_ms = 10000;
    c->connection_timeout_s = 30;
    c->log_level = SRV_INFO;
    c->shadow_threads = 1;
    c->shadow_queue = 1024;
    c->deadline_ms = 200; /* the textbook budget of a credit decision */
    strcpy(c->breaker, "window");
    rd_breaker_opts b;
    rd_breaker_opts_default(&b);
    c->breaker_window_ms = b.window_ms;
    c->breaker_min_calls = b.min_calls;
    c->breaker_failure_percent = (int)(b.failure_rate * 100);
    c->breaker_open_ms = b.open_ms;
    c->breaker_open_max_ms = b.open_max_ms;
    c->breaker_half_open_calls = b.half_open_calls;
    c->breaker_half_open_timeout_ms = b.half_open_timeout_ms;
    c->breaker_fail_max = b.fail_max;
    c->breaker_reset_ms = b.reset_ms;
    strcpy(c->allow_pinning, "auto");
    c->auth_max_failures = 10;
    c->auth_stale_ms = 300000;
    c->log = true;
    c->store_watch = true;
    c->store_check_ms = 5000;
    c->store_timeout_ms = 10000;
    strcpy(c->log_durability, "async");
    strcpy(c->log_on_full, "reject");
    c->log_queue = 65536;
    c->log_spool_max_bytes = RD_DLOG_SPOOL_MAX_DEFAULT;
    c->rollout_speed = 1;
    c->monitor = true;
    c->monitor_bucket_ms = 60000;
    c->monitor_buckets = 10;
    c->monitor_history = 180;
    c->linger_max_bytes = 64u << 20; /* nginx discards up to its lingering_time; 64 MiB at LAN speed */
    c->linger_timeout_ms = 5000;     /* nginx's lingering_timeout */
    c->notify_timeout_ms = 5000;
    c->notify_max_attempts = 12;
    c->notify_backoff_ms = 1000;
    c->notify_backoff_max_ms = 300000;
    c->notify_poll_ms = 1000;
    c->notify_retention_days = 30;
    c->notify_alert_hold_s = 3600;
    c->notify_store_down_s = 10;
    c->notify_backlog_percent = 80;
    strcpy(c->notify_drift_psi, "0.25");
    c->notify_cert_days = 14;
    c->notify_spool_max_bytes = 16u << 20;
    c->console = true;
    c->console_session_max_s = 43200;
    c->console_session_idle_s = 1800;
    strcpy(c->console_cookie_secure, "auto");
    c->sync_max_streams = 1000;
    c->sync_max_connections = SIZE_MAX; /* 2 x sync_max_streams, resolved in validate */
    if (gethostname(c->node, sizeof c->node) != 0 || !c->node[0])
        strcpy(c->node, "riskd");
    c->node[sizeof c->node - 1] = '\0';
}

void srv_config_breaker(const srv_config *c, rd_breaker_opts *o)
{
    rd_breaker_opts_default(o);
    o->mode = !strcmp(c->breaker, "consecutive") ? RD_BREAKER_CONSECUTIVE
              : !strcmp(c->breaker, "off")       ? RD_BREAKER_OFF
                                                 : RD_BREAKER_WINDOW;
    o->window_ms = c->breaker_window_ms;
    o->min_calls = c->breaker_min_calls;
    o->failure_rate = c->breaker_failure_percent / 100.0;
    o->open_ms = c->breaker_open_ms;
    o->open_max_ms = c->breaker_open_max_ms;
    o->half_open_calls = c->breaker_half_open_calls;
    o->half_open_timeout_ms = c->breaker_half_open_timeout_ms;
    o->fail_max = c->breaker_fail_max;
    o->reset_ms = c->breaker_reset_ms;
}

/* --fault: merged into the faults of the same bundle, or a new entry. */
static int add_fault(srv_config *c, const char *v, const char *where, rd_err *err)
{
    const char *colon = strchr(v, ':');
    size_t nl = colon ? (size_t)(colon - v) : 0, i = 0;
    while (i < c->nfaults && (strlen(c->faults[i].bundle) != nl || memcmp(c->faults[i].bundle, v, nl) != 0))
        i++;
    if (i == SRV_MAX_FAULTS)
        return rd_err_set(err, RD_EINVAL, "%s: at most %d bundles with faults", where, SRV_MAX_FAULTS);
    rd_fault f = i < c->nfaults ? c->faults[i] : (rd_fault){0};
    int rc = rd_fault_parse(v, &f, err);
    if (rc) {
        rd_err_prefix(err, "%s", where);
        return rc;
    }
    c->faults[i] = f;
    if (i == c->nfaults)
        c->nfaults++;
    return RD_OK;
}

static const struct key *find_key(const char *name, size_t len)
{
    for (size_t i = 0; i < NKEYS; i++)
        if (strlen(keys[i].name) == len && !memcmp(keys[i].name, name, len))
            return &keys[i];
    return NULL;
}

static int parse_int(const char *v, long long lo, long long hi, long long *out)
{
    char *end;
    errno = 0;
    long long n = strtoll(v, &end, 10);
    if (errno || end == v || *end || n < lo || n > hi)
        return -1;
    *out = n;
    return 0;
}

/* Set one key from text; where names the source ("riskd.conf:3", "RISKD_THREADS", "--threads"). */
static int set_key(srv_config *c, const struct key *k, const char *v, const char *where, rd_err *err)
{
    char *field = (char *)c + k->off;
    long long n;
    switch (k->k) {
    case K_STR:
        if (strlen(v) >= k->cap)
            return rd_err_set(err, RD_EINVAL, "%s: %s is longer than %zu bytes", where, k->name, k->cap - 1);
        memcpy(field, v, strlen(v) + 1);
        c->route_flag_set |= strcmp(k->name, "route_flag") == 0;
        return RD_OK;
    case K_INT:
    case K_SIZE:
    case K_TIME:
        if (parse_int(v, k->lo, k->hi, &n) < 0)
            return rd_err_set(err, RD_EINVAL, "%s: %s must be an integer from %lld to %lld, not \"%s\"",
                              where, k->name, k->lo, k->hi, v);
        if (k->k == K_INT)
            *(int *)(void *)field = (int)n;
        else if (k->k == K_SIZE)
            *(size_t *)(void *)field = (size_t)n;
        else
            *(int64_t *)(void *)field = n;
        return RD_OK;
    case K_LEVEL: {
        static const char *const names[] = {"debug", "info", "warn", "error"};
        for (int i = 0; i < 4; i++)
            if (!strcmp(v, names[i])) {
                *(srv_log_level *)(void *)field = (srv_log_level)i;
                return RD_OK;
            }
        return rd_err_set(err, RD_EINVAL, "%s: log_level must be debug, info, warn or error, not \"%s\"",
                          where, v);
    }
    case K_FAULT: return add_fault(c, v, where, err);
    case K_ORIGINS:
        if (srv_cors_normalize(v, field, k->cap, err)) {
            rd_err_prefix(err, "%s: %s", where, k->name);
            return err->code;
        }
        return RD_OK;
    case K_ROLLOUT:
        if (c->nrollouts == SRV_MAX_ROLLOUTS)
            return rd_err_set(err, RD_EINVAL, "%s: at most %d rollouts", where, SRV_MAX_ROLLOUTS);
        if (!*v || strlen(v) >= SRV_PATH_MAX)
            return rd_err_set(err, RD_EINVAL, "%s: rollout needs a plan file path", where);
        snprintf(c->rollouts[c->nrollouts++], SRV_PATH_MAX, "%s", v);
        return RD_OK;
    case K_NOTIFY: /* never echoed: a sink's URL can be its secret */
        if (c->nnotify == SRV_MAX_SINKS)
            return rd_err_set(err, RD_EINVAL, "%s: at most %d notification sinks", where, SRV_MAX_SINKS);
        if (!*v || strlen(v) >= SRV_SINK_SPEC_MAX)
            return rd_err_set(err, RD_EINVAL, "%s: notify needs a sink (KIND url=URL ...) under %d bytes",
                              where, SRV_SINK_SPEC_MAX);
        snprintf(c->notify[c->nnotify++], SRV_SINK_SPEC_MAX, "%s", v);
        return RD_OK;
    case K_BOOL:
        if (!strcmp(v, "true") || !strcmp(v, "1") || !strcmp(v, "yes") || !strcmp(v, "on")) {
            *(bool *)(void *)field = true;
            return RD_OK;
        }
        if (!strcmp(v, "false") || !strcmp(v, "0") || !strcmp(v, "no") || !strcmp(v, "off")) {
            *(bool *)(void *)field = false;
            return RD_OK;
        }
        return rd_err_set(err, RD_EINVAL, "%s: %s must be true or false (on or off), not \"%s\"", where,
                          k->name, v);
    }
    return rd_err_set(err, RD_EINTERNAL, "%s: unhandled key kind", where);
}

static char *trim(char *s)
{
    while (isspace((unsigned char)*s))
        s++;
    size_t n = strlen(s);
    while (n && isspace((unsigned char)s[n - 1]))
        s[--n] = 0;
    return s;
}

static int load_file(srv_config *c, const char *path, rd_err *err)
{
    char *text;
    size_t len;
    int rc = rd_file_read(path, 1 << 20, &text, &len, err);
    if (rc)
        return rc;
    char where[SRV_PATH_MAX + 32];
    int line = 0;
    for (char *p = text, *next; p && *p; p = next) {
        line++;
        next = strchr(p, '\n');
        if (next)
            *next++ = 0;
        char *hash = strchr(p, '#');
        if (hash)
            *hash = 0;
        char *s = trim(p);
        if (!*s)
            continue;
        snprintf(where, sizeof where, "%s:%d", path, line);
        char *eq = strchr(s, '=');
        if (!eq) {
            rc = rd_err_set(err, RD_EINVAL, "%s: expected `key = value`", where);
            break;
        }
        *eq = 0;
        char *key = trim(s), *val = trim(eq + 1);
        const struct key *k = find_key(key, strlen(key));
        if (!k) {
            rc = rd_err_set(err, RD_EINVAL, "%s: unknown key \"%s\" (riskd serve --help lists them)", where,
                            key);
            break;
        }
        if ((rc = set_key(c, k, val, where, err)))
            break;
    }
    rd_free(text);
    if (!rc)
        snprintf(c->source, sizeof c->source, "%s", path);
    return rc;
}

/* A RISKD_ variable that is no key but looks like a misspelt one (RISKD_DEADLIN_MS) is refused:
 * ignored, the setting it meant would silently keep its default. Others (RISKD_SHARED, the
 * tests' RISKD_BIN) are not the service's. */
static int env_near_miss(rd_err *err)
{
    extern char **environ;
    for (char **e = environ; *e; e++) {
        const char *eq = strchr(*e, '=');
        if (strncmp(*e, "RISKD_", 6) != 0 || !eq || eq - *e - 6 >= 64)
            continue;
        char name[64];
        size_t n = (size_t)(eq - *e - 6);
        for (size_t j = 0; j < n; j++)
            name[j] = (char)tolower((unsigned char)(*e)[6 + j]);
        name[n] = 0;
        bool known = false;
        for (size_t i = 0; i < NKEYS && !known; i++)
            known = strcmp(name, keys[i].name) == 0;
        for (size_t i = 0; i < NKEYS && !known; i++)
            if (rd_near_miss(name, keys[i].name)) {
                char want[64];
                size_t k = 0;
                for (; keys[i].name[k] && k < sizeof want - 1; k++)
                    want[k] = (char)toupper((unsigned char)keys[i].name[k]);
                want[k] = 0;
                return rd_err_set(err, RD_EINVAL, "RISKD_%.*s: not a setting (did you mean RISKD_%s?)",
                                  (int)n, *e + 6, want);
            }
    }
    return RD_OK;
}

static int set_lines(srv_config *c, const struct key *k, const char *v, const char *where, rd_err *err)
{
    char line[SRV_SINK_SPEC_MAX];
    for (const char *p = v; *p;) {
        const char *nl = strchr(p, '\n');
        size_t n = nl ? (size_t)(nl - p) : strlen(p);
        if (n >= sizeof line)
            return rd_err_set(err, RD_EINVAL, "%s: a sink spec is over %zu bytes", where, sizeof line - 1);
        memcpy(line, p, n);
        line[n] = 0;
        char *t = trim(line);
        int rc = *t ? set_key(c, k, t, where, err) : RD_OK;
        if (rc)
            return rc;
        p += n + (nl != NULL);
    }
    return RD_OK;
}

static int load_env(srv_config *c, rd_err *err)
{
    if (env_near_miss(err))
        return err->code;
    char var[64];
    for (size_t i = 0; i < NKEYS; i++) {
        size_t n = (size_t)snprintf(var, sizeof var, "RISKD_%s", keys[i].name);
        for (size_t j = 6; j < n; j++)
            var[j] = (char)toupper((unsigned char)var[j]);
        const char *v = getenv(var);
        if (v && keys[i].k == K_NOTIFY) { /* one sink per line: the environment cannot repeat a key */
            int rc = set_lines(c, &keys[i], v, var, err);
            if (rc)
                return rc;
        } else if (v) {
            int rc = set_key(c, &keys[i], v, var, err);
            if (rc)
                return rc;
        }
    }
    return RD_OK;
}

/* The TLS keys go together: a certificate and its key, a client CA only with them, and mtls
 * only with a client CA (it defaults to all there). The files themselves are loaded by tls.c. */
static int validate_tls(srv_config *c, rd_err *err)
{
    if (!c->tls_cert[0] != !c->tls_key[0])
        return rd_err_set(err, RD_EINVAL, "tls_cert and tls_key go together: %s is set, %s is not",
                          c->tls_cert[0] ? "tls_cert" : "tls_key", c->tls_cert[0] ? "tls_key" : "tls_cert");
    if (c->tls_client_ca[0] && !c->tls_cert[0])
        return rd_err_set(err, RD_EINVAL,
                          "tls_client_ca %s needs tls_cert and tls_key (client certificates "
                          "are a TLS feature)",
                          c->tls_client_ca);
    if (c->mtls[0] && strcmp(c->mtls, "all") != 0 && strcmp(c->mtls, "admin") != 0)
        return rd_err_set(err, RD_EINVAL, "mtls must be all or admin, not \"%s\"", c->mtls);
    if (c->mtls[0] && !c->tls_client_ca[0])
        return rd_err_set(err, RD_EINVAL,
                          "mtls = %s needs tls_client_ca (the CA client certificates are "
                          "verified against)",
                          c->mtls);
    if (c->tls_client_ca[0] && !c->mtls[0])
        strcpy(c->mtls, "all");
    return RD_OK;
}

/* console_cookie_secure resolved: auto is on with TLS here; on for TLS ended at a proxy. */
static int validate_console(srv_config *c, rd_err *err)
{
    if (!strcmp(c->console_cookie_secure, "auto"))
        c->cookie_secure = c->tls_cert[0] != '\0';
    else if (!strcmp(c->console_cookie_secure, "on") || !strcmp(c->console_cookie_secure, "off"))
        c->cookie_secure = !strcmp(c->console_cookie_secure, "on");
    else
        return rd_err_set(err, RD_EINVAL, "console_cookie_secure must be auto, on or off, not \"%s\"",
                          c->console_cookie_secure);
    return RD_OK;
}

/* An address's host is a wildcard ("", 0.0.0.0, ::, [::]): it takes the port on every address. */
static bool wildcard_host(const char *h, size_t n)
{
    return n == 0 || (n == 7 && !memcmp(h, "0.0.0.0", 7)) || (n == 2 && !memcmp(h, "::", 2)) ||
           (n == 4 && !memcmp(h, "[::]", 4));
}

/* Whether two valid HOST:PORT addresses take the same socket: the same port, not 0, on the same host
 * or with either a wildcard. Caught here, serve would fail later on its own socket with a misleading
 * "Address already in use". */
static bool same_socket(const char *a, const char *b)
{
    const char *ca = strrchr(a, ':'), *cb = strrchr(b, ':');
    long long pa, pb;
    if (parse_int(ca + 1, 0, 65535, &pa) < 0 || parse_int(cb + 1, 0, 65535, &pb) < 0 || pa != pb || pa == 0)
        return false;
    size_t na = (size_t)(ca - a), nb = (size_t)(cb - b);
    return wildcard_host(a, na) || wildcard_host(b, nb) || (na == nb && !strncasecmp(a, b, na));
}

/* The notification keys: every sink spec parses (its files read), names are unique, the
 * backoff is ordered and the drift threshold is a number. */
static int validate_notify(srv_config *c, rd_err *err)
{
    if (c->notify_backoff_max_ms < c->notify_backoff_ms)
        return rd_err_set(err, RD_EINVAL, "notify_backoff_max_ms (%d) is below notify_backoff_ms (%d)",
                          c->notify_backoff_max_ms, c->notify_backoff_ms);
    if (!strcmp(c->notify_drift_psi, "off")) {
        c->drift_psi = 0;
    } else {
        char *end;
        errno = 0;
        c->drift_psi = strtod(c->notify_drift_psi, &end);
        if (errno || end == c->notify_drift_psi || *end || !(c->drift_psi > 0 && c->drift_psi < 100))
            return rd_err_set(err, RD_EINVAL, "notify_drift_psi must be a PSI above 0 or off, not \"%s\"",
                              c->notify_drift_psi);
    }
    if (c->notify_console_url[0] && strncmp(c->notify_console_url, "https://", 8) != 0 &&
        strncmp(c->notify_console_url, "http://", 7) != 0)
        return rd_err_set(err, RD_EINVAL,
                          "notify_console_url must start with http:// or https://, not \"%s\"",
                          c->notify_console_url);
    rd_notify_sink *sinks[SRV_MAX_SINKS];
    size_t n = 0;
    int rc = RD_OK;
    for (; n < c->nnotify && !rc; n++)
        rc = rd_notify_sink_parse(c->notify[n], (int)n + 1, &sinks[n], err);
    if (rc)
        n--;
    if (!rc)
        rc = rd_notify_sinks_check(sinks, n, err);
    for (size_t i = 0; i < n; i++)
        rd_notify_sink_free(sinks[i]);
    return rc;
}

/* Cross-field rules, checked once whatever the source. */
static int validate(srv_config *c, rd_err *err)
{
    if (!c->flags[0] && !c->bundles[0])
        return rd_err_set(err, RD_EINVAL, "nothing to serve: give --flags, --bundles or both");
    if (!c->store[0] &&
        (size_t)snprintf(c->store, sizeof c->store, "sqlite:%s", c->data_dir) >= sizeof c->store)
        return rd_err_set(err, RD_EINVAL, "data_dir: path too long");
    if (strncmp(c->store, "sqlite:", 7) != 0 && strncmp(c->store, "postgresql://", 13) != 0 &&
        strncmp(c->store, "postgres://", 11) != 0)
        return rd_err_set(err, RD_EINVAL, "store must be postgresql://... or sqlite:DIR, not \"%s\"",
                          c->store);
    if (strncmp(c->store, "sqlite:", 7) != 0 && c->flags[0] && strcmp(c->flags, "store") != 0)
        return rd_err_set(
            err, RD_EINVAL,
            "flags = %s with a shared store (%.40s...): each node would serve its own file, and "
            "a change published through one node would rewrite that node's file only; give "
            "flags = store (riskd flags import FILE --store URL loads the first flag set)",
            c->flags, c->store);
    if (!strcmp(c->bundles, "store")) { /* the loader reads the cache the store's bundles are fetched into */
        c->bundles_store = true;
        if ((size_t)snprintf(c->bundles, sizeof c->bundles, "%s/%s", c->data_dir, RD_BUNDLE_CACHE_DIR) >=
            sizeof c->bundles)
            return rd_err_set(err, RD_EINVAL, "data_dir: path too long");
    }
    const char *colon = strrchr(c->listen, ':');
    long long port;
    if (!colon || colon == c->listen || parse_int(colon + 1, 0, 65535, &port) < 0)
        return rd_err_set(err, RD_EINVAL, "listen: expected HOST:PORT (port 0-65535), not \"%s\"", c->listen);
    if (c->sync_listen[0] && ((colon = strrchr(c->sync_listen, ':')) == NULL || colon == c->sync_listen ||
                              parse_int(colon + 1, 0, 65535, &port) < 0))
        return rd_err_set(err, RD_EINVAL,
                          "sync_listen: expected HOST:PORT (port 0-65535) or \"\" (off), not \"%s\"",
                          c->sync_listen);
    if (c->sync_listen[0] && same_socket(c->listen, c->sync_listen))
        return rd_err_set(err, RD_EINVAL,
                          "sync_listen must differ from listen (%s and %s take the same socket)",
                          c->sync_listen, c->listen);
    if (c->sync_max_connections == SIZE_MAX) /* a flagd client holds one connection per stream */
        c->sync_max_connections = c->sync_max_streams > 500000 ? 1000000 : 2 * c->sync_max_streams;
    if (!c->route_flag[0])
        return rd_err_set(err, RD_EINVAL, "route_flag must not be empty");
    if (c->default_bundle[0] && !c->bundles[0])
        return rd_err_set(err, RD_EINVAL, "default_bundle \"%s\" needs bundles", c->default_bundle);
    if (strcmp(c->breaker, "window") != 0 && strcmp(c->breaker, "consecutive") != 0 &&
        strcmp(c->breaker, "off") != 0)
        return rd_err_set(err, RD_EINVAL, "breaker must be window, consecutive or off, not \"%s\"",
                          c->breaker);
    if (c->breaker_open_max_ms < c->breaker_open_ms)
        return rd_err_set(err, RD_EINVAL, "breaker_open_max_ms (%d) is below breaker_open_ms (%d)",
                          c->breaker_open_max_ms, c->breaker_open_ms);
    if (c->shadow_flag[0] && !c->flags[0])
        return rd_err_set(err, RD_EINVAL, "shadow_flag \"%s\" needs flags", c->shadow_flag);
    if (c->shadow_flag[0] && !c->bundles[0])
        return rd_err_set(err, RD_EINVAL, "shadow_flag \"%s\" needs bundles", c->shadow_flag);
    if (c->nfaults && !c->bundles[0])
        return rd_err_set(err, RD_EINVAL, "fault \"%s\" needs bundles", c->faults[0].bundle);
    if (c->fallback[0] && !c->bundles[0])
        return rd_err_set(err, RD_EINVAL, "fallback rules need bundles to fall back from");
    if (c->nrollouts && (!c->bundles[0] || !c->flags[0]))
        return rd_err_set(err, RD_EINVAL, "rollout \"%s\" needs a flag file and bundles", c->rollouts[0]);
    if (c->nrollouts && !c->monitor)
        return rd_err_set(err, RD_EINVAL,
                          "rollout \"%s\" needs the monitor (its gates read it): remove monitor = off",
                          c->rollouts[0]);
    if (strcmp(c->log_durability, "async") != 0 && strcmp(c->log_durability, "ack") != 0)
        return rd_err_set(err, RD_EINVAL, "log_durability must be async or ack, not \"%s\"",
                          c->log_durability);
    static const char *const policies[] = {"reject", "warn", "ignore"};
    c->unknown_policy = 0;
    for (int k = 0; k < 3; k++)
        if (strcmp(c->unknown_inputs, policies[k]) == 0)
            c->unknown_policy = k + 1; /* rd_unknown_policy */
    if (!c->unknown_policy && c->unknown_inputs[0])
        return rd_err_set(err, RD_EINVAL, "unknown_inputs must be reject, warn or ignore, not \"%s\"",
                          c->unknown_inputs);
    if (strcmp(c->log_on_full, "reject") != 0 && strcmp(c->log_on_full, "drop") != 0)
        return rd_err_set(err, RD_EINVAL, "log_on_full must be reject or drop, not \"%s\"", c->log_on_full);
    if (!c->node[0])
        return rd_err_set(err, RD_EINVAL, "node must not be empty");
    rd_dlog_redact *redact = NULL; /* log_redact and its key, checked here; the server compiles its own */
    int rrc = rd_dlog_redact_new(c->log_redact, c->log_redact_key_file, &redact, err);
    rd_dlog_redact_free(redact);
    if (rrc)
        return rrc;
    if (c->auth_scoring && !c->auth)
        return rd_err_set(err, RD_EINVAL, "auth_scoring needs auth = on (the tokens are checked only then)");
    if (!strcmp(c->allow_pinning, "auto"))
        c->pinning = !c->auth;
    else if (!strcmp(c->allow_pinning, "on") || !strcmp(c->allow_pinning, "off"))
        c->pinning = !strcmp(c->allow_pinning, "on");
    else
        return rd_err_set(err, RD_EINVAL, "allow_pinning must be on, off or auto, not \"%s\"",
                          c->allow_pinning);
    if (c->require_signed_bundles && (!c->bundles[0] || !c->bundle_pubkey[0]))
        return rd_err_set(err, RD_EINVAL,
                          "require_signed_bundles needs bundles and bundle_pubkey (the trusted keys)");
    if (c->bundle_pubkey[0] && !c->require_signed_bundles) /* keys that check nothing: a mistake */
        return rd_err_set(err, RD_EINVAL,
                          "bundle_pubkey %s is given but require_signed_bundles is off: signatures would not "
                          "be checked",
                          c->bundle_pubkey);
    if (c->sse_max_streams == SIZE_MAX)
        c->sse_max_streams = c->max_connections / 2;
    else if (c->sse_max_streams >= c->max_connections)
        return rd_err_set(err, RD_EINVAL,
                          "sse_max_streams (%zu) must be below max_connections (%zu): the streams would take "
                          "every connection and leave none for evaluations",
                          c->sse_max_streams, c->max_connections);
    if (c->cors_credentials && !strcmp(c->cors_origins, "*"))
        return rd_err_set(err, RD_EINVAL,
                          "cors_origins = * with cors_credentials: browsers refuse credentials for every "
                          "origin; list the origins instead");
    if (c->cors_credentials && !c->cors_origins[0])
        return rd_err_set(err, RD_EINVAL, "cors_credentials needs cors_origins (the origins allowed)");
    int rc = validate_tls(c, err);
    if (rc)
        return rc;
    if ((rc = validate_console(c, err)) || (rc = validate_notify(c, err)))
        return rc;
    if (c->require_signed_bundles) {
        rd_bundle_key trusted[SRV_MAX_KEYS];
        size_t n;
        if ((rc = rd_bundle_keys_read(c->bundle_pubkey, trusted, SRV_MAX_KEYS, &n, err)))
            return rc;
    }
    return RD_OK;
}

enum { OPT_CONFIG = 1000, OPT_CHECK, OPT_KEY, OPT_NO_KEY = OPT_KEY + 1000 };

static int load_args(srv_config *c, int argc, char **argv, bool *check_only, bool *help, rd_err *err)
{
    struct option opts[2 * NKEYS + 4];
    char names[NKEYS][40], no_names[NKEYS][44];
    size_t n = 0;
    for (size_t i = 0; i < NKEYS; i++, n++) {
        snprintf(names[i], sizeof names[i], "%s", keys[i].name);
        for (char *p = names[i]; *p; p++)
            if (*p == '_')
                *p = '-';
        opts[n] = (struct option){names[i], keys[i].k == K_BOOL ? no_argument : required_argument, NULL,
                                  OPT_KEY + (int)i};
        if (keys[i].k == K_BOOL) { /* --no-log turns off what is on by default */
            snprintf(no_names[i], sizeof no_names[i], "no-%.39s", names[i]);
            opts[++n] = (struct option){no_names[i], no_argument, NULL, OPT_NO_KEY + (int)i};
        }
    }
    opts[n++] = (struct option){"config", required_argument, NULL, OPT_CONFIG};
    opts[n++] = (struct option){"check-config", no_argument, NULL, OPT_CHECK};
    opts[n++] = (struct option){"help", no_argument, NULL, 'h'};
    opts[n] = (struct option){0};
    optind = 1;
    opterr = 0;
    int o;
    char where[64];
    while ((o = getopt_long(argc, argv, ":h", opts, NULL)) != -1) {
        if (o == 'h') {
            *help = true;
        } else if (o == OPT_CHECK) {
            *check_only = true;
        } else if (o == OPT_CONFIG) {
            /* The file was read before the environment and the other options (see
             * srv_config_load), found by its full name: an abbreviation getopt accepts
             * (--conf) would otherwise be ignored without a word. */
            const char *a = optarg == argv[optind - 1] && optind >= 2 ? argv[optind - 2] : argv[optind - 1];
            if (strcmp(a, "--config") != 0 && strncmp(a, "--config=", 9) != 0)
                return rd_err_set(err, RD_EUSAGE, "usage: write --config in full, not \"%s\"", a);
        } else if (o >= OPT_NO_KEY) {
            snprintf(where, sizeof where, "--%s", no_names[o - OPT_NO_KEY]);
            int rc = set_key(c, &keys[o - OPT_NO_KEY], "false", where, err);
            if (rc)
                return rc;
        } else if (o >= OPT_KEY) {
            const struct key *k = &keys[o - OPT_KEY];
            snprintf(where, sizeof where, "--%s", names[o - OPT_KEY]);
            int rc = set_key(c, k, k->k == K_BOOL ? "true" : optarg, where, err);
            if (rc)
                return rc;
        } else if (o == ':') {
            return rd_err_set(err, RD_EUSAGE, "usage: %s needs a value", argv[optind - 1]);
        } else {
            return rd_err_set(err, RD_EUSAGE, "usage: unknown option \"%s\"", argv[optind - 1]);
        }
    }
    if (optind < argc)
        return rd_err_set(err, RD_EUSAGE, "usage: unexpected argument \"%s\"", argv[optind]);
    return RD_OK;
}

static const char *config_path(int argc, char **argv)
{
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--config") && i + 1 < argc)
            return argv[i + 1];
        if (!strncmp(argv[i], "--config=", 9))
            return argv[i] + 9;
    }
    return getenv("RISKD_CONFIG");
}

int srv_config_load(int argc, char **argv, srv_config *cfg, bool *check_only, bool *help, rd_err *err)
{
    srv_config c;
    defaults(&c);
    *check_only = *help = false;
    const char *file = config_path(argc, argv);
    int rc;
    if (file && (rc = load_file(&c, file, err)))
        return rc;
    if ((rc = load_env(&c, err)) || (rc = load_args(&c, argc, argv, check_only, help, err)))
        return rc;
    if (*help)
        return RD_OK;
    if ((rc = validate(&c, err)))
        return rc;
    *cfg = c;
    return RD_OK;
}

int srv_config_notify(int argc, char **argv, srv_config *cfg, rd_err *err)
{
    defaults(cfg);
    const char *file = config_path(argc, argv);
    bool check_only, help;
    int rc;
    if (file && (rc = load_file(cfg, file, err)))
        return rc;
    if ((rc = load_env(cfg, err)) || (rc = load_args(cfg, argc, argv, &check_only, &help, err)))
        return rc;
    return validate_notify(cfg, err);
}
