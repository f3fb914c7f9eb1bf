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

async function main() {
  const args = process.argv.slice(2);
  let N = 50;
  let certs = null;
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
    else { console.log(`usage: flagd_sync.mjs [--streams N] [--tls CERTDIR]\n0 passed, 1 failed`); process.exit(2); }
  }
  if (!fs.existsSync(BIN)) { console.log(`${BIN} does not exist (build it, or set RISKD_BIN)\n0 passed, 1 failed`); process.exit(1); }
  if (certs) await tlsSuite(certs);
  else await plainSuite(N);
  console.log(`${passed} passed, ${failed} failed`);
  process.exit(failed ? 1 : 0);
}
main().catch((e) => { console.log(`flagd_sync: ${e && e.stack ? e.stack : e}\n${passed} passed, ${failed + 1} failed`); process.exit(1); });
