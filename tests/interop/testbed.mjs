#!/usr/bin/env node
// Runs the open-feature/flagd-testbed gherkin suites (data in $RISKD_SHARED/conformance/
// flagd-testbed, read-only) against `riskd flags eval`, or against @openfeature/flagd-core
// in-process (--engine oracle) to validate this runner itself.
//
//   node tests/interop/testbed.mjs [--engine riskd|oracle] [--suite evaluator|provider|provider-v3]
//                                  [--verbose] [--dump DIR]
//   node tests/interop/testbed.mjs oracle-eval --flags FILE --requests FILE|- [--fractional v2]
//       (the riskd CLI contract answered by flagd-core: a reference to diff riskd against)
//
// env: RISKD_SHARED (default <repo>/../shared), RISKD_BIN (default <repo>/build/riskd).
// Output: one line per failing scenario, one summary line per suite, and last
// "N passed, N failed, N skipped". Exit 1 if anything failed.
//
// Suites:
//   evaluator    evaluator/gherkin/*.feature against evaluator/flags/testkit-flags.json.
//   provider     gherkin/{targeting,evaluation,disabled,metadata,contextEnrichment}.feature
//                against the merged allFlags.json (see mergedProviderFlags), v2 bucketing.
//   provider-v3  only the provider pickles tagged @fractional-v3 (132, all in targeting.feature),
//                same flags, evaluated with `--fractional v3` (CBOR bucketing keys; reference
//                flagd-ofrep.md 2.2.5). flagd-core has no v3, so --engine oracle skips this suite.
//
// --strict: riskd's default mode instead of --lenient. A flag that strict mode refuses on
// purpose (STRICT_REFUSALS, each listed with its reason in docs/adr/0006-strict-flag-sets.md)
// is taken out of a copy of its flag file, and the scenarios that evaluate it are counted as
// skipped; any other refusal fails the suite.
//
// Tag filter: not @fractional-v1 and not @fractional-v3 and not @deprecated
// (conformance/README.md); provider-v3 drops "not @fractional-v3". Pickles removed by the
// filter are counted as skipped.
//
// Flag-set selectors: the step `an option "selector" of type "String" with value "S"` makes
// the scenario evaluate against the flag file S names, as the testbed's launchpad sources
// (launchpad/configs/default.json: flags/allFlags.json, rawflags/selector-flags.json,
// rawflags/selector-flag-combined-metadata.json) do: "flags/allFlags.json" is the suite's merged
// file, "rawflags/NAME.json" is the unmerged flags/NAME.json of the testbed copy. Any other
// selector is an error. One riskd run per flag file.
//
// ---------------------------------------------------------------------------------------
// SKIP LIST (scenarios skipped by name). Everything else must pass.
//
// | feature                          | scenario                                                      | reason |
// | -------------------------------- | ------------------------------------------------------------- | ------ |
// | gherkin/contextEnrichment.feature| Use enriched context                                          | needs the daemon's static context (-X injectedmetadata=set, launchpad default.json) |
// | gherkin/contextEnrichment.feature| Use enriched context on connection error for (IN-PROCESS|RPC) | needs a running daemon and provider: connection loss, stale/ready events |
// | gherkin/contextEnrichment.feature| Use enriched context on RPC connection will not cache the value | RPC provider cache and change events from a live flag update |
// ---------------------------------------------------------------------------------------
const SKIPS = [
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
// Flags of the testbed that strict mode refuses, and the words its message must hold.
const STRICT_REFUSALS = [
  { flag: 'ref-to-nonexistent-evaluator-flag', why: '$ref to unknown evaluator' },
  { flag: 'boolean-targeted-zero-flag', why: '$ref to unknown evaluator' },
  { flag: 'error-targeting-flag', why: 'unknown operator' },
  { flag: 'starts-ends-flag', why: 'returns "fail", which is not a variant' },
  { flag: 'equal-greater-lesser-version-flag', why: 'returns "fail", which is not a variant' },
  { flag: 'missing-variant-targeting-flag', why: 'returns "three", which is not a variant' },
  { flag: 'fractional-zero-weights-flag', why: "fractional's weights are all 0" },
  { flag: 'fractional-negative-weight-flag', why: 'the weight must be an integer from 0' },
];
const TAG_EXCLUDE = ['@fractional-v1', '@fractional-v3', '@deprecated'];
const TAG_EXCLUDE_V3 = ['@fractional-v1', '@deprecated'];
const ORACLE_NO_V3 = 'the JS oracle (@openfeature/flagd-core) has no v3 (CBOR) fractional bucketing';

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

// Strict mode: a copy of flagFile in tmp without the flags strict mode refuses as listed
// (STRICT_REFUSALS). Returns { file, removed: Set, error }.
function strictCopy(flagFile, tmp, extraArgs) {
  const bin = process.env.RISKD_BIN || path.join(REPO, 'build', 'riskd');
  const doc = JSON.parse(fs.readFileSync(flagFile, 'utf8'));
  const removed = new Set();
  const file = path.join(tmp, `strict-${path.basename(path.dirname(flagFile))}-${path.basename(flagFile)}`);
  for (;;) {
    fs.writeFileSync(file, JSON.stringify(doc));
    const p = spawnSync(bin, ['flags', 'validate', file, ...extraArgs], { encoding: 'utf8' });
    if (p.status === 0) return { file, removed, error: null };
    const msg = (p.stderr || '').trim();
    const key = Object.keys(doc.flags).find((k) => msg.includes(`flags.${k}.`));
    const known = key && STRICT_REFUSALS.find((r) => r.flag === key && msg.includes(r.why));
    if (!known) return { file, removed, error: `strict mode refused ${flagFile} for a reason not listed: ${msg}` };
    delete doc.flags[key];
    removed.add(key);
  }
}

// Returns { results: [...], error: null } or { results: null, error: "..." }.
function runEngine(engine, flagFile, requests, extraArgs = [], strict = false) {
  const jsonl = requests.map((r) => JSON.stringify(r)).join('\n') + '\n';
  if (engine === 'oracle') {
    if (extraArgs.length) return { results: null, error: `the oracle does not take ${extraArgs.join(' ')}` };
    let evalOne;
    try {
      evalOne = makeOracle(fs.readFileSync(flagFile, 'utf8'));
    } catch (e) {
      return { results: null, error: `flagd-core rejected ${flagFile}: ${e.message}` };
    }
    return { results: requests.map((r) => evalOne(JSON.parse(JSON.stringify(r)))), error: null };
  }
  const bin = process.env.RISKD_BIN || path.join(REPO, 'build', 'riskd');
  const args = ['flags', 'eval', '--flags', flagFile, '--requests', '-', ...(strict ? [] : ['--lenient']), ...extraArgs];
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
  [/^a metadata flagd provider$/, NOOP], // launchpad config whose sources include the selector files
  [/^an option "cache" of type "CacheType" with value "(.*)"$/, NOOP], // no cache in-process
  [
    /^an option "selector" of type "String" with value "(.*)"$/,
    (st, [, selector]) => {
      if (st.evaluated) throw new Error('selector set after an evaluation');
      if (st.selector !== null) throw new Error(`second selector "${selector}" (first "${st.selector}")`);
      st.selector = selector;
      st.flagFile = st.resolveSelector(selector); // throws on a selector with no flag file
    },
  ],
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
      st.prog.push({
        eval: { flag: key, type: TYPES[type], default: def, context: structuredClone(st.context) },
        file: st.flagFile,
      });
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

function compilePickle(p, suite) {
  const st = {
    flag: null,
    evaluated: null,
    context: {},
    prog: [],
    selector: null,
    flagFile: suite.flagFile,
    resolveSelector: suite.resolveSelector,
  };
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
const NAME_CHECKED = new Set(); // features with a pickle matched against SKIPS

function skipReason(p, suite) {
  const tagged = p.tags.filter((t) => suite.tagExclude.includes(t));
  if (tagged.length) return { kind: 'tag', reason: `tag ${tagged.join(' ')}` };
  NAME_CHECKED.add(p.feature);
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
  const o = { engine: 'riskd', suite: null, verbose: false, dump: null, strict: false };
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
    else if (a === '--strict') o.strict = true;
    else if (a === '--help' || a === '-h') usage(null);
    else usage(`unknown argument ${a}`);
  }
  if (!['riskd', 'oracle'].includes(o.engine)) usage(`unknown engine ${o.engine}`);
  if (o.strict && o.engine !== 'riskd') usage('--strict is riskd\'s mode: the oracle is flagd');
  if (o.suite && !['evaluator', 'provider', 'provider-v3'].includes(o.suite)) usage(`unknown suite ${o.suite}`);
  return o;
}

function usage(err) {
  const text =
    'usage: testbed.mjs [--engine riskd|oracle] [--suite evaluator|provider|provider-v3] [--strict] [--verbose] [--dump DIR]\n' +
    '       testbed.mjs oracle-eval --flags FILE --requests FILE|- [--fractional v2]';
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
    else if (argv[i] === '--fractional') {
      const v = argv[++i];
      if (v === 'v3') usage(`oracle-eval: --fractional v3: ${ORACLE_NO_V3}`);
      if (v !== 'v2') usage(`oracle-eval: unknown --fractional ${v}`);
    } else if (argv[i] !== '--lenient') usage(`oracle-eval: unknown argument ${argv[i]}`);
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
  // The launchpad's flag-set selectors (see the header).
  const providerSelector = (sel) => {
    if (sel === 'flags/allFlags.json') return provFile;
    const m = /^rawflags\/([A-Za-z0-9_.-]+\.json)$/.exec(sel);
    const f = m && path.join(TESTBED, 'flags', m[1]);
    if (f && fs.existsSync(f)) return f;
    throw new Error(`selector "${sel}" names no flag file of the testbed`);
  };
  const noSelector = (sel) => {
    throw new Error(`selector "${sel}": this suite has one flag file`);
  };
  const providerFeatures = ['targeting', 'evaluation', 'disabled', 'metadata', 'contextEnrichment'].map(
    (f) => `gherkin/${f}.feature`,
  );
  const suites = [
    {
      name: 'evaluator',
      flagFile: path.join(TESTBED, 'evaluator', 'flags', 'testkit-flags.json'),
      features: fs
        .readdirSync(path.join(TESTBED, 'evaluator', 'gherkin'))
        .filter((f) => f.endsWith('.feature'))
        .sort()
        .map((f) => `evaluator/gherkin/${f}`),
      tagExclude: TAG_EXCLUDE,
      resolveSelector: noSelector,
    },
    {
      name: 'provider',
      flagFile: provFile,
      features: providerFeatures,
      tagExclude: TAG_EXCLUDE,
      resolveSelector: providerSelector,
    },
    {
      name: 'provider-v3',
      flagFile: provFile,
      features: providerFeatures,
      select: (p) => p.tags.includes('@fractional-v3'),
      tagExclude: TAG_EXCLUDE_V3,
      resolveSelector: providerSelector,
      engineArgs: ['--fractional', 'v3'],
      oracleSkip: ORACLE_NO_V3,
    },
  ].filter((s) => !opt.suite || s.name === opt.suite);

  let total = { pass: 0, fail: 0, skip: 0 };
  try {
    for (const suite of suites) {
      const c = runSuite(suite, opt, tmp);
      total = { pass: total.pass + c.pass, fail: total.fail + c.fail, skip: total.skip + c.skip };
    }
  } finally {
    fs.rmSync(tmp, { recursive: true, force: true });
  }
  for (const s of SKIPS) {
    if (NAME_CHECKED.has(s.feature) && !s.used) console.log(`warning: skip entry matched no scenario: ${s.feature} "${s.scenario}"`);
  }
  console.log(`${total.pass} passed, ${total.fail} failed, ${total.skip} skipped`);
  return total.fail ? 1 : 0;
}

function runSuite(suite, opt, tmp) {
  const pickles = suite.features
    .flatMap((f) => loadPickles(path.join(TESTBED, f), f))
    .filter((p) => !suite.select || suite.select(p));
  const c = { pass: 0, fail: 0, skip: 0, byTag: 0, byName: 0, byEngine: 0 };
  const runs = [];
  const batches = new Map(); // flag file -> requests
  const label = (p) => `${p.feature}:${p.line} "${p.name}"`;
  const fail = (p, msg) => {
    c.fail++;
    console.log(`FAIL ${suite.name} ${label(p)}: ${msg}`);
  };
  const engineSkip = opt.engine === 'oracle' ? suite.oracleSkip : null;

  for (const p of pickles) {
    const sk = skipReason(p, suite) ?? (engineSkip ? { kind: 'engine', reason: engineSkip } : null);
    if (sk) {
      c.skip++;
      if (sk.kind === 'tag') c.byTag++;
      else if (sk.kind === 'name') c.byName++;
      else c.byEngine++;
      if (opt.verbose) console.log(`skip ${suite.name} ${label(p)}: ${sk.reason}`);
      continue;
    }
    const prog = compilePickle(p, suite);
    if (prog.error) {
      fail(p, prog.error);
      continue;
    }
    for (const op of prog.prog) {
      if (!op.eval) continue;
      if (!batches.has(op.file)) batches.set(op.file, []);
      op.index = batches.get(op.file).push(op.eval) - 1;
    }
    runs.push({ p, prog: prog.prog });
  }

  const outs = new Map(); // flag file -> { results, error }
  const removedBy = new Map(); // flag file -> the flags strict mode took out
  for (const [file, requests] of batches) {
    let runFile = file;
    let out = null;
    if (opt.strict) {
      const sc = strictCopy(file, tmp, suite.engineArgs ?? []);
      removedBy.set(file, sc.removed);
      runFile = sc.file;
      if (sc.error) out = { results: null, error: sc.error };
    }
    out = out ?? runEngine(opt.engine, runFile, requests, suite.engineArgs ?? [], opt.strict);
    outs.set(file, out);
    if (opt.dump) {
      const tag = file === suite.flagFile ? suite.name : `${suite.name}.${path.basename(file, '.json')}`;
      fs.mkdirSync(opt.dump, { recursive: true });
      fs.writeFileSync(path.join(opt.dump, `${tag}.flags.json`), fs.readFileSync(file));
      fs.writeFileSync(path.join(opt.dump, `${tag}.requests.jsonl`), requests.map((r) => JSON.stringify(r) + '\n').join(''));
      if (out.results) {
        const f = path.join(opt.dump, `${tag}.${opt.engine}.jsonl`);
        fs.writeFileSync(f, out.results.map((r) => JSON.stringify(r) + '\n').join(''));
      }
    }
  }
  const fileNote = (f) => (f === suite.flagFile ? '' : ` flags ${path.relative(TESTBED, f)};`);

  for (const { p, prog } of runs) {
    const refused = prog.find((op) => op.eval && removedBy.get(op.file)?.has(op.eval.flag));
    if (refused) {
      c.skip++;
      c.byStrict = (c.byStrict ?? 0) + 1;
      if (opt.verbose) console.log(`skip ${suite.name} ${label(p)}: strict mode refuses ${refused.eval.flag}`);
      continue;
    }
    let cur = null;
    let req = null;
    let file = null;
    let msg = null;
    for (const op of prog) {
      if (op.eval) {
        const out = outs.get(op.file);
        if (out.error) {
          msg = `engine failed on ${op.file === suite.flagFile ? 'the suite flag file' : op.file} (see ERROR below)`;
          break;
        }
        [cur, req, file] = [out.results[op.index], op.eval, op.file];
        msg = contractProblem(cur, req, op.index);
        if (msg) msg = `contract: ${msg}`;
      } else {
        msg = op.check(cur);
        if (msg) {
          msg +=
            ` [step "${op.step}";${fileNote(file)} request ${JSON.stringify(req)};` +
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
  for (const [file, out] of outs) if (out.error) console.log(`ERROR ${suite.name}${file === suite.flagFile ? '' : ` (${file})`}: ${out.error}`);
  const extra = suite.engineArgs?.length && !engineSkip ? ` ${suite.engineArgs.join(' ')}` : '';
  const byEngine =
    (c.byEngine ? `, ${c.byEngine} by engine: ${engineSkip}` : '') +
    (c.byStrict ? `, ${c.byStrict} evaluate a flag strict mode refuses` : '');
  console.log(
    `suite ${suite.name} (${opt.engine}${opt.strict ? ' strict' : ''}${extra}, ${pickles.length} pickles): ${c.pass} passed, ${c.fail} failed, ` +
      `${c.skip} skipped (${c.byTag} by tag, ${c.byName} by name${byEngine})`,
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
