#!/usr/bin/env node
// The web console's page loads (issue 19: each page under 300 ms) over a decision log of 1M rows,
// in Debian's Chromium (headless, playwright-core from tests/interop/node_modules).
//
// riskd serve with the example bundles, the routing flags, a rollout of the drill plan (it
// holds or walks at real speed: the rollout pages have a rollout to draw) and a log of
// BENCH_CONSOLE_ROWS decisions (default 1,000,000) inserted in bulk before the start, as
// tests/interop/console.mjs does, plus 5,000 decisions scored live so the monitor has a window.
// A manager signs in; then, for BENCH_CONSOLE_ROUNDS rounds (default 10, after one round not
// counted, which fills the asset cache), each page is loaded from a blank tab: the time is the
// page's riskd:rendered performance mark (set by console/src/main.js once its data is drawn),
// which counts from the navigation's start: document, script, session, the page's API calls,
// drawing. The pages take turns within a round, so each meets the same machine noise.
//   RISKD_BIN=build/release/riskd node bench/console.mjs
// Prints a Markdown table: each page's median, min-max and the load event's median.
import { createRequire } from 'node:module';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { hasServe, startServe } from '../tests/interop/riskd_serve.mjs';
import { addUsers, applications, buildBundles, bulkInsert, traffic } from '../tests/interop/console_fixture.mjs';
import { median } from './report_lib.mjs';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const REPO = path.resolve(HERE, '..');
const BIN = process.env.RISKD_BIN || path.join(REPO, 'build', 'release', 'riskd');
const CHROMIUM = process.env.RISKD_CHROMIUM || '/usr/bin/chromium';
const ROWS = Number(process.env.BENCH_CONSOLE_ROWS || 1000000);
const ROUNDS = Number(process.env.BENCH_CONSOLE_ROUNDS || 10);
const LIVE = 5000;
const TARGET_MS = 300;
const ROUTE = 'credit-model-route';

const PAGES = [
  ['overview', 'Overview'],
  ['rollouts', 'Rollouts'],
  [`rollouts/${ROUTE}`, `Rollout of ${ROUTE}`],
  ['drift', 'Drift'],
  ['decisions', 'Decisions'],
  [`decisions/bulk-${Math.floor(ROWS / 2)}`, `Decision bulk-${Math.floor(ROWS / 2)}`],
  ['changes', 'Change requests'],
  ['audit', 'Audit'],
];


async function load(page, url, [hash, heading]) {
  await page.goto('about:blank');
  await page.goto(`${url}/ui/#/${hash}`);
  await page.waitForFunction(() => performance.getEntriesByName('riskd:rendered').length > 0, null, { timeout: 30000 });
  const h1 = await page.locator('main h1').innerText();
  if (!h1.startsWith(heading)) throw new Error(`${hash}: the page drew "${h1}", not "${heading}"`);
  if (await page.locator('main [role=alert]').count()) throw new Error(`${hash}: ${await page.locator('main').innerText()}`);
  await page.waitForFunction(() => performance.getEntriesByType('navigation')[0]?.loadEventEnd > 0, null, { timeout: 30000 });
  return page.evaluate(() => ({
    rendered: performance.getEntriesByName('riskd:rendered')[0].startTime,
    load: performance.getEntriesByType('navigation')[0].loadEventEnd,
  }));
}

async function main() {
  if (!fs.existsSync(CHROMIUM)) {
    console.log('console benchmark skipped: chromium not installed');
    return;
  }
  const serve = hasServe(BIN);
  if (!serve.ok) throw new Error(serve.why);
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'riskd-bench-console-'));
  let srv = null, browser = null;
  try {
    const bundles = path.join(dir, 'bundles');
    fs.mkdirSync(bundles);
    buildBundles(BIN, bundles);
    fs.copyFileSync(path.join(REPO, 'examples', 'flags', 'routing.json'), path.join(dir, 'flags.json'));
    const data = path.join(dir, 'data');
    const tokens = addUsers(BIN, data, { mgr: 'manager' });
    const t0 = Date.now();
    const count = await bulkInsert(path.join(data, 'riskd.db'), ROWS, Date.now() - 60000);
    const insertS = (Date.now() - t0) / 1000;
    srv = await startServe(BIN, ['--flags', path.join(dir, 'flags.json'), '--bundles', bundles, '--route-flag', ROUTE,
      '--shadow-flag', 'credit-model-shadow', '--data-dir', data, '--log-level', 'warn',
      '--rollout', path.join(REPO, 'examples', 'rollout', 'credit-drill.json')]);
    let sent = 0;
    await traffic(srv.url, applications(), 'live', async () => (sent += 50) > LIVE);

    const req = createRequire(path.join(REPO, 'tests', 'interop', 'package.json'));
    const { chromium } = req('playwright-core');
    browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox'] });
    const ctx = await browser.newContext({ viewport: { width: 1366, height: 768 }, locale: 'en-US' });
    const page = await ctx.newPage();
    const errors = [];
    page.on('pageerror', (e) => errors.push(e.message));
    page.on('console', (m) => { if (m.type() === 'error') errors.push(m.text()); });
    await page.goto(`${srv.url}/ui/#/signin`);
    await page.fill('#token', tokens.mgr);
    await page.click('form.signin button[type=submit]');
    await page.locator('#nav .who', { hasText: 'mgr (manager)' }).waitFor({ timeout: 30000 });

    const times = new Map(PAGES.map(([hash]) => [hash, { rendered: [], load: [] }]));
    for (let r = 0; r <= ROUNDS; r++) {
      process.stderr.write(`  round ${r}/${ROUNDS}\r`);
      for (const p of PAGES) {
        const t = await load(page, srv.url, p);
        if (r === 0) continue; // the warm-up: the assets into the cache
        times.get(p[0]).rendered.push(t.rendered);
        times.get(p[0]).load.push(t.load);
      }
    }
    process.stderr.write('\n');
    if (errors.length) throw new Error(`console errors: ${errors.join(' | ')}`);

    console.log(`web console: each page from a blank tab to its data drawn (the riskd:rendered mark), ` +
      `${Number(count).toLocaleString('en-US')} decisions in the log (inserted in ${insertS.toFixed(1)} s) + ${LIVE.toLocaleString('en-US')} scored live, ` +
      `median of ${ROUNDS} interleaved rounds after one warm-up, ${os.cpus().length} cores`);
    console.log();
    console.log(`| page | rendered, median ms | min–max ms | load event, median ms | target ${TARGET_MS} ms |`);
    console.log('| --- | ---: | ---: | ---: | --- |');
    for (const [hash] of PAGES) {
      const t = times.get(hash);
      const m = median(t.rendered);
      console.log(`| ${hash} | ${m.toFixed(0)} | ${Math.min(...t.rendered).toFixed(0)}–${Math.max(...t.rendered).toFixed(0)} | ` +
        `${median(t.load).toFixed(0)} | ${m <= TARGET_MS ? 'within' : 'over'} |`);
    }
  } finally {
    if (browser) await browser.close();
    if (srv) await srv.stop();
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

main().catch((e) => {
  console.error(`bench/console.mjs: ${e.stack || e}`);
  process.exit(1);
});
