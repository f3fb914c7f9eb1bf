#!/usr/bin/env bash
# The flagd sync service (sync_listen: flagd.sync.v1.FlagSyncService over gRPC): its configuration
# (file, RISKD_* variable, option; bad values refused; --check-config and --help), a server without a
# flag file (FAILED_PRECONDITION), then the gRPC clients of tests/interop/flagd_sync.mjs against a real
# server: h2c (fetch, sync, errors, N streams and the change-propagation time, a stalled client,
# SIGTERM), TLS with ALPN h2, and the limits (--limits: half-sent requests, the request byte cap,
# early answers, sync_max_connections, long selectors, SIGTERM with a stalled client).
set -u
# shellcheck source=tests/integration/lib.sh
. "$(dirname "$0")/lib.sh"
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
command -v node >/dev/null || { echo "node missing (scripts/deps.sh installs it)"; exit 1; }
[ -d "$ROOT/tests/interop/node_modules/@grpc/grpc-js" ] || { echo "npm packages missing (scripts/deps.sh)"; exit 1; }
NODE_CLIENT=$ROOT/tests/interop/flagd_sync.mjs
echo '{"flags":{"f":{"state":"ENABLED","variants":{"on":true,"off":false},"defaultVariant":"on"}}}' >"$T/flags.json"

# ---- configuration
"$BIN" serve --flags "$T/flags.json" --sync-listen nowhere --check-config >"$T/out" 2>&1
check "a sync_listen without a port is refused" 1 $? 'sync_listen: expected HOST:PORT' "$T/out"
RISKD_SYNC_LISTEN=127.0.0.1:99999 "$BIN" serve --flags "$T/flags.json" --check-config >"$T/out" 2>&1
check "RISKD_SYNC_LISTEN is read and checked" 1 $? 'sync_listen: expected HOST:PORT .*"127.0.0.1:99999"' "$T/out"
"$BIN" serve --flags "$T/flags.json" --sync-max-streams 0 --check-config >"$T/out" 2>&1
check "sync_max_streams 0 is refused" 1 $? 'sync_max_streams must be an integer from 1' "$T/out"
printf 'flags = %s\nsync_listen = 127.0.0.1:0\nsync_max_streams = 7\n' "$T/flags.json" >"$T/sync.conf"
"$BIN" serve --config "$T/sync.conf" --listen 127.0.0.1:0 --data-dir "$T/data" --check-config >"$T/out" 2>&1
check "--check-config reports the sync service (file keys; connections 2 x streams)" 0 $? '^sync +127.0.0.1:0: flagd.sync.v1 gRPC \(h2c\), at most 7 SyncFlags streams, 14 connections$' "$T/out"
printf 'sync_max_connections = 3\n' >>"$T/sync.conf"
"$BIN" serve --config "$T/sync.conf" --listen 127.0.0.1:0 --data-dir "$T/data" --check-config >"$T/out" 2>&1
check "sync_max_connections from the file" 0 $? 'at most 7 SyncFlags streams, 3 connections$' "$T/out"
RISKD_SYNC_MAX_CONNECTIONS=5 "$BIN" serve --flags "$T/flags.json" --listen 127.0.0.1:0 --data-dir "$T/data" --sync-listen 127.0.0.1:0 --check-config >"$T/out" 2>&1
check "RISKD_SYNC_MAX_CONNECTIONS is read" 0 $? 'at most 1000 SyncFlags streams, 5 connections$' "$T/out"
"$BIN" serve --flags "$T/flags.json" --sync-max-connections 0 --check-config >"$T/out" 2>&1
check "sync_max_connections 0 is refused" 1 $? 'sync_max_connections must be an integer from 1' "$T/out"
# sync_listen on listen's socket: refused at load, not by serve's own socket later
while read -r l sl; do
    "$BIN" serve --flags "$T/flags.json" --listen "$l" --sync-listen "$sl" --check-config </dev/null >"$T/out" 2>&1
    check "sync_listen $sl beside listen $l is refused" 1 $? 'sync_listen must differ from listen' "$T/out"
