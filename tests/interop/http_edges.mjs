#!/usr/bin/env node
// riskd's HTTP edges as Node 20's built-in fetch (undici) meets them.
//
//   node tests/interop/http_edges.mjs        (env RISKD_BIN, default <repo>/build/riskd;
//                                             HTTP_EDGES_TRIES, default 100)
//
// A body over max_body_bytes is answered 413 before it is read; riskd then reads and drops the
// rest (within linger_max_bytes and linger_timeout_ms) so the client reads the answer instead
// of a reset connection (ECONNRESET). Checked here: 8 MB POSTs to the OFREP bulk route and to
// /v1/score, TRIES sequential tries each, every one must read the 413 and its JSON error body;
// the same with a chunked body (no Content-Length: found too large while reading); 415 for a
// body that is not JSON, before it is read; a 100,000-deep body (200 KB) and a body with too many
// values answered 400 LIMIT_EXCEEDED naming the limit, on every route that parses JSON; the
// server's memory stays bounded (nothing of a dropped body is kept) and it still serves.
// Figures printed: milliseconds per 8 MB try, the server's RSS before and after, and what a
// client sees with lingering off (linger_max_bytes = 0, the behaviour before), not asserted.
//
// Each check is one test; the last line is exactly "N passed, N failed"; exit 1 on failure.
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { hasServe, startServe } from './riskd_serve.mjs';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const REPO = path.resolve(HERE, '..', '..');
const BIN = process.env.RISKD_BIN || path.join(REPO, 'build', 'riskd');
const TRIES = Number(process.env.HTTP_EDGES_TRIES || 100);
const MAX_BODY = 1000000; // riskd's default max_body_bytes
const BIG = 8 * 1024 * 1024;

let passed = 0;
let failed = 0;
async function test(name, fn) {
  try {
    await fn();
    passed++;
    console.log(`ok   ${name}`);
  } catch (e) {
    failed++;
    console.log(`FAIL ${name}: ${e && e.stack ? e.stack.split('\n').slice(0, 3).join(' | ') : e}`);
  }
}

// The error's root cause: undici wraps socket errors as TypeError('fetch failed', {cause}).
const why = (e) => (e && e.cause && (e.cause.code || e.cause.message)) || (e && (e.code || e.message)) || String(e);

// The server's resident memory now (VmRSS) or at its peak so far (VmHWM), KiB.
function memKiB(pid, what = 'VmRSS') {
  const m = new RegExp(`^${what}:\\s+(\\d+) kB`, 'm').exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) : NaN;
}

// POST body to url TRIES times in a row; every answer must be status with a JSON body that
// check() accepts. Returns the milliseconds of each try.
async function tries(url, body, headers, status, check, n = TRIES) {
  const ms = [];
  const errors = new Map();
  for (let i = 0; i < n; i++) {
    const t0 = performance.now();
    try {
      const r = await fetch(url, { method: 'POST', headers, body: body(), duplex: 'half' });
      const text = await r.text();
      assert.equal(r.status, status, `try ${i}: status ${r.status}: ${text.slice(0, 200)}`);
      check(JSON.parse(text));
    } catch (e) {
      if (e instanceof assert.AssertionError) throw e;
      errors.set(why(e), (errors.get(why(e)) || 0) + 1);
    }
    ms.push(performance.now() - t0);
  }
  if (errors.size) throw new Error(`${[...errors].map(([k, v]) => `${v}x ${k}`).join(', ')} in ${n} tries`);
  return ms;
}

const median = (v) => [...v].sort((a, b) => a - b)[Math.floor(v.length / 2)];

