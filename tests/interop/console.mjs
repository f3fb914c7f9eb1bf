#!/usr/bin/env node
// The web console (/ui/) end to end, in Debian's Chromium (headless, through playwright-core),
// as issue 19 asks: an engineer proposes a flag change and a manager approves and publishes it;
// the author's approve is refused by the server with its message shown; a rollout with a bad
// candidate is rolled back and the page names the gate that failed; a decision is found by its
// request id and replayed identical; the audit chain verifies; a viewer sees no control that
// changes anything; the CSP header is there, a change without the CSRF token is refused, and
// markup planted in a flag's metadata and in a feature value is shown as text, never run; with
// 1,000,000 decisions in the log every page loads. On every page: no console error, no request
// outside the server, no CSP violation. Screenshots go to build/test-artifacts/console/.
//
// Three servers: one shared by most cases (users from the CLI, --require-approval); one with a
// rollout whose candidate has an injected fault (--fault ...:score=0.99, --rollout-speed 5: it
// is rolled back within a second of traffic), started first so it runs beside the other cases;
// one over a log of 1M decisions inserted in bulk with one sqlite3 statement, also prepared
// beside them. Without /usr/bin/chromium the cases are skipped (the curl-level checks are
// tests/integration/28-console.sh).
//   RISKD_BIN=build/riskd node tests/interop/console.mjs
// Ends with "N passed, N failed, N skipped"; exit 1 if anything failed.
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { hasServe, startServe } from './riskd_serve.mjs';
import { addUsers, applications, buildBundles, bulkInsert, run, scoreBatch, traffic } from './console_fixture.mjs';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const REPO = path.resolve(HERE, '..', '..');
const BIN = process.env.RISKD_BIN || path.join(REPO, 'build', 'riskd');
const CHROMIUM = process.env.RISKD_CHROMIUM || '/usr/bin/chromium';
const SQLITE = process.env.RISKD_SQLITE3 || 'sqlite3';
const SHOTS = path.join(REPO, 'build', 'test-artifacts', 'console');
const HANG_MS = 20000; // a bound on any one wait: a hang, not a timing, fails a case
const BULK_ROWS = Number(process.env.RISKD_CONSOLE_BULK_ROWS || 1000000);
const ROUTE = 'credit-model-route';
const XSS = '<img src=x onerror="window.__xss=1">';
const CASES = 17; // every test() below, counted skipped when Chromium is absent

let passed = 0, failed = 0, skipped = 0;
async function test(name, fn) {
  const t0 = Date.now();
  try {
    await fn();
    passed++;
    console.log(`ok   ${name} (${((Date.now() - t0) / 1000).toFixed(1)} s)`);
  } catch (e) {
    failed++;
    console.log(`FAIL ${name}\n     ${String(e?.message ?? e).split('\n').join('\n     ')}`);
  }
}
const expect = (cond, what) => { if (!cond) throw new Error(what); };
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

const bearer = (token) => ({ Authorization: `Bearer ${token}`, 'Content-Type': 'application/json' });
async function api(url, token, method, p, body) {
  const r = await fetch(`${url}${p}`, { method, headers: bearer(token), body: body === undefined ? undefined : JSON.stringify(body) });
  const data = await r.json().catch(() => null);
  if (!r.ok) throw new Error(`${method} ${p}: HTTP ${r.status} ${JSON.stringify(data)}`);
  return data;
}

// ------------------------------------------------------------------ the browser

// A browser context signed in as one user (or nobody), with the global checks on every page it
// shows: console errors and page errors, requests outside the server, CSP violations (the
// securitypolicyviolation event, reported through a binding Playwright adds over CDP, which the
// page's CSP does not govern). A deliberate refusal is allowed by expectRefusal(url, status).
const tabs = []; // every tab the final case sums up
async function openTab(browser, srv, who, { track = true } = {}) {
  const ctx = await browser.newContext({
    viewport: { width: 1366, height: 768 }, locale: 'en-US', timezoneId: 'America/New_York',
  });
  const tab = { who, srv, ctx, errors: [], foreign: [], csp: [], wide: [], allowed: [], visited: new Set() };
  await ctx.exposeFunction('__riskdCspViolation', (v) => tab.csp.push(v));
  await ctx.addInitScript(() => {
    document.addEventListener('securitypolicyviolation', (e) => {
      window.__riskdCspViolation(`${e.violatedDirective} blocked ${e.blockedURI} at ${e.sourceFile}:${e.lineNumber}`);
    });
  });
  const page = await ctx.newPage();
  tab.page = page;
  page.on('console', (m) => {
    if (m.type() !== 'error') return;
    const at = m.location()?.url ?? '';
    const i = tab.allowed.findIndex((a) => a.url.test(at) && m.text().includes(`status of ${a.status}`));
    if (i >= 0) tab.allowed.splice(i, 1); // each allowance covers one refusal
    else tab.errors.push(`${m.text()} (${at})`);
  });
  page.on('pageerror', (e) => tab.errors.push(`page error: ${e.message}`));
  page.on('request', (r) => {
    const u = r.url();
    if (!u.startsWith(`${srv.url}/`) && !u.startsWith('data:')) tab.foreign.push(u);
  });
  if (track) tabs.push(tab);
  return tab;
}

