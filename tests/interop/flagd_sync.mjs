#!/usr/bin/env node
// riskd's flagd sync service (flagd.sync.v1.FlagSyncService over gRPC) with real HTTP/2 clients.
//
//   node tests/interop/flagd_sync.mjs [--streams N] [--tls CERTDIR]
//        (env RISKD_BIN, default <repo>/build/riskd; run by tests/integration/19-sync.sh)
//
// Starts `riskd serve --sync-listen 127.0.0.1:0` with a flag file written here and drives it with
// @grpc/grpc-js (generic client, the few protobuf messages encoded and decoded by hand below: the
// wire format is the interface, and no proto loader is installed) and with node:http2 for what a
// gRPC library will not send (bad prefixes, wrong content types, a client that stops reading):
//   - FetchAllFlags returns exactly the served bytes (selector "", id, flagSetId=id, header);
//     GetMetadata answers an empty Struct, as flagd does without static context;
//   - a selector naming nothing -> NOT_FOUND naming the set served; an unknown method ->
//     UNIMPLEMENTED; malformed protobuf, bad prefixes, several or no messages -> INVALID_ARGUMENT,
//     a compressed message -> UNIMPLEMENTED, an oversized one -> RESOURCE_EXHAUSTED; not POST ->
//     405, not application/grpc -> 415; bytes that are not HTTP/2 close that connection only;
//   - SyncFlags sends the flag set at once, then every change to N concurrent streams over several
//     connections (the time from the change to the last stream is printed: SIGHUP, then the poll);
//     the stream over sync_max_streams -> RESOURCE_EXHAUSTED; a flagSetId change ends the streams
//     selecting the old id NOT_FOUND; a client that stops reading does not delay the others and
//     is dropped after connection_timeout_s;
//   - the Prometheus series; SIGTERM ends every stream with a status (UNAVAILABLE) and exit 0.
// With --tls CERTDIR (scripts/dev-certs.sh): the same server over TLS (ALPN h2), FetchAllFlags and
// SyncFlags through grpc-js with the CA, and an h2c client refused.
// With --limits: what a hostile or broken client can hold (review 15, finding 1), on a server with
// connection_timeout_s = 2, sync_max_connections = 40, drain_timeout_ms = 1500:
//   - 3,000 requests that send only a prefix declaring 64 KiB: none refused for memory (the bytes
//     are held as they arrive), each answered DEADLINE_EXCEEDED and reset after the deadline, RSS
//     growth printed and bounded;
//   - unfinished requests over 256 KiB on one connection -> RESOURCE_EXHAUSTED at once;
//   - a request refused by its headers or its prefix is answered and reset at once, before its end;
//   - the connection over sync_max_connections is closed at accept, the others keep working;
//   - a selector over 255 bytes (header or field) -> INVALID_ARGUMENT naming the limit;
//   - SIGTERM with a stalled SyncFlags client and an HTTP request in flight: /ready 503 at once,
//     the two drains run together (exit within drain_timeout_ms, not twice it).
//
// Each check is one test; the last line is exactly "N passed, N failed"; exit 1 on failure.
//
//   node tests/interop/flagd_sync.mjs --call HOST:PORT METHOD [SELECTOR]
// makes one call and prints "<gRPC status code> <details or response bytes>" (for the shell tests).
import { createRequire } from 'node:module';
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as http2 from 'node:http2';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { startServe } from './riskd_serve.mjs';

const require = createRequire(import.meta.url);
const grpc = require('@grpc/grpc-js');

const HERE = path.dirname(fileURLToPath(import.meta.url));
const REPO = path.resolve(HERE, '..', '..');
const BIN = process.env.RISKD_BIN || path.join(REPO, 'build', 'riskd');
const SVC = '/flagd.sync.v1.FlagSyncService/';

let passed = 0;
let failed = 0;
async function test(name, fn) {
  try {
    await fn();
    passed++;
    console.log(`ok   ${name}`);
  } catch (e) {
    failed++;
    console.log(`FAIL ${name}\n     ${String(e && e.message ? e.message : e).split('\n').join('\n     ')}`);
  }
}
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const now = () => Number(process.hrtime.bigint()) / 1e6;

