#!/usr/bin/env node
// riskd's OFREP endpoints through the real OpenFeature Node SDK and OFREP provider.
//
//   node tests/interop/ofrep_sdk.mjs        (env RISKD_BIN, default <repo>/build/riskd)
//
// Starts `riskd serve` on a kernel-chosen port with a flag set written here (boolean,
// string, integer and float number, object flags; targeting with if/in/starts_with/
// ends_with, $ref, fractional, $flagd.timestamp; a DISABLED flag; a code-default flag;
// metadata at set and flag level), then resolves every flag type with several contexts
// through @openfeature/server-sdk 1.23.0 + @openfeature/ofrep-provider 0.1.3 (the newest
// provider on this registry; it pulls @openfeature/ofrep-core 0.1.4). The expected answers
// are written by hand from the flag set below, except fractional buckets, which come from
// @openfeature/flagd-core on the same flag file and context (never from riskd).
// Then the bulk endpoint's ETag with plain fetch: format (quoted SHA-256 hex of the body),
// If-None-Match -> 304 without a body (also W/-prefixed), another context -> another tag,
// and after the flag file is rewritten (the server polls it every 100 ms) the old tag -> 200.
//
// Each check is one test; the last line is exactly "N passed, N failed"; exit 1 on failure.
import { createRequire } from 'node:module';
import { createHash } from 'node:crypto';
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { hasServe, startServe } from './riskd_serve.mjs';

// CommonJS entries for all three, so that the provider and the SDK share one copy of the
// SDK's classes (the provider's own entry requires the CJS build).
const require = createRequire(import.meta.url);
const { OpenFeature } = require('@openfeature/server-sdk');
const { OFREPProvider } = require('@openfeature/ofrep-provider');
const { FlagdCore } = require('@openfeature/flagd-core');

const HERE = path.dirname(fileURLToPath(import.meta.url));
const REPO = path.resolve(HERE, '..', '..');
const BIN = process.env.RISKD_BIN || path.join(REPO, 'build', 'riskd');
const FIXED_TIME = 1700000000; // --fixed-time: 2023-11-14, before the launch-window threshold
const SILENT = { error() {}, warn() {}, info() {}, debug() {} };

let passed = 0;
let failed = 0;
function finish() {
  console.log(`${passed} passed, ${failed} failed`);
  process.exit(failed ? 1 : 0);
}
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