// The deliberate refusals a case causes, and why: Chromium logs every 4xx answer to a page's
// fetch as a console error, the ones a test asks for included.
function expectRefusal(tab, url, status) {
  tab.allowed.push({ url, status });
}

function clean(tab) {
  const bad = [];
  if (tab.errors.length) bad.push(`console errors: ${tab.errors.join(' | ')}`);
  if (tab.foreign.length) bad.push(`requests outside the server: ${tab.foreign.join(', ')}`);
  if (tab.csp.length) bad.push(`CSP violations: ${tab.csp.join(' | ')}`);
  if (tab.wide.length) bad.push(`pages wider than the window: ${tab.wide.join(', ')}`);
  expect(!bad.length, `${tab.who}: ${bad.join('; ')}`);
}

// Go to #/hash and wait until its data is drawn: main's aria-busy is false (main.js sets it
// when the page's render has finished) and its h1 matches heading.
async function visit(tab, hash, heading, shot) {
  const { page } = tab;
  const target = `${tab.srv.url}/ui/#/${hash}`;
  let before = 0;
  if (page.url() === target) {
    await page.reload(); // the same URL again: no hashchange, so a new document
  } else {
    // a hash change renders again in the same document: wait for a mark after the ones there
    if (page.url().startsWith(`${tab.srv.url}/ui/`)) before = await page.evaluate(() => performance.getEntriesByName('riskd:rendered').length);
    await page.goto(target);
  }
  await page.waitForFunction((n) => performance.getEntriesByName('riskd:rendered').length > n, before, { timeout: HANG_MS });
  await page.locator('main[aria-busy="false"] h1').filter({ hasText: heading }).waitFor({ timeout: HANG_MS });
  tab.visited.add(hash.split('/')[0]);
  // at 1366 px nothing scrolls sideways (a wide table or diff scrolls in its own box)
  const wide = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
  if (wide > 0) tab.wide.push(`${hash} (${wide} px)`);
  if (shot) await screenshot(tab, shot);
}

async function screenshot(tab, name) {
  await tab.page.screenshot({ path: path.join(SHOTS, `${name}.png`), fullPage: true });
}

async function signIn(tab, token, shot) {
  await visit(tab, 'signin', 'Sign in');
  if (shot) await screenshot(tab, shot);
  await tab.page.fill('#token', token);
  await tab.page.click('form.signin button[type=submit]');
  await tab.page.locator('#nav .who').filter({ hasText: `${tab.who} (` }).waitFor({ timeout: HANG_MS });
  await tab.page.locator('main[aria-busy="false"] h1').filter({ hasText: 'Overview' }).waitFor({ timeout: HANG_MS });
}

const mainText = (tab) => tab.page.locator('main').innerText();
const writes = (tab) => tab.page.locator('main [data-writes]').count();

// ------------------------------------------------------------------ the suite

