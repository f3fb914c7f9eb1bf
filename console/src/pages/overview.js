// Overview: the node as /ready reports it (what is loaded, with which identity, whether it can
// decide; a degraded node says why), the live traffic split per routing variant from the
// monitor's window, and, signed in, each bundle's manifest and this node's process and log.
import { h, show } from '../dom.js';
import { can, get } from '../api.js';
import { count, integer, percent, time } from '../fmt.js';

const short = (digest) => (digest ? `${digest.slice(0, 12)}…` : '-');

function bundles(list, manifests) {
  if (!list?.length) return h('p', { class: 'empty' }, 'No bundle is loaded: start riskd serve with --bundles DIR.');
  const byName = new Map((manifests ?? []).map((b) => [b.name, b.manifest]));
  return h('table', {},
    h('caption', {}, count(list.length, 'bundle')),
    h('thead', {}, h('tr', {}, ['Bundle', 'Version', 'Trained', 'AUC', 'Digest', 'Signed', 'Breaker', 'Deadline', 'Fault']
      .map((t) => h('th', { scope: 'col' }, t)))),
    h('tbody', {}, list.map((b) => {
      const m = byName.get(b.name);
      const metrics = m?.training?.metrics;
      return h('tr', {},
        h('td', {}, b.name),
        h('td', {}, m?.version ? `${m.version.major}.${m.version.minor}` : '-'),
        h('td', {}, m?.created_at ? time(Date.parse(m.created_at)) : '-'),
        h('td', {}, typeof metrics?.auc === 'number' ? metrics.auc.toFixed(3) : '-'),
        h('td', { title: b.digest ?? '' }, h('code', {}, short(b.digest))),
        h('td', {}, b.signed ? 'yes' : 'no'),
        h('td', { class: `breaker-${b.breaker}` }, b.breaker ?? '-'),
        h('td', {}, b.deadline_ms ? `${integer(b.deadline_ms)} ms` : '-'),
        h('td', {}, b.fault ?? 'none'));
    })));
}

// A share as a bar: its width set through the CSSOM (the CSP allows no style attribute).
function bar(share) {
  const fill = h('span', { class: 'fill', role: 'presentation' });
  fill.style.width = `${Math.round(100 * share)}%`;
  return h('span', { class: 'bar', title: percent(share) }, fill);
}

// The primary decisions of the window, by routing variant: who gets which model right now.
function traffic(mon) {
  const rows = (mon?.series ?? []).map((s) => s.window).filter((w) => w.role === 'primary');
  const total = rows.reduce((a, w) => a + w.n, 0);
  const span = mon?.window_s ? `the last ${integer(mon.window_s / 60)} minutes` : 'the window';
  if (!total) return h('p', { class: 'empty' }, `No decision in ${span}: the split shows once requests are scored.`);
  return h('table', { class: 'split' },
    h('caption', {}, `${count(total, 'decision')} in ${span}`),
    h('thead', {}, h('tr', {}, ['Variant', 'Bundle', 'Share', 'Decisions', 'Approve', 'Reject', 'Fallback']
      .map((t) => h('th', { scope: 'col' }, t)))),
    h('tbody', {}, rows.sort((a, b) => b.n - a.n).map((w) => h('tr', {},
      h('td', {}, w.variant || '(no flag)'),
      h('td', {}, w.bundle),
      h('td', {}, bar(w.n / total), ` ${percent(w.n / total)}`),
      h('td', {}, integer(w.n)),
      h('td', {}, w.approve_rate === null ? '-' : percent(w.approve_rate)),
      h('td', {}, w.reject_rate === null ? '-' : percent(w.reject_rate)),
      h('td', {}, w.fallback_rate === null ? '-' : percent(w.fallback_rate))))));
}