// ---------------------------------------------------------------------------- the flag set
const SET_META = { flagSetId: 'sdk-test', version: '3', team: 'risk', weight: 1.5, live: true };
const DARK = { theme: 'dark', columns: 3, beta: true, tags: ['a', 'b'], limits: { daily: 500 } };
const LIGHT = { theme: 'light', columns: 2, beta: false };
function flagSet(meta = SET_META, guest = 'Welcome') {
  return {
    $schema: 'https://flagd.dev/schema/v0/flags.json',
    metadata: meta,
    $evaluators: { is_staff: { ends_with: [{ var: 'email' }, '@bank.com'] } },
    flags: {
      'new-ui': {
        state: 'ENABLED', variants: { on: true, off: false }, defaultVariant: 'off',
        targeting: { if: [{ in: [{ var: 'tier' }, ['gold', 'platinum']] }, 'on', 'off'] },
        metadata: { owner: 'growth', priority: 2, internal: true },
      },
      greeting: { // no else branch: a non-admin, non-staff email gets the default variant (DEFAULT)
        state: 'ENABLED', variants: { admin: 'Hello, admin', staff: 'Hi, colleague', guest }, defaultVariant: 'guest',
        targeting: { if: [{ starts_with: [{ var: 'email' }, 'admin@'] }, 'admin', { $ref: 'is_staff' }, 'staff'] },
      },
      'max-items': {
        state: 'ENABLED', variants: { small: 10, medium: 50, large: 100 }, defaultVariant: 'small',
        targeting: { if: [{ '>=': [{ var: 'age' }, 65] }, 'large', { '>=': [{ var: 'age' }, 30] }, 'medium', 'small'] },
      },
      'score-threshold': {
        state: 'ENABLED', variants: { strict: 0.75, relaxed: 0.5 }, defaultVariant: 'relaxed',
        targeting: { if: [{ in: ['@bank.', { var: 'email' }] }, 'strict', 'relaxed'] },
        metadata: { version: '3.1' }, // overrides the set's version
      },
      'ui-config': {
        state: 'ENABLED', variants: { dark: DARK, light: LIGHT }, defaultVariant: 'light',
        targeting: { if: [{ '==': [{ var: 'tier' }, 'gold'] }, 'dark', null] },
      },
      'model-route': {
        state: 'ENABLED', defaultVariant: 'champion',
        variants: { champion: 'credit_xgb_v1.0', challenger: 'credit_xgb_v1.1', shadow: 'credit_lgb_v2.0' },
        targeting: { fractional: [['champion', 50], ['challenger', 30], ['shadow', 20]] },
        metadata: { owner: 'risk-eng', stage: 'canary' },
      },
      'fee-rate': { // fractional bucketed on the email, a number flag
        state: 'ENABLED', variants: { low: 0.5, high: 1.25 }, defaultVariant: 'high',
        targeting: { fractional: [{ cat: [{ var: '$flagd.flagKey' }, { var: 'email' }] }, ['low', 25], ['high', 75]] },
      },
      'launch-window': { // $flagd.timestamp is --fixed-time: "before" (the wall clock would say "after")
        state: 'ENABLED', variants: { before: 'pre-launch', after: 'launched' }, defaultVariant: 'before',
        targeting: { if: [{ '>=': [{ var: '$flagd.timestamp' }, 1750000000] }, 'after', 'before'] },
      },
      'kill-switch': { state: 'DISABLED', variants: { on: true, off: false }, defaultVariant: 'on', metadata: { owner: 'ops' } },
      'no-default': { state: 'ENABLED', variants: { on: true, off: false }, defaultVariant: null },
      'broken-rule': { // "nope" names no variant: ERROR GENERAL (400) for gold. Computed, so strict
        // mode cannot refuse it before it runs (a literal "nope" is refused: docs/adr/0006)
        state: 'ENABLED', variants: { on: true, off: false }, defaultVariant: 'off',
        targeting: { if: [{ '==': [{ var: 'tier' }, 'gold'] }, { cat: ['no', 'pe'] }, 'off'] },
      },
    },
  };
}
const FLAG_KEYS = Object.keys(flagSet().flags);
const meta = (flagMeta = {}, setMeta = SET_META) => ({ ...setMeta, ...flagMeta });

// ---------------------------------------------------------------------------- helpers
function pick(d) {
  return { value: d.value, variant: d.variant ?? null, reason: d.reason, errorCode: d.errorCode ?? null, flagMetadata: { ...(d.flagMetadata ?? {}) } };
}
function ok(value, variant, reason, flagMetadata) { return { value, variant, reason, errorCode: null, flagMetadata }; }
function err(value, errorCode) { return { value, variant: null, reason: 'ERROR', errorCode, flagMetadata: {} }; }
async function postJson(url, body, headers = {}) {
  const res = await fetch(url, { method: 'POST', headers: { 'Content-Type': 'application/json', ...headers }, body: JSON.stringify(body) });
  const buf = Buffer.from(await res.arrayBuffer());
  return { status: res.status, headers: res.headers, buf, text: buf.toString('utf8') };
}