// ---------------------------------------------------------------------------- protobuf by hand
function varint(n) {
  const out = [];
  while (n > 127) { out.push((n & 127) | 128); n = Math.floor(n / 128); }
  out.push(n);
  return Buffer.from(out);
}
function strField(no, s) {
  const b = Buffer.from(s);
  return b.length ? Buffer.concat([varint((no << 3) | 2), varint(b.length), b]) : Buffer.alloc(0);
}
// SyncFlagsRequest / FetchAllFlagsRequest: provider_id = 1, selector = 2.
const request = (selector = '', providerId = '') => Buffer.concat([strField(1, providerId), strField(2, selector)]);
// The length-delimited fields of a message: {fieldNo: [Buffer, ...]}; throws on anything else.
function fields(buf) {
  const f = {};
  let i = 0;
  const rv = () => { let n = 0; let m = 1; for (;;) { const b = buf[i++]; if (b === undefined) throw new Error('truncated varint'); n += (b & 127) * m; if (b < 128) return n; m *= 128; } };
  while (i < buf.length) {
    const tag = rv();
    if ((tag & 7) !== 2) throw new Error(`unexpected wire type ${tag & 7}`);
    const len = rv();
    if (i + len > buf.length) throw new Error('truncated field');
    (f[tag >> 3] ||= []).push(buf.subarray(i, i + len));
    i += len;
  }
  return f;
}

// ---------------------------------------------------------------------------- calls
const id = (x) => x;
function unary(client, method, body, selectorHeader) {
  const md = new grpc.Metadata();
  if (selectorHeader !== undefined) md.set('flagd-selector', selectorHeader);
  return new Promise((resolve) => {
    client.makeUnaryRequest(SVC + method, id, id, body, md, { deadline: Date.now() + 5000 }, (err, res) =>
      resolve(err ? { code: err.code, details: err.details } : { code: 0, res }));
  });
}
// A SyncFlags stream: messages (decoded flag_configuration strings) as they come, and its end.
function syncStream(client, selector = '', selectorHeader) {
  const md = new grpc.Metadata();
  if (selectorHeader !== undefined) md.set('flagd-selector', selectorHeader);
  const call = client.makeServerStreamRequest(SVC + 'SyncFlags', id, id, request(selector), md, {});
  const st = { call, msgs: [], raw: [], waiters: [], status: null };
  const wake = () => { for (const w of st.waiters.splice(0)) w(); };
  call.on('data', (d) => { st.raw.push(d); st.msgs.push(fields(d)[1]?.[0].toString() ?? ''); st.lastAt = now(); wake(); });
  call.on('status', (s) => { st.status = s; wake(); });
  call.on('error', () => {}); // the status carries it
  st.next = (n, ms = 5000) => new Promise((resolve, reject) => {
    const t = setTimeout(() => reject(new Error(`no message #${n} within ${ms} ms (got ${st.msgs.length}, status ${JSON.stringify(st.status)})`)), ms);
    const check = () => { if (st.msgs.length >= n) { clearTimeout(t); resolve(st.msgs[n - 1]); } else if (st.status) { clearTimeout(t); reject(new Error(`stream ended: ${st.status.code} ${st.status.details}`)); } else st.waiters.push(check); };
    check();
  });
  st.ended = (ms = 5000) => new Promise((resolve, reject) => {
    const t = setTimeout(() => reject(new Error(`stream did not end within ${ms} ms`)), ms);
    const check = () => { if (st.status) { clearTimeout(t); resolve(st.status); } else st.waiters.push(check); };
    check();
  });
  return st;
}

// A raw HTTP/2 request: {status (HTTP), grpcStatus, grpcMessage, body}.
function raw(addr, headers, body, { tls } = {}) {
  return new Promise((resolve, reject) => {
    const s = http2.connect(`http${tls ? 's' : ''}://${addr}`, tls || {});
    s.on('error', reject);
    const req = s.request({ ':method': 'POST', 'content-type': 'application/grpc', te: 'trailers', ...headers });
    let h = {};
    let t = {};
    const chunks = [];
    req.on('response', (x) => { h = x; });
    req.on('trailers', (x) => { t = x; });
    req.on('data', (d) => chunks.push(d));
    req.on('end', () => {
      s.close();
      const g = t['grpc-status'] ?? h['grpc-status'];
      resolve({ status: h[':status'], grpcStatus: g === undefined ? undefined : Number(g), grpcMessage: decodeURIComponent(t['grpc-message'] ?? h['grpc-message'] ?? ''), body: Buffer.concat(chunks) });
    });
    req.on('error', reject);
    req.end(body);
  });
}
const frame = (msg, flag = 0) => Buffer.concat([Buffer.from([flag, msg.length >>> 24, (msg.length >>> 16) & 255, (msg.length >>> 8) & 255, msg.length & 255]), msg]);

async function metrics(url) {
  const r = await fetch(`${url}/metrics`);
  return r.text();
}
function series(text, name) {
  const line = text.split('\n').find((l) => l.startsWith(name + ' '));
  return line === undefined ? undefined : Number(line.slice(name.length + 1));
}

