// Decisions: the latest first (pages through the cursor), or by request id, or in a time range
// (in the browser's zone); one decision with its inputs, variant, model, reasons as a waterfall
// and its shadow scores, and a button that replays it from what was kept and says whether the
// answer is identical, or what differs. Every read is audited by the server.
import { h, show } from '../dom.js';
import { get, post } from '../api.js';
import { count, number, time, zone } from '../fmt.js';
import { failure } from '../main.js';

const PAGE = 50;

function table(rows) {
  if (!rows.length) return h('p', { class: 'empty' }, 'No decision matches: widen the time range, or check the request id.');
  return h('table', { class: 'decisions' },
    h('thead', {}, h('tr', {}, ['When', 'Request', 'Kind', 'Model', 'Variant', 'Decision', 'Score'].map((t) => h('th', { scope: 'col' }, t)))),
    h('tbody', {}, rows.map((r) => h('tr', {},
      h('td', {}, time(r.ts_ms)),
      h('td', {}, h('a', { href: `#/decisions/${encodeURIComponent(r.request_id)}` }, String(r.request_id))),
      h('td', {}, r.kind),
      h('td', {}, r.bundle?.name ?? r.primary ?? '-'),
      h('td', {}, r.variant ?? '-'),
      h('td', {}, r.decision ?? (r.error ? 'failed' : '-')),
      h('td', {}, r.score === null || r.score === undefined ? '-' : number(r.score))))));
}

// datetime-local's value is a wall time in the browser's zone: Date parses it so
function msOf(input) {
  const t = input.value ? new Date(input.value).getTime() : 0;
  return Number.isFinite(t) ? t : 0;
}

async function search(main, live) {
  const results = h('div', { id: 'results' });
  const id = h('input', { id: 'request-id', name: 'request_id', type: 'text', placeholder: 'a request id' });
  const from = h('input', { id: 'from', name: 'from', type: 'datetime-local', step: '1' });
  const to = h('input', { id: 'to', name: 'to', type: 'datetime-local', step: '1' });
  let cursor = null;
  const more = h('button', { type: 'button', id: 'older' }, 'Older');
  const load = async (append) => {
    const q = new URLSearchParams({ order: 'newest', limit: String(PAGE) });
    if (id.value.trim()) q.set('request_id', id.value.trim());
    if (msOf(from)) q.set('from', String(msOf(from)));
    if (msOf(to)) q.set('to', String(msOf(to)));
    if (append && cursor) q.set('before', cursor);
    try {
      const page = await get(`/v1/admin/decisions?${q}`);
      if (!live()) return;
      cursor = page.next;
      const rows = append ? [...(results._rows ?? []), ...page.decisions] : page.decisions;
      results._rows = rows;
      show(results, h('p', { class: 'muted' }, `${count(rows.length, 'decision')}, newest first`), table(rows), cursor ? more : null);
    } catch (err) {
      show(results, failure(err));
    }
  };
  more.addEventListener('click', () => load(true));
  const form = h('form', { class: 'search', method: 'post', action: '' },
    h('label', { for: 'request-id' }, 'Request id'), id,
    h('label', { for: 'from' }, `From (${zone()})`), from,
    h('label', { for: 'to' }, 'To'), to,
    h('button', { type: 'submit' }, 'Search'));
  form.addEventListener('submit', (ev) => {
    ev.preventDefault();
    if (id.value.trim() && !msOf(from) && !msOf(to)) {
      location.hash = `#/decisions/${encodeURIComponent(id.value.trim())}`;
      return;
    }
    load(false);
  });
  show(main, h('h1', {}, 'Decisions'), form, results);
  await load(false);
}

