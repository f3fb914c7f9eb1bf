// Overview: the node's state as /ready reports it: what is loaded, with which identity, and
// whether it can decide; a degraded or not-ready node says why.
import { h, show } from '../dom.js';
import { get } from '../api.js';
import { count, integer, time } from '../fmt.js';

const short = (digest) => (digest ? `${digest.slice(0, 12)}…` : '-');

function bundles(list) {
  if (!list?.length) return h('p', { class: 'empty' }, 'No bundle is loaded: start riskd serve with --bundles DIR.');
  return h('table', {},
    h('caption', {}, count(list.length, 'bundle')),
    h('thead', {}, h('tr', {}, ['Bundle', 'Digest', 'Signed', 'Breaker', 'Deadline', 'Fault'].map((t) => h('th', { scope: 'col' }, t)))),
    h('tbody', {}, list.map((b) => h('tr', {},
      h('td', {}, b.name),
      h('td', { title: b.digest ?? '' }, h('code', {}, short(b.digest))),
      h('td', {}, b.signed ? 'yes' : 'no'),
      h('td', { class: `breaker-${b.breaker}` }, b.breaker ?? '-'),
      h('td', {}, b.deadline_ms ? `${integer(b.deadline_ms)} ms` : '-'),
      h('td', {}, b.fault ? JSON.stringify(b.fault) : 'none')))));
}

function refused(list) {
  if (!list?.length) return null;
  return h('section', { class: 'error', role: 'alert' },
    h('h2', {}, 'Reloads refused (the last good state is serving)'),
    h('ul', {}, list.map((r) => h('li', {}, `${r.what} since ${time(r.since * 1000)}: ${r.error}`))));
}

export async function overview(main) {
  const r = await get('/ready', { accept: [503] });
  const facts = [
    ['Status', r.status ?? (r.error ? r.error.code : '-')],
    ['Generation', r.generation !== undefined ? integer(r.generation) : '-'],
    ['Flags', r.flags ?? '-'],
    ['Routing flag', r.routing_flag ?? 'none'],
    ['Default bundle', r.default_bundle ?? 'none'],
    ['Shadow flag', r.shadow_flag ?? 'none'],
  ];
  if (r.store) facts.push(['Store', `${r.store.url} (${r.store.up ? 'up' : 'down'})`]);
  show(main,
    h('h1', {}, 'Overview'),
    r.error ? h('p', { class: 'error', role: 'alert' }, r.error.message) : null,
    refused(r.refused),
    h('dl', { class: 'facts' }, facts.map(([k, v]) => [h('dt', {}, k), h('dd', {}, String(v))])),
    h('h2', {}, 'Bundles'),
    bundles(r.bundles));
}
