// Sign in with a token: it goes to the server in a POST body and is cleared from the form at
// once; the server answers with an HttpOnly session cookie the page's script never sees.
import { h, show } from '../dom.js';
import { current, signIn } from '../api.js';
import { failure } from '../main.js';

export async function signin(main, args) {
  const next = args[0] || 'overview';
  const s = current();
  if (s.user) {
    show(main, h('h1', {}, 'Sign in'), h('p', {}, `Signed in as ${s.user} (${s.role}). `, h('a', { href: `#/${next}` }, 'Continue')));
    return;
  }
  const status = h('div', { 'aria-live': 'polite' });
  const input = h('input', { id: 'token', name: 'token', type: 'password', autocomplete: 'off', required: true, placeholder: 'rdk_…' });
  // method=post: were the script to fail, the browser would not put the token in a URL
  const form = h('form', { method: 'post', action: '', class: 'signin' },
    h('label', { for: 'token' }, 'Token'),
    input,
    h('p', { class: 'muted' }, 'A token from `riskd user add` or `riskd token issue` (its admin scope). The console keeps a session, not the token.'),
    h('button', { type: 'submit' }, 'Sign in'),
    status);
  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    const token = input.value.trim();
    input.value = '';
    if (!token) return;
    show(status, 'Signing in…');
    try {
      await signIn(token);
      location.hash = `#/${next}`;
    } catch (err) {
      show(status, failure(err));
      input.focus();
    }
  });
  show(main, h('h1', {}, 'Sign in'), form);
  input.focus();
}