// ---------------------------------------------------------------------------- the flag files
function flagSet(setId, color, padBytes = 0) {
  const doc = {
    $schema: 'https://flagd.dev/schema/v0/flags.json',
    metadata: { flagSetId: setId, version: color },
    flags: {
      'banner-color': { state: 'ENABLED', variants: { red: 'red', blue: 'blue' }, defaultVariant: color },
      'new-checkout': {
        state: 'ENABLED', variants: { on: true, off: false }, defaultVariant: 'off',
        targeting: { if: [{ in: [{ var: 'country' }, ['DE', 'FR']] }, 'on', 'off'] },
      },
    },
  };
  if (padBytes) doc.flags.padding = { state: 'ENABLED', variants: { big: 'x'.repeat(padBytes) }, defaultVariant: 'big' };
  return JSON.stringify(doc, null, 2) + '\n';
}
// Atomic replacement, as an operator's deploy would do it.
function writeFlags(file, text) {
  fs.writeFileSync(`${file}.tmp`, text);
  fs.renameSync(`${file}.tmp`, file);
}

// ---------------------------------------------------------------------------- the plain (h2c) suite
async function plainSuite(N) {
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'riskd-sync-'));
  const file = path.join(tmp, 'shop.json');
  let text = flagSet('shop', 'red');
  writeFlags(file, text);
  const srv = await startServe(BIN, ['--flags', file, '--data-dir', path.join(tmp, 'data'), '--sync-listen', '127.0.0.1:0',
    '--sync-max-streams', String(N), '--reload-interval-ms', '100', '--connection-timeout-s', '2']);
  const addr = srv.sync;
  const clients = Array.from({ length: 5 }, () => new grpc.Client(addr, grpc.credentials.createInsecure(), { 'grpc.use_local_subchannel_pool': 1 }));
  const c0 = clients[0];
  try {
    await test('"sync listening on HOST:PORT" is printed', () => assert.match(addr ?? '', /^127\.0\.0\.1:\d+$/));

    await test('FetchAllFlags returns exactly the served bytes (selector "", id, flagSetId=id, header)', async () => {
      for (const [sel, hdr] of [['', undefined], ['shop', undefined], ['flagSetId=shop', undefined], ['', 'shop'], ['', 'flagSetId=shop']]) {
        const r = await unary(c0, 'FetchAllFlags', request(sel, 'test-provider'), hdr);
        assert.equal(r.code, 0, `selector ${JSON.stringify(sel)} header ${hdr}: ${r.details}`);
        const f = fields(r.res);
        assert.deepEqual(Object.keys(f), ['1']);
        assert.ok(f[1][0].equals(Buffer.from(text)), 'flag_configuration differs from the file');
      }
    });

    await test('GetMetadata answers metadata = an empty Struct (field 2), as flagd without context values', async () => {
      const r = await unary(c0, 'GetMetadata', Buffer.alloc(0));
      assert.equal(r.code, 0, r.details);
      assert.deepEqual([...r.res], [0x12, 0x00]);
    });

    await test('a selector naming nothing -> NOT_FOUND naming the set served (FetchAllFlags, SyncFlags)', async () => {
      const r = await unary(c0, 'FetchAllFlags', request('flagSetId=other'));
      assert.equal(r.code, grpc.status.NOT_FOUND);
      assert.match(r.details, /no flag set "flagSetId=other": this server serves the flag set "shop"/);
      const st = syncStream(c0, 'other');
      const s = await st.ended();
      assert.equal(s.code, grpc.status.NOT_FOUND);
      assert.equal(st.msgs.length, 0);
    });

    await test('the flagd-selector header wins over the request field (as flagd)', async () => {
      const r = await unary(c0, 'FetchAllFlags', request('shop'), 'nope');
      assert.equal(r.code, grpc.status.NOT_FOUND);
      const ok = await unary(c0, 'FetchAllFlags', request('nope'), 'shop');
      assert.equal(ok.code, 0);
    });

    await test('an unknown method or service -> UNIMPLEMENTED', async () => {
      for (const p of [SVC + 'Watch', '/flagd.evaluation.v1.Service/ResolveBoolean', '/x']) {
        const r = await new Promise((res) => c0.makeUnaryRequest(p, id, id, Buffer.alloc(0), (err) => res(err)));
        assert.equal(r?.code, grpc.status.UNIMPLEMENTED, p);
        assert.match(r.details, /unknown method/);
      }
    });

    await test('malformed protobuf -> INVALID_ARGUMENT', async () => {
      for (const body of [Buffer.from([0x12, 0x7f, 0x41]), Buffer.from([0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01]), Buffer.from([0x0b])]) {
        const r = await unary(c0, 'FetchAllFlags', body);
        assert.equal(r.code, grpc.status.INVALID_ARGUMENT, body.toString('hex'));
      }
    });

    await test('gRPC framing errors: compressed -> UNIMPLEMENTED, bad flag / truncated / none / two -> INVALID_ARGUMENT, 1 MiB -> RESOURCE_EXHAUSTED', async () => {
      const P = { ':path': SVC + 'FetchAllFlags' };
      const cases = [
        [frame(request(), 1), 12], [frame(request(), 7), 3], [frame(request()).subarray(0, 3), 3],
        [Buffer.alloc(0), 3], [Buffer.concat([frame(request()), frame(request())]), 3],
        [Buffer.from([0, 0, 16, 0, 0]), 8], [Buffer.concat([Buffer.from([0, 0, 0, 0, 9]), Buffer.from('abc')]), 3],
      ];
      for (const [body, want] of cases) {
        const r = await raw(addr, P, body);
        assert.equal(r.status, 200);
        assert.equal(r.grpcStatus, want, `${body.subarray(0, 8).toString('hex')}: ${r.grpcMessage}`);
      }
      const ok = await raw(addr, P, frame(request('shop')));
      assert.equal(ok.grpcStatus, 0);
      assert.ok(ok.body.subarray(5).equals(Buffer.concat([Buffer.from([0x0a]), varint(Buffer.byteLength(text)), Buffer.from(text)])));
    });

    await test('not gRPC: GET -> 405, text/plain -> 415', async () => {
      const g = await raw(addr, { ':method': 'GET', ':path': SVC + 'FetchAllFlags' }, undefined);
      assert.equal(g.status, 405);
      const t = await raw(addr, { ':path': SVC + 'FetchAllFlags', 'content-type': 'text/plain' }, frame(request()));
      assert.equal(t.status, 415);
    });

    await test('bytes that are not HTTP/2 close that connection only; both ports keep serving', async () => {
      for (const junk of ['GET / HTTP/1.1\r\nHost: x\r\n\r\n', '\x00'.repeat(100), 'PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n' + '\xff'.repeat(64)]) {
        const closed = await new Promise((resolve) => {
          const [h, p] = addr.split(':');
          const s = net.connect(Number(p), h, () => s.write(Buffer.from(junk, 'latin1')));
          s.on('data', () => {});
          s.on('error', () => {});
          s.on('close', () => resolve(true));
          setTimeout(() => { s.destroy(); resolve(false); }, 4000);
        });
        assert.ok(closed, `not closed after ${JSON.stringify(junk.slice(0, 16))}`);
      }
      assert.equal((await unary(c0, 'FetchAllFlags', request())).code, 0);
      assert.equal((await fetch(`${srv.url}/health`)).status, 200);
    });

    // ---- SyncFlags: N concurrent streams over the 5 connections; 2 of them select the id
    const streams = [];
    await test(`SyncFlags: ${N} concurrent streams each get the flag set at once (bytes as served, empty sync_context)`, async () => {
      for (let i = 0; i < N; i++) streams.push(syncStream(clients[i % clients.length], i < 2 ? 'shop' : ''));
      const first = await Promise.all(streams.map((s) => s.next(1)));
      for (const m of first) assert.equal(m, text);
      const f = fields(streams[0].raw[0]);
      assert.deepEqual(f[2].map((b) => b.length), [0], 'sync_context: one empty Struct');
    });

    await test(`stream ${N + 1} -> RESOURCE_EXHAUSTED (sync_max_streams = ${N}); riskd_sync_streams = ${N}`, async () => {
      const extra = syncStream(c0);
      const s = await extra.ended();
      assert.equal(s.code, grpc.status.RESOURCE_EXHAUSTED);
      assert.match(s.details, /too many SyncFlags streams/);
      assert.equal(series(await metrics(srv.url), 'riskd_sync_streams'), N);
    });

    const change = async (color, how) => {
      text = flagSet('shop', color);
      const want = streams.map((s) => s.msgs.length + 1);
      const t0 = now();
      writeFlags(file, text);
      if (how === 'SIGHUP') process.kill(srv.pid, 'SIGHUP');
      const got = await Promise.all(streams.map((s, i) => s.next(want[i])));
      const last = Math.max(...streams.map((s) => s.lastAt)) - t0;
      for (const m of got) assert.equal(m, text);
      console.log(`     figure: change (${how}) -> last of ${N} streams: ${last.toFixed(1)} ms`);
      return last;
    };
    await test(`a change (file rewritten + SIGHUP) reaches all ${N} streams (time printed; < 1 s expected)`, async () => {
      const ms = await change('blue', 'SIGHUP');
      assert.ok(ms < 5000, `${ms} ms`);
    });
    await test(`a change picked up by the file poll (reload_interval_ms = 100) reaches all ${N} streams`, async () => {
      const ms = await change('red', 'poll');
      assert.ok(ms < 5000, `${ms} ms`);
    });

    await test('riskd_sync_pushes_total and riskd_sync_requests_total count what happened', async () => {
      const m = await metrics(srv.url);
      assert.ok(series(m, 'riskd_sync_pushes_total') >= 2 * N, m.match(/riskd_sync_pushes_total .*/)?.[0]);
      assert.ok(series(m, 'riskd_sync_requests_total{method="FetchAllFlags",code="NOT_FOUND"}') >= 2);
      assert.ok(series(m, 'riskd_sync_requests_total{method="SyncFlags",code="RESOURCE_EXHAUSTED"}') >= 1);
      assert.ok(series(m, 'riskd_sync_requests_total{method="other",code="UNIMPLEMENTED"}') >= 3);
      assert.ok(series(m, 'riskd_sync_requests_total{method="GetMetadata",code="OK"}') >= 1);
    });

    // ---- a client that stops reading: a flag set larger than HTTP/2's 64 KiB window, never read
    await test('a client that stops reading does not delay the others, and is dropped after connection_timeout_s', async () => {
      streams.pop().call.cancel(); // room for the slow one
      await sleep(200);
      text = flagSet('shop', 'blue', 3 << 20);
      const before = streams.map((s) => s.msgs.length);
      writeFlags(file, text);
      process.kill(srv.pid, 'SIGHUP');
      await Promise.all(streams.map((s, i) => s.next(before[i] + 1, 10000)));
      const slow = http2.connect(`http://${addr}`, { settings: { initialWindowSize: 65535 } });
      let slowClosed = false;
      slow.on('close', () => { slowClosed = true; });
      slow.on('error', () => {});
      const req = slow.request({ ':method': 'POST', ':path': SVC + 'SyncFlags', 'content-type': 'application/grpc', te: 'trailers' });
      req.on('error', () => {});
      req.end(frame(request()));
      req.pause(); // never read: the window stays shut once 64 KiB are in
      await sleep(300);
      const t0 = now();
      const ms = await change('red', 'SIGHUP');
      assert.ok(ms < 5000, `${ms} ms with a stalled client`);
      const deadline = t0 + 8000;
      while (!slowClosed && now() < deadline) await sleep(100);
      assert.ok(slowClosed, 'the stalled connection is still open 8 s later');
      console.log(`     figure: stalled client dropped ${(now() - t0).toFixed(0)} ms after the change (connection_timeout_s = 2)`);
      slow.destroy();
      text = flagSet('shop', 'blue'); // small again (and not the bytes in force: a change)
      const before2 = streams.map((s) => s.msgs.length);
      writeFlags(file, text);
      process.kill(srv.pid, 'SIGHUP');
      await Promise.all(streams.map((s, i) => s.next(before2[i] + 1)));
    });

    await test('a new flagSetId ends the streams selecting the old id NOT_FOUND; the others get the new set', async () => {
      text = flagSet('shop-v2', 'red');
      const before = streams.map((s) => s.msgs.length);
      writeFlags(file, text);
      process.kill(srv.pid, 'SIGHUP');
      for (const s of streams.slice(0, 2)) {
        const st = await s.ended();
        assert.equal(st.code, grpc.status.NOT_FOUND);
        assert.match(st.details, /"shop-v2"/);
      }
      for (let i = 2; i < streams.length; i++) assert.equal(await streams[i].next(before[i] + 1), text);
    });

    await test('SIGTERM ends every open stream with a status (UNAVAILABLE) and riskd exits 0', async () => {
      const open = streams.slice(2);
      const t0 = now();
      const exit = srv.stop();
      const ends = await Promise.all(open.map((s) => s.ended()));
      for (const e of ends) assert.equal(e.code, grpc.status.UNAVAILABLE, `${e.code} ${e.details}`);
      const ex = await exit;
      assert.deepEqual(ex, { code: 0, signal: null });
      console.log(`     figure: SIGTERM -> ${open.length} streams ended and exit in ${(now() - t0).toFixed(0)} ms`);
    });
  } finally {
    for (const c of clients) c.close();
    await srv.stop();
    fs.rmSync(tmp, { recursive: true, force: true });
  }
}

