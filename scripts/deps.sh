#!/usr/bin/env bash
# Install what riskd needs to build and test (Debian 12). Idempotent; prints nothing when
# everything is already there, and one short line per action otherwise.
#   RISKD_SKIP_DEPS=1   skip everything
set -euo pipefail
[ "${RISKD_SKIP_DEPS:-0}" = 1 ] && exit 0
cd "$(dirname "$0")/.."

PKGS=(build-essential pkg-config libcmocka-dev libxgboost-dev clang clang-format clang-tidy
    libclang-rt-14-dev llvm libmicrohttpd-dev libgnutls28-dev libsqlite3-dev sqlite3 nettle-dev openssl
    curl libcurl4-gnutls-dev git wrk python3 python3-scipy python3-statsmodels
    python3-xgboost python3-pandas python3-numpy python3-dask python3-venv python3-setuptools python3-wheel
    python3-fastapi python3-uvicorn python3-uvloop python3-httptools python3-sklearn
    chromium python3-jsonschema libnghttp2-dev libprotobuf-c-dev protobuf-c-compiler
    postgresql libpq-dev)

# A node >= 18 already on PATH (e.g. from nodesource) is kept; Debian's nodejs/npm would
# conflict with it.
node_major() { node -p 'process.versions.node.split(".")[0]' 2>/dev/null || echo 0; }
if ! command -v node >/dev/null 2>&1 || [ "$(node_major)" -lt 18 ]; then
    PKGS+=(nodejs npm)
fi

installed() { dpkg-query -W -f='${db:Status-Abbrev}' "$1" 2>/dev/null | grep -q '^ii'; }

if command -v dpkg-query >/dev/null 2>&1; then
    missing=()
    for p in "${PKGS[@]}"; do installed "$p" || missing+=("$p"); done
    if [ ${#missing[@]} -gt 0 ]; then
        SUDO=()
        if [ "$(id -u)" -ne 0 ]; then
            if command -v sudo >/dev/null 2>&1; then
                SUDO=(sudo)
            else
                echo "deps: not root and no sudo; please install: ${missing[*]}" >&2
                exit 1
            fi
        fi
        APT=("${SUDO[@]}" env DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=300 -q)
        log=$(mktemp)
        trap 'rm -f "$log"' EXIT
        echo "deps: apt-get update"
        if ! "${APT[@]}" update >"$log" 2>&1; then
            tail -n 20 "$log" >&2
            echo "deps: apt-get update failed" >&2
            exit 1
        fi
        echo "deps: apt-get install ${missing[*]}"
        if ! "${APT[@]}" install -y --no-install-recommends "${missing[@]}" >"$log" 2>&1; then
            tail -n 20 "$log" >&2
            echo "deps: apt-get install failed" >&2
            exit 1
        fi
    fi
else
    echo "deps: dpkg-query not found (not Debian?); make sure these are installed: ${PKGS[*]}" >&2
fi

# The interop tests' npm packages (tests/interop/package-lock.json).
# npm packages, from the registry by their lockfiles: the tests' real clients (tests/interop)
# and the console's build tools (console/: esbuild and uPlot, bundled into the binary at build
# time; nothing of them runs at run time). esbuild's install script only checks its binary,
# which npm already placed: the console's install runs without scripts.
npm_ci() { # DIR [npm options]
    local dir=$1 log
    shift
    [ -f "$dir/package-lock.json" ] || return 0
    if [ -d "$dir/node_modules" ] && [ ! "$dir/package-lock.json" -nt "$dir/node_modules" ] &&
        [ ! "$dir/package.json" -nt "$dir/node_modules" ]; then
        return 0
    fi
    if ! command -v npm >/dev/null 2>&1; then
        echo "deps: npm not found; cannot install $dir/node_modules" >&2
        exit 1
    fi
    log=$(mktemp)
    echo "deps: npm ci in $dir"
    if ! (cd "$dir" && npm ci --no-audit --no-fund --loglevel=error "$@") >"$log" 2>&1; then
        echo "deps: npm ci failed; npm install in $dir"
        if ! (cd "$dir" && npm install --no-audit --no-fund --loglevel=error "$@") >"$log" 2>&1; then
            tail -n 20 "$log" >&2
            rm -f "$log"
            echo "deps: npm install failed" >&2
            exit 1
        fi
    fi
    rm -f "$log"
    touch "$dir/node_modules" # npm install may leave the directory's mtime alone
}
npm_ci tests/interop
npm_ci console --ignore-scripts
