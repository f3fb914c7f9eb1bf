#!/usr/bin/python3
"""A notification receiver for the tests (tests/integration/29-notify.sh, scripts/notify-drill.sh).

Stands in for a webhook endpoint, Slack, a WeCom group robot and Alertmanager on 127.0.0.1.
Standard library only.

  notify_receiver.py --log FILE [--port 0 --port-file F | --port N] [--delay-first-s S]

--port 0 takes a port the kernel picks and writes it to --port-file (whole, by a rename, so a
reader never sees half of it); --port N binds N again (address reuse on), for a receiver
restarted after an outage on the port riskd's sinks already name.

Every request is appended to --log as one JSON line as soon as it is received (before the
answer; flushed and fsynced, so a kill -9 of riskd right after cannot lose it):
  {"seq", "time", "unix", "method", "path", "query", "headers": {the X-Riskd-* ones,
   Idempotency-Key, Content-Type, User-Agent}, "body_b64", "status", "delay_s"}
"path" has no query string; "query" holds it (a WeCom URL's key: the log is the test's own).

Answers by path (query ignored):
  /hook               200, empty
  /slack              200 "ok"
  /slack-busy         429 with Retry-After: 1 for the first two requests, then 200 "ok"
  /wecom              200 {"errcode":0,"errmsg":"ok"}
  /wecom-busy         200 errcode 45009 for the first two requests, then errcode 0
  /am/api/v2/alerts   200, empty
  /gone               404
  /fail500            500
  anything else       404
--delay-first-s S holds the answer to the very first request S seconds (after logging it): the
window in which a test kills riskd mid-delivery, with no hook in riskd.

SIGTERM and SIGINT stop it cleanly (exit 0).
"""
import argparse
import base64
import datetime
import json
import os
import signal
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

WECOM_OK = b'{"errcode":0,"errmsg":"ok"}'
WECOM_BUSY = b'{"errcode":45009,"errmsg":"api freq out of limit"}'
KEPT_HEADERS = ("idempotency-key", "content-type", "user-agent")
BUSY_TIMES = 2  # how many times a -busy path refuses before it accepts


class State:
    """What the handler threads share: the log file, the request counters, the first delay."""

    def __init__(self, log_path, delay_first_s):
        self.lock = threading.Lock()
        self.log = open(log_path, "ab")
        self.seq = 0
        self.per_path = {}
        self.delay_first_s = delay_first_s

    def record(self, entry_fn, path):
        """Number the request, count it for its path and append its line; returns (seq, nth of
        its path, delay). One lock: lines are whole and in arrival order."""
        with self.lock:
            self.seq += 1
            nth = self.per_path.get(path, 0) + 1
            self.per_path[path] = nth
            delay = self.delay_first_s if self.seq == 1 else 0.0
            line = json.dumps(entry_fn(self.seq, nth, delay), sort_keys=True).encode() + b"\n"
            self.log.write(line)
            self.log.flush()
            os.fsync(self.log.fileno())
            return self.seq, nth, delay


def answer_for(path, nth):
    """(status, body, extra headers) for the nth request (from 1) to path."""
    if path == "/hook" or path == "/am/api/v2/alerts":
        return 200, b"", []
    if path == "/slack":
        return 200, b"ok", []
    if path == "/slack-busy":
        if nth <= BUSY_TIMES:
            return 429, b"rate_limited", [("Retry-After", "1")]
        return 200, b"ok", []
    if path == "/wecom":
        return 200, WECOM_OK, []
    if path == "/wecom-busy":
        return 200, WECOM_BUSY if nth <= BUSY_TIMES else WECOM_OK, []
    if path == "/fail500":
        return 500, b"internal error", []
    return 404, b"not found", []


def now_rfc3339(t):
    return datetime.datetime.fromtimestamp(t, datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, as libcurl's easy handle reuses connections
    # the headers and the body go out in two writes: without this, Nagle and the client's delayed
    # ACK add 40 ms to every answer with a body
    disable_nagle_algorithm = True

    def version_string(self):
        return "notify-receiver"

    def log_message(self, fmt, *args):  # the JSON log is the record; stderr stays quiet
        pass

    def read_body(self):
        if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
            out = b""
            while True:
                size = int(self.rfile.readline().split(b";")[0].strip() or b"0", 16)
                if size == 0:
                    while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                        pass  # trailers
                    return out
                out += self.rfile.read(size)
                self.rfile.readline()
        n = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(n) if n > 0 else b""

    def handle_any(self):
        body = self.read_body()
        path, _, query = self.path.partition("?")
        t = time.time()
        headers = {}
        for k, v in self.headers.items():
            if k.lower().startswith("x-riskd-") or k.lower() in KEPT_HEADERS:
                headers[k] = v

        def entry(seq, nth, delay):
            status = answer_for(path, nth)[0]
            return {"seq": seq, "time": now_rfc3339(t), "unix": round(t, 3), "method": self.command,
                    "path": path, "query": query, "headers": headers,
                    "body_b64": base64.b64encode(body).decode(), "status": status, "delay_s": delay}

        _, nth, delay = self.server.state.record(entry, path)
        if delay > 0:
            time.sleep(delay)
        status, out, extra = answer_for(path, nth)
        self.send_response(status)
        ctype = "application/json" if out.startswith(b"{") else "text/plain; charset=utf-8"
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(out)))
        for k, v in extra:
            self.send_header(k, v)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(out)

    do_POST = do_GET = do_PUT = do_HEAD = do_DELETE = handle_any


class Server(ThreadingHTTPServer):
    allow_reuse_address = True
    daemon_threads = True  # a delayed answer does not hold the exit


def write_port_file(path, port):
    tmp = path + ".tmp"
    with open(tmp, "w") as f:
        f.write("%d\n" % port)
    os.replace(tmp, path)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter, epilog=__doc__)
    ap.add_argument("--log", required=True, help="JSON lines, one per request (appended)")
    ap.add_argument("--port", type=int, default=0, help="0: the kernel picks (see --port-file)")
    ap.add_argument("--port-file", help="where the bound port is written")
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--delay-first-s", type=float, default=0.0, help="hold the first answer this long")
    a = ap.parse_args()
    if a.port == 0 and not a.port_file:
        ap.error("--port 0 needs --port-file")
    try:
        httpd = Server((a.host, a.port), Handler)
    except OSError as e:
        print("notify_receiver: cannot bind %s:%d: %s" % (a.host, a.port, e.strerror), file=sys.stderr)
        return 1
    httpd.state = State(a.log, a.delay_first_s)
    if a.port_file:
        write_port_file(a.port_file, httpd.server_address[1])

    def stop(signum, frame):
        # shutdown() waits for serve_forever to return, so it cannot run on this (the main) thread
        threading.Thread(target=httpd.shutdown, daemon=True).start()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    httpd.serve_forever(poll_interval=0.1)
    httpd.server_close()
    httpd.state.log.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
