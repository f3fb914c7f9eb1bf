// The HTTP tables of `make bench` (bench/http.sh): riskd beside its peer for one section of
// build/bench/http.jsonl, one row per load (closed loop at N connections, or a fixed offered
// rate), the median run when a case ran more than once.
//   node bench/report_http.mjs build/bench/http.jsonl ofrep|score
// A line of http.jsonl is a wrk run (bench/http/common.lua's result line) with its labels:
//   {"section","impl","mode":"closed|rate","connections", "requests","duration_s","rps",
//    "offered_rps","latency_ms":{"mean","p50","p99","max"},"errors":{...}}  or  {..., "failed"}
import { readFileSync } from 'node:fs';

const [file, section] = process.argv.slice(2);
const rows = readFileSync(file, 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l))
  .filter((r) => r.section === section);
if (!rows.length) {
  console.log(`(no ${section} results)`);
  process.exit(0);
}

const caseKey = (r) => `${r.mode}/${r.connections}/${r.offered_rps ?? ''}`;
const cases = [...new Map(rows.map((r) => [caseKey(r), r])).values()]
  .map((r) => ({ mode: r.mode, connections: r.connections, offered: r.offered_rps ?? null, key: caseKey(r) }));
const impls = [...new Set(rows.map((r) => r.impl))];
const peer = impls.find((i) => i !== 'riskd') ?? 'peer';

function pick(impl, c) {
  const runs = rows.filter((r) => r.impl === impl && caseKey(r) === c.key);
  const ok = runs.filter((r) => !r.failed).sort((a, b) => a.rps - b.rps);
  if (!ok.length) return runs.length ? { failed: runs[0].failed } : null;
  return ok[Math.floor(ok.length / 2)];
}

const num = (n) => Math.round(n).toLocaleString('en-US');
const ms = (x) => (x >= 100 ? x.toFixed(0) : x >= 10 ? x.toFixed(1) : x >= 1 ? x.toFixed(2) : x.toFixed(3));
function errors(r) {
  const e = r.errors;
  const parts = Object.entries(e).filter(([, v]) => v > 0);
  const total = parts.reduce((s, [, v]) => s + v, 0);
  return total ? `${num(total)} (${parts.map(([k, v]) => `${k} ${num(v)}`).join(', ')})` : '0';
}
let saturated = false;
function cells(r) {
  if (!r) return ['-', '-', '-', '-'];
  if (r.failed) return [`failed: ${r.failed}`, '-', '-', '-'];
  let rps = num(r.rps);
  if (r.offered_rps && r.rps < 0.95 * r.offered_rps) {
    rps += ' *';
    saturated = true;
  }
  return [rps, ms(r.latency_ms.mean), ms(r.latency_ms.p99), errors(r)];
}

console.log(`| load | connections | riskd req/s | riskd mean ms | riskd p99 ms | riskd errors | ` +
  `${peer} req/s | ${peer} mean ms | ${peer} p99 ms | ${peer} errors | riskd ÷ ${peer} req/s |`);
console.log('| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |');
const order = (c) => (c.mode === 'closed' ? 0 : 1);
for (const c of cases.sort((a, b) => order(a) - order(b))) {
  const a = pick('riskd', c);
  const b = pick(peer, c);
  const ratio = a && b && !a.failed && !b.failed && b.rps > 0 ? `${(a.rps / b.rps).toFixed(1)}x` : '-';
  const load = c.mode === 'closed' ? 'closed loop (max throughput)' : `fixed rate ${num(c.offered)} req/s`;
  console.log(`| ${load} | ${num(c.connections)} | ${cells(a).join(' | ')} | ${cells(b).join(' | ')} | ${ratio} |`);
}
console.log();
console.log('Closed loop: each connection sends its next request as soon as the answer is in, so req/s is');
console.log('the maximum throughput and the latency about connections ÷ throughput (Little\'s law). Fixed');
console.log('rate: the offered load is set; compare latencies there. Latencies are wrk\'s, which adds');
console.log('synthetic samples for answers slower than twice a connection\'s mean interval between requests');
console.log('(its coordinated-omission correction), so a server that stalls shows it in mean and p99.');
if (saturated) {
  console.log('\\* could not sustain the offered rate: requests waited for a free connection before they were');
  console.log('sent, which no latency figure counts, so its latency is understated.');
}
