#!/usr/bin/env node
// The web console (/ui/) in Debian's Chromium, headless, through playwright-core: the page
// loads under its CSP with no console error and no request outside the server, shows the
// node's state from /ready, says what to do when there is nothing to show, and is usable from
// the keyboard. Screenshots go to build/test-artifacts/console/. Without /usr/bin/chromium the
// cases are skipped (the curl-level checks are tests/integration/28-console.sh).
//   RISKD_BIN=build/riskd node tests/interop/console.mjs
// Ends with "N passed, N failed, N skipped"; exit 1 if anything failed.
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { hasServe, startServe } from './riskd_serve.mjs';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const REPO = path.resolve(HERE, '..', '..');
const BIN = process.env.RISKD_BIN || path.join(REPO, 'build', 'riskd');
const CHROMIUM = process.env.RISKD_CHROMIUM || '/usr/bin/chromium';
const SHOTS = path.join(REPO, 'build', 'test-artifacts', 'console');
const CASES = 4; // every test() below, counted skipped when Chromium is absent

let passed = 0, failed = 0, skipped = 0;
async function test(name, fn) {
  try {
    await fn();
    passed++;
    console.log(`ok   ${name}`);
  } catch (e) {
    failed++;
    console.log(`FAIL ${name}\n     ${String(e?.message ?? e).split('\n').join('\n     ')}`);
  }
}
const expect = (cond, what) => { if (!cond) throw new Error(what); };

async function main() {
  const serve = hasServe(BIN);
  if (!serve.ok) throw new Error(serve.why);
  if (!fs.existsSync(CHROMIUM)) {
    console.log('skipped: chromium not installed');
    skipped += CASES;
    return;
  }
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'riskd-console-'));
  fs.writeFileSync(path.join(dir, 'flags.json'), JSON.stringify({
    flags: { 'model-route': { state: 'ENABLED', variants: { a: 'credit_xgb_v1.0' }, defaultVariant: 'a' } },
  }));
  fs.mkdirSync(SHOTS, { recursive: true });
  const srv = await startServe(BIN, ['--flags', path.join(dir, 'flags.json'), '--data-dir', path.join(dir, 'data')]);
  const { chromium } = await import('playwright-core');
  const browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox'] });
  try {
    const page = await browser.newPage({ viewport: { width: 1366, height: 768 } });
    const errors = [];
    const foreign = [];
    page.on('console', (m) => { if (m.type() === 'error') errors.push(m.text()); });
    page.on('pageerror', (e) => errors.push(String(e)));
    page.on('request', (r) => {
      const u = r.url();
      if (!u.startsWith(`${srv.url}/`) && !u.startsWith('data:')) foreign.push(u);
    });

    await test('the overview loads under the CSP and shows /ready', async () => {
      await page.goto(`${srv.url}/ui/`);
      await page.getByRole('heading', { name: 'Overview' }).waitFor({ timeout: 10000 });
      const facts = await page.locator('dl.facts').innerText();
      expect(/Status\s+ready/.test(facts), `the status is not shown: ${facts}`);
      expect(/Flags/.test(facts), `the flags are not shown: ${facts}`);
      await page.screenshot({ path: path.join(SHOTS, 'overview.png'), fullPage: true });
    });

    await test('no bundle: the page says what to do', async () => {
      const empty = await page.locator('p.empty').innerText();
      expect(/--bundles/.test(empty), `the empty state says nothing useful: ${empty}`);
    });

    await test('keyboard: the first Tab reaches the skip link, which moves focus to the content', async () => {
      await page.keyboard.press('Tab');
      expect(await page.evaluate(() => document.activeElement?.className) === 'skip', 'the skip link is not first');
      await page.keyboard.press('Enter');
      expect(await page.evaluate(() => document.activeElement?.id) === 'main', 'focus did not reach the content');
    });

    await test('an unknown page says so; no console error, no request outside the server', async () => {
      await page.goto(`${srv.url}/ui/#/nope`);
      await page.getByRole('heading', { name: 'No such page' }).waitFor({ timeout: 10000 });
      expect(errors.length === 0, `console errors: ${errors.join('; ')}`);
      expect(foreign.length === 0, `requests outside the server: ${foreign.join(', ')}`);
    });
  } finally {
    await browser.close();
    await srv.stop();
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

main()
  .catch((e) => { failed++; console.log(`FAIL: ${e.stack || e}`); })
  .finally(() => {
    console.log(`${passed} passed, ${failed} failed, ${skipped} skipped`);
    process.exit(failed ? 1 : 0);
  });