// The flags this node serves, each with its metadata as text (a flag's metadata is free-form:
// whatever it holds, markup included, is shown as written).
function flags(f) {
  const list = Object.entries(f?.document?.flags ?? {});
  if (!list.length) return h('p', { class: 'empty' }, 'This node serves no flag file: start riskd serve with --flags FILE.');
  return h('table', { class: 'flags' },
    h('caption', {}, `${count(list.length, 'flag')} in ${f.id ?? 'the flag set'}${f.version ? `, version ${f.version}` : ''}`),
    h('thead', {}, h('tr', {}, ['Flag', 'State', 'Default', 'Variants', 'Metadata'].map((t) => h('th', { scope: 'col' }, t)))),
    h('tbody', {}, list.map(([key, fl]) => h('tr', {},
      h('td', {}, h('code', {}, key)),
      h('td', {}, fl.state ?? '-'),
      h('td', {}, fl.defaultVariant === undefined || fl.defaultVariant === null ? '-' : String(fl.defaultVariant)),
      h('td', {}, Object.keys(fl.variants ?? {}).join(', ')),
      h('td', { class: 'detail' }, fl.metadata ? Object.entries(fl.metadata).map(([k, v]) => h('div', {}, `${k}: ${typeof v === 'string' ? v : JSON.stringify(v)}`)) : '-')))));
}

function node(n) {
  if (!n) return null;
  const facts = [
    ['Node', n.node], ['riskd', n.version], ['Up since', time(n.started_ms)], ['TLS', n.tls ? 'on' : 'off'],
  ];
  if (n.log) {
    facts.push(['Decision log', `${integer(n.log.committed)} committed, ${integer(n.log.queued)} queued, ${integer(n.log.failed)} failed`]);
    if (n.log.spool_records) facts.push(['Spool', `${integer(n.log.spool_records)} records waiting for the store`]);
  } else {
    facts.push(['Decision log', 'off']);
  }
  if (n.store) facts.push(['Store', `${n.store.url} (${n.store.up ? 'up' : 'down'})`]);
  return [h('h2', {}, 'This node'), h('dl', { class: 'facts' }, facts.map(([k, v]) => [h('dt', {}, k), h('dd', {}, String(v))]))];
}

export async function overview(main, _args, live) {
  const signedIn = can('view');
  const [r, mon, man, nd, fl] = await Promise.all([
    get('/ready', { accept: [503] }),
    get('/v1/monitor', { accept: [404] }),
    signedIn ? get('/v1/admin/bundles') : null,
    signedIn ? get('/v1/admin/node') : null,
    signedIn ? get('/v1/admin/flags') : null,
  ]);
  if (!live()) return;
  const facts = [
    ['Status', r.status ?? (r.error ? r.error.code : '-')],
    ['Generation', r.generation !== undefined ? integer(r.generation) : '-'],
    ['Flags', r.flags ?? '-'],
    ['Routing flag', r.routing_flag ?? 'none'],
    ['Default bundle', r.default_bundle ?? 'none'],
    ['Shadow flag', r.shadow_flag ?? 'none'],
  ];
  if (r.rollouts?.length) facts.push(['Rollouts', r.rollouts.map((x) => `${x.flag}: ${x.state}`).join(', ')]);
  show(main,
    h('h1', {}, 'Overview'),
    r.error ? h('p', { class: 'error', role: 'alert' }, r.error.message) : null,
    r.refused?.length ? h('section', { class: 'error', role: 'alert' },
      h('h2', {}, 'Reloads refused (the last good state is serving)'),
      h('ul', {}, r.refused.map((x) => h('li', {}, `${x.what} since ${time(x.since * 1000)}: ${x.error}`)))) : null,
    h('dl', { class: 'facts' }, facts.map(([k, v]) => [h('dt', {}, k), h('dd', {}, String(v))])),
    h('h2', {}, 'Traffic'),
    mon?.series ? traffic(mon) : h('p', { class: 'empty' }, 'Monitoring is off on this node (monitor = off): no traffic split.'),
    h('h2', {}, 'Bundles'),
    bundles(r.bundles, man),
    fl ? [h('h2', {}, 'Flags'), flags(fl)] : null,
    node(nd));
}
