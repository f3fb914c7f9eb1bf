// What the benchmark reporters share: the median of the rounds, "median (min–max)" of a list,
// and the number formats of the tables.
export const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
};
// "median (min–max)" of a list, the value alone for one, "-" for none
export function spread(v, fmt) {
  if (!v.length) return '-';
  if (v.length === 1) return fmt(v[0]);
  return `${fmt(median(v))} (${fmt(Math.min(...v))}–${fmt(Math.max(...v))})`;
}
export const num = (n) => Math.round(n).toLocaleString('en-US');
export const ms = (x) => (x >= 100 ? x.toFixed(0) : x >= 10 ? x.toFixed(1) : x >= 1 ? x.toFixed(2) : x.toFixed(3));
export const times = (x) => `${x >= 10 ? x.toFixed(0) : x.toFixed(x >= 0.95 ? 1 : 2)}x`;
