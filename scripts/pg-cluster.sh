#!/usr/bin/env bash
# A throw-away PostgreSQL cluster for tests and drills (shared/reference/postgres-testing.md).
#
#   pg-cluster.sh start DIR          initdb DIR/pg (first time), start it on a free port on
#                                    127.0.0.1, create database riskd; prints its URL
#   pg-cluster.sh stop DIR [MODE]    pg_ctl stop -m MODE (fast; immediate simulates a crash)
#   pg-cluster.sh restart DIR        start the same cluster again, on the same port (an outage ends)
#   pg-cluster.sh createdb DIR NAME  a fresh database NAME (dropped first); prints its URL
#   pg-cluster.sh url DIR            the URL of database riskd
#   pg-cluster.sh psql DIR [ARGS]    psql on database riskd
#   pg-cluster.sh destroy DIR        stop (fast) and remove DIR
#
# Exit 3 with "skipped: postgresql not installed" when the server binaries are missing. As
# root, the server runs as the postgres user the Debian package creates (initdb refuses root).
set -euo pipefail
export PGOPTIONS="-c client_min_messages=warning"

BIN=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1 || true)
if [ -z "$BIN" ] || [ ! -x "$BIN/pg_ctl" ]; then
    echo "skipped: postgresql not installed (scripts/deps.sh installs it)" >&2
    exit 3
fi

as_owner() {
    if [ "$(id -u)" = 0 ]; then
        runuser -u postgres -- "$@"
    else
        "$@"
    fi
}

free_port() {
    python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

cmd=${1:-}
dir=${2:-}
[ -n "$cmd" ] && [ -n "$dir" ] || {
    sed -n '2,14p' "$0" | sed 's/^# \{0,1\}//'
    exit 2
}
pg=$dir/pg

url_of() { echo "postgresql://riskd@127.0.0.1:$(cat "$dir/port")/$1"; }

start() {
    as_owner "$BIN/pg_ctl" -D "$pg" -l "$dir/pg.log" -w -t 60 start \
        -o "-p $(cat "$dir/port") -k $dir/sock -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=200" \
        >/dev/null
}

case $cmd in
start)
    mkdir -p "$dir"
    chmod 755 "$dir"
    if [ ! -f "$pg/PG_VERSION" ]; then
        mkdir -p "$pg" "$dir/sock"
        [ "$(id -u)" = 0 ] && chown postgres "$pg" "$dir/sock"
        : >"$dir/pg.log"
        [ "$(id -u)" = 0 ] && chown postgres "$dir/pg.log"
        as_owner "$BIN/initdb" -D "$pg" -A trust -U riskd -E UTF8 --no-sync >"$dir/initdb.log" 2>&1 ||
            {
                cat "$dir/initdb.log" >&2
                exit 1
            }
        free_port >"$dir/port"
        start
        "$BIN/psql" -q -h 127.0.0.1 -p "$(cat "$dir/port")" -U riskd -d postgres -c 'CREATE DATABASE riskd' >/dev/null
    else
        start
    fi
    url_of riskd
    ;;
restart) start ;;
stop) as_owner "$BIN/pg_ctl" -D "$pg" -m "${3:-fast}" -w stop >/dev/null ;;
createdb)
    name=${3:?a database name}
    p=$(cat "$dir/port")
    "$BIN/psql" -q -h 127.0.0.1 -p "$p" -U riskd -d postgres \
        -c "DROP DATABASE IF EXISTS \"$name\" WITH (FORCE)" -c "CREATE DATABASE \"$name\"" >/dev/null
    url_of "$name"
    ;;
url) url_of riskd ;;
psql)
    shift 2
    "$BIN/psql" -h 127.0.0.1 -p "$(cat "$dir/port")" -U riskd -d riskd "$@"
    ;;
destroy)
    if [ -f "$pg/postmaster.pid" ]; then
        as_owner "$BIN/pg_ctl" -D "$pg" -m fast -w stop >/dev/null 2>&1 || true
    fi
    rm -rf "$dir"
    ;;
*)
    echo "pg-cluster.sh: unknown command $cmd" >&2
    exit 2
    ;;
esac
