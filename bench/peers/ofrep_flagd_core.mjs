#!/usr/bin/env node
// A flagd-style OFREP service in Node, the peer of `riskd serve` in `make bench`: node's http
// module, @openfeature/flagd-core (the JS flagd evaluator) and the cluster module with one
// worker per core, each with its own FlagdCore on the same flag set.
//
//   node bench/peers/ofrep_flagd_core.mjs --flags FILE --port N [--host 127.0.0.1] [--workers N]
//
// POST /ofrep/v1/evaluate/flags/{key}, body {"context": {...}}, answered as flagd's OFREP
// handler does:
//   200 {"key","value","reason","variant","metadata"}   (no value: code default or disabled)
//   404 {"key","errorCode":"FLAG_NOT_FOUND","errorDetails":"flag `k` does not exist"}
//   400 {"key","errorCode":"INVALID_CONTEXT"|"PARSE_ERROR"|"GENERAL","errorDetails"}
// OFREP carries no flag type, so a flag is evaluated untyped (FeatureFlag.evaluate), as
// flagd's OFREP evaluates with the "any" type. GET /health answers 200 {"status":"ok"}.
// @openfeature/flagd-core is resolved from tests/interop/node_modules.
import cluster from 'node:cluster';
import http from 'node:http';
import os from 'node:os';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const REPO = path.resolve(HERE, '..', '..');
const PREFIX = '/ofrep/v1/evaluate/flags/';
const MAX_BODY = 1_000_000; // flagd's --max-request-body default

function arg(name, fallback) {
  const i = process.argv.indexOf(name);
  return i > 0 && i + 1 < process.argv.length ? process.argv[i + 1] : fallback;
}

const flagsFile = arg('--flags');
const port = Number(arg('--port', '8016'));
const host = arg('--host', '127.0.0.1');
const workers = Number(arg('--workers', String(os.availableParallelism?.() ?? os.cpus().length)));
if (!flagsFile || !(port >= 0)) {
  console.error('usage: ofrep_flagd_core.mjs --flags FILE --port N [--host H] [--workers N]');
  process.exit(2);
}

function send(res, status, obj) {
  const body = JSON.stringify(obj);
  res.writeHead(status, { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(body) });
  res.end(body);
}

function evaluate(core, key, context) {
  const flag = core.getFlag(key);
  if (!flag) return [404, { key, errorCode: 'FLAG_NOT_FOUND', errorDetails: `flag \`${key}\` does not exist` }];
  if (flag.state === 'DISABLED') return [200, { key, reason: 'DISABLED', metadata: flag.metadata }];
  const r = flag.evaluate(context);
  if (r.errorCode) {
    const parse = r.errorCode === 'PARSE_ERROR';
    return [400, {
      key, errorCode: parse ? 'PARSE_ERROR' : 'GENERAL',
      errorDetails: parse ? `error parsing the flag \`${key}\`` : 'error processing the flag for evaluation',
    }];
  }
  if (r.value === undefined) return [200, { key, reason: r.reason, metadata: r.flagMetadata }];
  return [200, { key, value: r.value, reason: r.reason, variant: r.variant, metadata: r.flagMetadata }];
}

function serve() {
  const req = createRequire(path.join(REPO, 'tests', 'interop', 'package.json'));
  const { FlagdCore } = req('@openfeature/flagd-core');
  const silent = { error() {}, warn() {}, info() {}, debug() {} };
  const core = new FlagdCore(undefined, silent);
  core.setConfigurations(fs.readFileSync(flagsFile, 'utf8'));

  const server = http.createServer((req, res) => {
    if (req.method === 'GET' && req.url === '/health') return send(res, 200, { status: 'ok' });
    if (req.method !== 'POST' || !req.url.startsWith(PREFIX)) return send(res, 404, { errorDetails: 'not found' });
    const key = decodeURIComponent(req.url.slice(PREFIX.length).split('?')[0]);
    const chunks = [];
    let size = 0;
    req.on('data', (c) => {
      size += c.length;
      if (size <= MAX_BODY) chunks.push(c);
    });
    req.on('end', () => {
      if (size > MAX_BODY) return send(res, 413, { errorDetails: 'request body too large' });
      let context = {};
      if (size > 0) {
        let body;
        try {
          body = JSON.parse(Buffer.concat(chunks).toString('utf8'));
        } catch {
          return send(res, 400, { key, errorCode: 'INVALID_CONTEXT', errorDetails: 'Provider context is not valid' });
        }
        if (body && typeof body.context === 'object' && body.context !== null && !Array.isArray(body.context)) {
          context = body.context;
        }
      }
      const [status, out] = evaluate(core, key, context);
      send(res, status, out);
    });
  });
  server.keepAliveTimeout = 60_000;
  server.listen({ port, host, backlog: 4096 }); // as Go (flagd) and riskd listen, not node's 511
}

if (cluster.isPrimary && workers > 1) {
  let ready = 0;
  for (let i = 0; i < workers; i++) cluster.fork();
  cluster.on('listening', () => {
    if (++ready === workers) console.log(`listening on http://${host}:${port} (${workers} workers)`);
  });
  cluster.on('exit', (w, code, signal) => {
    console.error(`ofrep_flagd_core: worker ${w.process.pid} exited (${signal ?? code})`);
    process.exit(1);
  });
  for (const sig of ['SIGTERM', 'SIGINT']) {
    process.on(sig, () => {
      cluster.removeAllListeners('exit');
      for (const w of Object.values(cluster.workers)) w.process.kill('SIGTERM');
      process.exit(0);
    });
  }
} else {
  serve();
  if (workers <= 1) console.log(`listening on http://${host}:${port} (1 worker)`);
}