async function main() {
  const serve = hasServe(BIN);
  if (!serve.ok) throw new Error(serve.why);
  if (!fs.existsSync(CHROMIUM)) {
    console.log('skipped: chromium not installed');
    skipped += CASES;
    return;
  }
  const t0 = Date.now();
  fs.mkdirSync(SHOTS, { recursive: true });
  for (const f of fs.readdirSync(SHOTS)) if (f.endsWith('.png')) fs.rmSync(path.join(SHOTS, f), { force: true });
  const rows = applications();
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'riskd-console-')); // removed in the finally below
  const bundles = path.join(dir, 'bundles');
  const servers = [];
  let browser = null;
  try {
    fs.mkdirSync(bundles);
    buildBundles(BIN, bundles);
    // -------------------------------------------- the rollout server, first: it runs beside the rest
    const ro = path.join(dir, 'rollout');
    fs.mkdirSync(ro);
    fs.copyFileSync(path.join(REPO, 'examples', 'flags', 'routing.json'), path.join(ro, 'flags.json'));
    const roTokens = addUsers(BIN, path.join(ro, 'data'), { mgr: 'manager', view: 'viewer' });
    const roSrv = await startServe(BIN, ['--flags', path.join(ro, 'flags.json'), '--bundles', bundles,
      '--route-flag', ROUTE, '--shadow-flag', 'credit-model-shadow', '--data-dir', path.join(ro, 'data'),
      '--rollout', path.join(REPO, 'examples', 'rollout', 'credit-drill.json'), '--rollout-speed', '5',
      '--reload-interval-ms', '200', '--fault', 'credit_xgb_v1.1:score=0.99', '--log-level', 'warn']);
    servers.push(roSrv);
    const roState = async () => (await (await fetch(`${roSrv.url}/v1/rollouts`)).json()).rollouts?.[0]?.state;
    const ends = new Set(['rolled_back', 'promoted', 'paused']);
    const rolledBack = traffic(roSrv.url, rows, 'ro', async () => ends.has(await roState()))
      .then(async (n) => {
        const state = await roState();
        let more = 0; // then 1,000 more, so the drift page has the rows PSI needs
        await traffic(roSrv.url, rows, 'ro2', async () => (more += 50) > 1050);
        return { n, state };
      });
    rolledBack.catch(() => {}); // awaited by its case

    // -------------------------------------------- the 1M log, prepared beside the rest too
    const big = path.join(dir, 'big');
    fs.mkdirSync(big);
    fs.writeFileSync(path.join(big, 'flags.json'), JSON.stringify({
      flags: { 'model-route': { state: 'ENABLED', variants: { a: 'credit_xgb_v1.0' }, defaultVariant: 'a' } },
    }));
    const bigTokens = addUsers(BIN, path.join(big, 'data'), { mgr: 'manager' }); // the schema, then the rows
    const bigT1 = Date.now() - 60000;
    const bulkStart = Date.now();
    const bulk = bulkInsert(path.join(big, 'data', 'riskd.db'), BULK_ROWS, bigT1, SQLITE).then((count) => ({ count, ms: Date.now() - bulkStart }));
    bulk.catch(() => {});

    // -------------------------------------------- the shared server
    const d = path.join(dir, 'main');
    fs.mkdirSync(d);
    const flagsFile = path.join(d, 'flags.json');
    fs.copyFileSync(path.join(REPO, 'examples', 'flags', 'routing.json'), flagsFile);
    const tokens = addUsers(BIN, path.join(d, 'data'), { eng: 'engineer', mgr: 'manager', mgr2: 'manager', view: 'viewer' });
    const srv = await startServe(BIN, ['--flags', flagsFile, '--bundles', bundles, '--route-flag', ROUTE,
      '--shadow-flag', 'credit-model-shadow', '--data-dir', path.join(d, 'data'), '--require-approval',
      '--log-durability', 'ack', '--auth-max-failures', '100000', '--log-level', 'warn']);
    servers.push(srv);
    // the decision the decisions case finds and replays, with markup in a feature value
    const scored = await scoreBatch(srv.url, [{
      request_id: 'e2e-1', context: { targetingKey: 'app-1005', segment: 'retail', channel: 'web' },
      features: { ...JSON.parse(fs.readFileSync(path.join(REPO, 'examples', 'requests', 'score-low-risk.json'), 'utf8')).features, Home: XSS },
    }]);
    const scoredOne = scored.results?.[0] ?? scored[0];
    expect(scoredOne?.decision, `the e2e-1 decision was not scored: ${JSON.stringify(scored)}`);
    console.log(`     servers up in ${((Date.now() - t0) / 1000).toFixed(1)} s: ${srv.url} (shared), ${roSrv.url} (rollout)`);

    const { chromium } = await import('playwright-core');
    browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox'] });
    const eng = await openTab(browser, srv, 'eng');
    let bg = null; // the 1M log's page
    const mgr = await openTab(browser, srv, 'mgr');

    await test('the sign-in page: CSP, nosniff and no-referrer headers; the token goes in a POST and is not kept', async () => {
      const res = await eng.page.goto(`${srv.url}/ui/`);
      const hd = res.headers();
      for (const dir of ["default-src 'none'", "script-src 'self'", "connect-src 'self'", "frame-ancestors 'none'"]) {
        expect((hd['content-security-policy'] ?? '').includes(dir), `CSP lacks ${dir}: ${hd['content-security-policy']}`);
      }
      expect(hd['x-content-type-options'] === 'nosniff', `nosniff: ${hd['x-content-type-options']}`);
      expect(hd['referrer-policy'] === 'no-referrer', `Referrer-Policy: ${hd['referrer-policy']}`);
      await signIn(eng, tokens.eng, 'signin');
      const stored = await eng.page.evaluate(() => [localStorage.length, sessionStorage.length, location.href, document.cookie]);
      expect(stored[0] === 0 && stored[1] === 0, `storage holds ${stored[0]} + ${stored[1]} keys`);
      expect(!stored[2].includes('rdk_') && !stored[3].includes('riskd_session'), `the URL or a script-readable cookie holds a credential: ${stored[2]} ${stored[3]}`);
      const cookie = (await eng.ctx.cookies(srv.url)).find((c) => c.name === 'riskd_session');
      expect(cookie?.httpOnly && cookie.sameSite === 'Strict', `the session cookie: ${JSON.stringify(cookie)}`);
      clean(eng);
    });

    let changeId = null;
    await test('the engineer proposes a flag change (markup in a flag\'s metadata); it is listed as proposed', async () => {
      await visit(eng, 'changes', 'Change requests');
      await eng.page.click('#propose');
      await eng.page.locator('main[aria-busy="false"] h1').filter({ hasText: 'Propose a flag change' }).waitFor({ timeout: HANG_MS });
      const doc = JSON.parse(await eng.page.inputValue('#payload'));
      doc.flags['manual-review-threshold'].variants.normal = 0.45;
      doc.flags['manual-review-threshold'].metadata.owner = XSS;
      await eng.page.fill('#title', 'review from 0.45 below 3,000');
      await eng.page.fill('#payload', JSON.stringify(doc, null, 2));
      await screenshot(eng, 'change-propose');
      await eng.page.click('#submit-change');
      await eng.page.locator('main[aria-busy="false"] h1').filter({ hasText: /^Change #\d+/ }).waitFor({ timeout: HANG_MS });
      changeId = /#\/changes\/(\d+)/.exec(eng.page.url())?.[1];
      expect(changeId, `no change id in ${eng.page.url()}`);
      const text = await mainText(eng);
      expect(/State\s+proposed/.test(text), `not proposed: ${text.slice(0, 400)}`);
      expect(await eng.page.locator('#approve').count() === 0, 'the engineer (no approve permission) has an Approve button');
      await visit(eng, 'changes', 'Change requests');
      const row = eng.page.locator('table.changes tr', { hasText: `#${changeId}` });
      expect(/proposed/.test(await row.innerText()), `the list: ${await row.innerText()}`);
      clean(eng);
    });

    await test('the manager sees the diff, approves and publishes it; the node serves it', async () => {
      expect(changeId, 'no change (the case before failed)');
      await signIn(mgr, tokens.mgr);
      await visit(mgr, 'changes', 'Change requests', 'changes');
      await visit(mgr, `changes/${changeId}`, `Change #${changeId}`, 'change');
      const diff = await mgr.page.locator('ul.diff').innerText();
      expect(diff.includes('manual-review-threshold') && /"normal": 0\.45/.test(diff) && /"normal": 0\.5\b/.test(diff), `the diff: ${diff}`);
      expect(await writes(mgr) > 0, 'the manager has no write control on a proposed change (the viewer check would prove nothing)');
      await mgr.page.click('#approve');
      await mgr.page.locator('main[aria-busy="false"] dd.state-approved').waitFor({ timeout: HANG_MS });
      await mgr.page.click('#publish');
      await mgr.page.locator('main[aria-busy="false"] dd.state-published').waitFor({ timeout: HANG_MS });
      const text = await mainText(mgr);
      expect(/Published\s+.+ by mgr, version \d+/.test(text), `the page does not say published: ${text.slice(0, 600)}`);
      const r = await fetch(`${srv.url}/ofrep/v1/evaluate/flags/manual-review-threshold`, {
        method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify({ context: { amount: 100 } }),
      });
      const v = await r.json();
      expect(v.value === 0.45, `the node does not serve the change: ${JSON.stringify(v)}`);
      clean(mgr);
    });

    await test('markup in a flag\'s metadata is text: the change\'s diff and the overview\'s flags show it, nothing runs', async () => {
      for (const [hash, heading, where] of [[`changes/${changeId}`, `Change #${changeId}`, 'ul.diff'], ['overview', 'Overview', 'table.flags']]) {
        await visit(mgr, hash, heading);
        const text = await mgr.page.locator(where).innerText();
        expect(text.includes(XSS.replace(/"/g, '\\"')) || text.includes(XSS), `${hash}: the planted text is not shown: ${text.slice(0, 500)}`);
        expect(await mgr.page.locator('img[src="x"]').count() === 0, `${hash}: an <img> was made from the text`);
        expect(await mgr.page.evaluate(() => window.__xss) === undefined, `${hash}: the planted script ran`);
      }
      await screenshot(mgr, 'overview');
      clean(mgr);
    });

    await test('a change to $evaluators alone is shown with both sides, never as "nothing differs"', async () => {
      const flags = await api(srv.url, tokens.eng, 'GET', '/v1/admin/flags');
      const doc = flags.document;
      doc.$evaluators = { ...(doc.$evaluators ?? {}), staffOnly: { in: [{ var: 'segment' }, ['staff']] } };
      const c = await api(srv.url, tokens.eng, 'POST', '/v1/admin/changes', { kind: 'flags', payload: JSON.stringify(doc, null, 2), title: 'a shared rule' });
      await visit(mgr, `changes/${c.id}`, `Change #${c.id}`);
      const diff = await mgr.page.locator('ul.diff').innerText();
      expect(diff.includes('$evaluators') && diff.includes('staffOnly') && /shared targeting rules/.test(diff), `the diff hides the $evaluators edit: ${diff.slice(0, 500)}`);
      expect(!/Nothing differs/.test(await mainText(mgr)), 'the page says nothing differs');
      await api(srv.url, tokens.eng, 'POST', `/v1/admin/changes/${c.id}/withdraw`, { reason: 'test' });
      clean(mgr);
    });

    await test('the author\'s approve: no button; forced into the page, the server refuses it and the page shows why', async () => {
      const flags = await api(srv.url, tokens.mgr2, 'GET', '/v1/admin/flags');
      const doc = flags.document;
      doc.flags['new-decline-letter'].defaultVariant = 'on';
      const c = await api(srv.url, tokens.mgr2, 'POST', '/v1/admin/changes', { kind: 'flags', payload: JSON.stringify(doc, null, 2), title: 'the new decline letter by default' });
      const mgr2 = await openTab(browser, srv, 'mgr2');
      await signIn(mgr2, tokens.mgr2);
      await visit(mgr2, `changes/${c.id}`, `Change #${c.id}`);
      expect(await mgr2.page.locator('#approve').count() === 0, 'the author is offered Approve');
      expect(/someone else approves it/.test(await mainText(mgr2)), 'the page does not say why there is no Approve');
      // the page is told someone else wrote it: the button appears, and the click reaches the server
      await mgr2.page.route(`${srv.url}/v1/admin/changes/${c.id}`, async (route) => {
        if (route.request().method() !== 'GET') return route.continue();
        const res = await route.fetch();
        const body = await res.json();
        await route.fulfill({ response: res, json: { ...body, author: 'someone-else', editors: [] } });
      });
      await mgr2.page.reload();
      await mgr2.page.locator('main[aria-busy="false"] #approve').waitFor({ timeout: HANG_MS });
      // the one refusal this case asks for: its 403 is logged by Chromium as a console error
      expectRefusal(mgr2, new RegExp(`/v1/admin/changes/${c.id}/approve$`), 403);
      await mgr2.page.click('#approve');
      const alert = mgr2.page.locator('main .step [role=alert]');
      await alert.waitFor({ timeout: HANG_MS });
      const said = await alert.innerText();
      expect(new RegExp(`mgr2 wrote change ${c.id} and may not approve it`).test(said) && /FORBIDDEN \(HTTP 403\)/.test(said),
        `the page does not show the server's refusal: ${said}`);
      await mgr2.page.unroute(`${srv.url}/v1/admin/changes/${c.id}`);
      const still = await api(srv.url, tokens.mgr, 'GET', `/v1/admin/changes/${c.id}`);
      expect(still.state === 'proposed' && !(still.approvals ?? []).length, `the change moved: ${still.state}`);
      for (const until = Date.now() + HANG_MS; mgr2.allowed.length && Date.now() < until;) await sleep(50);
      expect(!mgr2.allowed.length, 'the expected 403 was not logged: was the request made?');
      clean(mgr2);
      await mgr2.ctx.close();
    });

    await test('a decision found by its request id, its inputs as text (markup in a feature value), replayed identical', async () => {
      await visit(mgr, 'decisions', 'Decisions', 'decisions');
      expect(await mgr.page.locator('table.decisions a', { hasText: 'e2e-1' }).count() > 0, 'the latest decisions do not list e2e-1');
      await mgr.page.fill('#request-id', 'e2e-1');
      await mgr.page.click('form.search button[type=submit]');
      await mgr.page.locator('main[aria-busy="false"] h1').filter({ hasText: 'Decision e2e-1' }).waitFor({ timeout: HANG_MS });
      const facts = await mgr.page.locator('dl.facts').innerText();
      expect(new RegExp(`Decision\\s+${scoredOne.decision}`).test(facts) && /Model\s+credit_xgb_v1\.0/.test(facts), `the facts: ${facts}`);
      const home = await mgr.page.locator('table.inputs tr', { hasText: 'Home' }).innerText();
      expect(home.includes(XSS), `the feature value is not shown as text: ${home}`);
      expect(await mgr.page.locator('img[src="x"]').count() === 0, 'an <img> was made from a feature value');
      expect(await mgr.page.evaluate(() => window.__xss) === undefined, 'the planted script ran');
      await mgr.page.click('#replay');
      const result = mgr.page.locator('#replay-result p');
      await result.waitFor({ timeout: HANG_MS });
      const said = await result.innerText();
      expect(/^Identical: 2 answers replayed/.test(said), `the replay: ${said}`);
      await screenshot(mgr, 'decision');
      clean(mgr);
    });

    await test('the audit page verifies the chain, which holds the approval and the publish', async () => {
      await visit(mgr, 'audit', 'Audit');
      const list = await mgr.page.locator('table.audit').innerText();
      for (const a of ['change.propose', 'change.approve', 'change.publish', 'session.open', 'decisions.replay']) {
        expect(list.includes(a), `the chain does not list ${a}`);
      }
      await mgr.page.click('#verify');
      const result = mgr.page.locator('#verify-result p');
      await result.waitFor({ timeout: HANG_MS });
      const said = await result.innerText();
      expect(/^Intact: [\d,]+ entries/.test(said), `verify: ${said}`);
      await screenshot(mgr, 'audit');
      clean(mgr);
    });

    await test('a viewer sees no control that changes anything, on every page', async () => {
      const view = await openTab(browser, srv, 'view');
      await signIn(view, tokens.view);
      const pending = (await api(srv.url, tokens.view, 'GET', '/v1/admin/changes?state=proposed'))[0];
      expect(pending, 'no proposed change to look at');
      const harmless = new Set(['Sign out', 'Verify the chain', 'Search', 'Older']);
      for (const [hash, heading] of [['overview', 'Overview'], ['rollouts', 'Rollouts'], ['drift', 'Drift'],
        ['decisions', 'Decisions'], ['changes', 'Change requests'], [`changes/${pending.id}`, `Change #${pending.id}`],
        [`changes/${changeId}`, `Change #${changeId}`], ['changes/new', 'Propose a flag change'], ['audit', 'Audit']]) {
        await visit(view, hash, heading);
        expect(await writes(view) === 0, `${hash}: ${await writes(view)} write controls`);
        const buttons = await view.page.locator('button:visible, a.button:visible').allInnerTexts();
        const odd = buttons.map((b) => b.trim()).filter((b) => !harmless.has(b));
        expect(!odd.length, `${hash}: buttons ${odd.join(', ')}`);
      }
      await visit(view, 'decisions', 'Decisions');
      expect(/needs the view_decisions permission/.test(await mainText(view)), 'the decisions page does not say what the viewer lacks');
      await screenshot(view, 'viewer-decisions');
      clean(view);
      await view.ctx.close();
    });

    await test('CSRF: every change in the action table, sent with the session cookie but without the token, is refused', async () => {
      const cookie = (await mgr.ctx.cookies(srv.url)).find((c) => c.name === 'riskd_session');
      expect(cookie, 'no session cookie');
      const matrix = JSON.parse(run(BIN, ['auth', 'matrix', '--json']));
      const changes = matrix.filter((a) => a.method !== 'GET' && a.action !== 'session.open');
      expect(changes.length >= 15, `only ${changes.length} changes in the table`);
      const fill = { '{id}': '999999', '{name}': 'nobody', '{flag}': ROUTE };
      const refusals = {};
      for (const a of changes) {
        const p = a.path.replace(/\{[a-z]+\}/g, (m) => fill[m]);
        for (const [label, extra] of [['no token', {}], ['a wrong token', { 'X-CSRF-Token': 'f'.repeat(64) }]]) {
          const r = await fetch(`${srv.url}${p}`, {
            method: a.method, body: '{}',
            headers: { 'Content-Type': 'application/json', Cookie: `riskd_session=${cookie.value}`, Origin: srv.url, ...extra },
          });
          const code = (await r.json().catch(() => null))?.error?.code;
          refusals[code] = (refusals[code] ?? 0) + 1;
          expect(r.status === 403 && code === (label === 'no token' ? 'CSRF_REQUIRED' : 'CSRF_INVALID'),
            `${a.action} with ${label}: HTTP ${r.status} ${code}`);
        }
      }
      // the session survived its refused sign-out, and the page still works
      await visit(mgr, 'overview', 'Overview');
      expect(await mgr.page.locator('#nav .who', { hasText: 'mgr (manager)' }).count() === 1, 'the session ended');
      console.log(`     ${changes.length} actions: ${JSON.stringify(refusals)}`);
      clean(mgr);
    });

    await test('the checks are live: a CSP violation, a request outside the server and a console error are each seen', async () => {
      const probe = await openTab(browser, srv, 'probe', { track: false });
      await visit(probe, 'overview', 'Overview');
      await probe.page.evaluate(() => {
        const img = document.createElement('img');
        img.src = 'https://example.invalid/x.png'; // img-src 'self': refused before any request
        document.body.append(img);
      });
      const until = Date.now() + HANG_MS;
      while ((!probe.csp.length || !probe.errors.length) && Date.now() < until) await sleep(50);
      expect(probe.csp.some((v) => /img-src/.test(v)), `no CSP violation seen: ${probe.csp}`);
      expect(probe.errors.length > 0, 'the CSP refusal was not logged as a console error');
      expect(probe.foreign.length === 0 || probe.foreign.every((u) => u.startsWith('https://example.invalid/')),
        `unexpected requests: ${probe.foreign}`);
      await probe.ctx.close();
    });

    // -------------------------------------------- the rollout server
    await test('a rollout with a faulted candidate is rolled back automatically; the page shows it and the failing gate', async () => {
      const { n, state } = await rolledBack;
      expect(state === 'rolled_back', `the rollout ended ${state} after ${n} decisions`);
      const tr = await api(roSrv.url, roTokens.mgr, 'GET', `/v1/admin/rollouts/${ROUTE}/transitions?limit=10`);
      const rb = tr.transitions.find((t) => t.reason === 'rollback');
      const failedGates = (rb?.gates ?? []).filter((g) => g.verdict === 'fail').map((g) => g.metric);
      const gate = /gate (\S+)/.exec(rb?.detail ?? '')?.[1];
      expect(gate && failedGates.includes(gate), `the rollback names no failing gate: ${JSON.stringify(rb)}`);
      console.log(`     rolled back by ${gate} after ${n} decisions`);
      const ro = await openTab(browser, roSrv, 'mgr');
      await signIn(ro, roTokens.mgr);
      await visit(ro, 'rollouts', 'Rollouts', 'rollouts');
      const row = await ro.page.locator('main table tr', { hasText: ROUTE }).innerText();
      expect(/rolled_back/.test(row) && /rollback/.test(row), `the list: ${row}`);
      await visit(ro, `rollouts/${ROUTE}`, `Rollout of ${ROUTE}`, 'rollout');
      const alert = await ro.page.locator('#rolled-back').innerText();
      expect(alert.includes(`gate ${gate}`), `the alert does not name ${gate}: ${alert}`);
      const gateRow = await ro.page.locator('table.gates tr.verdict-fail', { hasText: gate }).first().innerText();
      expect(/fail/.test(gateRow), `the gate table: ${gateRow}`);
      const hist = await ro.page.locator('table.transitions tr.reason-rollback').innerText();
      expect(/running → rolled_back/.test(hist) && hist.includes(gate), `the history: ${hist}`);
      expect(/candidate credit_xgb_v1\.1 \(shadow scores\)/.test(await mainText(ro)), 'the candidate\'s shadow scores are not drawn');
      await visit(ro, 'drift', 'Drift', 'drift');
      expect(await ro.page.locator('table.psi-table').count() > 0, 'no PSI table with the rollout\'s traffic');
      clean(ro);
      // the viewer: the same pages without commands
      const rv = await openTab(browser, roSrv, 'view');
      await signIn(rv, roTokens.view);
      await visit(rv, `rollouts/${ROUTE}`, `Rollout of ${ROUTE}`);
      expect(await writes(rv) === 0 && await rv.page.locator('main button').count() === 0, 'the viewer has rollout commands');
      clean(rv);
      await Promise.all([ro.ctx.close(), rv.ctx.close()]);
    });

    // -------------------------------------------- the 1M log
    await test(`with ${BULK_ROWS.toLocaleString('en-US')} decisions in the log every page loads; the latest come first`, async () => {
      const { count, ms } = await bulk;
      expect(Number(count) === BULK_ROWS, `the log holds ${count} rows`);
      const bigSrv = await startServe(BIN, ['--flags', path.join(big, 'flags.json'), '--data-dir', path.join(big, 'data'), '--log-level', 'warn']);
      servers.push(bigSrv);
      const t = Date.now();
      bg = await openTab(browser, bigSrv, 'mgr');
      await signIn(bg, bigTokens.mgr);
      const times = {};
      for (const [hash, heading] of [['overview', 'Overview'], ['rollouts', 'Rollouts'], ['drift', 'Drift'],
        ['decisions', 'Decisions'], ['decisions/bulk-777777', 'Decision bulk-777777'], ['changes', 'Change requests'], ['audit', 'Audit']]) {
        const t1 = Date.now();
        await visit(bg, hash, heading);
        times[hash] = Date.now() - t1;
        expect(await bg.page.locator('main [role=alert]').count() === 0, `${hash}: ${await mainText(bg)}`);
        if (hash === 'decisions') {
          // a load reads the log once (each read is audited): a fresh document, its requests counted
          const reads = [];
          const count = (r) => { if (new URL(r.url()).pathname === '/v1/admin/decisions') reads.push(r.url()); };
          bg.page.on('request', count);
          await bg.page.reload();
          await bg.page.locator('main[aria-busy="false"] table.decisions').waitFor({ timeout: HANG_MS });
          bg.page.off('request', count);
          expect(reads.length === 1, `a load of the decisions page read the log ${reads.length} times: ${reads.join(', ')}`);
          const first = await bg.page.locator('table.decisions tbody tr').first().innerText();
          expect(first.includes(`bulk-${BULK_ROWS}`), `the newest is not first: ${first}`);
          expect(await bg.page.locator('table.decisions tbody tr').count() === 50, 'not a page of 50');
          await bg.page.click('#older');
          await bg.page.locator('table.decisions tbody tr').nth(99).waitFor({ timeout: HANG_MS });
          const next = await bg.page.locator('table.decisions tbody tr').nth(50).innerText();
          expect(next.includes(`bulk-${BULK_ROWS - 50}`), `the second page does not follow on: ${next}`);
        }
        if (hash === 'overview') {
          expect(await bg.page.locator('p.empty', { hasText: 'No bundle is loaded: start riskd serve with --bundles' }).count() === 1,
            'no bundle: the page does not say what to do');
        }
      }
      console.log(`     insert ${(ms / 1000).toFixed(1)} s; pages ${Object.entries(times).map(([k, v]) => `${k} ${v} ms`).join(', ')}; all in ${((Date.now() - t) / 1000).toFixed(1)} s`);
      clean(bg);
    });

    await test('an unknown page says so', async () => {
      await visit(mgr, 'nope', 'No such page');
    });

    await test('signed out: the overview shows the node, the other pages ask for a sign-in; the keyboard reaches the content', async () => {
      const anon = await openTab(browser, srv, 'anonymous');
      await visit(anon, 'overview', 'Overview');
      const facts = await anon.page.locator('dl.facts').innerText();
      expect(/Status\s+ready/.test(facts), `the status is not shown: ${facts}`);
      await anon.page.keyboard.press('Tab');
      expect(await anon.page.evaluate(() => document.activeElement?.className) === 'skip', 'the first Tab does not reach the skip link');
      await anon.page.keyboard.press('Enter');
      expect(await anon.page.evaluate(() => document.activeElement?.id) === 'main', 'the skip link does not move focus to the content');
      const h1 = await anon.page.locator('main h1').innerText();
      expect(h1 === 'Overview', `the skip link replaced the page: "${h1}"`);
      await visit(anon, 'audit', 'Audit');
      expect(/Sign in to see this page/.test(await mainText(anon)), 'the audit page does not ask for a sign-in');
      clean(anon);
      await anon.ctx.close();
    });

    await test('sign out ends the session: the server refuses its cookie afterwards', async () => {
      const cookie = (await eng.ctx.cookies(srv.url)).find((c) => c.name === 'riskd_session');
      await visit(eng, 'overview', 'Overview');
      await eng.page.click('#nav .who button');
      await eng.page.locator('main[aria-busy="false"] h1').filter({ hasText: 'Sign in' }).waitFor({ timeout: HANG_MS });
      const r = await fetch(`${srv.url}/v1/admin/session`, { headers: { Cookie: `riskd_session=${cookie.value}` } });
      expect((await r.json()).user === null, 'the session still works');
      clean(eng);
    });

    await test('every page the tests showed logged no console error, made no request outside the server, broke no CSP rule and fit 1366 px', async () => {
      const pages = new Set();
      for (const t of tabs) {
        clean(t);
        for (const p of t.visited) pages.add(p);
      }
      for (const p of ['overview', 'rollouts', 'drift', 'decisions', 'changes', 'audit', 'signin']) {
        expect(pages.has(p), `the ${p} page was not shown`);
      }
      const shots = fs.readdirSync(SHOTS).filter((f) => f.endsWith('.png')).sort();
      for (const s of ['overview', 'rollouts', 'rollout', 'drift', 'decisions', 'decision', 'changes', 'change', 'change-propose', 'audit', 'signin']) {
        expect(shots.includes(`${s}.png`), `no screenshot ${s}.png`);
      }
      console.log(`     ${pages.size} pages; screenshots: ${shots.join(' ')}`);
    });
  } finally {
    if (browser) await browser.close();
    await Promise.all(servers.map((s) => s.stop()));
    fs.rmSync(dir, { recursive: true, force: true });
    console.log(`     suite ${((Date.now() - t0) / 1000).toFixed(1)} s`);
  }
}

main()
  .catch((e) => { failed++; console.log(`FAIL: ${e.stack || e}`); })
  .finally(() => {
    console.log(`${passed} passed, ${failed} failed, ${skipped} skipped`);
    process.exit(failed ? 1 : 0);
  });