// Reasons as a waterfall, in the order the decision gave them (largest first): each reason's
// impact on the score's margin, a step from the running total, up (towards risk) or down. The
// reasons are the top k, so the steps need not add up to the score.
function waterfall(reasons) {
  const rs = (reasons ?? []).filter((r) => typeof r.impact === 'number');
  if (!rs.length) return h('p', { class: 'empty' }, 'No reason with an impact (a fallback rule decided, or the request asked for none).');
  // the running totals' range sets the scale: 0 sits where the lowest total needs it
  let at = 0, lo = 0, hi = 0;
  for (const r of rs) {
    at += r.impact;
    lo = Math.min(lo, at);
    hi = Math.max(hi, at);
  }
  const span = hi - lo || 1;
  const pos = (x) => `${(90 * (x - lo)) / span}%`;
  at = 0;
  return h('ol', { class: 'waterfall', 'aria-label': 'Reasons, each one\'s impact' }, rs.map((r) => {
    const from = Math.min(at, at + r.impact);
    const step = h('span', { class: `step ${r.impact >= 0 ? 'up' : 'down'}`, role: 'presentation' });
    step.style.marginLeft = pos(from);
    step.style.width = `${(90 * Math.abs(r.impact)) / span}%`;
    at += r.impact;
    return h('li', {}, h('span', { class: 'name' }, `${r.feature ?? '-'} (${r.code})`), h('span', { class: 'track' }, step),
      h('span', { class: 'num' }, `${r.impact >= 0 ? '+' : ''}${number(r.impact)}`));
  }));
}

function inputs(features) {
  if (!features || typeof features !== 'object') return h('p', { class: 'empty' }, 'No inputs recorded.');
  return h('table', { class: 'inputs' }, h('caption', {}, 'Inputs as received'),
    h('tbody', {}, Object.entries(features).map(([k, v]) => h('tr', {}, h('th', { scope: 'row' }, k),
      h('td', {}, v === null ? 'null' : typeof v === 'object' ? JSON.stringify(v) : String(v))))));
}

async function one(main, requestId, live) {
  const rows = await get(`/v1/admin/decisions?request_id=${encodeURIComponent(requestId)}&limit=100`);
  if (!live()) return;
  const primary = rows.find((r) => r.kind === 'primary');
  const shadows = rows.filter((r) => r.kind === 'shadow');
  if (!primary && !shadows.length) {
    show(main, h('h1', {}, 'Decision'), h('p', { class: 'empty' }, `No decision with request id ${requestId} is in the log. `, h('a', { href: '#/decisions' }, 'Search')));
    return;
  }
  const result = h('div', { id: 'replay-result', 'aria-live': 'polite' });
  const replay = h('button', { type: 'button', id: 'replay' }, 'Replay');
  replay.addEventListener('click', async () => {
    replay.disabled = true;
    show(result, 'Replaying from the flag set, bundle and fallback rules kept for it…');
    try {
      const r = await post('/v1/admin/decisions/replay', { request_id: requestId });
      show(result, r.identical
        ? h('p', { class: 'ok' }, `Identical: ${count(r.results.length, 'answer')} replayed, the same bits.`)
        : h('div', { class: 'error', role: 'alert' }, h('p', {}, 'Not identical:'),
          h('ul', {}, r.results.map((x) => h('li', {}, `${x.kind} ${x.model_version ?? ''}: ${x.error ? x.error.message : x.not_replayable ? `not replayable (${x.not_replayable})` : x.identical ? 'identical' : x.diff}`)))));
    } catch (err) {
      show(result, failure(err));
    } finally {
      replay.disabled = false;
    }
  });
  const p = primary ?? {};
  show(main,
    h('h1', {}, `Decision ${requestId}`),
    h('p', {}, h('a', { href: '#/decisions' }, '← Search')),
    h('dl', { class: 'facts' }, [
      ['When', p.ts_ms ? time(p.ts_ms) : '-'], ['Decision', p.decision ?? '-'], ['Risk level', p.risk_level ?? '-'],
      ['Score', p.score === null || p.score === undefined ? '-' : number(p.score)], ['Model', p.bundle?.name ?? '-'],
      ['Variant', p.variant ?? '-'], ['Answered by', p.source === 'fallback' ? `fallback rule ${p.fallback?.rule} (${p.fallback?.reason})` : (p.source ?? '-')],
      ['Node', p.node ?? '-'],
    ].map(([k, v]) => [h('dt', {}, k), h('dd', {}, String(v))])),
    h('div', { class: 'actions' }, replay), result,
    h('h2', {}, 'Reasons'), waterfall(p.reasons),
    h('h2', {}, 'Inputs'), inputs(p.features),
    p.redacted ? h('p', { class: 'muted' }, `Redacted inputs: ${JSON.stringify(p.redacted)}`) : null,
    h('h2', {}, 'Shadow scores'),
    shadows.length ? table(shadows) : h('p', { class: 'empty' }, 'No shadow model scored this request.'));
}

export async function decisions(main, args, live) {
  if (args[0]) return one(main, args[0], live);
  return search(main, live);
}