// ---------------------------------------------------------------------------- the limits suite
// An HTTP/2 session, resolved once the server's SETTINGS came (it was accepted), rejected when the
// server closes it first.
function session(addr, settings = {}) {
  return new Promise((resolve, reject) => {
    const s = http2.connect(`http://${addr}`, { settings });
    s.on('error', () => {});
    s.once('remoteSettings', () => resolve(s));
    s.once('close', () => reject(new Error('closed before its SETTINGS')));
  });
}
// A request that is never ended by the client (unless end): its status (headers or trailers) and
// when the stream closed (only the server can close it when the client never ends it).
function unfinished(s, headers, body, { end = false } = {}) {
  return new Promise((resolve) => {
    const t0 = now();
    const req = s.request({ ':method': 'POST', 'content-type': 'application/grpc', te: 'trailers', ...headers }, { endStream: false });
    let h = {};
    req.on('response', (x) => { h = { ...h, ...x }; });
    req.on('trailers', (x) => { h = { ...h, ...x }; });
    req.on('data', () => {});
    req.on('error', () => {});
    const t = setTimeout(() => req.close(), 6000); // not closed by the server: the test fails, not hangs
    req.on('close', () => { clearTimeout(t); resolve({ grpcStatus: h['grpc-status'] === undefined ? undefined : Number(h['grpc-status']),
      grpcMessage: decodeURIComponent(h['grpc-message'] ?? ''), status: h[':status'], ms: now() - t0 }); });
    if (end) req.end(body);
    else if (body) req.write(body);
  });
}
const prefix = (len, flag = 0) => Buffer.from([flag, len >>> 24, (len >>> 16) & 255, (len >>> 8) & 255, len & 255]);
function rssKiB(pid) {
  const m = /VmRSS:\s+(\d+)/.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) : NaN;
}

