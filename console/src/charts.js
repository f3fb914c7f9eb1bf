// Charts. Rates over time are uPlot line charts (canvas: nothing of the data becomes markup);
// distributions and PSI are HTML bars, whose numbers stay text a reader or a test can find.
import uPlot from 'uplot';
import 'uplot/dist/uPlot.min.css';
import { h } from './dom.js';
import { percent } from './fmt.js';

const COLORS = ['#0b5cad', '#c2410c', '#15803d', '#7e22ce', '#a16207'];

// series: [{label, points: [{t_ms, value}]}], value a rate (0..1) or null; one x axis (seconds).
export function rateChart(title, series, { width = 720, height = 220 } = {}) {
  const xs = [...new Set(series.flatMap((s) => s.points.map((p) => p.t_ms)))].sort((a, b) => a - b);
  const wrap = h('figure', { class: 'chart' }, h('figcaption', {}, title));
  if (xs.length < 2) {
    wrap.append(h('p', { class: 'empty' }, 'Not enough history yet: one point is drawn each monitor bucket (a minute by default).'));
    return wrap;
  }
  const data = [xs.map((t) => t / 1000)];
  for (const s of series) {
    const at = new Map(s.points.map((p) => [p.t_ms, p.value]));
    data.push(xs.map((t) => (at.has(t) ? at.get(t) : null)));
  }
  const opts = {
    width, height,
    scales: { y: { range: [0, 1] } },
    axes: [{}, { values: (_u, ticks) => ticks.map((v) => percent(v)) }],
    series: [{}, ...series.map((s, i) => ({
      label: s.label, stroke: COLORS[i % COLORS.length], width: 2, spanGaps: false,
      value: (_u, v) => (v === null || v === undefined ? '-' : percent(v)),
    }))],
  };
  const box = h('div', { class: 'plot' });
  wrap.append(box);
  // drawn once the figure is in the page (uPlot measures its container)
  queueMicrotask(() => new uPlot(opts, data, box));
  return wrap;
}

// A histogram of several series over the same bins: bins [{label}], series [{label, counts}],
// each series drawn as shares of its own total, side by side per bin.
export function distribution(title, bins, series) {
  const totals = series.map((s) => s.counts.reduce((a, x) => a + x, 0));
  const max = Math.max(1e-9, ...series.flatMap((s, i) => s.counts.map((c) => (totals[i] ? c / totals[i] : 0))));
  const legend = h('p', { class: 'legend' }, series.map((s, i) => h('span', { class: `key k${i}` }, s.label)));
  // widths through the CSSOM (the CSP allows no style attribute in markup)
  const bar = (cls, label, share) => {
    const fill = h('span', { class: 'fill', role: 'presentation' });
    fill.style.width = `${Math.min(100, (100 * share) / max)}%`;
    return h('div', { class: `hbar ${cls}`, title: `${label}: ${percent(share)}` }, fill, h('span', { class: 'num' }, percent(share)));
  };
  const rows = bins.map((b, j) => h('tr', {},
    h('th', { scope: 'row' }, b.label),
    h('td', {}, series.map((s, i) => bar(`k${i}`, s.label, totals[i] ? s.counts[j] / totals[i] : 0)))));
  const table = h('table', { class: 'dist' }, h('caption', {}, title), h('tbody', {}, rows));
  return h('div', {}, legend, table);
}
