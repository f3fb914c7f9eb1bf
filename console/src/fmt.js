// Numbers and times as people read them, in the browser's locale and time zone.
const int = new Intl.NumberFormat(undefined, { maximumFractionDigits: 0 });
const pct = new Intl.NumberFormat(undefined, { style: 'percent', maximumFractionDigits: 1 });
const dec = new Intl.NumberFormat(undefined, { maximumFractionDigits: 3 });
const when = new Intl.DateTimeFormat(undefined, { dateStyle: 'medium', timeStyle: 'medium' });

export const count = (n, one, many) => `${int.format(n)} ${n === 1 ? one : many ?? `${one}s`}`;
export const integer = (n) => int.format(n);
export const percent = (x) => pct.format(x);
export const number = (x) => dec.format(x);
export const time = (ms) => when.format(new Date(ms));
export const zone = () => Intl.DateTimeFormat().resolvedOptions().timeZone;
