// The HTML reports (riskd ab|drift|skew|swapset --html) in a real browser: Debian's Chromium
// driven by playwright-core (never `playwright install`: shared/reference/browser-testing.md).
//
// For each report: its JSON is validated against docs/schema/<kind>.json (python3-jsonschema),
// rendered to HTML through libriskd's rd_report_html (tests/interop/report_html.py, ctypes),
// opened from a file:// URL, and the test asserts that the page renders what the kind must show
// (headings, one PSI bar per input with a PSI, a 2x2 swap-set table, ...), that no table cell or
// SVG text says NaN / null / undefined, that a hostile string in the data stays text (no extra
// element, no dialog), that the page logs no console error and throws nothing, and that it makes
// no request but for the document itself. A second pass renders each JSON with every number
// replaced by null and every array emptied, the worst the schemas allow, and asserts the same
// (but the content checks). Screenshots go to build/artifacts/report_<kind>.png (screen),
// report_<kind>_print.png (print media) and report_<kind>_nulls.png.
//
//   node tests/interop/report_html.mjs [KIND=FILE ...]
//   RISKD_REPORTS="ab=out/ab.json drift=out/drift.html" node tests/interop/report_html.mjs
//
// FILE ending in .html is opened as it is (e.g. the output of `riskd ab --html`); any other is
// a report JSON (e.g. `riskd ab --json`). Default: tests/interop/fixtures/report_<kind>.json.
// RISKD_LIB: libriskd.so (default build/release/libriskd.so). Without /usr/bin/chromium the
// schema checks still run and the browser cases are skipped. Ends with "N passed, N failed,
// N skipped"; exit 1 if anything failed.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const HERE = dirname(fileURLToPath(import.meta.url));
const ROOT = resolve(HERE, '../..');
const CHROMIUM = process.env.RISKD_CHROMIUM || '/usr/bin/chromium';
const LIB = process.env.RISKD_LIB || join(ROOT, 'build/release/libriskd.so');
const PYTHON = process.env.RISKD_PYTHON || '/usr/bin/python3';
const HELPER = join(HERE, 'report_html.py');
const ARTIFACTS = join(ROOT, 'build/artifacts');
const KINDS = ['ab', 'drift', 'skew', 'swapset'];

let passed = 0, failed = 0, skipped = 0;
function ok(name) { passed++; console.log(`ok   ${name}`); }
function fail(name, why) { failed++; console.log(`FAIL ${name}: ${why}`); }
function check(name, cond, why) { if (cond) ok(name); else fail(name, why || 'assertion failed'); }

function reports() {
  const args = process.argv.slice(2);
  const spec = args.length ? args : (process.env.RISKD_REPORTS || '').split(/\s+/).filter(Boolean);
  if (spec.length === 0) return KINDS.map((k) => ({ kind: k, path: join(HERE, 'fixtures', `report_${k}.json`) }));
  return spec.map((s) => {
    const i = s.indexOf('=');
    if (i < 0 || !KINDS.includes(s.slice(0, i))) throw new Error(`expected KIND=FILE with KIND one of ${KINDS.join(', ')}: ${s}`);
    return { kind: s.slice(0, i), path: resolve(s.slice(i + 1)) };
  });
}

function py(args) {
  const r = spawnSync(PYTHON, [HELPER, ...args], { encoding: 'utf8' });
  return { code: r.status, out: (r.stdout || '') + (r.stderr || '') + (r.error ? String(r.error) : '') };
}

/* The worst a schema allows: every number null, every array empty (objects and strings kept). */
function nulled(v) {
  if (Array.isArray(v)) return [];
  if (typeof v === 'number') return null;
  if (v && typeof v === 'object') {
    const o = {};
    for (const k of Object.keys(v)) o[k] = k === 'report' ? v[k] : nulled(v[k]);
    return o;
  }
  return v;
}

