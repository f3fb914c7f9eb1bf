// Audit: the chain's newest entries, and a button that recomputes every hash and says whether
// the chain is intact (and where it breaks if not).
import { h, show } from '../dom.js';
import { get } from '../api.js';
import { count, integer, time } from '../fmt.js';
import { failure } from '../main.js';

function entries(list) {
  if (!list.length) return h('p', { class: 'empty' }, 'The audit chain is empty: every change, approval, sign-in and read of decisions will be recorded here.');
  return h('table', { class: 'audit' },
    h('caption', {}, `The newest ${count(list.length, 'entry', 'entries')}`),
    h('thead', {}, h('tr', {}, ['#', 'When', 'Who', 'Action', 'Object', 'Detail'].map((t) => h('th', { scope: 'col' }, t)))),
    h('tbody', {}, list.map((e) => h('tr', {},
      h('td', {}, integer(e.seq)),
      h('td', {}, time(Date.parse(e.time))),
      h('td', {}, e.actor),
      h('td', {}, h('code', {}, e.action)),
      h('td', {}, e.object ?? ''),
      h('td', { class: 'detail' }, e.detail === undefined || e.detail === null ? '' : JSON.stringify(e.detail))))));
}

export async function audit(main, _args, live) {
  const list = await get('/v1/admin/audit?limit=100');
  if (!live()) return;
  const result = h('div', { 'aria-live': 'polite', id: 'verify-result' });
  const button = h('button', { type: 'button', id: 'verify' }, 'Verify the chain');
  button.addEventListener('click', async () => {
    button.disabled = true;
    show(result, 'Recomputing every entry’s hash…');
    try {
      const v = await get('/v1/admin/audit/verify');
      show(result, v.intact
        ? h('p', { class: 'ok' }, `Intact: ${count(v.entries, 'entry', 'entries')}, each hash recomputed and linked to the one before (head #${integer(v.head_seq)}).`)
        : h('p', { class: 'error', role: 'alert' }, `Broken at entry #${integer(v.first_bad)}: ${v.problem}`));
    } catch (err) {
      show(result, failure(err));
    } finally {
      button.disabled = false;
    }
  });
  show(main, h('h1', {}, 'Audit'), h('div', { class: 'actions' }, button), result, entries(list));
}
