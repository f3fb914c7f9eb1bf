#!/usr/bin/env node
// Flag evaluation throughput of @openfeature/flagd-core (the JS reference evaluator), the Node
// side of `make bench` for flags. The C side is bench/flags_bench.c; both read the same
// bench/flags/flags.json and bench/flags/contexts.json, cycle through the contexts and print
// one JSON line per case in the same shape, so bench/run.sh can put them side by side:
//
//   {"impl":"flagd-core","case":"static|targeted|fractional","threads":1|2,"ns_per_eval":X,"evals_per_sec":Y}
//
//   node bench/flags/flagd_core_bench.mjs [--seconds S] [--threads 1,2] [--flags F] [--contexts C]
//   (env: FLAGS_BENCH_SECONDS or BENCH_SECONDS, as bench/run.sh sets it)
//
// Each case runs in worker_threads (also the 1-thread case, so both are measured the same
// way). Every worker builds its own FlagdCore, warms up (JIT + flagd-core's compiled rules),
// waits at a barrier, then evaluates for S seconds (default 1.5). evals_per_sec is the total
// over all workers divided by the longest worker's time; ns_per_eval is per thread
// (elapsed * threads / evals), the definition flags_bench.c uses.
// Flags are resolved with their own type: static-flag boolean, targeted-flag and
// fractional-flag string. @openfeature/flagd-core is resolved from tests/interop/node_modules.
import { createRequire } from 'node:module';
import { Worker, isMainThread, parentPort, workerData } from 'node:worker_threads';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const REPO = path.resolve(HERE, '..', '..');
const CASES = [
  { name: 'static', key: 'static-flag', type: 'boolean', def: false },
  { name: 'targeted', key: 'targeted-flag', type: 'string', def: 'code-default' },
  { name: 'fractional', key: 'fractional-flag', type: 'string', def: 'code-default' },
];

function loadFlagdCore() {
  const req = createRequire(path.join(REPO, 'tests', 'interop', 'package.json'));
  return req('@openfeature/flagd-core').FlagdCore;
}

// ------------------------------------------------------------------ worker
function worker() {
  const { flagsText, contextsText, key, type, def, seconds, barrier } = workerData;
  const FlagdCore = loadFlagdCore();
  const silent = { error() {}, warn() {}, info() {}, debug() {} };
  const core = new FlagdCore(undefined, silent);
  core.setConfigurations(flagsText);
  const ctxs = JSON.parse(contextsText);
  const n = ctxs.length;
  let matched = 0; // consumed, so the work cannot be optimised away
  let errors = 0;
  const one = (i) => {
    const r = core.resolve(type, key, def, ctxs[i % n]);
    if (r.reason === 'ERROR') errors++;
    else if (r.value !== def) matched++;
  };
  // warm-up: at least 4 passes over the contexts and 0.3 s
  const w0 = process.hrtime.bigint();
  let i = 0;
  while (i < 4 * n || Number(process.hrtime.bigint() - w0) < 3e8) one(i++);
  // barrier: count in, then wait for the main thread's go
  const b = new Int32Array(barrier);
  Atomics.add(b, 0, 1);
  Atomics.notify(b, 0);
  Atomics.wait(b, 1, 0);
  let evals = 0;
  const limit = BigInt(Math.round(seconds * 1e9));
  const t0 = process.hrtime.bigint();
  let t = t0;
  do {
    for (let k = 0; k < 4096; k++, evals++) one(evals);
    t = process.hrtime.bigint();
  } while (t - t0 < limit);
  parentPort.postMessage({ evals, elapsed: Number(t - t0) / 1e9, matched, errors });
}

// ------------------------------------------------------------------ main
function arg(name, fallback) {
  const i = process.argv.indexOf(name);
  return i > 0 && i + 1 < process.argv.length ? process.argv[i + 1] : fallback;
}

async function runCase(c, threads, shared) {
  const barrier = new SharedArrayBuffer(8);
  const b = new Int32Array(barrier);
  const results = [];
  const workers = [];
  for (let t = 0; t < threads; t++) {
    const w = new Worker(fileURLToPath(import.meta.url), {
      workerData: { ...shared, key: c.key, type: c.type, def: c.def, barrier },
    });
    workers.push(new Promise((resolve, reject) => {
      w.on('message', (m) => results.push(m));
      w.on('error', reject);
      w.on('exit', (code) => (code === 0 ? resolve() : reject(new Error(`worker exited with ${code}`))));
    }));
  }
  // wait until every worker is warmed up, then release them together
  while (Atomics.load(b, 0) < threads) await new Promise((r) => setTimeout(r, 5));
  Atomics.store(b, 1, 1);
  Atomics.notify(b, 1);
  await Promise.all(workers);
  const evals = results.reduce((s, r) => s + r.evals, 0);
  const elapsed = Math.max(...results.map((r) => r.elapsed));
  const errors = results.reduce((s, r) => s + r.errors, 0);
  if (errors) throw new Error(`${c.key}: ${errors} evaluations returned ERROR`);
  return {
    impl: 'flagd-core', case: c.name, threads,
    ns_per_eval: Math.round((1e9 * elapsed * threads / evals) * 10) / 10,
    evals_per_sec: Math.round(evals / elapsed),
  };
}

async function main() {
  const seconds = Number(arg('--seconds', process.env.FLAGS_BENCH_SECONDS || process.env.BENCH_SECONDS || '1.5'));
  if (!(seconds > 0)) throw new Error('--seconds must be a positive number');
  const threadList = arg('--threads', '1,2').split(',').map(Number);
  const flagsFile = arg('--flags', path.join(HERE, 'flags.json'));
  const contextsFile = arg('--contexts', path.join(HERE, 'contexts.json'));
  const shared = {
    flagsText: fs.readFileSync(flagsFile, 'utf8'),
    contextsText: fs.readFileSync(contextsFile, 'utf8'),
    seconds,
  };
  for (const c of CASES) {
    for (const threads of threadList) {
      console.log(JSON.stringify(await runCase(c, threads, shared)));
    }
  }
}

if (isMainThread) {
  main().catch((e) => {
    console.error(`flagd_core_bench: ${e.message}`);
    process.exit(1);
  });
} else {
  worker();
}
