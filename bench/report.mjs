// Side-by-side table of riskd and a peer from their JSON-lines results (bench/run.sh).
import { readFileSync } from 'node:fs';

const read = (f) => readFileSync(f, 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l));
const [ours, peer] = process.argv.slice(2).map(read);
const fmt = (n) => (n >= 1e6 ? `${(n / 1e6).toFixed(2)} M` : n >= 1e3 ? `${(n / 1e3).toFixed(1)} k` : `${n.toFixed(0)}`);
const peerName = peer[0]?.impl ?? 'peer';
console.log(`| case | threads | riskd ns/eval | riskd evals/s | ${peerName} ns/eval | ${peerName} evals/s | throughput ratio | riskd heap allocs in timed loop |`);
console.log('| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |');
for (const r of ours) {
  const p = peer.find((x) => x.case === r.case && x.threads === r.threads);
  const ratio = p ? `${(r.evals_per_sec / p.evals_per_sec).toFixed(1)}x` : '-';
  console.log(`| ${r.case} | ${r.threads} | ${r.ns_per_eval.toFixed(1)} | ${fmt(r.evals_per_sec)} | ` +
    `${p ? p.ns_per_eval.toFixed(1) : '-'} | ${p ? fmt(p.evals_per_sec) : '-'} | ${ratio} | ${r.allocs_timed_loop} |`);
}
