// Side-by-side table of riskd and a peer from their JSON-lines results (bench/run.sh): each
// figure the median of the rounds for its (case, threads); each ratio the median of the rounds'
// ratios with their min and max (the two sides run one after the other within a round, so a
// round's ratio is taken on one state of the machine).
import { readFileSync } from 'node:fs';
import { median } from './report_lib.mjs';

const read = (f) => readFileSync(f, 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l));
function groups(rows) {
  const g = new Map();
  for (const r of rows) {
    const k = `${r.case}/${r.threads}`;
    if (!g.has(k)) g.set(k, []);
    g.get(k).push(r);
  }
  return g;
}
const [ours, peer] = process.argv.slice(2).map((f) => groups(read(f)));
const fmt = (n) => (n >= 1e6 ? `${(n / 1e6).toFixed(2)} M` : n >= 1e3 ? `${(n / 1e3).toFixed(1)} k` : `${n.toFixed(0)}`);
const peerName = [...peer.values()][0]?.[0]?.impl ?? 'peer';
const rounds = Math.max(0, ...[...ours.values()].map((g) => g.length));
console.log(`| case | threads | riskd ns/eval | riskd evals/s | ${peerName} ns/eval | ${peerName} evals/s | ` +
  `riskd / ${peerName}, median (min–max) of ${rounds} round${rounds === 1 ? '' : 's'} | riskd heap allocations in timed loops |`);
console.log('| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |');
for (const [k, g] of ours) {
  const p = peer.get(k) ?? [];
  // round i of one side beside round i of the other
  const ratios = g.slice(0, p.length).map((r, i) => r.evals_per_sec / p[i].evals_per_sec);
  const ratio = ratios.length
    ? `${median(ratios).toFixed(1)}x` + (ratios.length > 1 ? ` (${Math.min(...ratios).toFixed(1)}–${Math.max(...ratios).toFixed(1)})` : '')
    : '-';
  const allocs = g.reduce((m, r) => Math.max(m, r.allocs_timed_loop ?? 0), 0);
  console.log(`| ${g[0].case} | ${g[0].threads} | ${median(g.map((r) => r.ns_per_eval)).toFixed(1)} | ` +
    `${fmt(median(g.map((r) => r.evals_per_sec)))} | ` +
    `${p.length ? median(p.map((r) => r.ns_per_eval)).toFixed(1) : '-'} | ${p.length ? fmt(median(p.map((r) => r.evals_per_sec))) : '-'} | ` +
    `${ratio} | ${allocs} |`);
}
