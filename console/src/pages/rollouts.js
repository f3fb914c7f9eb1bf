// Rollouts: each rollout's stage on the plan's timeline, every gate with its value, threshold
// and noise floor, the transitions (a rollback names the gate that failed), the control's and
// the candidate's score distributions and decision rates over time, and the commands the
// session's role allows (pause, resume, rollback: rollback; promote: publish).
import { h, show } from '../dom.js';
import { can, get, post } from '../api.js';
import { count, integer, number, percent, time } from '../fmt.js';
import { distribution, rateChart } from '../charts.js';
import { failure } from '../main.js';

const ENDED = new Set(['rolled_back', 'promoted']);
const fmtVal = (v) => (v === null || v === undefined ? '-' : typeof v === 'number' ? number(v) : String(v));
// A gate's figures as people read them: a rate (approval, agreement, errors) as a percentage, a
// difference of rates in percentage points, a ratio as "1.2x", the rest (PSI, KS, seconds, p) as numbers.
const RATE = /(_rate|^shadow_agreement)$/;
const fmtRate = (v) => (typeof v === 'number' ? percent(v) : fmtVal(v));
function gateFmt(g) {
  if (!RATE.test(g.metric)) return { value: fmtVal, side: fmtVal };
  if (g.compare === 'ratio') return { value: (v) => (typeof v === 'number' ? `${number(v)}x` : fmtVal(v)), side: fmtRate };
  if (g.compare === 'difference') return { value: (v) => (typeof v === 'number' ? `${v >= 0 ? '+' : ''}${number(100 * v)} pp` : fmtVal(v)), side: fmtRate };
  return { value: fmtRate, side: fmtRate };
}
const thresholds = (t, f = fmtVal) => (t ? Object.entries(t).map(([op, x]) => `${op} ${f(x)}`).join(', ') : '-');

function timeline(st) {
  const stages = st.plan_stages ?? [];
  return h('ol', { class: 'timeline', 'aria-label': 'Stages' }, stages.map((s, i) => {
    const state = i < st.stage_index ? 'done' : i === st.stage_index ? st.state : 'later';
    return h('li', { class: `stage ${i === st.stage_index ? 'current' : ''} ${state}`, 'aria-current': i === st.stage_index ? 'step' : null },
      h('strong', {}, s.name),
      h('span', {}, s.shadow ? 'shadow' : `${percent(s.candidate_share)} to the candidate`),
      h('span', { class: 'muted' }, `hold ${integer(s.hold_s)} s, ${count(s.gates, 'gate')}`));
  }));
}

function gates(st) {
  if (!st.gates?.length) return h('p', { class: 'empty' }, 'This stage has no gate: it advances when its hold time has passed.');
  return h('table', { class: 'gates' },
    h('caption', {}, `Gates of stage ${st.stage} (${st.evaluated ? 'evaluated' : 'not evaluated yet'})`),
    h('thead', {}, h('tr', {}, ['Metric', 'Value', 'Candidate', 'Control', 'Pass', 'Fail', 'Noise floor', 'Samples', 'Verdict']
      .map((t) => h('th', { scope: 'col' }, t)))),
    h('tbody', {}, st.gates.map((g) => h('tr', { class: `verdict-${g.verdict}` },
      h('td', {}, g.metric, g.note ? h('div', { class: 'muted' }, g.note) : null),
      h('td', {}, gateFmt(g).value(g.value)),
      h('td', {}, gateFmt(g).side(g.candidate)),
      h('td', {}, gateFmt(g).side(g.control)),
      h('td', {}, thresholds(g.pass, gateFmt(g).value)),
      h('td', {}, thresholds(g.fail, gateFmt(g).value)),
      h('td', {}, fmtVal(g.noise_floor ?? g.critical)),
      h('td', {}, `${integer(g.n ?? 0)} of ${integer(g.min_samples ?? 0)}`),
      h('td', {}, h('strong', {}, g.verdict))))));
}

function transitions(list) {
  if (!list.length) return h('p', { class: 'empty' }, 'No transition yet.');
  return h('table', { class: 'transitions' },
    h('caption', {}, 'Transitions, newest first'),
    h('thead', {}, h('tr', {}, ['When', 'What', 'Stage', 'State', 'Why', 'By'].map((t) => h('th', { scope: 'col' }, t)))),
    h('tbody', {}, list.map((t) => h('tr', { class: `reason-${t.reason}` },
      h('td', {}, time(t.ts_ms)),
      h('td', {}, t.reason),
      h('td', {}, `${t.from_stage} → ${t.to_stage}`),
      h('td', {}, `${t.from_state} → ${t.to_state}`),
      h('td', { class: 'detail' }, t.detail),
      h('td', {}, t.actor)))));
}

