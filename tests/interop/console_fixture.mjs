// Fixtures of the console's browser tests (tests/interop/console.mjs) and its benchmark
// (bench/console.mjs): the example bundles, users made with the CLI, a decision log of n rows
// inserted in bulk, and credit applications sent for scoring.
import { spawn, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';

const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');

export function run(bin, args, env = {}) {
  const r = spawnSync(bin, args, { encoding: 'utf8', env: { ...process.env, ...env }, timeout: 60000 });
  if (r.status !== 0) throw new Error(`riskd ${args.join(' ')}: exit ${r.status}\n${r.stderr}`);
  return r.stdout.trim();
}

export function buildBundles(bin, dir) {
  for (const v of ['1.0', '1.1']) {
    const src = path.join(REPO, 'examples', 'models', `credit_xgb_v${v}`);
    run(bin, ['bundle', 'build', '--name', `credit_xgb_v${v}`, '--model', path.join(src, 'model.json'),
      '--pipeline', path.join(src, 'pipeline.json'), '--data', path.join(REPO, 'examples', 'data', 'credit_data.csv'),
      '--label', 'Status', '--positive', 'bad', '--fallback', path.join(src, 'fallback.json'),
      '--out', path.join(dir, `credit_xgb_v${v}`)]);
  }
}

// Users from the CLI before the server starts: the first admin at the console, the others with
// its token. Returns {name: token}.
export function addUsers(bin, dataDir, users) {
  const tokens = { root: run(bin, ['user', 'add', 'root', '--role', 'admin', '--data-dir', dataDir]) };
  for (const [name, role] of Object.entries(users)) {
    tokens[name] = run(bin, ['user', 'add', name, '--role', role, '--data-dir', dataDir], { RISKD_TOKEN: tokens.root });
  }
  return tokens;
}

// n compact primary decisions (about 300 B each), newest last, the last one at t1, inserted
// with one statement into the schema riskd made (src/lib/store/sqlite.c); no journal while it
// runs (a fixture: nothing to recover), WAL again after, as riskd keeps it.
export function bulkInsert(db, n, t1, sqlite = 'sqlite3') {
  const sql = `PRAGMA journal_mode = OFF; PRAGMA synchronous = OFF; PRAGMA cache_size = -131072;
WITH RECURSIVE c(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM c WHERE i < ${n})
INSERT INTO decisions(ts_ms, request_id, kind, model_version, record)
SELECT t, 'bulk-' || i, 'primary', 'credit_xgb_v1.0',
  json_object('v', 1, 'kind', 'primary', 'request_id', 'bulk-' || i, 'ts_ms', t,
    'features', json_object('Age', 20 + i % 50, 'Income', 100 + i % 200, 'Amount', 500 + i % 2000),
    'variant', 'champion', 'bundle', json_object('name', 'credit_xgb_v1.0'), 'source', 'model',
    'score', s, 'decision', CASE WHEN s < 0.2 THEN 'approve' WHEN s < 0.5 THEN 'review' ELSE 'reject' END,
    'reasons', json_array(json_object('feature', 'Income', 'code', 'Income', 'impact', s)))
FROM (SELECT i, ${t1 - n * 86} + i * 86 AS t, (i % 997) / 1000.0 AS s FROM c);
PRAGMA journal_mode = WAL;
SELECT count(*) FROM decisions;`;
  return new Promise((resolve, reject) => {
    const p = spawn(sqlite, [db], { stdio: ['pipe', 'pipe', 'pipe'] });
    let out = '', err = '';
    p.stdout.on('data', (d) => { out += d; });
    p.stderr.on('data', (d) => { err += d; });
    p.on('error', reject);
    p.on('exit', (code) => (code === 0 ? resolve(out.trim().split('\n').pop()) : reject(new Error(`sqlite3: exit ${code}: ${err}`))));
    p.stdin.end(sql);
  });
}

// Applications from the example data set (as tests/integration/traffic.py sends them).
export function applications() {
  const [head, ...lines] = fs.readFileSync(path.join(REPO, 'examples', 'data', 'credit_data.csv'), 'utf8').trim().split('\n');
  const cols = head.split(',');
  const numeric = new Set(['Seniority', 'Time', 'Age', 'Expenses', 'Income', 'Assets', 'Debt', 'Amount', 'Price']);
  return lines.map((l) => {
    const f = {};
    l.split(',').forEach((v, i) => {
      if (cols[i] === 'Status') return;
      f[cols[i]] = v === '' ? null : numeric.has(cols[i]) ? Number(v) : v;
    });
    return f;
  });
}

export async function scoreBatch(url, items) {
  const r = await fetch(`${url}/v1/score/batch`, { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify(items) });
  if (r.status !== 200) throw new Error(`score/batch: HTTP ${r.status} ${await r.text()}`);
  return r.json();
}

// Batches of 50 until done() says so (or the bound passes).
export async function traffic(url, rows, prefix, done, boundMs = 60000) {
  const t0 = Date.now();
  let n = 0;
  while (!(await done())) {
    if (Date.now() - t0 > boundMs) throw new Error(`traffic: still going after ${boundMs} ms`);
    const items = [];
    for (let i = 0; i < 50; i++, n++) {
      items.push({ request_id: `${prefix}-${n}`, context: { targetingKey: `app-${(n * 7919) % 100000}`, segment: 'retail', channel: 'web' }, features: rows[n % rows.length] });
    }
    await scoreBatch(url, items);
  }
  return n;
}