done <<'EOF'
127.0.0.1:18555 127.0.0.1:18555
0.0.0.0:18555 127.0.0.1:18555
127.0.0.1:18555 0.0.0.0:18555
[::]:18555 localhost:18555
EOF
"$BIN" serve --flags "$T/flags.json" --listen 127.0.0.1:0 --sync-listen 127.0.0.1:0 --data-dir "$T/data" --check-config >"$T/out" 2>&1
check "port 0 for both is fine (the kernel picks two)" 0 $? '^sync +127.0.0.1:0' "$T/out"
"$BIN" serve --flags "$T/flags.json" --listen 127.0.0.1:0 --data-dir "$T/data" --check-config >"$T/out" 2>&1
check "--check-config: sync off by default" 0 $? '^sync +off' "$T/out"
"$BIN" serve --help >"$T/out" 2>&1
check "--help lists the sync options" 0 $? '--sync-listen HOST:PORT' "$T/out"
grep -q -- '--sync-max-connections N' "$T/out"
check "--help lists --sync-max-connections" 0 $?
# a port in use: the start fails with exit 4 and says why
"$BIN" serve --flags "$T/flags.json" --listen 127.0.0.1:0 --data-dir "$T/data" --sync-listen 127.0.0.1:0 >"$T/busy.out" 2>"$T/busy.err" &
busy=$!
for _ in $(seq 1 100); do grep -q '^listening on' "$T/busy.out" && break; sleep 0.05; done
bport=$(sed -n 's/^sync listening on 127.0.0.1:\([0-9]*\)$/\1/p' "$T/busy.out")
"$BIN" serve --flags "$T/flags.json" --listen 127.0.0.1:0 --data-dir "$T/data2" --sync-listen "127.0.0.1:$bport" >"$T/out" 2>&1
check "a sync port in use stops the start (exit 4)" 4 $? 'cannot start: the flagd sync service.*sync_listen' "$T/out"
kill -TERM "$busy"
wait "$busy"
check "SIGTERM with the sync service idle: exit 0" 0 $?

# ---- a server without a flag file (bundles only): FAILED_PRECONDITION, not a crash
lr_fixture
mkdir -p "$T/bundles"
"$BIN" bundle build --name demo_lr_v1.0 --model "$T/lr.json" --pipeline "$T/pipe.json" --data "$T/data.csv" --label bad \
    --samples 5 --reasons 2 --out "$T/bundles/demo_lr_v1.0" --created-by ci >"$T/out" 2>&1
check "build a bundle" 0 $? "built and verified" "$T/out"
start --bundles "$T/bundles" --sync-listen 127.0.0.1:0
SYNC=$(sed -n 's/^sync listening on //p' "$T/serve.out")
node "$NODE_CLIENT" --call "$SYNC" FetchAllFlags >"$T/out" 2>&1
check "no flag file: FetchAllFlags -> FAILED_PRECONDITION" 0 $? '^9 riskd serves no flag set' "$T/out"
node "$NODE_CLIENT" --call "$SYNC" GetMetadata >"$T/out" 2>&1
check "no flag file: GetMetadata still answers" 0 $? '^0 2$' "$T/out"
curl -s -o /dev/null -w '%{http_code}' "$U/health" >"$T/out"
check "the HTTP side serves beside it" 0 $? '^200$' "$T/out"
stop
check "SIGTERM: exit 0" 0 $?

# ---- the gRPC clients: h2c, then TLS
node "$NODE_CLIENT" --streams "${RISKD_SYNC_STREAMS:-50}" >"$T/node.out" 2>&1
rc=$?
cat "$T/node.out"
check "flagd_sync.mjs (h2c): every check passed" 0 $rc ' 0 failed$' "$T/node.out"
"$ROOT/scripts/dev-certs.sh" "$T/certs" >"$T/out" 2>&1
check "dev-certs.sh makes the certificates" 0 $?
node "$NODE_CLIENT" --tls "$T/certs" >"$T/node.out" 2>&1
rc=$?
cat "$T/node.out"
check "flagd_sync.mjs --tls: every check passed" 0 $rc ' 0 failed$' "$T/node.out"

node "$NODE_CLIENT" --limits >"$T/node.out" 2>&1
rc=$?
cat "$T/node.out"
check "flagd_sync.mjs --limits: every check passed" 0 $rc ' 0 failed$' "$T/node.out"

echo "$((pass)) passed, $fail failed"
[ "$fail" = 0 ]
