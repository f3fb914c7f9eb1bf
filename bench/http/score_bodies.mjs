#!/usr/bin/env node
// Request bodies for bench/http/score.lua: one POST /v1/score body per row of a raw
// applications CSV (shared/data/credit_data.csv), one JSON object per line.
//   node bench/http/score_bodies.mjs credit_data.csv OUT.jsonl [--drop Status]
// A field that reads as a number is sent as a number, any other as a string, an empty one as
// null (missing); the --drop column (the label, default Status) is left out. Row i (from 1)
// gets request_id "r<i>" and targetingKey "app-<i>".
import { readFileSync, writeFileSync } from 'node:fs';

const [inFile, outFile] = process.argv.slice(2);
const di = process.argv.indexOf('--drop');
const drop = di > 0 ? process.argv[di + 1] : 'Status';
if (!inFile || !outFile) {
  console.error('usage: score_bodies.mjs DATA.csv OUT.jsonl [--drop COL]');
  process.exit(2);
}

// RFC 4180 fields: quotes, doubled quotes, commas and newlines inside quotes
function parseCsv(text) {
  const rows = [];
  let row = [], field = '', quoted = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (quoted) {
      if (c === '"' && text[i + 1] === '"') { field += '"'; i++; }
      else if (c === '"') quoted = false;
      else field += c;
    } else if (c === '"') quoted = true;
    else if (c === ',') { row.push(field); field = ''; }
    else if (c === '\n' || c === '\r') {
      if (c === '\r' && text[i + 1] === '\n') i++;
      row.push(field); field = '';
      if (row.length > 1 || row[0] !== '') rows.push(row);
      row = [];
    } else field += c;
  }
  if (field !== '' || row.length) { row.push(field); rows.push(row); }
  return rows;
}

const [header, ...rows] = parseCsv(readFileSync(inFile, 'utf8'));
const keep = header.map((h, j) => (h === drop ? -1 : j)).filter((j) => j >= 0);
const num = /^[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?$/;
const lines = rows.map((r, i) => {
  const features = {};
  for (const j of keep) {
    const v = (r[j] ?? '').trim();
    features[header[j]] = v === '' ? null : num.test(v) ? Number(v) : v;
  }
  return JSON.stringify({ request_id: `r${i + 1}`, context: { targetingKey: `app-${i + 1}` }, features });
});
writeFileSync(outFile, lines.join('\n') + '\n');
console.error(`${outFile}: ${lines.length} request bodies`);
