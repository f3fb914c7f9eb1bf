// Change requests: the list, one change with the JSON diff of its flags per flag, and the steps
// the session's role allows: propose a flag change (propose), approve or reject someone else's
// (approve; the author and the editors get no approve button, and the server refuses them
// anyway), publish an approved one (publish), withdraw one's own.
import { h, show } from '../dom.js';
import { can, current, get, post } from '../api.js';
import { count, integer, time } from '../fmt.js';
import { failure } from '../main.js';

const STATES = ['', 'draft', 'proposed', 'approved', 'published', 'rejected', 'withdrawn'];
const pretty = (v) => JSON.stringify(v, null, 2);

function list(rows) {
  if (!rows.length) return h('p', { class: 'empty' }, 'No change request: propose one to change what serves.');
  return h('table', { class: 'changes' },
    h('caption', {}, count(rows.length, 'change request')),
    h('thead', {}, h('tr', {}, ['#', 'Title', 'Kind', 'State', 'Author', 'Approvals', 'Updated'].map((t) => h('th', { scope: 'col' }, t)))),
    h('tbody', {}, rows.map((c) => h('tr', {},
      h('td', {}, h('a', { href: `#/changes/${c.id}` }, `#${c.id}`)),
      h('td', {}, h('a', { href: `#/changes/${c.id}` }, c.title || '(untitled)')),
      h('td', {}, c.kind),
      h('td', { class: `state-${c.state}` }, c.state),
      h('td', {}, c.author),
      h('td', {}, `${integer((c.approvals ?? []).length)} of ${integer(c.approvals_required)}`),
      h('td', {}, time(c.updated_ms))))));
}

const sides = (before, after) => h('div', { class: 'sides' },
  h('div', {}, h('span', { class: 'muted' }, 'before'), h('pre', { class: 'before' }, before === null ? '(none)' : pretty(before))),
  h('div', {}, h('span', { class: 'muted' }, 'after'), h('pre', { class: 'after' }, after === null ? '(none)' : pretty(after))));

// Every difference the server found: flags added, removed or changed, and any other part of the
// file ($evaluators, whose shared rules can re-route every flag that uses them; metadata); "no
// change" only when all of them agree.
function diff(d) {
  if (!d) return h('p', { class: 'empty' }, 'No diff: not a flags change, or its base is not kept.');
  const parts = [];
  for (const k of d.added ?? []) parts.push(h('li', { class: 'added' }, h('strong', {}, `+ ${k}`), ' added'));
  for (const k of d.removed ?? []) parts.push(h('li', { class: 'removed' }, h('strong', {}, `− ${k}`), ' removed'));
  for (const [k, v] of Object.entries(d.changed ?? {})) {
    parts.push(h('li', { class: 'changed' }, h('strong', {}, `~ ${k}`), sides(v.before, v.after)));
  }
  for (const [k, v] of Object.entries(d.sections ?? {})) {
    const why = k === '$evaluators' ? ' (shared targeting rules: every flag that references them changes with them)' : '';
    parts.push(h('li', { class: 'changed section' }, h('strong', {}, `~ ${k}`), why, sides(v.before, v.after)));
  }
  if (!parts.length && (d.evaluators_changed || d.metadata_changed)) { // a server without sections
    parts.push(h('li', { class: 'changed section' }, h('strong', {},
      `~ ${[d.evaluators_changed ? '$evaluators' : null, d.metadata_changed ? 'metadata' : null].filter(Boolean).join(' and ')} changed`)));
  }
  if (!parts.length) return h('p', { class: 'empty' }, 'Nothing differs from the flag set this change was based on.');
  return h('ul', { class: 'diff' }, parts);
}

function step(label, id, run, withText) {
  const status = h('span', { 'aria-live': 'polite' });
  const text = withText ? h('input', { id: `${id}-text`, type: 'text', placeholder: withText }) : null;
  const button = h('button', { type: 'button', id, 'data-writes': true }, label);
  button.addEventListener('click', async () => {
    button.disabled = true;
    show(status, '…');
    try {
      await run(text?.value || undefined);
      window.dispatchEvent(new HashChangeEvent('hashchange'));
    } catch (err) {
      show(status, failure(err));
      button.disabled = false;
    }
  });
  return h('div', { class: 'step' }, text, button, status);
}

