// Drift: for each bundle serving primary decisions, the PSI of each input against the
// training reference as bars with the 0.10 and 0.25 bands, and the score's distribution beside
// the reference's (the monitor's window).
import { h, show } from '../dom.js';
import { get } from '../api.js';
import { count, integer, number, percent } from '../fmt.js';
import { distribution } from '../charts.js';

const BAND_LOW = 0.1, BAND_HIGH = 0.25;
const band = (psi) => (psi === null ? 'none' : psi >= BAND_HIGH ? 'high' : psi >= BAND_LOW ? 'moderate' : 'stable');

function psiBars(inputs) {
  const max = Math.max(0.3, ...inputs.map((i) => i.psi ?? 0));
  const scaled = (x) => `${Math.min(100, (100 * x) / max)}%`;
  const rows = inputs.map((i) => {
    const fill = h('span', { class: 'fill', role: 'presentation' });
    fill.style.width = scaled(i.psi ?? 0);
    const marks = [BAND_LOW, BAND_HIGH].map((b) => {
      const m = h('span', { class: 'mark', role: 'presentation' });
      m.style.left = scaled(b);
      return m;
    });
    return h('tr', { class: `psi-${band(i.psi)}` },
      h('th', { scope: 'row' }, i.name),
      h('td', { class: 'psi' }, h('div', { class: 'hbar psi-bar', title: i.psi === null ? 'not enough rows' : `PSI ${number(i.psi)}` }, fill, ...marks)),
      h('td', {}, i.psi === null ? `needs 1,000 rows (${integer(i.n)})` : number(i.psi)),
      h('td', {}, i.psi_noise_floor === null ? '-' : number(i.psi_noise_floor)),
      h('td', {}, band(i.psi)),
      h('td', {}, i.missing_rate === null ? '-' : percent(i.missing_rate)),
      h('td', {}, i.unknown_rate === null ? '-' : percent(i.unknown_rate)));
  });
  return h('table', { class: 'psi-table' },
    h('caption', {}, 'PSI per input against the training reference: under 0.10 stable, 0.10–0.25 moderate, 0.25 and over a shift'),
    h('thead', {}, h('tr', {}, ['Input', 'PSI (bands at 0.10 and 0.25)', 'PSI', 'Noise floor', 'Band', 'Missing', 'Unknown level'].map((t) => h('th', { scope: 'col' }, t)))),
    h('tbody', {}, rows));
}

function score(w) {
  const p = w.score_psi;
  if (!p?.counts) return h('p', { class: 'empty' }, p?.note ?? 'The bundle has no score reference to compare with.');
  const cuts = p.cuts;
  const bins = p.counts.map((_, i) => ({
    label: i === 0 ? `< ${number(cuts[0])}` : i === cuts.length ? `≥ ${number(cuts[i - 1])}` : `${number(cuts[i - 1])}–${number(cuts[i])}`,
  }));
  return [
    h('p', {}, `Score PSI ${p.value === null ? '(needs 1,000 decisions)' : number(p.value)}; KS ${w.score_ks?.value === null ? '-' : number(w.score_ks.value)}${w.score_ks?.alarm ? ' (over its 0.1% critical value)' : ''}.`),
    distribution('Score distribution: training reference and the window', bins,
      [{ label: 'training reference', counts: p.reference_counts }, { label: 'the window', counts: p.counts }]),
  ];
}

export async function drift(main, _args, live) {
  const mon = await get('/v1/admin/monitor', { accept: [404] });
  if (!live()) return;
  if (!mon.series) {
    show(main, h('h1', {}, 'Drift'), h('p', { class: 'empty' }, 'Monitoring is off on this node (monitor = off): no drift to show.'));
    return;
  }
  const series = mon.series.filter((s) => s.window.role === 'primary');
  show(main, h('h1', {}, 'Drift'),
    h('p', { class: 'muted' }, `The last ${integer(mon.window_s / 60)} minutes of primary decisions, per bundle and routing variant.`),
    series.length ? series.map((s) => h('section', { class: 'series' },
      h('h2', {}, `${s.window.bundle}${s.window.variant ? ` (variant ${s.window.variant})` : ''}: ${count(s.window.n, 'decision')}`),
      s.window.inputs?.length ? psiBars(s.window.inputs) : h('p', { class: 'empty' }, 'No input statistics (the bundle has no input reference).'),
      score(s.window)))
      : h('p', { class: 'empty' }, 'No decision yet: drift shows once requests are scored.'));
}