async function limitsSuite() {
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'riskd-sync-lim-'));
  const file = path.join(tmp, 'shop.json');
  writeFlags(file, flagSet('shop', 'red'));
  const srv = await startServe(BIN, ['--flags', file, '--data-dir', path.join(tmp, 'data'), '--sync-listen', '127.0.0.1:0',
    '--connection-timeout-s', '2', '--sync-max-connections', '40', '--drain-timeout-ms', '1500']);
  const addr = srv.sync;
  const P = { ':path': SVC + 'FetchAllFlags' };
  const client = new grpc.Client(addr, grpc.credentials.createInsecure());
  try {
    await test('3,000 requests sending only a 64 KiB prefix: none refused for memory, all DEADLINE_EXCEEDED after the deadline, RSS bounded', async () => {
      const rss0 = rssKiB(srv.pid);
      const sessions = await Promise.all(Array.from({ length: 30 }, () => session(addr)));
      const calls = sessions.flatMap((s) => Array.from({ length: 100 }, () => unfinished(s, P, prefix(65536))));
      await sleep(1000);
      const rss1 = rssKiB(srv.pid);
      const ends = await Promise.all(calls);
      for (const s of sessions) s.destroy();
      const ms = ends.map((e) => e.ms);
      console.log(`     figure: RSS ${rss0} KiB -> ${rss1} KiB with 3,000 requests open (+${((rss1 - rss0) / 1024).toFixed(1)} MiB; declared 187.5 MiB); answered in ${Math.min(...ms).toFixed(0)}..${Math.max(...ms).toFixed(0)} ms`);
      const codes = {};
      for (const e of ends) codes[e.grpcStatus] = (codes[e.grpcStatus] || 0) + 1;
      assert.deepEqual(codes, { 4: 3000 }, JSON.stringify(codes));
      assert.ok(Math.min(...ms) >= 1900 && Math.max(...ms) < 4500, `answered after ${Math.min(...ms)}..${Math.max(...ms)} ms`);
      assert.match(ends[0].grpcMessage, /did not end within 2 s/);
      assert.ok(rss1 - rss0 < 64 * 1024, `RSS grew ${rss1 - rss0} KiB`);
    });

    await test('unfinished requests holding over 256 KiB on one connection -> RESOURCE_EXHAUSTED at once; the rest wait for the deadline', async () => {
      const s = await session(addr);
      const body = Buffer.concat([prefix(60000), Buffer.alloc(60000, 0x41)]);
      const ends = await Promise.all(Array.from({ length: 8 }, () => unfinished(s, P, body)));
      s.destroy();
      const ex = ends.filter((e) => e.grpcStatus === 8);
      assert.ok(ex.length >= 1 && ex.length <= 5, JSON.stringify(ends.map((e) => e.grpcStatus)));
      for (const e of ex) {
        assert.match(e.grpcMessage, /more than 256 KiB on this connection/);
        assert.ok(e.ms < 1500, `${e.ms} ms`);
      }
      assert.ok(ends.filter((e) => e.grpcStatus === 4).length >= 3, JSON.stringify(ends.map((e) => e.grpcStatus)));
    });

    await test('a request refused by its headers or its prefix is answered and reset at once, before it ends', async () => {
      const s = await session(addr);
      const cases = [
        [P, prefix(10, 1), 12, /compressed/], [P, prefix(1 << 20), 8, /larger than 65536/],
        [{ ':path': SVC + 'Watch' }, prefix(10), 12, /unknown method/],
        [{ ...P, 'flagd-selector': 'x'.repeat(300) }, prefix(10), 3, /selector longer than 255 bytes/],
      ];
      for (const [h, body, code, re] of cases) {
        const e = await unfinished(s, h, body);
        assert.equal(e.grpcStatus, code, `${JSON.stringify(h).slice(0, 60)}: ${e.grpcMessage}`);
        assert.match(e.grpcMessage, re);
        assert.ok(e.ms < 1000, `closed after ${e.ms} ms`);
      }
      const t = await unfinished(s, { ...P, 'content-type': 'text/plain' }, prefix(10));
      assert.equal(t.status, 415);
      assert.ok(t.ms < 1000, `415 closed after ${t.ms} ms`);
      assert.equal((await unary(client, 'FetchAllFlags', request())).code, 0, 'the server still answers');
      s.destroy();
    });

    await test('a selector over 255 bytes (header or request field) -> INVALID_ARGUMENT naming the limit; 255 bytes is looked up', async () => {
      const long = 'flagSetId=' + 'x'.repeat(290);
      for (const [body, hdr] of [[request(long), undefined], [request(), long]]) {
        const r = await unary(client, 'FetchAllFlags', body, hdr);
        assert.equal(r.code, grpc.status.INVALID_ARGUMENT, r.details);
        assert.match(r.details, /selector longer than 255 bytes/);
      }
      const st = syncStream(client, long);
      assert.equal((await st.ended()).code, grpc.status.INVALID_ARGUMENT);
      const r = await unary(client, 'FetchAllFlags', request('x'.repeat(255))); // fits: looked up, not refused
      assert.equal(r.code, grpc.status.NOT_FOUND, r.details);
      assert.match(r.details, /^no flag set "x{200}/);
    });

    await test('connections over sync_max_connections (40) are closed at accept; the others keep working', async () => {
      await sleep(300); // the earlier tests' connections are gone (grpc-js may still hold one)
      const tries = await Promise.allSettled(Array.from({ length: 41 }, () => session(addr)));
      const held = tries.filter((t) => t.status === 'fulfilled').map((t) => t.value);
      const refused = tries.filter((t) => t.status === 'rejected');
      assert.ok(held.length >= 39 && held.length <= 40 && refused.length >= 1, `${held.length} accepted, ${refused.length} refused`);
      assert.match(String(refused[0].reason), /closed before its SETTINGS/);
      const e = await unfinished(held[0], P, frame(request()), { end: true });
      assert.equal(e.grpcStatus, 0, 'a held connection still serves');
      held.pop().destroy();
      await sleep(200);
      (await session(addr)).destroy(); // room again
      for (const s of held) s.destroy();
    });

    await test('SIGTERM with a stalled SyncFlags client and an HTTP request in flight: /ready 503 at once, both drain together, exit 0 within drain_timeout_ms (1500)', async () => {
      let stalled = null; // once the server has seen the last test's connections close
      for (let i = 0; i < 20 && !stalled; i++) stalled = await session(addr, { initialWindowSize: 0 }).catch(() => sleep(100).then(() => null));
      assert.ok(stalled, 'no connection accepted');
      const req = stalled.request({ ':method': 'POST', ':path': SVC + 'SyncFlags', 'content-type': 'application/grpc', te: 'trailers' });
      req.on('error', () => {});
      req.end(frame(request()));
      await new Promise((r) => req.once('response', r));
      // an HTTP request whose body never comes: in flight, so the HTTP drain lasts drain_timeout_ms
      const u = new URL(srv.url);
      const held = net.connect(Number(u.port), u.hostname);
      held.on('error', () => {});
      held.write('POST /ofrep/v1/evaluate/flags HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{');
      await sleep(100);
      const t0 = now();
      const exit = srv.stop();
      await sleep(150);
      const ready = await fetch(`${srv.url}/ready`).then((x) => x.status, () => 'refused');
      const ex = await exit;
      const ms = now() - t0;
      stalled.destroy();
      held.destroy();
      console.log(`     figure: SIGTERM with a stalled sync client and a request in flight: /ready ${ready} after 150 ms, exit after ${ms.toFixed(0)} ms`);
      assert.equal(ready, 503, '/ready while draining');
      assert.deepEqual(ex, { code: 0, signal: null });
      assert.ok(ms < 1500 + 700, `exit ${ms} ms after SIGTERM: the sync and HTTP drains ran one after the other`);
    });
  } finally {
    client.close();
    await srv.stop();
    fs.rmSync(tmp, { recursive: true, force: true });
  }
}

