// The console's shell: the pages, a hash router (#/overview), the navigation. Each page is a
// function that fills the main element from the API; the server adds no rule for the console.
import './app.css';
import { h, show } from './dom.js';
import { ApiError } from './api.js';
import { overview } from './pages/overview.js';

const pages = [
  { id: 'overview', title: 'Overview', render: overview },
];

function current() {
  const id = location.hash.replace(/^#\/?/, '').split('/')[0] || 'overview';
  return pages.find((p) => p.id === id);
}

function nav(active) {
  show(document.getElementById('nav'), h('ul', {},
    pages.map((p) => h('li', {}, h('a', { href: `#/${p.id}`, 'aria-current': p === active ? 'page' : null }, p.title)))));
}

// What to do about a failure, in words: the server's message and code, or the network's.
export function failure(err) {
  if (err instanceof ApiError) {
    return h('div', { class: 'error', role: 'alert' },
      h('p', {}, err.message), h('p', { class: 'muted' }, `${err.code}${err.status ? ` (HTTP ${err.status})` : ''}`));
  }
  return h('div', { class: 'error', role: 'alert' }, h('p', {}, `The page failed: ${err.message}`));
}

async function route() {
  const page = current();
  const main = document.getElementById('main');
  nav(page);
  if (!page) {
    show(main, h('h1', {}, 'No such page'), h('p', {}, 'Choose a page above.'));
    return;
  }
  document.title = `${page.title} · riskd console`;
  try {
    await page.render(main);
  } catch (err) {
    show(main, h('h1', {}, page.title), failure(err));
  }
}

window.addEventListener('hashchange', route);
route();
