// The OFREP event stream tables of `make bench` (bench/sse.sh), from build/bench/sse.jsonl:
//   {"section":"sse-fanout","round",...}  bench/sse_fanout.c's lines: "open" (streams opened,
//       failed, seconds), "change" (received, missed, first/p50/p99/last ms after the write),
//       "hold"/"held" (streams open before and after the wrk run)
//   {"section":"sse-rate","round","streams","connections", wrk's result line | "failed"}
// The fan-out: the time to the last stream, median of every change with the spread, and the
// worst; the request rate: median [min-max] of the interleaved rounds without and with the
// streams, and the median [min-max] of the rounds' ratios. flagd's OFREP has no event stream: the peer column says so.
//   node bench/report_sse.mjs build/bench/sse.jsonl
import { readFileSync } from 'node:fs';
import { median, spread, num, ms } from './report_lib.mjs';

const rows = readFileSync(process.argv[2], 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l));
const fan = rows.filter((r) => r.section === 'sse-fanout');
const rate = rows.filter((r) => r.section === 'sse-rate');
const NO_PEER = 'no peer (flagd\'s OFREP has no event stream, flagd #2012)';
const TARGET_MS = 500;


const opens = fan.filter((r) => r.case === 'open');
const changes = fan.filter((r) => r.case === 'change');
const held = fan.filter((r) => r.case === 'held');
const streams = opens[0]?.streams ?? 0;
const ok = changes.filter((r) => r.last_ms !== undefined);
const last = ok.map((r) => r.last_ms);
const missed = changes.reduce((s, r) => s + r.missed, 0) + opens.reduce((s, r) => s + (r.streams - r.opened), 0);

console.log(`| streams | changes | to the last stream, ms: median [min-max] | worst ms | median stream ms | first stream ms | streams missing an event | every change under ${TARGET_MS} ms | peer |`);
console.log('| ---: | ---: | ---: | ---: | ---: | ---: | ---: | :---: | --- |');
if (!changes.length) {
  const why = opens.map((r) => `${r.opened}/${r.streams} opened, ${r.bad_status} refused`).join('; ') || 'no result';
  console.log(`| ${num(streams)} | 0 | failed: ${why} | - | - | - | - | - | ${NO_PEER} |`);
} else {
  console.log(`| ${num(streams)} | ${changes.length} | ${spread(last, ms)} | ${last.length ? ms(Math.max(...last)) : '-'} | ` +
    `${ok.length ? ms(median(ok.map((r) => r.p50_ms))) : '-'} | ${ok.length ? ms(median(ok.map((r) => r.first_ms))) : '-'} | ` +
    `${num(missed)} | ${last.length && !missed ? (Math.max(...last) < TARGET_MS ? 'yes' : 'no') : '-'} | ${NO_PEER} |`);
}
console.log();
console.log(`Opening the ${num(streams)} streams took ${opens.map((r) => `${r.seconds.toFixed(2)} s`).join(', ')} (256 connects in flight at a time); ` +
  `streams closed by the server while held: ${held.map((r) => r.closed_while_held).join(', ') || '-'}.`);
console.log();

const conns = rate.find((r) => r.connections)?.connections ?? 0;
const side = (n) => rate.filter((r) => r.streams === n && !r.failed);
const without = side(0);
const withS = rate.filter((r) => r.streams > 0 && !r.failed);
const failedRuns = rate.filter((r) => r.failed).map((r) => `round ${r.round}, ${r.streams} streams: ${r.failed}`);
console.log(`| load | figure | 0 streams | ${num(streams)} streams open | with ÷ without | errors (without, with) | peer |`);
console.log('| --- | --- | ---: | ---: | ---: | ---: | --- |');
const errs = (v) => v.map((r) => Object.values(r.errors).reduce((s, x) => s + x, 0)).reduce((s, x) => s + x, 0);
for (const [name, pick, fmt] of [['req/s', (r) => r.rps, num], ['p99 ms', (r) => r.latency_ms.p99, ms]]) {
  const a = without.map(pick);
  const b = withS.map(pick);
  // a round's ratio: with and without ran one after the other within it
  const rounds = [...new Set(rate.map((r) => r.round))];
  const per = rounds.map((k) => [without.find((r) => r.round === k), withS.find((r) => r.round === k)])
    .filter(([x, y]) => x && y).map(([x, y]) => pick(y) / pick(x));
  const ratio = per.length ? spread(per, (x) => x.toFixed(2)) : '-';
  console.log(`| closed loop, ${num(conns)} connections | ${name} | ${spread(a, fmt)} | ${spread(b, fmt)} | ${ratio} | ` +
    `${num(errs(without))}, ${num(errs(withS))} | ${NO_PEER} |`);
}
if (failedRuns.length) console.log(`\nfailed runs: ${failedRuns.join('; ')}`);
console.log();
console.log('Time to the last stream: from just before the flag file is written to the moment the last of the');
console.log('streams has read its whole refetchEvaluation event (client on the same cores as the server).');