// ---------------------------------------------------------------------------- the TLS suite
async function tlsSuite(certDir) {
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'riskd-sync-tls-'));
  const file = path.join(tmp, 'shop.json');
  const text = flagSet('shop', 'red');
  writeFlags(file, text);
  const srv = await startServe(BIN, ['--flags', file, '--data-dir', path.join(tmp, 'data'), '--sync-listen', '127.0.0.1:0',
    '--tls-cert', path.join(certDir, 'server.pem'), '--tls-key', path.join(certDir, 'server.key')]);
  const ca = fs.readFileSync(path.join(certDir, 'ca.pem'));
  const client = new grpc.Client(srv.sync, grpc.credentials.createSsl(ca));
  try {
    await test('TLS: FetchAllFlags and SyncFlags through grpc-js with the CA (ALPN h2)', async () => {
      const r = await unary(client, 'FetchAllFlags', request());
      assert.equal(r.code, 0, r.details);
      assert.ok(fields(r.res)[1][0].equals(Buffer.from(text)));
      const st = syncStream(client);
      assert.equal(await st.next(1), text);
      st.call.cancel();
      const a = await new Promise((resolve, reject) => {
        const s = http2.connect(`https://${srv.sync}`, { ca });
        s.on('connect', () => { resolve(s.alpnProtocol); s.close(); });
        s.on('error', reject);
      });
      assert.equal(a, 'h2');
    });
    await test('TLS: an h2c (plain) client gets no answer from the TLS port', async () => {
      const plain = new grpc.Client(srv.sync, grpc.credentials.createInsecure());
      const r = await new Promise((res) => plain.makeUnaryRequest(SVC + 'FetchAllFlags', id, id, request(), new grpc.Metadata(),
        { deadline: Date.now() + 1500 }, (err) => res(err)));
      plain.close();
      assert.ok(r && r.code !== 0, 'a plain client was answered');
    });
  } finally {
    client.close();
    const ex = await srv.stop();
    await test('TLS: SIGTERM, exit 0', () => assert.deepEqual(ex, { code: 0, signal: null }));
    fs.rmSync(tmp, { recursive: true, force: true });
  }
}