/* What each kind must render from the fixture-shaped data. */
async function contentChecks(page, kind, data, name) {
  const count = (sel) => page.locator(sel).count();
  const headings = await page.locator('h2').allTextContents();
  const want = {
    ab: ['Variants', 'Comparisons with the control', 'Approval-rate difference over time', 'Score distribution by variant',
      'Sample-ratio mismatch per stage'],
    drift: ['Score distribution', 'PSI per input', 'Inputs', 'Per input distributions'],
    skew: ['Mismatches per input', 'Scores of the same bundle', 'Example rows'],
    swapset: ['Swap set', 'Units and bad rates per cell'],
  }[kind];
  const missing = want.filter((h) => !headings.some((t) => t.startsWith(h)));
  check(`${name}: headings`, missing.length === 0, `missing ${missing.join(', ')} in ${headings.join(' | ')}`);
  if (kind === 'ab') {
    const variants = (data.variants || []).length;
    check(`${name}: one row per variant`, (await count('#variants tbody tr')) === variants, `want ${variants}`);
    const comps = (data.comparisons || []).length;
    check(`${name}: one row and one sentence per comparison`, (await count('#comparisons tbody tr')) === comps &&
      (await count('#comparisons ul.sentences li')) === comps, `want ${comps}`);
    const series = new Set((data.series || []).map((p) => p.variant));
    check(`${name}: one difference chart per variant in the series`, (await count('#series svg.chart')) === series.size,
      `want ${series.size}`);
    const computed = (data.series || []).filter((p) => typeof p.diff === 'number').length;
    check(`${name}: a point per computed difference, a band and a zero line`,
      (await count('#series circle.point')) === computed && (await count('#series path.ci-band')) >= (computed ? 1 : 0) &&
      (await count('#series line.zero')) === series.size, `want ${computed} points`);
    const withScores = Object.values((data.score_hist || {}).counts || {}).filter((c) => c.some((x) => x > 0)).length;
    check(`${name}: one histogram outline per variant with scores`, (await count('#scores path.hist')) === withScores, `want ${withScores}`);
    check(`${name}: SRM rows`, (await count('#srm tbody tr')) === (data.srm || []).length);
  } else if (kind === 'drift') {
    const inputs = data.inputs || [];
    const withPsi = inputs.filter((v) => typeof v.psi === 'number').length;
    check(`${name}: one PSI row per input, one bar per input with a PSI`,
      (await count('#psi g.psi-row')) === inputs.length && (await count('#psi rect.psi-bar')) === withPsi,
      `rows ${await count('#psi g.psi-row')}/${inputs.length}, bars ${await count('#psi rect.psi-bar')}/${withPsi}`);
    const floors = inputs.filter((v) => typeof v.psi_floor === 'number').length;
    check(`${name}: a noise-floor mark per input with a floor; the 0.10 and 0.25 lines`,
      (await count('#psi path.psi-floor')) === floors && (await count('#psi line.threshold')) === 2);
    check(`${name}: the notes of inputs without PSI`, (await count('#psi text.psi-none')) === inputs.length - withPsi);
    check(`${name}: the score's ECDF (2 lines) and PSI bins`, (await count('#score path.ecdf')) === 2 &&
      (await count('#score rect.bin-bar')) === 2 * (data.score.bins || []).length);
    check(`${name}: inputs table (score + inputs)`, (await count('#inputs tbody tr')) === inputs.length + 1);
  } else if (kind === 'skew') {
    check(`${name}: one row per input, alarms marked`, (await count('#inputs tbody tr')) === (data.inputs || []).length &&
      (await count('#inputs tr.alarm')) === (data.inputs || []).filter((v) => v.alarm === true).length);
    check(`${name}: one row per example`, (await count('#examples tbody tr')) === (data.examples || []).length);
    check(`${name}: the verdict`, (await page.locator('.banner').first().textContent()) === data.verdict);
  } else if (kind === 'swapset') {
    check(`${name}: a 2x2 swap-set table`, (await count('table.swap td.swap-cell')) === 4);
    check(`${name}: swap-ins and swap-outs highlighted`, (await count('table.swap td.swap_in')) === 1 &&
      (await count('table.swap td.swap_out')) === 1);
    const cells = (data.cells || []).filter((c) => typeof c.count === 'number').length;
    check(`${name}: a bar per cell`, (await count('#cells rect.cell-bar')) >= cells);
  }
}

