// The model benchmark's JSON lines (bench/model_bench.c) as a Markdown table.
import { readFileSync } from 'node:fs';

const rows = readFileSync(process.argv[2], 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l));
const k = (n) => `${(n / 1000).toFixed(0)} k`;
console.log('| measure | riskd | XGBoost C API | riskd / XGBoost |');
console.log('| --- | ---: | ---: | ---: |');
for (const r of rows) {
  if (r.case === 'batch')
    console.log(`| batch rows/s, ${r.threads} thread${r.threads > 1 ? 's' : ''} | ${k(r.riskd_rows_per_sec)} | ` +
      `${k(r.xgboost_rows_per_sec)} | ${(r.riskd_rows_per_sec / r.xgboost_rows_per_sec).toFixed(2)}x |`);
  if (r.case === 'single') {
    console.log(`| single row, median µs | ${r.riskd_median_us.toFixed(2)} | ${r.xgboost_median_us.toFixed(2)} | ` +
      `${(r.xgboost_median_us / r.riskd_median_us).toFixed(1)}x faster |`);
    console.log(`| single row, p99 µs | ${r.riskd_p99_us.toFixed(2)} | ${r.xgboost_p99_us.toFixed(2)} | ` +
      `${(r.xgboost_p99_us / r.riskd_p99_us).toFixed(1)}x faster |`);
  }
  if (r.case === 'treeshap') console.log(`| TreeSHAP µs per row | ${r.riskd_us_per_row.toFixed(1)} | - | - |`);
  if (r.case === 'check') console.log(`| probabilities differing from XGBoost's | ${r.probability_mismatches} of ${r.rows} | | |`);
}
