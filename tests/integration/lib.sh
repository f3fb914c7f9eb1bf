# Shared by the integration scripts (sourced): the binary under test, the shared data, a
# scratch directory removed on exit, and check(), which counts passes and failures.
BIN=${RISKD_BIN:-build/riskd}
SHARED=${RISKD_SHARED:-../shared}
T=$(mktemp -d)
# RISKD_KEEP_TMP=1 keeps the scratch directory (its path is printed) for a post-mortem.
if [ "${RISKD_KEEP_TMP:-0}" = 1 ]; then echo "scratch: $T"; else trap 'rm -rf "$T"' EXIT; fi
pass=0
fail=0
check() { # name, expected exit code, actual exit code, [grep -E pattern, file]
    if [ "$3" != "$2" ]; then
        echo "FAIL: $1: exit $3, want $2"
        [ $# -ge 5 ] && head -3 "$5"
        fail=$((fail + 1))
        return
    fi
    if [ $# -ge 5 ] && ! grep -qE -- "$4" "$5"; then
        echo "FAIL: $1: output lacks /$4/:"
        head -5 "$5"
        fail=$((fail + 1))
        return
    fi
    pass=$((pass + 1))
}

# A logistic regression on two inputs (lr.json: p = 1 / (1 + exp(-(1 - 0.05 age - 0.8 own))),
# means 40 and 0.5 for its reasons), its pipeline (pipe.json: age in [18, 120], home own|rent)
# and a 200-row data set (data.csv: id,age,home,bad), written into $T.
lr_fixture() {
    cat >"$T/lr.json" <<'J'
{"type":"logistic_regression","features":["age","home=own"],"coef":[-0.05,-0.8],"intercept":1.0,"means":[40,0.5]}
J
    cat >"$T/pipe.json" <<'J'
{"inputs":[{"name":"age","type":"number","min":18,"max":120},{"name":"home","type":"category","levels":["own","rent"]}],
 "features":[{"name":"age","source":"age","kind":"numeric"},{"name":"home=own","source":"home","kind":"one_hot","level":"own"}]}
J
    {
        echo "id,age,home,bad"
        for i in $(seq 1 200); do
            echo "$i,$((18 + i % 60)),$([ $((i % 3)) = 0 ] && echo own || echo rent),$((i % 4 == 0))"
        done
    } >"$T/data.csv"
}

# start ARGS...: riskd serve on a kernel-chosen port with ARGS, its URL in $U and its pid in
# $PID once it prints "listening on" (10 s at most under the sanitizers); stop: SIGTERM, and
# the exit status.
PID=
U=
start() {
    : >"$T/serve.out"
    "$BIN" serve --listen 127.0.0.1:0 --data-dir "$T/data" "$@" >"$T/serve.out" 2>>"$T/serve.err" &
    PID=$!
    for _ in $(seq 1 200); do
        U=$(sed -n 's/^listening on //p' "$T/serve.out")
        [ -n "$U" ] && return 0
        kill -0 "$PID" 2>/dev/null || break
        sleep 0.05
    done
    echo "server did not start:"
    tail -n 20 "$T/serve.err"
    return 1
}
stop() {
    kill -TERM "$PID"
    wait "$PID"
}

# ---- several nodes on one PostgreSQL (22-cluster .. 25-cluster-rollout)

# pg_database NAME [own]: a fresh database NAME_$$, its URL in $URL and the cluster's directory
# in $PGD: on the run's cluster (RISKD_PG_DIR, scripts/run-tests.sh), else (or with "own", for
# a test that stops PostgreSQL) on a cluster of the test's own, which nodes_cleanup destroys.
# Without PostgreSQL: the skip said, the script ends with 0.
pg_database() {
    PGD=${RISKD_PG_DIR:-}
    if [ -z "$PGD" ] || [ "${2:-}" = own ]; then
        PGD=$(mktemp -d /tmp/riskd-pg.XXXXXX) # the server runs as postgres: not under $T (0700)
        if ! scripts/pg-cluster.sh start "$PGD" >/dev/null 2>"$T/pg.err"; then
            cat "$T/pg.err"
            rm -rf "$PGD"
            echo "0 passed, 0 failed, 1 skipped"
            exit 0
        fi
        OWN_PG=1
    fi
    URL=$(scripts/pg-cluster.sh createdb "$PGD" "$1_$$")
}

# start_node I ARGS...: riskd serve as node nI with its own data directory $T/nI (log in
# $T/nI.err); its pid in PIDS[I], its URL in URLS[I] once it listens.
PIDS=()
URLS=()
start_node() {
    local i=$1
    shift
    : >"$T/n$i.out"
    "$BIN" serve --listen 127.0.0.1:0 --data-dir "$T/n$i" --node "n$i" "$@" >"$T/n$i.out" 2>"$T/n$i.err" &
    PIDS[$i]=$!
    for _ in $(seq 1 200); do
        URLS[$i]=$(sed -n 's/^listening on //p' "$T/n$i.out")
        [ -n "${URLS[$i]}" ] && return 0
        kill -0 "${PIDS[$i]}" 2>/dev/null || break
        sleep 0.05
    done
    tail -n 20 "$T/n$i.err"
    return 1
}

# wait_by SECONDS CMD...: run CMD until it succeeds, for SECONDS by the clock (a hang guard, not a
# time test). By the clock, not a count of tries: under load each try of a curl and a python costs
# a tenth of a second or more, and 3000 tries of "30 s" once waited out a 10-minute check.
wait_by() {
    local until=$((SECONDS + $1))
    shift
    while :; do
        "$@" && return 0
        [ "$SECONDS" -lt "$until" ] || return 1
        sleep 0.02
    done
}

# node_metric I NAME{labels}: the series' value on node I (0 when absent).
node_metric() { curl -s "${URLS[$1]}/metrics" | awk -v m="$2" '$1 == m {print $2; f=1} END {if (!f) print 0}'; }

# The nodes stopped, the test's own cluster destroyed, the scratch directory removed (kept
# with RISKD_KEEP_TMP=1); EXTRA_PIDS are stopped too (load generators).
EXTRA_PIDS=()
nodes_cleanup() {
    for p in "${PIDS[@]}" "${EXTRA_PIDS[@]}"; do kill -TERM "$p" 2>/dev/null; done
    wait 2>/dev/null
    [ -n "${OWN_PG:-}" ] && scripts/pg-cluster.sh destroy "$PGD"
    [ "${RISKD_KEEP_TMP:-0}" = 1 ] || rm -rf "$T"
}
