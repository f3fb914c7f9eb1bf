// The console's shell: the pages, a hash router (#/page/arg...), the navigation, the session.
// Each page is a function that fills the main element from the API and reads its arguments
// from the hash; the server adds no rule for the console, and hides nothing the API would not
// refuse: a page only leaves out the buttons the session's permissions would not allow.
import './app.css';
import { h, show } from './dom.js';
import { ApiError, current, onSession, restore, signOut } from './api.js';
import { overview } from './pages/overview.js';
import { signin } from './pages/signin.js';
import { audit } from './pages/audit.js';
import { changes } from './pages/changes.js';
import { rollouts } from './pages/rollouts.js';
import { drift } from './pages/drift.js';
import { decisions } from './pages/decisions.js';

// need: the permission a page reads with (null: anyone, signed in or not)
const pages = [
  { id: 'overview', title: 'Overview', render: overview, need: null },
  { id: 'rollouts', title: 'Rollouts', render: rollouts, need: 'view' },
  { id: 'drift', title: 'Drift', render: drift, need: 'view' },
  { id: 'decisions', title: 'Decisions', render: decisions, need: 'view_decisions' },
  { id: 'changes', title: 'Changes', render: changes, need: 'view' },
  { id: 'audit', title: 'Audit', render: audit, need: 'view' },
  { id: 'signin', title: 'Sign in', render: signin, need: null, hidden: true },
];

// A page's hash is "#/id/arg..."; any other hash ("#main", the skip link's) names an element on
// the page shown, not a page. A segment that is not valid percent-encoding names no page.
const isRoute = (hash) => hash === '' || hash === '#' || hash.startsWith('#/');
function route() {
  try {
    const [id, ...args] = location.hash.replace(/^#\/?/, '').split('/').map(decodeURIComponent);
    return { page: pages.find((p) => p.id === (id || 'overview')), args };
  } catch {
    return { page: null, args: [] };
  }
}

const allowed = (p, s) => !p.need || Boolean(s.user && s.permissions?.includes(p.need));

function nav(active) {
  const s = current();
  const links = pages.filter((p) => !p.hidden && (p.need === null || s.user))
    .map((p) => h('li', {}, h('a', { href: `#/${p.id}`, 'aria-current': p === active ? 'page' : null }, p.title)));
  const who = s.user
    ? h('div', { class: 'who' }, h('span', {}, `${s.user} (${s.role})`),
      h('button', {
        type: 'button', class: 'link',
        onclick: () => signOut().then(() => { location.hash = '#/signin'; }, (err) => {
          show(document.getElementById('main'), h('h1', {}, 'Sign out'), failure(err), h('p', {}, 'You are still signed in: try again.'));
        }),
      }, 'Sign out'))
    : h('div', { class: 'who' }, h('a', { href: '#/signin' }, 'Sign in'));
  show(document.getElementById('nav'), h('ul', {}, links), who);
}

// What to do about a failure, in words: the server's message and code, or the network's.
export function failure(err) {
  if (err instanceof ApiError) {
    return h('div', { class: 'error', role: 'alert' },
      h('p', {}, err.message), h('p', { class: 'muted' }, `${err.code}${err.status ? ` (HTTP ${err.status})` : ''}`));
  }
  return h('div', { class: 'error', role: 'alert' }, h('p', {}, `The page failed: ${err.message}`));
}

let rendering = 0;
async function render() {
  const { page, args } = route();
  const main = document.getElementById('main');
  const s = current();
  nav(page);
  const mine = ++rendering;
  if (!page) {
    show(main, h('h1', {}, 'No such page'), h('p', {}, 'Choose a page above.'));
    rendered(main);
    return;
  }
  document.title = `${page.title} · riskd console`;
  if (!allowed(page, s)) {
    show(main, h('h1', {}, page.title), s.user
      ? h('p', { class: 'empty' }, `This page needs the ${page.need} permission, which the ${s.role} role does not have: ask an admin for a role that has it.`)
      : h('p', { class: 'empty' }, 'Sign in to see this page. ', h('a', { href: `#/signin/${page.id}` }, 'Sign in')));
    rendered(main);
    return;
  }
  main.setAttribute('aria-busy', 'true');
  show(main, h('h1', {}, page.title), h('p', { class: 'muted', 'aria-live': 'polite' }, 'Loading…'));
  try {
    await page.render(main, args, () => mine === rendering);
  } catch (err) {
    if (mine === rendering) show(main, h('h1', {}, page.title), failure(err));
  }
  if (mine === rendering) rendered(main);
}

// The page's data is drawn: aria-busy off (assistive technology reads it now), and a mark the
// browser tests and bench/console.mjs wait for and time (from the navigation's start).
function rendered(main) {
  main.setAttribute('aria-busy', 'false');
  performance.mark('riskd:rendered');
}

onSession(() => render());
let shown = location.hash;
window.addEventListener('hashchange', () => {
  if (!isRoute(location.hash)) { // the skip link: the browser moved the focus, the page stays
    history.replaceState(null, '', shown || '#/');
    return;
  }
  shown = location.hash;
  render();
});
// restore() announces the session, which renders the page (onSession above); render here only
// when it could not (the server did not answer): a second render would call every API twice
restore().catch(() => render());
