#!/usr/bin/env node
// riskd's OFREP in a real browser: headless Chromium (Debian's /usr/bin/chromium, driven by
// playwright-core) loads a page from ANOTHER origin (a Node http server here, on its own
// port) whose script, bundled here by esbuild, runs @openfeature/web-sdk 1.10.0 with
// @openfeature/ofrep-web-provider 0.4.3 against `riskd serve` (cors_origins naming the page's
// origin). Checked:
//   - CORS: the preflight from the page's origin (204, methods, headers, max-age), the
//     answers' Access-Control-Allow-Origin and Expose-Headers: ETag;
//   - the page evaluates every flag type (boolean, string, integer, float, object; targeting
//     rules on the context) exactly as riskd answers POST /ofrep/v1/evaluate/flags with the
//     same context from Node, for two contexts (the second through setContext);
//   - change events without polling: the provider (pollInterval 0, changeDetection 'sse')
//     opens the advertised stream; the flag file is rewritten and riskd sent SIGHUP; the page
//     gets PROVIDER_CONFIGURATION_CHANGED and the new value; the page's requests show no
//     polling (none in an idle window, exactly one bulk re-fetch after the event, carrying the
//     event's flagConfigEtag); a plain EventSource beside it receives the refetchEvaluation
//     event (etag = quoted SHA-256 of the flag file, lastModified in seconds). The time from
//     the file write to the page holding the new value is printed (target under 1 s; only a
//     10 s hang bound is asserted);
//   - a disallowed origin (a second riskd whose cors_origins leave the page out): the
//     preflight answers 403 CORS_ORIGIN_DENIED, a plain answer has no Allow-Origin, and in the
//     page the provider ends in ERROR with evaluations falling back to their defaults.
//
//   node tests/interop/browser_ofrep.mjs     (env RISKD_BIN, default <repo>/build/riskd;
//                                             RISKD_CHROMIUM, default /usr/bin/chromium)
// Without Chromium it prints "skipped: chromium not installed" and counts every case skipped.
// The last line is "N passed, N failed, N skipped"; exit 1 on failure.
import { createRequire } from 'node:module';
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as http from 'node:http';
import * as os from 'node:os';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { hasServe, startServe } from './riskd_serve.mjs';

const require = createRequire(import.meta.url);
const HERE = path.dirname(fileURLToPath(import.meta.url));
const REPO = path.resolve(HERE, '..', '..');
const BIN = process.env.RISKD_BIN || path.join(REPO, 'build', 'riskd');
const CHROMIUM = process.env.RISKD_CHROMIUM || '/usr/bin/chromium';
const CASES = 11; // every test() below, counted skipped when Chromium is absent
const HANG_MS = 10000; // a hang bound, ten times the 1 s target: never a timing assertion

let passed = 0;
let failed = 0;
let skipped = 0;
function finish() {
  console.log(`${passed} passed, ${failed} failed, ${skipped} skipped`);
  process.exit(failed ? 1 : 0);
}
async function test(name, fn) {
  const t = Date.now();
  try {
    await fn();
    passed++;
    console.log(`ok   ${name} (${Date.now() - t} ms)`);
  } catch (e) {
    failed++;
    console.log(`FAIL ${name}\n     ${String(e && e.message ? e.message : e).split('\n').join('\n     ')}`);
  }
}

