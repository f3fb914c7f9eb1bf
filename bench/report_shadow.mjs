// The shadow table of `make bench` (bench/http.sh): /v1/score with one shadow model against
// the same service without, per load (closed loop, fixed rate), the median of the interleaved
// rounds with their spread, the ratio, and the shadow work dropped (a full shadow queue sheds
// work instead of slowing the primary: the figure is only honest beside that count).
//   node bench/report_shadow.mjs build/bench/http.jsonl
import { readFileSync } from 'node:fs';

const rows = readFileSync(process.argv[2], 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l));
const runs = rows.filter((r) => r.section === 'shadow');
const drops = rows.filter((r) => r.section === 'shadow-drops');
if (!runs.length) {
  console.log('(no shadow results)');
  process.exit(0);
}
const median = (v) => {
  const s = [...v].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};
const num = (n) => Math.round(n).toLocaleString('en-US');
const ms = (x) => (x >= 100 ? x.toFixed(0) : x >= 10 ? x.toFixed(1) : x >= 1 ? x.toFixed(2) : x.toFixed(3));
function stat(impl, mode, pick, fmt) {
  const v = runs.filter((r) => r.impl === impl && r.mode === mode && !r.failed).map(pick);
  if (!v.length) return { text: '-', med: NaN };
  return { text: `${fmt(median(v))} [${fmt(Math.min(...v))}-${fmt(Math.max(...v))}]`, med: median(v) };
}
console.log('| load | figure | shadow off | shadow on | on ÷ off | within 15% | shadow work dropped (per run) |');
console.log('| --- | --- | ---: | ---: | ---: | :---: | ---: |');
for (const mode of ['rate', 'closed']) {
  const offered = runs.find((r) => r.mode === mode)?.offered_rps;
  const load = mode === 'closed' ? 'closed loop, 64 connections' : `fixed rate ${num(offered)} req/s, 64 connections`;
  const d = drops.filter((r) => r.mode === mode).map((r) => r.dropped);
  const dropped = d.length ? d.map(num).join(', ') : '-';
  const figure = mode === 'closed'
    ? ['req/s', (r) => r.rps, num, (on, off) => on / off >= 0.85]
    : ['p99 ms', (r) => r.latency_ms.p99, ms, (on, off) => on / off <= 1.15];
  const [name, pick, fmt, ok] = figure;
  const off = stat('riskd', mode, pick, fmt);
  const on = stat('riskd+shadow', mode, pick, fmt);
  const ratio = on.med / off.med;
  console.log(`| ${load} | ${name} | ${off.text} | ${on.text} | ${Number.isFinite(ratio) ? ratio.toFixed(2) : '-'} | ` +
    `${Number.isFinite(ratio) ? (ok(on.med, off.med) ? 'yes' : 'no') : '-'} | ${dropped} |`);
}
console.log();
console.log('Fixed rate: the p99 latency of the primary answer with the shadow scored beside it; closed');
console.log('loop: the most the service answers. Shadow work never waits in the caller\'s request: a full');
console.log('shadow queue drops it (counted in riskd_shadow_dropped_total, shown here per run).');
