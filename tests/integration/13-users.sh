#!/usr/bin/env bash
# riskd user end to end: the first admin made at the console (its token alone on stdout), every
# later command refused without a token (exit 7) and done with one (--token-file,
# RISKD_TOKEN_FILE, RISKD_TOKEN); list, disable and enable, role, token issue and revoke, one's
# own revocation, the last admin kept; usage errors. No token's secret is ever in the database
# files nor in anything riskd wrote to stderr. (Expiry is the unit tests': --expires must be in
# the future.)
set -u
# shellcheck source=tests/integration/lib.sh
. "$(dirname "$0")/lib.sh"

D=$T/data
ERRS=$T/all-stderr # every stderr of this script's riskd runs, searched for secrets at the end
: >"$ERRS"
TOKEN_RE='^rdk_[0-9a-f]{12}_[A-Za-z0-9_-]{43}$'

u() { # riskd user ARGS...: stdout in $T/out, stderr in $T/err (and appended to $ERRS)
    "$BIN" user "$@" >"$T/out" 2>"$T/err"
    local rc=$?
    cat "$T/err" >>"$ERRS"
    return $rc
}
one_token() { # name, file: the file holds exactly one line, a token
    [ "$(wc -l <"$2")" = 1 ] && grep -qE "$TOKEN_RE" "$2"
    check "$1: exactly one line, the token" 0 $? "$TOKEN_RE" "$2"
}

# ---------------------------------------------------------------- usage
"$BIN" --help >"$T/out" 2>&1; check "riskd --help lists user" 0 $? "user +users, roles and tokens" "$T/out"
u --help; check "user --help" 0 $? "riskd user add NAME --role ROLE" "$T/out"
u; check "user without a subcommand" 2 $?
u frobnicate; check "unknown subcommand" 2 $? 'unknown subcommand "frobnicate"' "$T/err"
u add root --role admin; check "add without --data-dir" 2 $? "needs --data-dir" "$T/err"
u add root --data-dir "$D"; check "add without --role" 2 $? "needs --role" "$T/err"
u add root --role root --data-dir "$D"; check "unknown role" 2 $? 'unknown role "root"' "$T/err"
u add root --role admin --scopes admin,scroe --data-dir "$D"; check "unknown scope" 2 $? '"scroe"' "$T/err"
u add root --role admin --expires 2020-01-01 --data-dir "$D"; check "expiry in the past" 2 $? "not in the future" "$T/err"
u add root --role admin --expires soon --data-dir "$D"; check "expiry unreadable" 2 $? "expected 90d" "$T/err"
u list --role admin --data-dir "$D"; check "an option of another subcommand" 2 $? "does not take --role" "$T/err"
u role root --data-dir "$D"; check "role without ROLE" 2 $? "wrong number of arguments" "$T/err"
u list --data-dir "$T/none"; check "list: no data directory" 4 $? "none" "$T/err"
[ ! -e "$D" ]; check "refused commands create nothing" 0 $?

# ---------------------------------------------------------------- the first admin
u add alice --role engineer --data-dir "$T/other"; check "the first user must be an admin" 7 $? "must be an admin" "$T/err"
u add root --role admin --data-dir "$D"; check "first admin at the console" 0 $? "added root \(admin, the first admin\)" "$T/err"
one_token "first admin" "$T/out"
cp "$T/out" "$T/root.token"
ROOT_ID=$(cut -c5-16 "$T/root.token")
grep -q "token $ROOT_ID" "$T/err"; check "stderr names the token's id" 0 $?

u add root2 --role admin --data-dir "$D"; check "second add without a token: refused" 7 $? "admin's token" "$T/err"
[ ! -s "$T/out" ]; check "refused: nothing on stdout" 0 $?
u list --data-dir "$D"; check "list without a token: refused" 7 $? "needs a user's token" "$T/err"