// ---------------------------------------------------------------------------- main
async function main() {
  console.log(`ofrep_sdk: bin=${BIN}`);
  if (!fs.existsSync(BIN)) { console.log(`ofrep_sdk: ${BIN} does not exist (build it, or set RISKD_BIN)`); failed++; finish(); }
  const hs = hasServe(BIN);
  if (!hs.ok) { console.log(`ofrep_sdk: ${BIN} has no \`serve\` command: ${hs.why}`); failed++; finish(); }

  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'riskd-ofrep-sdk-'));
  const flagsFile = path.join(tmp, 'flags.json');
  fs.writeFileSync(flagsFile, JSON.stringify(flagSet(), null, 2));
  let srv;
  try {
    srv = await startServe(BIN, ['--flags', flagsFile, '--data-dir', path.join(tmp, 'data'), '--fixed-time', String(FIXED_TIME),
      '--reload-interval-ms', '100']);
  } catch (e) {
    console.log(`ofrep_sdk: the server did not start: ${e.message}`);
    failed++;
    finish();
  }
  console.log(`ofrep_sdk: riskd serve at ${srv.url} (pid ${srv.pid})`);
  const BULK = `${srv.url}/ofrep/v1/evaluate/flags`;

  await test('GET /health -> 200', async () => {
    const r = await fetch(`${srv.url}/health`);
    await r.arrayBuffer();
    assert.equal(r.status, 200);
  });

  OpenFeature.setLogger(SILENT); // the SDK logs every evaluation error; the checks below say what matters
  await OpenFeature.setProviderAndWait(new OFREPProvider({ baseUrl: srv.url }));
  const client = OpenFeature.getClient('riskd-ofrep-sdk');
  const check = async (name, getter, key, dflt, ctx, want) => {
    await test(`${name} ${key} ${JSON.stringify(ctx)}`, async () => {
      const d = await client[getter](key, dflt, ctx);
      assert.equal(d.flagKey, key);
      assert.deepEqual(pick(d), want);
    });
  };

  // ---- boolean: if + in (array haystack); flag metadata over set metadata
  const uiMeta = meta({ owner: 'growth', priority: 2, internal: true });
  await check('boolean', 'getBooleanDetails', 'new-ui', false, { targetingKey: 'u1', tier: 'gold' }, ok(true, 'on', 'TARGETING_MATCH', uiMeta));
  await check('boolean', 'getBooleanDetails', 'new-ui', false, { targetingKey: 'u2', tier: 'platinum' }, ok(true, 'on', 'TARGETING_MATCH', uiMeta));
  await check('boolean', 'getBooleanDetails', 'new-ui', true, { targetingKey: 'u3', tier: 'silver' }, ok(false, 'off', 'TARGETING_MATCH', uiMeta));
  await check('boolean', 'getBooleanDetails', 'new-ui', true, {}, ok(false, 'off', 'TARGETING_MATCH', uiMeta));

  // ---- string: starts_with, $ref to ends_with, no else branch -> DEFAULT
  await check('string', 'getStringDetails', 'greeting', 'x', { targetingKey: 'a', email: 'admin@corp.io' }, ok('Hello, admin', 'admin', 'TARGETING_MATCH', meta()));
  await check('string', 'getStringDetails', 'greeting', 'x', { targetingKey: 'b', email: 'ann@bank.com' }, ok('Hi, colleague', 'staff', 'TARGETING_MATCH', meta()));
  await check('string', 'getStringDetails', 'greeting', 'x', { targetingKey: 'c', email: 'bob@mail.net' }, ok('Welcome', 'guest', 'DEFAULT', meta()));
  // $flagd.timestamp is the server's --fixed-time
  await check('string', 'getStringDetails', 'launch-window', 'x', { targetingKey: 'd' }, ok('pre-launch', 'before', 'TARGETING_MATCH', meta()));

  // ---- numbers: integer and float variants
  await check('integer', 'getNumberDetails', 'max-items', 0, { targetingKey: 'e', age: 70 }, ok(100, 'large', 'TARGETING_MATCH', meta()));
  await check('integer', 'getNumberDetails', 'max-items', 0, { targetingKey: 'f', age: 30 }, ok(50, 'medium', 'TARGETING_MATCH', meta()));
  await check('integer', 'getNumberDetails', 'max-items', 0, { targetingKey: 'g', age: 18 }, ok(10, 'small', 'TARGETING_MATCH', meta()));
  const stMeta = meta({ version: '3.1' });
  await check('float', 'getNumberDetails', 'score-threshold', 0, { targetingKey: 'h', email: 'carol@bank.com' }, ok(0.75, 'strict', 'TARGETING_MATCH', stMeta));
  await check('float', 'getNumberDetails', 'score-threshold', 0, { targetingKey: 'i', email: 'dave@corp.io' }, ok(0.5, 'relaxed', 'TARGETING_MATCH', stMeta));

  // ---- object
  await check('object', 'getObjectDetails', 'ui-config', {}, { targetingKey: 'j', tier: 'gold' }, ok(DARK, 'dark', 'TARGETING_MATCH', meta()));
  await check('object', 'getObjectDetails', 'ui-config', {}, { targetingKey: 'k', tier: 'bronze' }, ok(LIGHT, 'light', 'DEFAULT', meta()));

  // ---- fractional: the expected bucket from flagd-core on the same flag file and context
  const core = new FlagdCore(undefined, SILENT);
  core.setConfigurations(fs.readFileSync(flagsFile, 'utf8'));
  const seen = { 'model-route': new Set(), 'fee-rate': new Set() };
  const fracCase = async (getter, type, key, dflt, ctx) => {
    const r = core.resolve(type, key, dflt, ctx, SILENT);
    seen[key].add(r.variant);
    const want = ok(r.value, r.variant ?? null, r.reason, { ...r.flagMetadata });
    const d = await client[getter](key, dflt, ctx);
    return { got: pick(d), want };
  };
  await test('fractional model-route (string, bucketed on flagKey+targetingKey) for 60 users', async () => {
    const bad = [];
    for (let i = 0; i < 60; i++) {
      const ctx = { targetingKey: `applicant-${i}` };
      const { got, want } = await fracCase('getStringDetails', 'string', 'model-route', 'none', ctx);
      try { assert.deepEqual(got, want); } catch { bad.push(`${JSON.stringify(ctx)}: got ${JSON.stringify(got)}, flagd-core ${JSON.stringify(want)}`); }
    }
    assert.ok(bad.length === 0, `${bad.length} contexts differ, e.g.\n${bad.slice(0, 5).join('\n')}`);
    assert.equal(seen['model-route'].size, 3, `only variants ${[...seen['model-route']]} were reached`);
  });
  await test('fractional model-route without targetingKey (flagd-core: default variant)', async () => {
    const { got, want } = await fracCase('getStringDetails', 'string', 'model-route', 'none', { email: 'x@y.z' });
    assert.deepEqual(got, want);
  });
  await test('fractional fee-rate (number, bucketed on cat(flagKey, email)) for 40 emails', async () => {
    const bad = [];
    for (let i = 0; i < 40; i++) {
      const ctx = { targetingKey: 'same-key', email: `user${i}@bank.com` };
      const { got, want } = await fracCase('getNumberDetails', 'number', 'fee-rate', -1, ctx);
      try { assert.deepEqual(got, want); } catch { bad.push(`${JSON.stringify(ctx)}: got ${JSON.stringify(got)}, flagd-core ${JSON.stringify(want)}`); }
    }
    assert.ok(bad.length === 0, `${bad.length} contexts differ, e.g.\n${bad.slice(0, 5).join('\n')}`);
    assert.equal(seen['fee-rate'].size, 2, `only variants ${[...seen['fee-rate']]} were reached`);
  });

  // ---- errors
  await check('FLAG_NOT_FOUND', 'getStringDetails', 'no-such-flag', 'fallback', { targetingKey: 'l' }, err('fallback', 'FLAG_NOT_FOUND'));
  await check('FLAG_NOT_FOUND', 'getBooleanDetails', 'no-such-flag', true, {}, err(true, 'FLAG_NOT_FOUND'));
  // OFREP carries no type: the provider compares typeof value with typeof default.
  await check('TYPE_MISMATCH (boolean flag as string)', 'getStringDetails', 'new-ui', 'fallback', { tier: 'gold' }, err('fallback', 'TYPE_MISMATCH'));
  await check('TYPE_MISMATCH (string flag as number)', 'getNumberDetails', 'greeting', 7, { email: 'ann@bank.com' }, err(7, 'TYPE_MISMATCH'));
  await check('TYPE_MISMATCH (object flag as boolean)', 'getBooleanDetails', 'ui-config', false, { tier: 'gold' }, err(false, 'TYPE_MISMATCH'));
  await check('GENERAL (400 from the server: targeting names no variant)', 'getBooleanDetails', 'broken-rule', true, { tier: 'gold' }, err(true, 'GENERAL'));
  await check('broken-rule outside the broken branch', 'getBooleanDetails', 'broken-rule', true, { tier: 'silver' }, ok(false, 'off', 'TARGETING_MATCH', meta()));

  // ---- the documented limit of ofrep-provider 0.1.3 (reference flagd-ofrep.md 6.3): for a
  // DISABLED flag and a code-default flag (defaultVariant null) the server answers 200 with
  // reason DISABLED / DEFAULT and *no value* (ADR 0006: a missing value means "use your code
  // default"), but this client predates ADR 0006: ofrep-core 0.1.4 treats a 200 without
  // `value` as "does not match the expected format" and the SDK reports ERROR / GENERAL with
  // the code default. So the value is right, the reason is the client's. A newer provider
  // (ofrep-core >= 0.2, not on this registry) would report DISABLED / DEFAULT.
  for (const [key, reason, flagMeta] of [['kill-switch', 'DISABLED', { owner: 'ops' }], ['no-default', 'DEFAULT', {}]]) {
    await test(`server: ${key} -> 200 ${reason} without value`, async () => {
      const r = await postJson(`${BULK}/${key}`, { context: { targetingKey: 'm' } });
      assert.equal(r.status, 200);
      assert.deepEqual(JSON.parse(r.text), { key, reason, metadata: meta(flagMeta) });
    });
    await test(`sdk 0.1.3: ${key} -> ERROR GENERAL "does not match the expected format", code default`, async () => {
      const d = await client.getBooleanDetails(key, true, { targetingKey: 'm' });
      assert.deepEqual(pick(d), err(true, 'GENERAL'));
      assert.match(d.errorMessage ?? '', /does not match the expected format/);
    });
  }

  // ---- bulk evaluation and its ETag (plain fetch)
  const ctxA = { context: { targetingKey: 'bulk-1', tier: 'gold', email: 'ann@bank.com', age: 40 } };
  const ctxB = { context: { targetingKey: 'bulk-2', tier: 'silver', email: 'bob@mail.net', age: 20 } };
  let tagA;
  await test('bulk: 200, every flag, set metadata, ETag = quoted SHA-256 hex of the body', async () => {
    const r = await postJson(BULK, ctxA);
    assert.equal(r.status, 200);
    assert.match(r.headers.get('content-type') ?? '', /^application\/json/);
    tagA = r.headers.get('etag');
    assert.match(tagA ?? '', /^"[0-9a-f]{64}"$/);
    assert.equal(tagA, `"${createHash('sha256').update(r.buf).digest('hex')}"`);
    const body = JSON.parse(r.text);
    assert.deepEqual(body.metadata, SET_META);
    assert.deepEqual(body.flags.map((f) => f.key).sort(), [...FLAG_KEYS].sort());
    const byKey = Object.fromEntries(body.flags.map((f) => [f.key, f]));
    assert.deepEqual(byKey['new-ui'], { key: 'new-ui', value: true, reason: 'TARGETING_MATCH', variant: 'on', metadata: uiMeta });
    assert.deepEqual(byKey['kill-switch'], { key: 'kill-switch', reason: 'DISABLED', metadata: meta({ owner: 'ops' }) });
    assert.equal(byKey['broken-rule'].errorCode, 'GENERAL');
    assert.equal(typeof byKey['broken-rule'].errorDetails, 'string');
    assert.equal('value' in byKey['broken-rule'], false);
  });
  await test('bulk: If-None-Match with the tag -> 304, no body', async () => {
    const r = await postJson(BULK, ctxA, { 'If-None-Match': tagA });
    assert.equal(r.status, 304);
    assert.equal(r.buf.length, 0);
  });
  await test('bulk: If-None-Match W/<tag> -> 304 (weak comparison)', async () => {
    const r = await postJson(BULK, ctxA, { 'If-None-Match': `W/${tagA}` });
    assert.equal(r.status, 304);
    assert.equal(r.buf.length, 0);
  });
  await test('bulk: If-None-Match list containing the tag -> 304', async () => {
    const r = await postJson(BULK, ctxA, { 'If-None-Match': `"0000", ${tagA}` });
    assert.equal(r.status, 304);
  });
  await test('bulk: another context with the old tag -> 200 and another ETag', async () => {
    const r = await postJson(BULK, ctxB, { 'If-None-Match': tagA });
    assert.equal(r.status, 200);
    const tagB = r.headers.get('etag');
    assert.match(tagB ?? '', /^"[0-9a-f]{64}"$/);
    assert.notEqual(tagB, tagA);
    const byKey = Object.fromEntries(JSON.parse(r.text).flags.map((f) => [f.key, f]));
    assert.equal(byKey['new-ui'].value, false);
  });

  // ---- reload: rewrite the flag file in place; the server polls it every 100 ms
  const NEW_META = { ...SET_META, version: '4' };
  await test('bulk: after the flag file changes, the old tag -> 200 with the new body and a new ETag', async () => {
    fs.writeFileSync(flagsFile, JSON.stringify(flagSet(NEW_META, 'Welcome back'), null, 2));
    const deadline = Date.now() + 10000;
    let r;
    for (;;) { // poll until the server serves the new file (a 304 means: not yet)
      r = await postJson(BULK, ctxA, { 'If-None-Match': tagA });
      if (r.status !== 304 || Date.now() > deadline) break;
      await new Promise((res) => setTimeout(res, 20));
    }
    assert.equal(r.status, 200, 'the server still answered 304 to the old tag 10 s after the flag file changed');
    const body = JSON.parse(r.text);
    assert.deepEqual(body.metadata, NEW_META);
    const newTag = r.headers.get('etag');
    assert.match(newTag ?? '', /^"[0-9a-f]{64}"$/);
    assert.notEqual(newTag, tagA);
    const again = await postJson(BULK, ctxA, { 'If-None-Match': tagA });
    assert.equal(again.status, 200);
    const fresh = await postJson(BULK, ctxA, { 'If-None-Match': newTag });
    assert.equal(fresh.status, 304);
  });
  await check('after reload', 'getStringDetails', 'greeting', 'x', { targetingKey: 'n', email: 'erin@mail.net' },
    ok('Welcome back', 'guest', 'DEFAULT', meta({}, NEW_META)));

  await OpenFeature.close();
  await test('SIGTERM -> exit 0', async () => {
    const e = await srv.stop();
    assert.deepEqual(e, { code: 0, signal: null }, `stderr:\n${srv.stderrTail().trim().split('\n').slice(-5).join('\n')}`);
  });
  if (!failed) fs.rmSync(tmp, { recursive: true, force: true });
  else console.log(`files kept in ${tmp}`);
  finish();
}

main().catch((e) => {
  console.log(`ofrep_sdk: ${e && e.stack ? e.stack : e}`);
  failed++;
  finish();
});