async function main() {
  const hs = hasServe(BIN);
  if (!hs.ok) {
    console.log(`riskd serve unavailable: ${hs.why}`);
    console.log('0 passed, 1 failed');
    process.exit(1);
  }
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'riskd-edges-'));
  const flags = path.join(dir, 'flags.json');
  fs.writeFileSync(flags, JSON.stringify({
    flags: { 'new-ui': { state: 'ENABLED', variants: { on: true, off: false }, defaultVariant: 'off' } },
  }));
  const srv = await startServe(BIN, ['--flags', flags, '--data-dir', path.join(dir, 'data'),
    '--max-json-fields', '1000', '--compat-routes']);
  const U = srv.url;
  const json = { 'Content-Type': 'application/json' };
  const big = Buffer.alloc(BIG, 0x61);
  const rss0 = memKiB(srv.pid);
  let hwm0 = 0;
  let hwm1 = 0;
  try {
    await test('the server serves before', async () => {
      const r = await fetch(`${U}/ofrep/v1/evaluate/flags`, { method: 'POST', headers: json, body: '{}' });
      assert.equal(r.status, 200);
    });

    const ofrep413 = (b) => {
      assert.equal(b.errorCode, 'GENERAL');
      assert.match(b.errorDetails, /larger than 1000000 bytes/);
    };
    const our413 = (b) => {
      assert.equal(b.error.code, 'LIMIT_EXCEEDED');
      assert.match(b.error.message, /larger than 1000000 bytes \(max_body_bytes\)/);
    };
    hwm0 = memKiB(srv.pid, 'VmHWM');
    await test(`8 MB to the OFREP bulk route, ${TRIES} tries: every one reads 413 and its body`, async () => {
      const ms = await tries(`${U}/ofrep/v1/evaluate/flags`, () => big, json, 413, ofrep413);
      console.log(`  figure: OFREP bulk 8 MB -> 413: median ${median(ms).toFixed(1)} ms, max ${Math.max(...ms).toFixed(1)} ms`);
    });
    await test(`8 MB to /v1/score, ${TRIES} tries: every one reads 413 and its body`, async () => {
      const ms = await tries(`${U}/v1/score`, () => big, json, 413, our413);
      console.log(`  figure: /v1/score 8 MB -> 413: median ${median(ms).toFixed(1)} ms, max ${Math.max(...ms).toFixed(1)} ms`);
    });
    hwm1 = memKiB(srv.pid, 'VmHWM');
    await test('8 MB to the OFREP single-flag route reads 413 with the key', async () => {
      await tries(`${U}/ofrep/v1/evaluate/flags/new-ui`, () => big, json, 413, (b) => {
        assert.equal(b.key, 'new-ui');
        ofrep413(b);
      }, 10);
    });
    // A stream body: no Content-Length, chunked; too large is found while it is read.
    const stream = () => new ReadableStream({
      start(c) {
        for (let i = 0; i < 8; i++) c.enqueue(big.subarray(i * (BIG / 8), (i + 1) * (BIG / 8)));
        c.close();
      },
    });
    await test('8 MB chunked (no Content-Length) to /v1/score, 20 tries: 413 read', async () => {
      await tries(`${U}/v1/score`, stream, json, 413, our413, 20);
    });
    await test('415 for a body that is not JSON, answered before it is read (8 MB too: 413 comes first)', async () => {
      const small = Buffer.alloc(MAX_BODY - 10, 0x61);
      await tries(`${U}/v1/score`, () => small, { 'Content-Type': 'text/plain' }, 415, (b) => {
        assert.equal(b.error.code, 'UNSUPPORTED_MEDIA_TYPE');
      }, 20);
      await tries(`${U}/v1/score`, () => big, { 'Content-Type': 'text/plain' }, 413, our413, 5);
    });

    const deep = '['.repeat(100000) + ']'.repeat(100000);
    const deepCases = [
      ['/v1/score', deep, (b) => b.error],
      ['/v1/score/batch', deep, (b) => b.error],
      ['/score', deep, (b) => b.error],
      ['/v1/outcomes', deep, (b) => b.error],
      ['/ofrep/v1/evaluate/flags', `{"context":{"a":${deep}}}`, (b) => ({ code: b.errorCode, message: b.errorDetails })],
      ['/ofrep/v1/evaluate/flags/new-ui', `{"context":{"a":${deep}}}`, (b) => ({ code: b.errorCode, message: b.errorDetails })],
    ];
    for (const [route, body, err] of deepCases) {
      await test(`a 100,000-deep body (${(body.length / 1000).toFixed(0)} KB) to ${route}: 400 naming max_json_depth`, async () => {
        const r = await fetch(`${U}${route}`, { method: 'POST', headers: json, body });
        const b = await r.json();
        assert.equal(r.status, 400);
        const e = err(b);
        assert.equal(e.code, route.startsWith('/ofrep/') ? 'INVALID_CONTEXT' : 'LIMIT_EXCEEDED');
        assert.match(e.message, /nesting too deep \(max_json_depth = 32\)/);
      });
    }
    await test('too many values (max_json_fields = 1000): 400 LIMIT_EXCEEDED naming max_json_fields', async () => {
      const many = `{"features":{${Array.from({ length: 1200 }, (_, i) => `"f${i}":1`).join(',')}}}`;
      const r = await fetch(`${U}/v1/score`, { method: 'POST', headers: json, body: many });
      const b = await r.json();
      assert.equal(r.status, 400);
      assert.equal(b.error.code, 'LIMIT_EXCEEDED');
      assert.match(b.error.message, /more than 1000 values \(max_json_fields = 1000\)/);
    });

    await test(`memory stays bounded: the peak RSS grew less than one body (8 MiB) over the ${2 * TRIES} tries`, async () => {
      const rss1 = memKiB(srv.pid);
      console.log(`  figure: server RSS ${(rss0 / 1024).toFixed(1)} MiB before, ${(rss1 / 1024).toFixed(1)} MiB after ` +
        `${2 * TRIES + 35} bodies of 8 MiB; peak ${(hwm0 / 1024).toFixed(1)} -> ${(hwm1 / 1024).toFixed(1)} MiB over ` +
        `the ${2 * TRIES} announced ones`);
      assert.ok(hwm1 - hwm0 < 8 * 1024, `the peak grew by ${((hwm1 - hwm0) / 1024).toFixed(1)} MiB`);
    });
    await test('the server still serves after all of it', async () => {
      const r = await fetch(`${U}/ofrep/v1/evaluate/flags/new-ui`, { method: 'POST', headers: json, body: '{}' });
      const b = await r.json();
      assert.equal(r.status, 200);
      assert.equal(b.value, false);
      const m = await (await fetch(`${U}/metrics`)).text();
      assert.match(m, /riskd_http_requests_total\{route="\/v1\/score",code="413"\} [1-9]/);
    });
  } finally {
    const e = await srv.stop();
    await test('the server stopped cleanly', async () => assert.deepEqual(e, { code: 0, signal: null }));
  }

  // The behaviour before, as a figure: with lingering off, the 413 is queued before the body is
  // read and the connection closed with unread data, which the kernel turns into a reset.
  const off = await startServe(BIN, ['--flags', flags, '--data-dir', path.join(dir, 'data2'), '--linger-max-bytes', '0']);
  try {
    let read = 0;
    const errors = new Map();
    for (let i = 0; i < 20; i++) {
      try {
        const r = await fetch(`${off.url}/v1/score`, { method: 'POST', headers: json, body: big });
        await r.text();
        read++;
      } catch (e) {
        errors.set(why(e), (errors.get(why(e)) || 0) + 1);
      }
    }
    console.log(`  figure: lingering off (linger_max_bytes = 0): ${read}/20 read the 413; ` +
      `${[...errors].map(([k, v]) => `${v} ${k}`).join(', ') || 'no errors'}`);
  } finally {
    const e = await off.stop();
    fs.rmSync(dir, { recursive: true, force: true });
    await test('the second server stopped cleanly', async () => assert.deepEqual(e, { code: 0, signal: null }));
  }
}

main().then(() => {
  console.log(`${passed} passed, ${failed} failed`);
  process.exit(failed ? 1 : 0);
}, (e) => {
  console.log(`FAIL ${e && e.stack ? e.stack : e}`);
  console.log(`${passed} passed, ${failed + 1} failed`);
  process.exit(1);
});