// ---------------------------------------------------------------------------- the flag set
const DARK = { theme: 'dark', columns: 3, beta: true, limits: { daily: 500 } };
const LIGHT = { theme: 'light', columns: 2, beta: false };
function flagSet(banner) {
  return {
    $schema: 'https://flagd.dev/schema/v0/flags.json',
    metadata: { flagSetId: 'browser-test', version: '1' },
    flags: {
      'new-ui': {
        state: 'ENABLED', variants: { on: true, off: false }, defaultVariant: 'off',
        targeting: { if: [{ in: [{ var: 'tier' }, ['gold', 'platinum']] }, 'on', 'off'] },
      },
      greeting: {
        state: 'ENABLED', variants: { admin: 'Hello, admin', guest: 'Welcome' }, defaultVariant: 'guest',
        targeting: { if: [{ starts_with: [{ var: 'email' }, 'admin@'] }, 'admin', null] },
      },
      'max-items': {
        state: 'ENABLED', variants: { small: 10, medium: 50, large: 100 }, defaultVariant: 'small',
        targeting: { if: [{ '>=': [{ var: 'age' }, 65] }, 'large', { '>=': [{ var: 'age' }, 30] }, 'medium', 'small'] },
      },
      discount: {
        state: 'ENABLED', variants: { none: 0, some: 0.15, more: 0.275 }, defaultVariant: 'none',
        targeting: { if: [{ '==': [{ var: 'country' }, 'DE'] }, 'more', { '==': [{ var: 'country' }, 'FR'] }, 'some', null] },
      },
      'ui-config': {
        state: 'ENABLED', variants: { dark: DARK, light: LIGHT }, defaultVariant: 'light',
        targeting: { if: [{ '==': [{ var: 'beta' }, true] }, 'dark', 'light'] },
      },
      banner: { // the flag the server changes: no targeting, its default variant flips
        state: 'ENABLED', variants: { spring: 'Spring sale', summer: 'Summer sale' }, defaultVariant: banner,
      },
    },
  };
}
const SPECS = [
  { key: 'new-ui', type: 'boolean', def: false },
  { key: 'greeting', type: 'string', def: 'default' },
  { key: 'max-items', type: 'number', def: -1 },
  { key: 'discount', type: 'number', def: -1 },
  { key: 'ui-config', type: 'object', def: {} },
  { key: 'banner', type: 'string', def: 'default' },
];
const CTX_A = { targetingKey: 'user-a', tier: 'gold', email: 'admin@bank.com', age: 70, country: 'DE', beta: true };
const CTX_B = { targetingKey: 'user-b', tier: 'silver', email: 'bob@example.com', age: 40, country: 'FR', beta: false };
// By hand from the flag set: the targeting rules must tell the two contexts apart.
const HAND_A = { 'new-ui': true, greeting: 'Hello, admin', 'max-items': 100, discount: 0.275, 'ui-config': DARK, banner: 'Spring sale' };
const HAND_B = { 'new-ui': false, greeting: 'Welcome', 'max-items': 50, discount: 0.15, 'ui-config': LIGHT, banner: 'Spring sale' };

const sha256 = (s) => createHash('sha256').update(s).digest('hex');
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

// riskd's own answers: the bulk evaluation from Node, with the same context.
async function riskdBulk(url, context) {
  const r = await fetch(`${url}/ofrep/v1/evaluate/flags`, {
    method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify({ context }),
  });
  assert.equal(r.status, 200, `riskd bulk evaluation: HTTP ${r.status}`);
  return r.json();
}

// The page's answers against riskd's and the hand-written values, flag by flag.
function compare(page, bulk, hand) {
  const byKey = new Map(bulk.flags.map((f) => [f.key, f]));
  const diffs = [];
  for (const p of page) {
    const want = byKey.get(p.key);
    if (!want) { diffs.push(`${p.key}: not in riskd's answer`); continue; }
    try { assert.deepEqual(p.value, want.value); } catch { diffs.push(`${p.key}: page ${JSON.stringify(p.value)} riskd ${JSON.stringify(want.value)}`); }
    if (p.variant !== want.variant) diffs.push(`${p.key}: variant page ${p.variant} riskd ${want.variant}`);
    if (p.reason !== want.reason) diffs.push(`${p.key}: reason page ${p.reason} riskd ${want.reason}`);
    if (p.errorCode) diffs.push(`${p.key}: page error ${p.errorCode}`);
    try { assert.deepEqual(p.value, hand[p.key]); } catch { diffs.push(`${p.key}: ${JSON.stringify(p.value)}, by hand ${JSON.stringify(hand[p.key])}`); }
  }
  assert.equal(page.length, SPECS.length);
  assert.deepEqual(diffs, [], diffs.join('\n'));
}