/* Every string of the data (including hostile ones) must be in the page as text. */
function strings(v, out = []) {
  if (typeof v === 'string') out.push(v);
  else if (v && typeof v === 'object') Object.values(v).forEach((x) => strings(x, out));
  return out;
}

async function openReport(browser, kind, htmlPath, name, shot, data, full) {
  const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
  const requests = [], errors = [], dialogs = [];
  page.on('request', (r) => requests.push(r.url()));
  page.on('console', (m) => { if (m.type() === 'error' || m.type() === 'warning') errors.push(`console ${m.type()}: ${m.text()}`); });
  page.on('pageerror', (e) => errors.push(`page error: ${e.message}`));
  page.on('dialog', (d) => { dialogs.push(d.message()); d.dismiss().catch(() => {}); });
  const url = pathToFileURL(htmlPath).href;
  try {
    await page.goto(url, { waitUntil: 'load' });
    await page.waitForSelector('#report h2, #report .error', { timeout: 10000 });
    /* the message only when there is one: textContent() of a missing element waits 30 s for it */
    const errorCount = await page.locator('#report .error').count();
    check(`${name}: renders without an error message`, errorCount === 0,
      errorCount ? await page.locator('#report .error').first().textContent() : '');
    check(`${name}: draws SVG`, (await page.locator('#report svg.chart').count()) > 0 || kind === 'skew');
    const bad = await page.evaluate(() => {
      const out = [];
      document.querySelectorAll('td, th, svg text, .fact .v, .banner, li, figcaption').forEach((n) => {
        const t = n.textContent || '';
        if (/\b(NaN|null|undefined|Infinity)\b|\[object Object\]/.test(t)) out.push(t.slice(0, 80));
      });
      return out;
    });
    const allowed = new Set(strings(data));
    const offending = bad.filter((t) => ![...allowed].some((s) => s && t.includes(s.slice(0, 40)) && /null/.test(s)));
    check(`${name}: no NaN / null / undefined shown`, offending.length === 0, offending.slice(0, 3).join(' | '));
    const scripts = await page.locator('script').count();
    check(`${name}: the data block stays data (2 script elements, no injected element, no dialog)`,
      scripts === 2 && dialogs.length === 0 && (await page.locator('#report img, #report script, #report iframe').count()) === 0,
      `scripts ${scripts}, dialogs ${dialogs.join(',')}`);
    if (full && data) {
      const text = await page.evaluate(() => { /* what a reader sees (SVG titles too), not the raw JSON */
        const c = document.querySelector('.page').cloneNode(true);
        c.querySelectorAll('.raw-json').forEach((n) => n.remove());
        return c.textContent;
      });
      const parsed = await page.evaluate(() => JSON.parse(document.getElementById('report-data').textContent));
      check(`${name}: the embedded JSON parses back to the report`, JSON.stringify(parsed) === JSON.stringify(data));
      /* identifiers (enum values, metric and cell names) are shown in words, hashes shortened */
      const lost = strings(data).filter((s) => s.length > 0 && !/^[a-z_]+$/.test(s) && !/^[0-9a-f]{16,}$/.test(s) &&
        !text.includes(s));
      check(`${name}: every string of the report appears as text`, lost.length === 0, JSON.stringify(lost.slice(0, 3)));
      await contentChecks(page, kind, data, name);
    }
    check(`${name}: no console error, no page error`, errors.length === 0, errors.slice(0, 3).join(' | '));
    const other = requests.filter((u) => u !== url);
    check(`${name}: no network request (only the document itself)`, other.length === 0 && requests.length === 1,
      `requests: ${requests.join(', ')}`);
    await page.screenshot({ path: join(ARTIFACTS, `${shot}.png`), fullPage: true });
    if (full) {
      await page.emulateMedia({ media: 'print' });
      await page.screenshot({ path: join(ARTIFACTS, `${shot}_print.png`), fullPage: true });
    }
  } catch (e) {
    fail(`${name}: open`, e.message.split('\n')[0]);
  } finally {
    await page.close();
  }
}

