#!/usr/bin/env node
// Runs the open-feature/flagd-testbed gherkin suites (data in $RISKD_SHARED/conformance/
// flagd-testbed, read-only) against `riskd flags eval`, or against @openfeature/flagd-core
// in-process (--engine oracle) to validate this runner itself.
//
//   node tests/interop/testbed.mjs [--engine riskd|oracle] [--suite evaluator|provider]
//                                  [--verbose] [--dump DIR]
//   node tests/interop/testbed.mjs oracle-eval --flags FILE --requests FILE|-
//       (the riskd CLI contract answered by flagd-core: a reference to diff riskd against)
//
// env: RISKD_SHARED (default <repo>/../shared), RISKD_BIN (default <repo>/build/riskd).
// Output: one line per failing scenario, one summary line per suite, and last
// "N passed, N failed, N skipped". Exit 1 if anything failed.
//
// Tag filter: not @fractional-v1 and not @fractional-v3 and not @deprecated
// (conformance/README.md). Pickles removed by the filter are counted as skipped.
//
// ---------------------------------------------------------------------------------------
// SKIP LIST (scenarios skipped by name). Everything else must pass.
//
// | feature                          | scenario                                                      | reason |
// | -------------------------------- | ------------------------------------------------------------- | ------ |
// | gherkin/disabled.feature         | Flag disabled in one flag set, enabled in another             | needs a flag-set selector (provider option "selector"); riskd flags eval loads one flag file |
// | gherkin/metadata.feature         | Returns flag set metadata                                     | needs selector rawflags/selector-flag-combined-metadata.json and the launchpad "metadata" config |
// | gherkin/metadata.feature         | Flag metadata overwrites flag set metadata                    | needs selector rawflags/selector-flag-combined-metadata.json and the launchpad "metadata" config |
// | gherkin/contextEnrichment.feature| Use enriched context                                          | needs the daemon's static context (-X injectedmetadata=set, launchpad default.json) |
// | gherkin/contextEnrichment.feature| Use enriched context on connection error for (IN-PROCESS|RPC) | needs a running daemon and provider: connection loss, stale/ready events |
// | gherkin/contextEnrichment.feature| Use enriched context on RPC connection will not cache the value | RPC provider cache and change events from a live flag update |
// ---------------------------------------------------------------------------------------
const SKIPS = [
  {
    feature: 'gherkin/disabled.feature',
    scenario: 'Flag disabled in one flag set, enabled in another',
    reason: 'needs a flag-set selector (provider option "selector"); riskd flags eval loads one flag file',
  },
  {
    feature: 'gherkin/metadata.feature',
    scenario: 'Returns flag set metadata',
    reason: 'needs selector rawflags/selector-flag-combined-metadata.json and the launchpad "metadata" config',
  },
  {
    feature: 'gherkin/metadata.feature',
    scenario: 'Flag metadata overwrites flag set metadata',
    reason: 'needs selector rawflags/selector-flag-combined-metadata.json and the launchpad "metadata" config',
  },
  {
    feature: 'gherkin/contextEnrichment.feature',
    scenario: 'Use enriched context',
    reason: "needs the daemon's static context (-X injectedmetadata=set, launchpad default.json)",
  },
  {
    feature: 'gherkin/contextEnrichment.feature',
    scenario: /^Use enriched context on connection error for (IN-PROCESS|RPC)$/,
    reason: 'needs a running daemon and provider: connection loss, stale/ready events',
  },
  {
    feature: 'gherkin/contextEnrichment.feature',
    scenario: 'Use enriched context on RPC connection will not cache the value',
    reason: 'RPC provider cache and change events from a live flag update',
  },
];
const TAG_EXCLUDE = ['@fractional-v1', '@fractional-v3', '@deprecated'];

import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { AstBuilder, GherkinClassicTokenMatcher, Parser, compile } from '@cucumber/gherkin';
import { IdGenerator } from '@cucumber/messages';
import { FlagdCore } from '@openfeature/flagd-core';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const REPO = path.resolve(HERE, '..', '..');
const SHARED = path.resolve(REPO, process.env.RISKD_SHARED || '../shared');
const TESTBED = path.join(SHARED, 'conformance', 'flagd-testbed');