// mtls = all (tls_client_ca set): a call needs a client certificate the CA signed; without one, or
// with one another CA signed, it is refused UNAUTHENTICATED (16), never answered with the rules.
async function mtlsSuite(certDir) {
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'riskd-sync-mtls-'));
  const file = path.join(tmp, 'shop.json');
  const text = flagSet('shop', 'red');
  writeFlags(file, text);
  const c = (f) => fs.readFileSync(path.join(certDir, f));
  const srv = await startServe(BIN, ['--flags', file, '--data-dir', path.join(tmp, 'data'), '--sync-listen', '127.0.0.1:0',
    '--tls-cert', path.join(certDir, 'server.pem'), '--tls-key', path.join(certDir, 'server.key'),
    '--tls-client-ca', path.join(certDir, 'ca.pem')]);
  const call = async (creds) => {
    const client = new grpc.Client(srv.sync, creds);
    try {
      return await unary(client, 'FetchAllFlags', request());
    } finally {
      client.close();
    }
  };
  try {
    await test('mTLS: a client certificate the CA signed gets the flag set', async () => {
      const r = await call(grpc.credentials.createSsl(c('ca.pem'), c('client.key'), c('client.pem')));
      assert.equal(r.code, 0, r.details);
      assert.ok(fields(r.res)[1][0].equals(Buffer.from(text)));
    });
    await test('mTLS: no client certificate: UNAUTHENTICATED, no flag data', async () => {
      const r = await call(grpc.credentials.createSsl(c('ca.pem')));
      assert.equal(r.code, 16, `code ${r.code}: ${r.details}`);
      assert.ok(!r.res, 'a refused call carried a message');
    });
    await test('mTLS: a certificate another CA signed: UNAUTHENTICATED', async () => {
      const r = await call(grpc.credentials.createSsl(c('ca.pem'), c('other-client.key'), c('other-client.pem')));
      assert.equal(r.code, 16, `code ${r.code}: ${r.details}`);
    });
  } finally {
    const ex = await srv.stop();
    await test('mTLS: SIGTERM, exit 0', () => assert.deepEqual(ex, { code: 0, signal: null }));
    fs.rmSync(tmp, { recursive: true, force: true });
  }
}