async function main() {
  const list = reports();
  mkdirSync(ARTIFACTS, { recursive: true });
  const tmp = mkdtempSync(join(tmpdir(), 'riskd-report-html-'));
  const cases = [];
  for (const { kind, path } of list) {
    if (path.endsWith('.html')) { cases.push({ kind, html: path, name: `${kind} (${path})`, data: null }); continue; }
    const name = `${kind} (${path.startsWith(ROOT) ? path.slice(ROOT.length + 1) : path})`;
    let data;
    try { data = JSON.parse(readFileSync(path, 'utf8')); } catch (e) { fail(`${name}: read`, e.message); continue; }
    const v = py(['validate', join(ROOT, 'docs/schema', `${kind}.json`), path]);
    if (v.code === 3) { skipped++; console.log(`skip ${name}: schema: ${v.out.trim()}`); } else {
      check(`${name}: valid against docs/schema/${kind}.json`, v.code === 0, v.out.trim().split('\n').slice(0, 5).join(' | '));
    }
    const html = join(tmp, `${kind}.html`);
    const r = py(['render', LIB, kind, path, html]);
    if (r.code !== 0) { fail(`${name}: rd_report_html`, r.out.trim()); continue; }
    const page = readFileSync(html, 'utf8');
    const open = '<script type="application/json" id="report-data">';
    const start = page.indexOf(open) + open.length, end = page.indexOf('</script>', start);
    const inner = page.slice(start, end);
    let same = false;
    try { same = JSON.stringify(JSON.parse(inner)) === JSON.stringify(data); } catch (e) { same = false; }
    check(`${name}: the data block holds no "<" (so no "</script" or "<!--") and parses back to the report`,
      start > open.length && !inner.includes('<') && !/[\u2028\u2029]/.test(inner) && same);
    cases.push({ kind, html, name, data });
    const nul = join(tmp, `${kind}_nulls.json`);
    writeFileSync(nul, JSON.stringify(nulled(data)));
    const nhtml = join(tmp, `${kind}_nulls.html`);
    const r2 = py(['render', LIB, kind, nul, nhtml]);
    if (r2.code !== 0) fail(`${kind} nulls: rd_report_html`, r2.out.trim());
    else cases.push({ kind, html: nhtml, name: `${kind} (every number null, every array empty)`, data: nulled(data), nulls: true });
  }
  // The schemas refuse what they must: a string where a number belongs.
  const probe = join(tmp, 'probe.json');
  writeFileSync(probe, JSON.stringify({ report: 'swapset', riskd: '0', source: 's', from: null, to: null, champion: 'a',
    challenger: 'b', outcome: null, champion_rule: '', challenger_rule: '', units: '5', unpaired: 0, champion_approval: 2,
    challenger_approval: null, constant_cutoff: null, cells: [] }));
  const pv = py(['validate', join(ROOT, 'docs/schema/swapset.json'), probe]);
  if (pv.code !== 3) check('schema: swapset refuses a string count and a share above 1', pv.code === 1 && /units/.test(pv.out) &&
    /champion_approval/.test(pv.out), pv.out.trim());

  if (!existsSync(CHROMIUM)) {
    console.log('skipped: chromium not installed');
    skipped += cases.length;
  } else {
    const { chromium } = await import('playwright-core');
    const browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox'] });
    try {
      for (const c of cases) {
        const shot = `report_${c.kind}${c.nulls ? '_nulls' : ''}`;
        await openReport(browser, c.kind, c.html, c.name, shot, c.data, !c.nulls);
      }
    } finally {
      await browser.close();
    }
    console.log(`screenshots: ${ARTIFACTS}/report_<kind>{,_print,_nulls}.png`);
  }
  rmSync(tmp, { recursive: true, force: true });
  console.log(`${passed} passed, ${failed} failed, ${skipped} skipped`);
  process.exit(failed ? 1 : 0);
}

main().catch((e) => { console.log(`FAIL: ${e.stack || e}`); console.log(`${passed} passed, ${failed + 1} failed, ${skipped} skipped`); process.exit(1); });
