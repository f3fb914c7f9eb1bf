// Side-by-side table of riskd and a peer from their JSON-lines results (bench/run.sh): the
// median of the rounds for each (case, threads).
import { readFileSync } from 'node:fs';

const read = (f) => readFileSync(f, 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l));
const median = (xs) => { const s = [...xs].sort((a, b) => a - b); return s[Math.floor(s.length / 2)]; };
function summarise(rows) {
  const groups = new Map();
  for (const r of rows) {
    const k = `${r.case}/${r.threads}`;
    if (!groups.has(k)) groups.set(k, []);
    groups.get(k).push(r);
  }
  return [...groups.values()].map((g) => ({
    ...g[0],
    evals_per_sec: median(g.map((r) => r.evals_per_sec)),
    ns_per_eval: median(g.map((r) => r.ns_per_eval)),
    allocs_timed_loop: g.reduce((m, r) => Math.max(m, r.allocs_timed_loop ?? 0), 0),
  }));
}
const [ours, peer] = process.argv.slice(2).map((f) => summarise(read(f)));
const fmt = (n) => (n >= 1e6 ? `${(n / 1e6).toFixed(2)} M` : n >= 1e3 ? `${(n / 1e3).toFixed(1)} k` : `${n.toFixed(0)}`);
const peerName = peer[0]?.impl ?? 'peer';
console.log(`| case | threads | riskd ns/eval | riskd evals/s | ${peerName} ns/eval | ${peerName} evals/s | riskd / ${peerName} | riskd heap allocations in timed loops |`);
console.log('| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |');
for (const r of ours) {
  const p = peer.find((x) => x.case === r.case && x.threads === r.threads);
  const ratio = p ? `${(r.evals_per_sec / p.evals_per_sec).toFixed(1)}x` : '-';
  console.log(`| ${r.case} | ${r.threads} | ${r.ns_per_eval.toFixed(1)} | ${fmt(r.evals_per_sec)} | ` +
    `${p ? p.ns_per_eval.toFixed(1) : '-'} | ${p ? fmt(p.evals_per_sec) : '-'} | ${ratio} | ${r.allocs_timed_loop} |`);
}
