// The decision log's figures of `make bench` (bench/run.sh): the writer into SQLite in both
// durability modes (bench/log_bench.c), and riskd replay of logged decisions.
//   node bench/report_log.mjs build/bench/log.jsonl
import { readFileSync } from 'node:fs';

const rows = readFileSync(process.argv[2], 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l));
const num = (n) => Math.round(n).toLocaleString('en-US');
console.log('| measure | records | seconds | per second | notes |');
console.log('| --- | ---: | ---: | ---: | --- |');
for (const r of rows) {
  if (r.case === 'log')
    console.log(`| log writer, ${r.durability} | ${num(r.records)} | ${r.seconds.toFixed(2)} | ${num(r.per_sec)} | ` +
      `${num(r.commits)} commits, ${r.records_per_commit.toFixed(0)} records each, ${r.failed} failed |`);
  if (r.case === 'replay')
    console.log(`| riskd replay (4 reason codes each) | ${num(r.records)} | ${r.seconds.toFixed(2)} | ` +
      `${num(r.records / r.seconds)} | ${r.summary} |`);
}