const REASONS = ['STATIC', 'DEFAULT', 'TARGETING_MATCH', 'DISABLED', 'ERROR'];
const ERROR_CODES = ['FLAG_NOT_FOUND', 'PARSE_ERROR', 'TYPE_MISMATCH', 'GENERAL', 'INVALID_CONTEXT'];
const TYPES = { Boolean: 'boolean', String: 'string', Integer: 'integer', Float: 'float', Object: 'object' };

// ---------------------------------------------------------------- values and comparison
// As the reference step definitions (js-sdk-contrib flagd e2e utils.ts mapValueToType).
function mapValue(text, type) {
  switch (type) {
    case 'String':
      return text;
    case 'Integer':
      return Number.parseInt(text, 10);
    case 'Float':
      return Number.parseFloat(text);
    case 'Boolean':
      return text.toLowerCase() === 'true';
    case 'Object':
      if (text === 'null') return undefined;
      return JSON.parse(text.replace(/\\"/g, '"')); // cells carry \" which the steps unescape
    default:
      throw new Error(`unsupported value type "${type}"`);
  }
}

function deepEqual(a, b) {
  if (a === b) return true;
  if (typeof a === 'number' && typeof b === 'number') return Number.isNaN(a) && Number.isNaN(b);
  if (a === null || b === null || typeof a !== 'object' || typeof b !== 'object') return false;
  if (Array.isArray(a) !== Array.isArray(b)) return false;
  const ka = Object.keys(a);
  const kb = Object.keys(b);
  if (ka.length !== kb.length) return false;
  return ka.every((k) => Object.prototype.hasOwnProperty.call(b, k) && deepEqual(a[k], b[k]));
}

const show = (v) => (v === undefined ? 'undefined' : JSON.stringify(v));

// ---------------------------------------------------------------- engines
const silentLogger = { error() {}, warn() {}, info() {}, debug() {} };

// The riskd CLI contract, answered by @openfeature/flagd-core.
function makeOracle(flagText) {
  const core = new FlagdCore(undefined, silentLogger);
  core.setConfigurations(flagText); // throws on a file flagd-core rejects
  return (req) => {
    const def = req.default;
    const ctx = req.context ?? {};
    let r;
    if (req.type === undefined || req.type === null) {
      // No type check: core.resolve without its typeof comparison.
      const flag = core.getFlag(req.flag);
      if (!flag) r = core.resolve('object', req.flag, def, ctx, silentLogger); // FLAG_NOT_FOUND
      else if (flag.state === 'DISABLED') r = { value: def, reason: 'DISABLED', flagMetadata: flag.metadata };
      else {
        r = flag.evaluate(ctx, silentLogger);
        if (r.value === undefined) r = { ...r, value: def };
      }
    } else {
      const t = req.type === 'integer' || req.type === 'float' ? 'number' : req.type;
      r = core.resolve(t, req.flag, def, ctx, silentLogger);
      // riskd's integer rule (draft numeric-coercion ADR): a fractional number is a mismatch.
      if (req.type === 'integer' && r.reason !== 'ERROR' && r.variant != null && !Number.isInteger(r.value)) {
        r = {
          value: def,
          reason: 'ERROR',
          errorCode: 'TYPE_MISMATCH',
          errorMessage: `flag '${req.flag}' value ${r.value} is not an integer`,
          flagMetadata: r.flagMetadata,
        };
      }
    }
    const line = {
      flag: req.flag,
      value: r.value,
      variant: r.variant ?? null,
      reason: r.reason,
      errorCode: r.errorCode ?? null,
      errorMessage: r.errorMessage ?? null,
      metadata: r.flagMetadata ?? {},
    };
    return JSON.parse(JSON.stringify(line)); // same shape as a parsed riskd output line
  };
}

// Returns { results: [...], error: null } or { results: null, error: "..." }.
function runEngine(engine, flagFile, requests) {
  const jsonl = requests.map((r) => JSON.stringify(r)).join('\n') + '\n';
  if (engine === 'oracle') {
    let evalOne;
    try {
      evalOne = makeOracle(fs.readFileSync(flagFile, 'utf8'));
    } catch (e) {
      return { results: null, error: `flagd-core rejected ${flagFile}: ${e.message}` };
    }
    return { results: requests.map((r) => evalOne(JSON.parse(JSON.stringify(r)))), error: null };
  }
  const bin = process.env.RISKD_BIN || path.join(REPO, 'build', 'riskd');
  const args = ['flags', 'eval', '--flags', flagFile, '--requests', '-', '--lenient'];
  const p = spawnSync(bin, args, { input: jsonl, encoding: 'utf8', maxBuffer: 256 << 20, timeout: 120000 });
  if (p.error) {
    const why = p.error.code === 'ENOENT' ? 'binary not found (build it, or use --engine oracle)' : p.error.message;
    return { results: null, error: `riskd ${bin}: ${why}` };
  }
  if (p.status !== 0) {
    const tail = (p.stderr || '').trim().split('\n').slice(-3).join(' | ');
    const how = p.signal ? `killed by ${p.signal}` : `exit ${p.status}`;
    return { results: null, error: `riskd ${args.join(' ')} ${how}: ${tail}` };
  }
  const lines = p.stdout.split('\n').filter((l) => l.trim() !== '');
  if (lines.length !== requests.length) {
    return { results: null, error: `riskd printed ${lines.length} lines for ${requests.length} requests` };
  }
  const results = lines.map((l) => {
    try {
      return JSON.parse(l);
    } catch (e) {
      return { __unparsed: l, __error: e.message };
    }
  });
  return { results, error: null };
}

// Shape check of one output line against the CLI contract.
function contractProblem(res, req, index) {
  if (res.__unparsed !== undefined) return `output line ${index + 1} is not JSON (${res.__error}): ${res.__unparsed}`;
  if (res === null || typeof res !== 'object' || Array.isArray(res)) return `output line ${index + 1} is not an object`;
  if (res.flag !== req.flag) return `output line ${index + 1} is for flag ${show(res.flag)}, expected ${show(req.flag)}`;
  if (!('value' in res)) return 'output has no "value"';
  if (!REASONS.includes(res.reason)) return `reason ${show(res.reason)} is not one of ${REASONS.join('|')}`;
  if (res.errorCode !== null && !ERROR_CODES.includes(res.errorCode)) return `errorCode ${show(res.errorCode)} is not valid`;
  if (res.variant !== null && typeof res.variant !== 'string') return `variant ${show(res.variant)} is not string|null`;
  if (res.errorMessage !== null && typeof res.errorMessage !== 'string') return 'errorMessage is not string|null';
  if (res.metadata === null || typeof res.metadata !== 'object' || Array.isArray(res.metadata)) {
    return `metadata ${show(res.metadata)} is not an object`;
  }
  return null;
}

// ---------------------------------------------------------------- gherkin
function loadPickles(file, relName) {
  const text = fs.readFileSync(file, 'utf8');
  const newId = IdGenerator.incrementing();
  const parser = new Parser(new AstBuilder(newId), new GherkinClassicTokenMatcher());
  const doc = parser.parse(text);
  const lines = new Map(); // AST node id -> line
  const walk = (children) => {
    for (const c of children) {
      if (c.rule) walk(c.rule.children);
      const sc = c.scenario || c.background;
      if (!sc) continue;
      lines.set(sc.id, sc.location.line);
      for (const ex of sc.examples || []) for (const row of ex.tableBody) lines.set(row.id, row.location.line);
    }
  };
  walk(doc.feature.children);
  return compile(doc, relName, newId).map((p) => ({
    feature: relName,
    name: p.name,
    tags: p.tags.map((t) => t.name),
    line: lines.get(p.astNodeIds[p.astNodeIds.length - 1]) ?? 0,
    steps: p.steps,
  }));
}

// ---------------------------------------------------------------- steps
// Each pickle compiles to a program: requests to evaluate, and checks run on the results.
const NOOP = () => {};
const STEPS = [
  [/^an evaluator$/, NOOP],
  [/^a stable flagd provider$/, NOOP],
  [/^an option "cache" of type "CacheType" with value "(.*)"$/, NOOP], // no cache in-process
  [
    /^a (Boolean|String|Integer|Float|Object)-flag with key "(.*)" and a (?:default|fallback) value "(.*)"$/,
    (st, [, type, key, def]) => {
      st.flag = { type, key, default: mapValue(def, type) };
    },
  ],
  [
    /^a context containing a key "(.*)", with type "(.*)" and with value "(.*)"$/,
    (st, [, key, type, value]) => {
      st.context[key] = mapValue(value, type);
    },
  ],
  [
    /^a context containing a nested property with outer key "(.*)" and inner key "(.*)", with value "(.*)"$/,
    (st, [, outer, inner, value]) => {
      st.context[outer] = { [inner]: value };
    },
  ],
  [
    /^a context containing a targeting key with value "(.*)"$/,
    (st, [, value]) => {
      st.context.targetingKey = value;
    },
  ],
  [
    /^the flag was evaluated with details$/,
    (st) => {
      if (!st.flag) throw new Error('evaluated before a flag step');
      const { key, type, default: def } = st.flag;
      st.prog.push({ eval: { flag: key, type: TYPES[type], default: def, context: structuredClone(st.context) } });
      st.evaluated = st.flag;
    },
  ],
  [
    /^the resolved details value should be "(.*)"$/,
    (st, [, text]) => {
      if (!st.evaluated) throw new Error('assertion before "the flag was evaluated with details"');
      const want = mapValue(text, st.evaluated.type);
      check(st, (r) => (deepEqual(r.value, want) ? null : `value: expected ${show(want)}, got ${show(r.value)}`));
    },
  ],
  [
    /^the reason should be "(.*)"$/,
    (st, [, want]) => check(st, (r) => (r.reason === want ? null : `reason: expected ${want}, got ${r.reason}`)),
  ],
  [
    /^the error-code should be "(.*)"$/,
    (st, [, text]) => {
      const want = text === '' ? null : text;
      check(st, (r) => (r.errorCode === want ? null : `errorCode: expected ${show(want)}, got ${show(r.errorCode)}`));
    },
  ],
  [
    /^the variant should be "(.*)"$/,
    (st, [, want]) => check(st, (r) => (r.variant === want ? null : `variant: expected ${show(want)}, got ${show(r.variant)}`)),
  ],
  [
    /^the resolved metadata should contain$/,
    (st, _m, step) => {
      const rows = step.argument?.dataTable?.rows?.map((r) => r.cells.map((c) => c.value)) ?? [];
      const [head, ...body] = rows;
      const ix = (n) => head.indexOf(n);
      const want = body.map((r) => [r[ix('key')], mapValue(r[ix('value')], r[ix('metadata_type')])]);
      check(st, (r) => {
        const bad = want.filter(([k, v]) => !Object.prototype.hasOwnProperty.call(r.metadata, k) || !deepEqual(r.metadata[k], v));
        if (bad.length === 0) return null;
        return `metadata: expected to contain ${show(Object.fromEntries(want))}, got ${show(r.metadata)}`;
      });
    },
  ],
  [
    /^the resolved metadata is empty$/,
    (st) => check(st, (r) => (deepEqual(r.metadata, {}) ? null : `metadata: expected {}, got ${show(r.metadata)}`)),
  ],
];

function check(st, fn) {
  if (!st.evaluated) throw new Error('assertion before "the flag was evaluated with details"');
  st.prog.push({ check: fn, step: st.step });
}

function compilePickle(p) {
  const st = { flag: null, evaluated: null, context: {}, prog: [] };
  for (const step of p.steps) {
    const hit = STEPS.find(([re]) => re.test(step.text));
    if (!hit) return { error: `undefined step: ${step.text}` };
    st.step = step.text;
    try {
      hit[1](st, step.text.match(hit[0]), step);
    } catch (e) {
      return { error: `step "${step.text}": ${e.message}` };
    }
  }
  if (!st.prog.some((o) => o.eval)) return { error: 'scenario evaluates nothing' };
  return { prog: st.prog };
}

// ---------------------------------------------------------------- flag files
function deepMerge(dst, src) {
  for (const [k, v] of Object.entries(src)) {
    const d = dst[k];
    if (d && v && typeof d === 'object' && typeof v === 'object' && !Array.isArray(d) && !Array.isArray(v)) {
      dst[k] = deepMerge(d, v);
    } else dst[k] = v;
  }
  return dst;
}

// As the testbed's launchpad CombineJSONFiles (pkg/json.go) builds flags/allFlags.json: every
// flags/*.json except selector-*, in name order, deep-merged ("flags", "$evaluators" and any
// "metadata"). No non-selector file has set metadata, so the merged set has none.
function mergedProviderFlags() {
  const dir = path.join(TESTBED, 'flags');
  const files = fs
    .readdirSync(dir)
    .filter((f) => f.endsWith('.json') && !f.startsWith('selector-'))
    .sort();
  let all = {};
  for (const f of files) all = deepMerge(all, JSON.parse(fs.readFileSync(path.join(dir, f), 'utf8')));
  return all;
}

// ---------------------------------------------------------------- main
function skipReason(p) {
  const tagged = p.tags.filter((t) => TAG_EXCLUDE.includes(t));
  if (tagged.length) return { kind: 'tag', reason: `tag ${tagged.join(' ')}` };
  for (const s of SKIPS) {
    const ok = s.feature === p.feature && (s.scenario instanceof RegExp ? s.scenario.test(p.name) : s.scenario === p.name);
    if (ok) {
      s.used = true;
      return { kind: 'name', reason: s.reason };
    }
  }
  return null;
}

function parseArgs(argv) {
  const o = { engine: 'riskd', suite: null, verbose: false, dump: null };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const val = () => {
      if (i + 1 >= argv.length) usage(`${a} needs a value`);
      return argv[++i];
    };
    if (a === '--engine') o.engine = val();
    else if (a === '--suite') o.suite = val();
    else if (a === '--dump') o.dump = val();
    else if (a === '--verbose' || a === '-v') o.verbose = true;
    else if (a === '--help' || a === '-h') usage(null);
    else usage(`unknown argument ${a}`);
  }
  if (!['riskd', 'oracle'].includes(o.engine)) usage(`unknown engine ${o.engine}`);
  if (o.suite && !['evaluator', 'provider'].includes(o.suite)) usage(`unknown suite ${o.suite}`);
  return o;
}

function usage(err) {
  const text =
    'usage: testbed.mjs [--engine riskd|oracle] [--suite evaluator|provider] [--verbose] [--dump DIR]\n' +
    '       testbed.mjs oracle-eval --flags FILE --requests FILE|-';
  if (err) {
    console.error(`testbed.mjs: ${err}\n${text}`);
    process.exit(2);
  }
  console.log(text);
  process.exit(0);
}

function oracleEval(argv) {
  let flags = null;
  let reqs = null;
  for (let i = 0; i < argv.length; i++) {
    if (argv[i] === '--flags') flags = argv[++i];
    else if (argv[i] === '--requests') reqs = argv[++i];
    else if (argv[i] !== '--lenient') usage(`oracle-eval: unknown argument ${argv[i]}`);
  }
  if (!flags || !reqs) usage('oracle-eval needs --flags and --requests');
  let evalOne;
  try {
    evalOne = makeOracle(fs.readFileSync(flags, 'utf8'));
  } catch (e) {
    console.error(`invalid flag file ${flags}: ${e.message}`);
    process.exit(1);
  }
  const input = fs.readFileSync(reqs === '-' ? 0 : reqs, 'utf8');
  const out = [];
  for (const l of input.split('\n')) if (l.trim() !== '') out.push(JSON.stringify(evalOne(JSON.parse(l))));
  process.stdout.write(out.map((l) => l + '\n').join(''));
}

function main() {
  const argv = process.argv.slice(2);
  if (argv[0] === 'oracle-eval') return oracleEval(argv.slice(1));
  const opt = parseArgs(argv);

  if (!fs.existsSync(TESTBED)) {
    console.log('skipped: peer suite not present');
    console.log('0 passed, 0 failed, 1 skipped');
    return 0;
  }

  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'riskd-testbed-'));
  const provFile = path.join(tmp, 'allFlags.json');
  fs.writeFileSync(provFile, JSON.stringify(mergedProviderFlags(), null, 2) + '\n');
  const suites = [
    {
      name: 'evaluator',
      flagFile: path.join(TESTBED, 'evaluator', 'flags', 'testkit-flags.json'),
      features: fs
        .readdirSync(path.join(TESTBED, 'evaluator', 'gherkin'))
        .filter((f) => f.endsWith('.feature'))
        .sort()
        .map((f) => `evaluator/gherkin/${f}`),
    },
    {
      name: 'provider',
      flagFile: provFile,
      features: ['targeting', 'evaluation', 'disabled', 'metadata', 'contextEnrichment'].map((f) => `gherkin/${f}.feature`),
    },
  ].filter((s) => !opt.suite || s.name === opt.suite);

  let total = { pass: 0, fail: 0, skip: 0 };
  try {
    for (const suite of suites) {
      const c = runSuite(suite, opt);
      total = { pass: total.pass + c.pass, fail: total.fail + c.fail, skip: total.skip + c.skip };
    }
  } finally {
    fs.rmSync(tmp, { recursive: true, force: true });
  }
  for (const s of SKIPS) {
    const inRun = suites.some((su) => su.features.includes(s.feature));
    if (inRun && !s.used) console.log(`warning: skip entry matched no scenario: ${s.feature} "${s.scenario}"`);
  }
  console.log(`${total.pass} passed, ${total.fail} failed, ${total.skip} skipped`);
  return total.fail ? 1 : 0;
}

