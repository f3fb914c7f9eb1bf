// The only way the console puts anything on the page: elements made with createElement, text
// set with textContent, and attributes from an allow-list. No HTML string is ever parsed, so a
// flag's metadata or a feature value holding markup is shown as text (tests/integration/28-console.sh
// greps console/src for HTML-parsing calls, which keeps it that way). data-writes marks a control that changes something (propose, approve,
// publish, a rollout command): the browser tests count them on a viewer's pages (there are none).
const ATTRS = new Set(['class', 'id', 'href', 'title', 'role', 'type', 'name', 'value', 'placeholder',
  'for', 'tabindex', 'colspan', 'scope', 'autocomplete', 'disabled', 'aria-label', 'aria-current',
  'aria-live', 'aria-sort', 'required', 'min', 'max', 'step', 'method', 'action', 'rows', 'spellcheck',
  'data-writes']);

export function h(tag, attrs, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs ?? {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k.startsWith('on') && typeof v === 'function') el.addEventListener(k.slice(2), v);
    else if (ATTRS.has(k)) el.setAttribute(k, v === true ? '' : String(v));
    else throw new Error(`dom.h: attribute ${k} is not allowed`);
  }
  append(el, children);
  return el;
}

function append(el, children) {
  for (const c of children.flat(Infinity)) {
    if (c === undefined || c === null || c === false) continue;
    el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
}

// Replace what el shows.
export function show(el, ...children) {
  el.replaceChildren();
  append(el, children);
}