// The page's origin: a Node http server serving the HTML and the bundle.
function servePage(bundle) {
  const html = '<!doctype html><html><head><meta charset="utf-8"><title>riskd OFREP</title></head>' +
    '<body><p>riskd OFREP browser test</p><script src="/page.js"></script></body></html>';
  const server = http.createServer((req, res) => {
    if (req.url === '/') {
      res.writeHead(200, { 'Content-Type': 'text/html; charset=utf-8' });
      res.end(html);
    } else if (req.url === '/page.js') {
      res.writeHead(200, { 'Content-Type': 'text/javascript; charset=utf-8' });
      res.end(bundle);
    } else {
      res.writeHead(404);
      res.end();
    }
  });
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve(server)));
}

// A page with the bundle; every request it makes to `target` is recorded.
async function openPage(browser, origin, target) {
  const ctx = await browser.newContext();
  const page = await ctx.newPage();
  const requests = [];
  const errors = [];
  page.on('request', (r) => {
    if (r.url().startsWith(target)) requests.push({ t: Date.now(), method: r.method(), url: r.url(), type: r.resourceType() });
  });
  page.on('pageerror', (e) => errors.push(String(e)));
  await page.goto(`${origin}/`);
  await page.waitForFunction(() => !!window.ofrep, null, { timeout: HANG_MS });
  return { ctx, page, requests, errors };
}

const pageLogs = async (page) => (await page.evaluate(() => window.ofrep.logs)).slice(-10).join('\n');