// The monitor's series of a bundle in a role (primary decisions, or shadow scores).
// A bundle's series in one role, its routing variants summed (a bundle the flag names under two
// variants has two series): the histogram's counts and each history bucket's decisions.
function pick(mon, bundle, role = 'primary') {
  const all = (mon?.series ?? []).filter((s) => s.window.bundle === bundle && s.window.role === role);
  if (all.length <= 1) return all[0];
  const sum = (xs) => xs.reduce((a, x) => a.map((v, i) => v + x[i]));
  const psi = all.map((s) => s.total.score_psi).filter((p) => p?.counts);
  const byT = new Map();
  for (const s of all) {
    for (const p of s.history ?? []) {
      const q = byT.get(p.t_ms) ?? { t_ms: p.t_ms, n: 0, approve: 0, reject: 0 };
      q.n += p.n;
      q.approve += (p.approve_rate ?? 0) * p.n;
      q.reject += (p.reject_rate ?? 0) * p.n;
      byT.set(p.t_ms, q);
    }
  }
  return {
    window: all[0].window,
    total: {
      score_psi: psi.length && psi.every((p) => sameCuts(p.cuts, psi[0].cuts))
        ? { ...psi[0], counts: sum(psi.map((p) => p.counts)) } : psi[0],
    },
    history: [...byT.values()].sort((a, b) => a.t_ms - b.t_ms).map((q) => ({
      t_ms: q.t_ms, approve_rate: q.n ? q.approve / q.n : null, reject_rate: q.n ? q.reject / q.n : null,
    })),
  };
}

const binLabels = (cuts, n) => Array.from({ length: n }, (_, i) => ({
  label: i === 0 ? `< ${number(cuts[0])}` : i === cuts.length ? `≥ ${number(cuts[i - 1])}` : `${number(cuts[i - 1])}–${number(cuts[i])}`,
}));
const sameCuts = (a, b) => a.length === b.length && a.every((x, i) => x === b[i]);

function charts(st, mon) {
  // in a shadow stage (and after a rollback from one) the candidate has only shadow scores:
  // those are its distribution then
  const ctl = pick(mon, st.control);
  const candPrimary = pick(mon, st.candidate);
  const cand = candPrimary ?? pick(mon, st.candidate, 'shadow');
  const candLabel = `candidate ${st.candidate}${candPrimary || !cand ? '' : ' (shadow scores)'}`;
  const out = [];
  const c = ctl?.total?.score_psi, d = cand?.total?.score_psi;
  if (c?.counts && d?.counts && sameCuts(c.cuts, d.cuts)) {
    out.push(distribution('Score distribution (since the start), by the training deciles', binLabels(c.cuts, c.counts.length),
      [{ label: `control ${st.control}`, counts: c.counts }, { label: candLabel, counts: d.counts }]));
  } else if (c?.counts || d?.counts) {
    // each bundle bins its scores at its own training deciles: side by side only when those are
    // the same; else each beside its own reference
    if (c?.counts && d?.counts) out.push(h('p', { class: 'muted' }, 'The two bundles were trained on different score deciles: each is shown against its own training reference.'));
    for (const [p, label] of [[c, `control ${st.control}`], [d, candLabel]]) {
      if (!p?.counts) continue;
      out.push(distribution(`${label}: scores (since the start) against its training reference`, binLabels(p.cuts, p.counts.length),
        [{ label: 'training reference', counts: p.reference_counts }, { label, counts: p.counts }]));
    }
  } else {
    out.push(h('p', { class: 'empty' }, 'No score distribution yet: it shows once either bundle has scored.'));
  }
  for (const [what, key] of [['Approval rate', 'approve_rate'], ['Reject rate', 'reject_rate']]) {
    out.push(rateChart(`${what} over time`, [[ctl, `control ${st.control}`], [cand, candLabel]]
      .filter(([s]) => s?.history).map(([s, label]) => ({ label, points: s.history.map((p) => ({ t_ms: p.t_ms, value: p[key] })) }))));
  }
  return out;
}

function commands(st, reload) {
  const status = h('div', { 'aria-live': 'polite' });
  const reason = h('input', { id: 'reason', name: 'reason', type: 'text', placeholder: 'why (recorded in the audit chain)' });
  const cmd = (name, label) => h('button', {
    type: 'button', id: `cmd-${name}`, 'data-writes': true,
    onclick: async (ev) => {
      const b = ev.target;
      // the commands that move traffic ask twice, naming what they do; promote wants a reason
      if (confirmText[name] && !b.dataset.armed) {
        if (name === 'promote' && !reason.value.trim()) {
          show(status, h('p', { class: 'error', role: 'alert' }, 'Give a reason: a promotion sends every applicant to the candidate, and the audit chain records why.'));
          reason.focus();
          return;
        }
        b.dataset.armed = '1';
        b.textContent = confirmText[name];
        show(status, h('p', { class: 'muted' }, 'Click again to confirm.'));
        return;
      }
      b.disabled = true;
      try {
        const r = await post(`/v1/admin/rollouts/${encodeURIComponent(st.flag)}/${name}`, { reason: reason.value || undefined });
        show(status, h('p', { class: 'ok' }, `${label}: the rollout is now ${r.state}.`));
        setTimeout(reload, 300);
      } catch (err) {
        show(status, failure(err));
        b.disabled = false;
      }
    },
  }, label);
  const confirmText = {
    promote: `Confirm: send 100% to ${st.candidate}`,
    rollback: `Confirm: send all traffic back to ${st.control}`,
  };
  const buttons = [];
  if (can('rollback')) {
    if (st.state === 'running' || st.state === 'holding') buttons.push(cmd('pause', 'Pause'));
    if (st.state === 'paused' || st.state === 'rolled_back') buttons.push(cmd('resume', 'Resume'));
    if (st.state !== 'rolled_back') buttons.push(cmd('rollback', 'Roll back'));
  }
  // not from a rollback: its failed gate is resumed from the first stage, not skipped past
  if (can('publish') && st.state !== 'promoted' && st.state !== 'rolled_back') buttons.push(cmd('promote', 'Promote'));
  if (!buttons.length) return null;
  return h('section', { class: 'actions' }, h('label', { for: 'reason' }, 'Reason'), reason, ...buttons, status);
}

