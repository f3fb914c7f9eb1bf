#!/usr/bin/env node
// The production server's own account of a bench run (bench/http.sh, the /v1/score section):
// what its /metrics and /v1/rollouts say the decision log, the monitor, the shadow model and
// the rollout did, so a run that silently took the bare path shows as one.
//   node bench/http/evidence.mjs snap URL              one JSON object: the counters now
//   node bench/http/evidence.mjs diff URL BEFORE.json  the counters since BEFORE, and the
//                                                      rollout's state now
const [cmd, url, beforeFile] = process.argv.slice(2);
if (!['snap', 'diff'].includes(cmd) || !url || (cmd === 'diff' && !beforeFile)) {
  console.error('usage: evidence.mjs snap URL | diff URL BEFORE.json');
  process.exit(2);
}

// Prometheus text: name{labels} value, the lines whose name is one of `names`
function samples(text, names) {
  const out = [];
  for (const line of text.split('\n')) {
    const m = line.match(/^([a-z_]+)(\{([^}]*)\})? (\S+)$/);
    if (!m || !names.includes(m[1])) continue;
    const labels = Object.fromEntries([...(m[3] ?? '').matchAll(/(\w+)="([^"]*)"/g)].map((x) => [x[1], x[2]]));
    out.push({ name: m[1], labels, value: Number(m[4]) });
  }
  return out;
}

async function snap() {
  const text = await (await fetch(`${url}/metrics`)).text();
  const s = samples(text, ['riskd_scores_total', 'riskd_shadow_scores_total', 'riskd_shadow_dropped_total',
    'riskd_log_records_total', 'riskd_log_refused_total', 'riskd_monitor_decisions']);
  const sum = (name, f = () => true) => s.filter((x) => x.name === name && f(x.labels)).reduce((a, x) => a + x.value, 0);
  const scores = {};
  for (const x of s.filter((x) => x.name === 'riskd_scores_total')) scores[x.labels.model_version] = x.value;
  const monitor = {};
  for (const x of s.filter((x) => x.name === 'riskd_monitor_decisions'))
    monitor[`${x.labels.role}:${x.labels.bundle}`] = (monitor[`${x.labels.role}:${x.labels.bundle}`] ?? 0) + x.value;
  let rollout = null;
  try {
    const r = (await (await fetch(`${url}/v1/rollouts`)).json()).rollouts?.[0];
    if (r) rollout = { flag: r.flag, state: r.state, stage: r.stage, evaluated: r.evaluated === true,
      candidate: r.candidate, control: r.control, candidate_share: r.candidate_share };
  } catch { /* no rollout route: null */ }
  return {
    scores, monitor, rollout,
    shadow_scored: sum('riskd_shadow_scores_total'),
    shadow_dropped: sum('riskd_shadow_dropped_total'),
    log_committed: sum('riskd_log_records_total', (l) => l.state === 'committed'),
    log_failed: sum('riskd_log_records_total', (l) => l.state === 'failed'),
    log_refused: sum('riskd_log_refused_total'),
  };
}

const now = await snap();
if (cmd === 'snap') {
  console.log(JSON.stringify(now));
} else {
  const { readFileSync } = await import('node:fs');
  const before = JSON.parse(readFileSync(beforeFile, 'utf8'));
  const delta = (a, b) => Object.fromEntries(Object.keys(a).map((k) => [k, a[k] - (b[k] ?? 0)]));
  console.log(JSON.stringify({
    scores: delta(now.scores, before.scores),
    // the monitor's window is a sliding one: what it holds now, not a difference
    monitor: now.monitor,
    rollout: now.rollout,
    shadow_scored: now.shadow_scored - before.shadow_scored,
    shadow_dropped: now.shadow_dropped - before.shadow_dropped,
    log_committed: now.log_committed - before.log_committed,
    log_failed: now.log_failed - before.log_failed,
    log_refused: now.log_refused - before.log_refused,
  }));
}
