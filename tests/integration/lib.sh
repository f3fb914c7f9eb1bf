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