async function main() {
  const args = process.argv.slice(2);
  let N = 50;
  let certs = null;
  let limits = false;
  if (args[0] === '--call') {
    const c = new grpc.Client(args[1], grpc.credentials.createInsecure());
    const r = await unary(c, args[2], request(args[3] ?? ''));
    console.log(`${r.code} ${r.code ? r.details : r.res.length}`);
    c.close();
    process.exit(0);
  }
  for (let i = 0; i < args.length; i++) {
    if (args[i] === '--streams') N = Number(args[++i]);
    else if (args[i] === '--tls') certs = args[++i];
    else if (args[i] === '--limits') limits = true;
    else { console.log(`usage: flagd_sync.mjs [--streams N] [--tls CERTDIR] [--limits]\n0 passed, 1 failed`); process.exit(2); }
  }
  if (!fs.existsSync(BIN)) { console.log(`${BIN} does not exist (build it, or set RISKD_BIN)\n0 passed, 1 failed`); process.exit(1); }
  if (certs) {
    await tlsSuite(certs);
    await mtlsSuite(certs);
  }
  else if (limits) await limitsSuite();
  else await plainSuite(N);
  console.log(`${passed} passed, ${failed} failed`);
  process.exit(failed ? 1 : 0);
}
main().catch((e) => { console.log(`flagd_sync: ${e && e.stack ? e.stack : e}\n${passed} passed, ${failed + 1} failed`); process.exit(1); });
