#!/usr/bin/env python3
"""Two nodes, one store: governance writes racing each other (tests/integration/24-governance-race.sh).

For --seconds, rounds of: mgr1 proposes a change on node A; then at once, on both nodes,
mgr2 approves it twice (once per node), mgr3 approves it, mgr1 tries to approve it (the author),
and mgr1 edits it (a new revision clears the approvals). Meanwhile a third thread issues and
revokes tokens (audit entries on their own). Afterwards every change is read back and checked:

  - the author never appears among the approvers;
  - no user approves a revision twice;
  - every approval is of the change's current revision;
  - state "approved" only with at least the required approvals (2) of the current revision,
    "proposed" with fewer;
  - every answer was one of the expected ones (201/200, 403 for the author, 409 for a race
    lost to another writer), never a 500.

Prints one line per violation and a summary "N rounds, K answers: ..."; exit 1 on any violation.
"""
import argparse
import json
import threading
import time
import urllib.request
import urllib.error


def call(url, method, path, token, body=None):
    data = json.dumps(body if body is not None else {}).encode()
    req = urllib.request.Request(url + path, data=data if method != "GET" else None, method=method)
    req.add_header("Authorization", "Bearer " + token)
    req.add_header("Content-Type", "application/json")
    try:
        with urllib.request.urlopen(req, timeout=30) as r:
            return r.status, json.loads(r.read() or b"null")
    except urllib.error.HTTPError as e:
        try:
            return e.code, json.loads(e.read() or b"null")
        except ValueError:
            return e.code, None


def flags(v):
    return json.dumps({"flags": {"greet": {"state": "ENABLED", "variants": {"hi": "hello", "bye": "goodbye", "yo": "hey"},
                                           "defaultVariant": v}}})


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--nodes", nargs=2, required=True)
    ap.add_argument("--tokens", required=True, help="dir with mgr1.tok mgr2.tok mgr3.tok admin.tok")
    ap.add_argument("--seconds", type=float, default=3)
    a = ap.parse_args()
    tok = {u: open(f"{a.tokens}/{u}.tok").read().strip() for u in ("mgr1", "mgr2", "mgr3", "admin")}
    n1, n2 = a.nodes
    bad, answers, ids = [], [0], []
    lock = threading.Lock()

    def expect(what, st, ok):
        with lock:
            answers[0] += 1
            if st not in ok:
                bad.append(f"{what}: HTTP {st}, expected one of {sorted(ok)}")

    stop = threading.Event()

    def tokens():  # audit entries of their own, racing the changes' entries
        while not stop.is_set():
            st, j = call(n2, "POST", "/v1/admin/users/mgr3/tokens", tok["admin"], {"scopes": "admin"})
            expect("issue a token", st, {201})
            if st == 201 and j:
                st, _ = call(n1, "POST", f"/v1/admin/tokens/{j['id']}/revoke", tok["admin"])
                expect("revoke a token", st, {200})

    t = threading.Thread(target=tokens)
    t.start()
    end = time.time() + a.seconds
    rounds = 0
    variants = ["bye", "yo", "hi"]
    while time.time() < end:
        rounds += 1
        st, j = call(n1 if rounds % 2 else n2, "POST", "/v1/admin/changes", tok["mgr1"],
                     {"kind": "flags", "target": "store", "payload": flags(variants[rounds % 3]), "title": f"r{rounds}"})
        expect("propose", st, {201})
        if st != 201:
            continue
        cid = j["id"]
        ids.append(cid)
        acts = [
            ("mgr2 approves on node 1", n1, "POST", f"/v1/admin/changes/{cid}/approve", "mgr2", {}, {200, 409}),
            ("mgr2 approves on node 2", n2, "POST", f"/v1/admin/changes/{cid}/approve", "mgr2", {}, {200, 409}),
            ("mgr3 approves", n2, "POST", f"/v1/admin/changes/{cid}/approve", "mgr3", {}, {200, 409}),
            ("the author approves", n1, "POST", f"/v1/admin/changes/{cid}/approve", "mgr1", {}, {403, 409}),
            ("the author edits", n2, "PUT", f"/v1/admin/changes/{cid}", "mgr1",
             {"payload": flags(variants[(rounds + 1) % 3])}, {200, 409}),
        ]
        ts = [threading.Thread(target=lambda x=x: expect(x[0], call(x[1], x[2], x[3], tok[x[4]], x[5])[0], x[6]))
              for x in acts]
        for x in ts:
            x.start()
        for x in ts:
            x.join()
    stop.set()
    t.join()
    states = {}
    for cid in ids:
        st, c = call(n1, "GET", f"/v1/admin/changes/{cid}", tok["mgr1"])
        if st == 200:
            states[c["state"]] = states.get(c["state"], 0) + 1
        if st != 200:
            bad.append(f"change {cid}: read back HTTP {st}")
            continue
        users = [x["user"] for x in c["approvals"]]
        if c["author"] in users:
            bad.append(f"change {cid}: its author {c['author']} approved it")
        if len(users) != len(set(users)):
            bad.append(f"change {cid}: an approver twice: {users}")
        if any(x["revision"] != c["revision"] for x in c["approvals"]):
            bad.append(f"change {cid}: an approval of another revision than {c['revision']}: {c['approvals']}")
        need = c["approvals_required"]
        if c["state"] == "approved" and len(users) < need:
            bad.append(f"change {cid}: approved with {len(users)} of {need}")
        if c["state"] == "proposed" and len(users) >= need:
            bad.append(f"change {cid}: still proposed with {len(users)} of {need}")
    for b in bad:
        print("VIOLATION:", b)
    print(f"{rounds} rounds, {answers[0]} answers, {len(ids)} changes checked ({states}), {len(bad)} violations")
    if len(states) < 2:  # the race must be real: some changes end approved, others proposed again
        print("VIOLATION: every change ended in one state: the race did not happen")
        return 1
    return 1 if bad else 0


if __name__ == "__main__":
    raise SystemExit(main())