# ---------------------------------------------------------------- with the admin's token
u add alice --role engineer --data-dir "$D" --token-file "$T/root.token"; check "add with --token-file" 0 $?
one_token "alice" "$T/out"
cp "$T/out" "$T/alice.token"
RISKD_TOKEN_FILE=$T/root.token u add bob --role viewer --data-dir "$D"; check "add with RISKD_TOKEN_FILE" 0 $?
one_token "bob" "$T/out"
cp "$T/out" "$T/bob.token"
RISKD_TOKEN=$(cat "$T/root.token") u add carol --role operator --scopes admin,score --data-dir "$D"
check "add with RISKD_TOKEN" 0 $?
one_token "carol" "$T/out"
cp "$T/out" "$T/carol.token"

u add dave --role viewer --data-dir "$D" --token-file "$T/alice.token"
check "an engineer may not add users" 7 $? "alice \(engineer\) may not add users: the role lacks the users permission" "$T/err"
u add alice --role viewer --data-dir "$D" --token-file "$T/root.token"; check "a name taken" 1 $? "exists" "$T/err"
u add "Bad Name" --role viewer --data-dir "$D" --token-file "$T/root.token"; check "a bad name" 1 $? "user name" "$T/err"

echo "rdk_not-a-token" >"$T/bad.token"
u list --data-dir "$D" --token-file "$T/bad.token"; check "a malformed token" 7 $? "malformed token" "$T/err"
u list --data-dir "$D" --token-file "$T/missing.token"; check "a missing token file" 4 $? "missing.token" "$T/err"
sed 's/.$/B/' "$T/root.token" >"$T/forged.token"
u list --data-dir "$D" --token-file "$T/forged.token"; check "the right id, another secret" 7 $? "wrong secret" "$T/err"

# ---------------------------------------------------------------- list
u list --data-dir "$D" --token-file "$T/root.token"; check "list" 0 $? "^alice +engineer +active +1 " "$T/out"
check "list: root made at the console" 0 0 "^root +admin +active +1 .* console$" "$T/out"
u list --json --data-dir "$D" --token-file "$T/root.token"; check "list --json" 0 $?
python3 - "$T/out" <<'P' >"$T/py" 2>&1
import json, sys
d = json.load(open(sys.argv[1]))
users = {u["name"]: u for u in d["users"]}
assert sorted(users) == ["alice", "bob", "carol", "root"], users
assert users["carol"]["role"] == "operator" and users["carol"]["created_by"] == "root", users["carol"]
assert all(u["active_tokens"] == 1 and u["disabled"] is False for u in users.values()), users
print("json ok")
P
check "list --json: the users" 0 $? "json ok" "$T/py"
u list --data-dir "$D" --token-file "$T/alice.token"; check "an engineer may not list users" 7 $? "lacks the users permission" "$T/err"

# ---------------------------------------------------------------- disable, enable, role
u tokens --data-dir "$D" --token-file "$T/bob.token"; check "one's own tokens without the users permission" 0 $? "bob" "$T/out"
u disable bob --data-dir "$D" --token-file "$T/root.token"; check "disable" 0 $? "bob is disabled" "$T/out"
u tokens --data-dir "$D" --token-file "$T/bob.token"; check "a disabled user's token is refused" 7 $? "user disabled" "$T/err"
u list --data-dir "$D" --token-file "$T/root.token"; check "list shows it disabled" 0 $? "^bob +viewer +disabled" "$T/out"
u enable bob --data-dir "$D" --token-file "$T/root.token"; check "enable" 0 $? "bob is enabled" "$T/out"
u tokens --data-dir "$D" --token-file "$T/bob.token"; check "enabled: the token works again" 0 $?
u role bob manager --data-dir "$D" --token-file "$T/root.token"; check "role" 0 $? "bob is now manager" "$T/out"
u role bob boss --data-dir "$D" --token-file "$T/root.token"; check "role: unknown role" 2 $? 'unknown role "boss"' "$T/err"
u disable root --data-dir "$D" --token-file "$T/root.token"; check "the last admin cannot be disabled" 7 $? "last active admin" "$T/err"
u role root viewer --data-dir "$D" --token-file "$T/root.token"; check "nor lose the role" 7 $? "last active admin" "$T/err"
u disable nobody --data-dir "$D" --token-file "$T/root.token"; check "disable: no such user" 1 $? 'no user "nobody"' "$T/err"