async function main() {
  if (!fs.existsSync(CHROMIUM)) {
    console.log('skipped: chromium not installed');
    skipped += CASES;
    finish();
  }
  const serve = hasServe(BIN);
  if (!serve.ok) {
    console.log(`FAIL riskd serve unavailable: ${serve.why}`);
    failed++;
    finish();
  }
  const help = `${spawnSync(BIN, ['serve', '--help'], { encoding: 'utf8' }).stdout}`;
  if (!/--cors-origins/.test(help)) {
    console.log(`FAIL ${BIN} has no --cors-origins option (CORS is not in this build)`);
    failed++;
    finish();
  }

  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'riskd-browser-ofrep-'));
  const flagsFile = path.join(tmp, 'flags.json');
  fs.writeFileSync(flagsFile, `${JSON.stringify(flagSet('spring'), null, 2)}\n`);
  let browser = null;
  let pageServer = null;
  let srv = null;
  let denied = null;
  try {
    // ------------------------------------------------------------ the page's bundle
    let bundle = '';
    await test('esbuild bundles the page: @openfeature/web-sdk 1.10.0 + @openfeature/ofrep-web-provider 0.4.3', async () => {
      const esbuild = require('esbuild');
      const pkg = (name) => JSON.parse(fs.readFileSync(path.join(HERE, 'node_modules', name, 'package.json'), 'utf8'));
      const web = pkg('@openfeature/web-sdk');
      const prov = pkg('@openfeature/ofrep-web-provider');
      assert.equal(web.version, '1.10.0');
      assert.equal(prov.version, '0.4.3');
      const out = await esbuild.build({
        entryPoints: [path.join(HERE, 'browser', 'ofrep_page.js')], bundle: true, write: false,
        format: 'iife', platform: 'browser', target: 'chrome110', logLevel: 'silent',
      });
      bundle = out.outputFiles[0].text;
      assert.ok(bundle.includes('OFREPWebProvider') || bundle.includes('refetchEvaluation'), 'the provider is not in the bundle');
      console.log(`     bundle: ${(bundle.length / 1024).toFixed(0)} KiB`);
    });
    if (!bundle) throw new Error('no page bundle: the browser cases cannot run');
    pageServer = await servePage(bundle);
    const origin = `http://127.0.0.1:${pageServer.address().port}`;

    srv = await startServe(BIN, ['--flags', flagsFile, '--data-dir', path.join(tmp, 'data'), '--cors-origins', origin]);
    // the second riskd allows another origin only: the page's is refused
    denied = await startServe(BIN, ['--flags', flagsFile, '--data-dir', path.join(tmp, 'data-denied'),
      '--cors-origins', 'http://allowed.example']);
    console.log(`     page origin ${origin}; riskd ${srv.url} (cors_origins = page), ${denied.url} (cors_origins = http://allowed.example)`);

    await test('CORS from Node: the preflight from the page\'s origin, Allow-Origin and Expose-Headers: ETag on the answer', async () => {
      const pre = await fetch(`${srv.url}/ofrep/v1/evaluate/flags`, {
        method: 'OPTIONS',
        headers: { Origin: origin, 'Access-Control-Request-Method': 'POST', 'Access-Control-Request-Headers': 'content-type,if-none-match' },
      });
      assert.equal(pre.status, 204, `preflight: HTTP ${pre.status}`);
      assert.equal(pre.headers.get('access-control-allow-origin'), origin);
      assert.match(pre.headers.get('access-control-allow-methods') || '', /POST/);
      const allowHeaders = (pre.headers.get('access-control-allow-headers') || '').toLowerCase();
      for (const h of ['content-type', 'authorization', 'if-none-match']) assert.ok(allowHeaders.includes(h), `Allow-Headers lacks ${h}: ${allowHeaders}`);
      assert.match(pre.headers.get('access-control-max-age') || '', /^\d+$/);
      const r = await fetch(`${srv.url}/ofrep/v1/evaluate/flags`, {
        method: 'POST', headers: { Origin: origin, 'Content-Type': 'application/json' }, body: JSON.stringify({ context: CTX_A }),
      });
      assert.equal(r.status, 200);
      assert.equal(r.headers.get('access-control-allow-origin'), origin);
      assert.match((r.headers.get('access-control-expose-headers') || '').toLowerCase(), /etag/);
      assert.match(r.headers.get('vary') || '', /origin/i);
      const body = await r.json();
      const es = (body.eventStreams || []).find((s) => s.type === 'sse');
      assert.ok(es, `the bulk answer advertises no SSE stream: ${JSON.stringify(body.eventStreams)}`);
      assert.equal(es.endpoint?.requestUri, '/ofrep/v1/events');
    });

    const { chromium } = await import('playwright-core');
    browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox'] });
    const pg = await openPage(browser, origin, srv.url);
    const { page, requests } = pg;

    await test('the page (another origin) evaluates every flag type as riskd does, context A', async () => {
      const st = await page.evaluate(([u, c]) => window.ofrep.start(u, c), [srv.url, CTX_A]);
      assert.equal(st.status, 'READY', `provider: ${JSON.stringify(st)}\n${await pageLogs(page)}`);
      const got = await page.evaluate((s) => window.ofrep.evaluate(s), SPECS);
      compare(got, await riskdBulk(srv.url, CTX_A), HAND_A);
    });

    await test('after setContext(B) the page evaluates as riskd does with B (the targeting rules follow the context)', async () => {
      await page.evaluate((c) => window.ofrep.setContext(c), CTX_B);
      const got = await page.evaluate((s) => window.ofrep.evaluate(s), SPECS);
      compare(got, await riskdBulk(srv.url, CTX_B), HAND_B);
    });

    await test('the provider follows the advertised stream: one EventSource on GET /ofrep/v1/events', async () => {
      const streams = requests.filter((r) => r.type === 'eventsource');
      assert.equal(streams.length, 1, `event streams opened: ${JSON.stringify(streams)}`);
      assert.equal(new URL(streams[0].url).pathname, '/ofrep/v1/events');
      assert.equal(streams[0].method, 'GET');
    });

    // A plain EventSource beside the provider's, to read the event itself.
    const es = await page.evaluate((u) => window.ofrep.watchStream(`${u}/ofrep/v1/events`), srv.url);
    await page.evaluate(() => window.ofrep.watch('banner', 'default'));
    // An idle window: a polling provider would fetch here; this one must not.
    const idleFrom = requests.length;
    await sleep(1500);
    const idle = requests.slice(idleFrom).filter((r) => r.method !== 'OPTIONS');
    const before = requests.length;
    const changedBefore = (await page.evaluate(() => window.ofrep.events)).filter((e) => e.type === 'changed').length;

    const newText = `${JSON.stringify(flagSet('summer'), null, 2)}\n`;
    const t0 = Date.now();
    fs.writeFileSync(`${flagsFile}.tmp`, newText);
    fs.renameSync(`${flagsFile}.tmp`, flagsFile);
    process.kill(srv.pid, 'SIGHUP');

    let changed = null;
    await test('a flag change reaches the page: PROVIDER_CONFIGURATION_CHANGED with the new value, the page answers as riskd', async () => {
      try {
        await page.waitForFunction((n) => window.ofrep.events.filter((e) => e.type === 'changed' && e.watched === 'Summer sale').length > 0 &&
          window.ofrep.events.filter((e) => e.type === 'changed').length > n, changedBefore, { timeout: HANG_MS });
      } catch (e) {
        throw new Error(`no CONFIGURATION_CHANGED with the new value within ${HANG_MS} ms: ${JSON.stringify(await page.evaluate(() => window.ofrep.events))}\n${await pageLogs(page)}`);
      }
      const evs = await page.evaluate(() => window.ofrep.events);
      changed = evs.find((e) => e.type === 'changed' && e.watched === 'Summer sale');
      assert.ok(changed.flagsChanged.includes('banner'), `flagsChanged: ${JSON.stringify(changed.flagsChanged)}`);
      console.log(`     file write -> page has the new value: ${changed.t - t0} ms (target < 1000 ms; SIGHUP right after the write)`);
      const got = await page.evaluate((s) => window.ofrep.evaluate(s), SPECS);
      compare(got, await riskdBulk(srv.url, CTX_B), { ...HAND_B, banner: 'Summer sale' });
    });

    await test('it came through the stream, no polling: no request in a 1.5 s idle window; after the change exactly one bulk re-fetch, with the event\'s flagConfigEtag', async () => {
      assert.deepEqual(idle, [], `requests while idle: ${JSON.stringify(idle)}`);
      await sleep(1000); // anything the event set off has been sent by now
      const after = requests.slice(before).filter((r) => r.method !== 'OPTIONS');
      assert.equal(after.length, 1, `requests after the change: ${JSON.stringify(after, null, 1)}`);
      const u = new URL(after[0].url);
      assert.equal(after[0].method, 'POST');
      assert.equal(u.pathname, '/ofrep/v1/evaluate/flags');
      assert.equal(u.searchParams.get('flagConfigEtag'), `"${sha256(newText)}"`, `re-fetch ${after[0].url}`);
      assert.match(u.searchParams.get('flagConfigLastModified') || '', /^\d+$/);
    });

    await test('a plain EventSource from the page receives refetchEvaluation: etag = "SHA-256 of the flag file", lastModified in seconds', async () => {
      assert.equal(es.open, true, `EventSource: ${JSON.stringify(es)}`);
      await page.waitForFunction(() => window.ofrep.streamMessages.some((m) => m.data), null, { timeout: HANG_MS });
      const msgs = (await page.evaluate(() => window.ofrep.streamMessages)).filter((m) => m.data);
      assert.equal(msgs.length, 1, `messages: ${JSON.stringify(msgs)}`);
      const ev = JSON.parse(msgs[0].data);
      assert.equal(ev.type, 'refetchEvaluation');
      assert.equal(ev.etag, `"${sha256(newText)}"`);
      assert.equal(typeof ev.lastModified, 'number');
      assert.ok(Math.abs(ev.lastModified - t0 / 1000) <= 5, `lastModified ${ev.lastModified}, written at ${t0 / 1000}`);
      console.log(`     file write -> EventSource message in the page: ${msgs[0].t - t0} ms`);
    });
    await pg.ctx.close();

    await test('a disallowed origin, from Node: preflight 403 CORS_ORIGIN_DENIED, no Allow-Origin on a plain answer', async () => {
      const pre = await fetch(`${denied.url}/ofrep/v1/evaluate/flags`, {
        method: 'OPTIONS', headers: { Origin: origin, 'Access-Control-Request-Method': 'POST', 'Access-Control-Request-Headers': 'content-type' },
      });
      assert.equal(pre.status, 403);
      assert.equal(pre.headers.get('access-control-allow-origin'), null);
      const body = await pre.json();
      assert.equal(body?.error?.code, 'CORS_ORIGIN_DENIED', JSON.stringify(body));
      const r = await fetch(`${denied.url}/ofrep/v1/evaluate/flags`, {
        method: 'POST', headers: { Origin: origin, 'Content-Type': 'application/json' }, body: JSON.stringify({ context: CTX_A }),
      });
      assert.equal(r.headers.get('access-control-allow-origin'), null);
      const ok = await fetch(`${denied.url}/ofrep/v1/evaluate/flags`, {
        method: 'OPTIONS', headers: { Origin: 'http://allowed.example', 'Access-Control-Request-Method': 'POST' },
      });
      assert.equal(ok.status, 204, 'the allowed origin is still served');
    });

    await test('a disallowed origin, in the page: the provider is in ERROR, evaluations give the defaults, the stream is refused', async () => {
      const dp = await openPage(browser, origin, denied.url);
      try {
        const st = await dp.page.evaluate(([u, c]) => window.ofrep.start(u, c), [denied.url, CTX_A]);
        assert.equal(st.status, 'ERROR', `provider: ${JSON.stringify(st)}`);
        assert.ok(st.error, 'setProviderAndWait did not fail');
        const got = await dp.page.evaluate((s) => window.ofrep.evaluate(s), SPECS);
        for (const g of got) {
          assert.deepEqual(g.value, SPECS.find((s) => s.key === g.key).def, `${g.key}: ${JSON.stringify(g)}`);
          assert.ok(g.errorCode, `${g.key}: no error code`);
        }
        const evs = await dp.page.evaluate(() => window.ofrep.events);
        assert.ok(evs.some((e) => e.type === 'error'), `events: ${JSON.stringify(evs)}`);
        assert.ok(dp.requests.some((r) => r.method === 'POST'), 'the page never tried riskd');
        const es2 = await dp.page.evaluate((u) => window.ofrep.watchStream(`${u}/ofrep/v1/events`), denied.url);
        assert.equal(es2.open, false, 'the EventSource opened from a disallowed origin');
        console.log(`     provider error: ${st.error}`);
      } finally {
        await dp.ctx.close();
      }
    });

    await test('riskd and the page server stop cleanly', async () => {
      await browser.close();
      browser = null;
      const a = await srv.stop();
      const b = await denied.stop();
      srv = null;
      denied = null;
      assert.deepEqual([a.code, b.code], [0, 0], `exits: ${JSON.stringify([a, b])}`);
    });
  } catch (e) {
    failed++;
    console.log(`FAIL ${e.stack || e}`);
    if (srv) console.log(srv.stderrTail().split('\n').slice(-10).join('\n'));
  } finally {
    if (browser) await browser.close().catch(() => {});
    if (srv) await srv.stop();
    if (denied) await denied.stop();
    if (pageServer) pageServer.close();
    fs.rmSync(tmp, { recursive: true, force: true });
  }
  finish();
}

main().catch((e) => { console.log(`FAIL: ${e.stack || e}`); failed++; finish(); });