async function detail(main, flag, live) {
  const [all, tr, mon] = await Promise.all([
    get('/v1/admin/rollouts'),
    get(`/v1/admin/rollouts/${encodeURIComponent(flag)}/transitions?limit=50`),
    get('/v1/admin/monitor', { accept: [404] }),
  ]);
  if (!live()) return;
  const st = (all.rollouts ?? []).find((r) => r.flag === flag);
  if (!st) {
    show(main, h('h1', {}, 'Rollout'), h('p', { class: 'empty' }, `No rollout runs on ${flag}. `, h('a', { href: '#/rollouts' }, 'All rollouts')));
    return;
  }
  // the newest transition from the history: the status's last_transition is the controller's
  // own last step, and a manual command (pause, resume) does not replace it
  const last = tr.transitions?.[0] ?? st.last_transition;
  show(main,
    h('h1', {}, `Rollout of ${st.flag}`),
    h('p', {}, h('a', { href: '#/rollouts' }, '← All rollouts')),
    h('dl', { class: 'facts' }, [
      ['State', st.state], ['Stage', `${st.stage} (${st.stage_index + 1} of ${st.stages})`],
      ['Control', st.control], ['Candidate', `${st.candidate} (${percent(st.candidate_share)} of traffic)`],
      ['Candidate decisions', integer(st.candidate_decisions)],
      // a rolled back or promoted rollout has ended: its clock is no hold any more
      ENDED.has(st.state) ? null : ['In this stage', `${integer(st.time_in_stage_s)} s of ${integer(st.hold_s)} s`],
    ].filter(Boolean).map(([k, v]) => [h('dt', {}, k), h('dd', { class: k === 'State' ? `state-${st.state}` : null }, v)])),
    st.alert ? h('p', { class: 'error', role: 'alert' }, st.alert) : null,
    st.state === 'rolled_back' && last?.to_state === 'rolled_back'
      ? h('p', { class: 'error', role: 'alert', id: 'rolled-back' }, `Rolled back ${time(last.ts_ms)}${last.actor ? ` by ${last.actor}` : ''}: ${last.detail}`) : null,
    commands(st, () => location.hash === `#/rollouts/${encodeURIComponent(flag)}` && window.dispatchEvent(new HashChangeEvent('hashchange'))),
    h('h2', {}, 'Stages'), timeline(st),
    h('h2', {}, 'Gates'), gates(st),
    h('h2', {}, 'Control and candidate'), ...charts(st, mon),
    h('h2', {}, 'History'), transitions(tr.transitions));
}

export async function rollouts(main, args, live) {
  if (args[0]) return detail(main, args[0], live);
  const all = await get('/v1/admin/rollouts');
  const list = all.rollouts ?? [];
  // each one's newest transition (see detail: the status's may be older than a manual command)
  const lasts = await Promise.all(list.map((r) => get(`/v1/admin/rollouts/${encodeURIComponent(r.flag)}/transitions?limit=1`)
    .then((t) => t.transitions?.[0] ?? r.last_transition)));
  if (!live()) return;
  show(main, h('h1', {}, 'Rollouts'), list.length
    ? h('table', {},
      h('thead', {}, h('tr', {}, ['Flag', 'State', 'Stage', 'Candidate', 'Share', 'Last change'].map((t) => h('th', { scope: 'col' }, t)))),
      h('tbody', {}, list.map((r, i) => h('tr', {},
        h('td', {}, h('a', { href: `#/rollouts/${encodeURIComponent(r.flag)}` }, r.flag)),
        h('td', { class: `state-${r.state}` }, r.state),
        h('td', {}, `${r.stage} (${r.stage_index + 1} of ${r.stages})`),
        h('td', {}, r.candidate),
        h('td', {}, percent(r.candidate_share)),
        h('td', {}, lasts[i] ? `${lasts[i].reason}, ${time(lasts[i].ts_ms)}` : '-')))))
    : h('p', { class: 'empty' }, 'No rollout runs on this node: start one with riskd serve --rollout PLAN (docs/formats.md, "Rollout plans").'));
}