async function one(main, id, live) {
  const c = await get(`/v1/admin/changes/${encodeURIComponent(id)}`);
  if (!live()) return;
  const me = current().user;
  const mine = c.author === me || (c.editors ?? []).includes(me);
  const approved = (c.approvals ?? []).some((a) => a.user === me);
  const path = `/v1/admin/changes/${c.id}`;
  const steps = [];
  if (can('approve') && c.state === 'proposed' && !mine && !approved) {
    steps.push(step('Approve', 'approve', (note) => post(`${path}/approve`, { revision: c.revision, note }), 'note (optional)'));
    steps.push(step('Reject', 'reject', (reason) => post(`${path}/reject`, { reason }), 'reason'));
  }
  if (can('publish') && c.state === 'approved') steps.push(step('Publish', 'publish', () => post(`${path}/publish`)));
  if (c.author === me && (c.state === 'proposed' || c.state === 'draft')) {
    steps.push(step('Withdraw', 'withdraw', (reason) => post(`${path}/withdraw`, { reason }), 'reason'));
  }
  show(main,
    h('h1', {}, `Change #${c.id}: ${c.title || '(untitled)'}`),
    h('p', {}, h('a', { href: '#/changes' }, '← All changes')),
    h('dl', { class: 'facts' }, [
      ['State', c.state], ['Kind', c.kind], ['Target', c.target], ['Author', c.author],
      ['Editors', (c.editors ?? []).join(', ') || 'none'], ['Revision', integer(c.revision)],
      ['Approvals', `${(c.approvals ?? []).map((a) => a.user).join(', ') || 'none'} (${integer(c.approvals_required)} needed)`],
      ['Published', c.published_ms ? `${time(c.published_ms)} by ${c.published_by}, version ${c.version}` : 'no'],
    ].map(([k, v]) => [h('dt', {}, k), h('dd', { class: k === 'State' ? `state-${c.state}` : null }, String(v))])),
    mine && c.state === 'proposed' ? h('p', { class: 'muted' }, 'You wrote or edited this change: someone else approves it.') : null,
    steps.length ? h('section', { class: 'actions' }, steps) : null,
    h('h2', {}, 'What changes'), diff(c.diff),
    h('h2', {}, 'History'),
    h('ol', { class: 'history' }, (c.history ?? []).map((e) => h('li', {},
      `${e.ts_ms ? time(e.ts_ms) : ''} ${e.user ?? e.actor ?? ''} ${e.action ?? e.event ?? ''}${e.note || e.reason ? `: ${e.note ?? e.reason}` : ''}`))));
}

async function propose(main, live) {
  if (!can('propose')) {
    const s = current();
    show(main, h('h1', {}, 'Propose a flag change'), h('p', { class: 'empty' },
      `Proposing a change needs the propose permission, which the ${s.role} role does not have: ask an admin for a role that has it. `,
      h('a', { href: '#/changes' }, 'All changes')));
    return;
  }
  const f = await get('/v1/admin/flags');
  if (!live()) return;
  if (!f.document) {
    show(main, h('h1', {}, 'Propose a flag change'), h('p', { class: 'empty' }, 'This node serves no flag file: nothing to change.'));
    return;
  }
  const title = h('input', { id: 'title', name: 'title', type: 'text', required: true, placeholder: 'what and why' });
  const text = h('textarea', { id: 'payload', name: 'payload', rows: '24', spellcheck: 'false' });
  text.value = pretty(f.document);
  const status = h('div', { 'aria-live': 'polite' });
  const form = h('form', { class: 'propose', method: 'post', action: '' },
    h('label', { for: 'title' }, 'Title'), title,
    h('label', { for: 'payload' }, `The flag set ${f.id} as it would serve (JSON)`), text,
    h('button', { type: 'submit', id: 'submit-change', 'data-writes': true }, 'Propose'), status);
  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    try {
      JSON.parse(text.value);
    } catch (err) {
      show(status, h('p', { class: 'error', role: 'alert' }, `Not JSON: ${err.message}`));
      return;
    }
    try {
      const c = await post('/v1/admin/changes', { kind: 'flags', payload: text.value, title: title.value });
      location.hash = `#/changes/${c.id}`;
    } catch (err) {
      show(status, failure(err));
    }
  });
  show(main, h('h1', {}, 'Propose a flag change'), h('p', {}, h('a', { href: '#/changes' }, '← All changes')), form);
}

export async function changes(main, args, live) {
  if (args[0] === 'new') return propose(main, live);
  if (args[0] && args[0] !== 'state') return one(main, args[0], live);
  const state = args[0] === 'state' && STATES.includes(args[1]) ? args[1] : '';
  const rows = await get(`/v1/admin/changes?limit=100${state ? `&state=${encodeURIComponent(state)}` : ''}`);
  if (!live()) return;
  const pickState = h('select', { id: 'state', name: 'state', 'aria-label': 'State' },
    STATES.map((s) => { const o = h('option', { value: s }, s || 'any state'); o.selected = s === state; return o; }));
  pickState.addEventListener('change', () => { location.hash = pickState.value ? `#/changes/state/${pickState.value}` : '#/changes'; });
  show(main, h('h1', {}, 'Change requests'),
    h('div', { class: 'actions' }, pickState, can('propose') ? h('a', { href: '#/changes/new', class: 'button', id: 'propose', 'data-writes': true }, 'Propose a flag change') : null),
    list(rows));
}