# ---------------------------------------------------------------- tokens: issue, revoke
u token alice --scopes admin,score --expires 30d --data-dir "$D" --token-file "$T/root.token"; check "token" 0 $?
one_token "token" "$T/out"
cp "$T/out" "$T/alice2.token"
ALICE2_ID=$(cut -c5-16 "$T/alice2.token")
check "token: stderr says when it expires" 0 0 "expires 20" "$T/err"
u token alice --data-dir "$D" --token-file "$T/alice.token"; check "an engineer may not issue tokens" 7 $? "may not issue tokens" "$T/err"
u tokens alice --json --data-dir "$D" --token-file "$T/root.token"; check "tokens --json" 0 $?
python3 - "$T/out" "$ALICE2_ID" <<'P' >"$T/py" 2>&1
import json, sys
d = json.load(open(sys.argv[1]))
t = {x["id"]: x for x in d["tokens"]}
assert len(t) == 2 and all(x["user"] == "alice" and x["status"] == "active" for x in t.values()), t
n = t[sys.argv[2]]
assert n["scopes"] == "admin,score" and n["expires_ms"] > n["created_ms"] and n["revoked_ms"] is None, n
assert n["created_by"] == "root", n
print("json ok")
P
check "tokens --json: both, the new one's scopes and expiry" 0 $? "json ok" "$T/py"
u tokens carol --data-dir "$D" --token-file "$T/alice.token"; check "another's tokens: refused" 7 $? "users permission" "$T/err"

u revoke "$ALICE2_ID" --data-dir "$D" --token-file "$T/root.token"; check "revoke" 0 $? "token $ALICE2_ID is revoked" "$T/out"
u tokens --data-dir "$D" --token-file "$T/alice2.token"; check "a revoked token is refused" 7 $? "revoked" "$T/err"
u revoke "$ROOT_ID" --data-dir "$D" --token-file "$T/carol.token"; check "another's token: not revoked" 7 $? "may not revoke" "$T/err"
CAROL_ID=$(cut -c5-16 "$T/carol.token")
u revoke "$CAROL_ID" --data-dir "$D" --token-file "$T/carol.token"; check "one's own token: revoked" 0 $?
u tokens --data-dir "$D" --token-file "$T/carol.token"; check "and refused from then on" 7 $? "revoked" "$T/err"
u tokens --data-dir "$D" --token-file "$T/root.token"; check "tokens: every token" 0 $? "^$CAROL_ID +carol +admin,score +revoked" "$T/out"
u revoke 000000000000 --data-dir "$D" --token-file "$T/root.token"; check "revoke: unknown id" 1 $? "no token with id" "$T/err"

# ---------------------------------------------------------------- no secret anywhere
for f in "$T"/*.token; do
    case $f in *bad.token | *forged.token) continue ;; esac
    secret=$(cut -c18- "$f")
    n=$(cat "$D"/riskd.db* | grep -c -F -- "$secret")
    check "$(basename "$f"): its secret is not in the database" 0 "$n"
    n=$(grep -c -F -- "$secret" "$ERRS")
    check "$(basename "$f"): its secret is in no stderr" 0 "$n"
done
# the store keeps the SHA-256 of the whole token
h=$(tr -d '\n' <"$T/root.token" | sha256sum | cut -d' ' -f1)
n=$(cat "$D"/riskd.db* | grep -c -F -- "$h")
[ "$n" -ge 1 ]; check "the database holds the token's SHA-256" 0 $?

echo "$pass passed, $fail failed"
[ "$fail" = 0 ]
