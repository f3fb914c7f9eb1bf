// The model benchmark's JSON lines (bench/model_bench.c), one run or several rounds of it, as a
// Markdown table: each figure the median of the rounds, each ratio the median of the rounds'
// ratios with their min and max (riskd and XGBoost meet the same machine within a round), so a
// reader can tell a gain from noise.
import { readFileSync } from 'node:fs';
import { median, spread } from './report_lib.mjs';

const rows = readFileSync(process.argv[2], 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l));
const fixed = (digits, suffix) => (x) => `${x.toFixed(digits)}${suffix}`;
const k = (n) => `${(n / 1000).toFixed(0)} k`;
const of = (c, t) => rows.filter((r) => r.case === c && (t === undefined || r.threads === t));
// The LightGBM case (model_bench --lightgbm): riskd's layout against riskd's node walk of the
// same model, no peer library to run.
if (of('lgbm_batch').length) {
  const n = Math.max(1, of('lgbm_check').length);
  console.log(`| measure (median of ${n} round${n > 1 ? 's' : ''}; ratios: median (min–max)) | layout | node walk | layout / node walk |`);
  console.log('| --- | ---: | ---: | ---: |');
  for (const t of [...new Set(of('lgbm_batch').map((r) => r.threads))].sort()) {
    const b = of('lgbm_batch', t);
    console.log(`| batch rows/s, ${t} thread${t > 1 ? 's' : ''} | ${k(median(b.map((r) => r.layout_rows_per_sec)))} | ` +
      `${k(median(b.map((r) => r.nodewalk_rows_per_sec)))} | ` +
      `${spread(b.map((r) => r.layout_rows_per_sec / r.nodewalk_rows_per_sec), fixed(2, 'x'))} |`);
  }
  const ls = of('lgbm_single');
  if (ls.length) {
    console.log(`| single row, median µs | ${spread(ls.map((r) => r.layout_median_us), fixed(2, ''))} | ` +
      `${median(ls.map((r) => r.nodewalk_median_us)).toFixed(2)} | ` +
      `${spread(ls.map((r) => r.nodewalk_median_us / r.layout_median_us), fixed(1, 'x'))} faster |`);
    console.log(`| single row, p99 µs | ${median(ls.map((r) => r.layout_p99_us)).toFixed(2)} | ` +
      `${median(ls.map((r) => r.nodewalk_p99_us)).toFixed(2)} | ` +
      `${spread(ls.map((r) => r.nodewalk_p99_us / r.layout_p99_us), fixed(1, 'x'))} faster |`);
  }
  const lc = of('lgbm_check');
  const bad = lc.reduce((a, r) => a + r.differing, 0);
  const cmp = lc.reduce((a, r) => a + r.outputs_compared, 0);
  console.log(`| outputs differing between the two | ${bad} of ${cmp} | | |`);
  process.exit(0);
}
const rounds = Math.max(1, of('check').length);
console.log(`| measure (median of ${rounds} round${rounds > 1 ? 's' : ''}; ratios: median (min–max)) | riskd | XGBoost C API | riskd / XGBoost |`);
console.log('| --- | ---: | ---: | ---: |');
for (const t of [...new Set(of('batch').map((r) => r.threads))].sort()) {
  const b = of('batch', t);
  console.log(`| batch rows/s, ${t} thread${t > 1 ? 's' : ''} | ${k(median(b.map((r) => r.riskd_rows_per_sec)))} | ` +
    `${k(median(b.map((r) => r.xgboost_rows_per_sec)))} | ` +
    `${spread(b.map((r) => r.riskd_rows_per_sec / r.xgboost_rows_per_sec), fixed(2, 'x'))} |`);
}
const s = of('single');
if (s.length) {
  console.log(`| single row, median µs | ${spread(s.map((r) => r.riskd_median_us), fixed(2, ''))} | ` +
    `${median(s.map((r) => r.xgboost_median_us)).toFixed(2)} | ` +
    `${spread(s.map((r) => r.xgboost_median_us / r.riskd_median_us), fixed(1, 'x'))} faster |`);
  console.log(`| single row, p99 µs | ${median(s.map((r) => r.riskd_p99_us)).toFixed(2)} | ` +
    `${median(s.map((r) => r.xgboost_p99_us)).toFixed(2)} | ` +
    `${spread(s.map((r) => r.xgboost_p99_us / r.riskd_p99_us), fixed(1, 'x'))} faster |`);
}
const sp = of('single_path');
if (sp.length) {
  console.log(`| single row through the pipeline alone (a raw record), median µs | ${spread(sp.map((r) => r.pipeline_median_us), fixed(2, ''))} | - | - |`);
  console.log(`| single row through the pipeline and the model (/v1/score's path), median µs | ` +
    `${spread(sp.map((r) => r.path_median_us), fixed(2, ''))} | - | - |`);
}
const sh = of('treeshap');
if (sh.length) console.log(`| TreeSHAP µs per row | ${median(sh.map((r) => r.riskd_us_per_row)).toFixed(1)} | - | - |`);
const c = of('check');
if (c.length) {
  const bad = c.reduce((a, r) => a + r.probability_mismatches, 0);
  const n = c.reduce((a, r) => a + r.rows, 0);
  console.log(`| probabilities differing from XGBoost's | ${bad} of ${n} | | |`);
}