function runSuite(suite, opt) {
  const pickles = suite.features.flatMap((f) => loadPickles(path.join(TESTBED, f), f));
  const c = { pass: 0, fail: 0, skip: 0, byTag: 0, byName: 0 };
  const runs = [];
  const requests = [];
  const label = (p) => `${p.feature}:${p.line} "${p.name}"`;
  const fail = (p, msg) => {
    c.fail++;
    console.log(`FAIL ${suite.name} ${label(p)}: ${msg}`);
  };

  for (const p of pickles) {
    const sk = skipReason(p);
    if (sk) {
      c.skip++;
      sk.kind === 'tag' ? c.byTag++ : c.byName++;
      if (opt.verbose) console.log(`skip ${suite.name} ${label(p)}: ${sk.reason}`);
      continue;
    }
    const prog = compilePickle(p);
    if (prog.error) {
      fail(p, prog.error);
      continue;
    }
    for (const op of prog.prog) if (op.eval) op.index = requests.push(op.eval) - 1;
    runs.push({ p, prog: prog.prog });
  }

  const out = requests.length ? runEngine(opt.engine, suite.flagFile, requests) : { results: [], error: null };
  if (opt.dump) {
    fs.mkdirSync(opt.dump, { recursive: true });
    fs.writeFileSync(path.join(opt.dump, `${suite.name}.flags.json`), fs.readFileSync(suite.flagFile));
    fs.writeFileSync(path.join(opt.dump, `${suite.name}.requests.jsonl`), requests.map((r) => JSON.stringify(r) + '\n').join(''));
    if (out.results) {
      const f = path.join(opt.dump, `${suite.name}.${opt.engine}.jsonl`);
      fs.writeFileSync(f, out.results.map((r) => JSON.stringify(r) + '\n').join(''));
    }
  }

  for (const { p, prog } of runs) {
    if (out.error) {
      fail(p, 'engine failed (see ERROR below)');
      continue;
    }
    let cur = null;
    let req = null;
    let msg = null;
    for (const op of prog) {
      if (op.eval) {
        [cur, req] = [out.results[op.index], op.eval];
        msg = contractProblem(cur, req, op.index);
        if (msg) msg = `contract: ${msg}`;
      } else {
        msg = op.check(cur);
        if (msg) {
          msg +=
            ` [step "${op.step}"; request ${JSON.stringify(req)};` +
            ` got variant ${show(cur.variant)}, reason ${cur.reason}, errorCode ${show(cur.errorCode)}]`;
        }
      }
      if (msg) break;
    }
    if (msg) fail(p, msg);
    else {
      c.pass++;
      if (opt.verbose) console.log(`ok   ${suite.name} ${label(p)}`);
    }
  }
  if (out.error) console.log(`ERROR ${suite.name}: ${out.error}`);
  console.log(
    `suite ${suite.name} (${opt.engine}, ${pickles.length} pickles): ${c.pass} passed, ${c.fail} failed, ` +
      `${c.skip} skipped (${c.byTag} by tag, ${c.byName} by name)`,
  );
  return c;
}

let rc;
try {
  rc = main();
} catch (e) {
  console.log(`testbed.mjs crashed: ${e.stack || e}`);
  console.log('0 passed, 1 failed, 0 skipped');
  rc = 1;
}
process.exitCode = rc ?? 0;
