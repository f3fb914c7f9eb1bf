// Start and stop a real `riskd serve` for the interop tests (ofrep_sdk.mjs, differential.mjs
// --engine ofrep).
//
//   const srv = await startServe(bin, ['--flags', f, '--data-dir', d, ...]);
//   srv.url            // "http://127.0.0.1:PORT" (the kernel picks the port: --listen 127.0.0.1:0)
//   srv.sync           // "127.0.0.1:PORT" of the flagd sync service (--sync-listen), else null
//   srv.stderrTail()   // the last 64 KiB of its JSON logs, for failure messages
//   await srv.stop()   // SIGTERM, then {code, signal} once it has exited
//
// The server prints "listening on http://127.0.0.1:PORT" on stdout once it accepts
// connections; startServe waits for that line (with a deadline), or rejects with the exit
// status and the log if the server stops or stays silent. A server still running when Node
// exits is killed (SIGKILL), so a failing test leaves nothing behind.
import { spawn, spawnSync } from 'node:child_process';

const live = new Set();
process.on('exit', () => { for (const p of live) { try { p.kill('SIGKILL'); } catch { /* gone */ } } });

// Whether bin has the `serve` command (an older build answers "unknown command").
export function hasServe(bin) {
  const r = spawnSync(bin, ['serve', '--help'], { encoding: 'utf8', timeout: 10000 });
  if (r.error) return { ok: false, why: String(r.error.message || r.error) };
  const text = `${r.stdout}${r.stderr}`;
  if (r.status === 0 && /usage: riskd serve/.test(text)) return { ok: true };
  return { ok: false, why: `\`${bin} serve --help\` exited ${r.status}: ${text.trim().split('\n')[0] || '(no output)'}` };
}

export function startServe(bin, args, { startTimeoutMs = 15000 } = {}) {
  return new Promise((resolve, reject) => {
    const argv = ['serve', '--listen', '127.0.0.1:0', ...args];
    const proc = spawn(bin, argv, { stdio: ['ignore', 'pipe', 'pipe'] });
    live.add(proc);
    let out = '';
    let err = '';
    let exited = null;
    let started = false;
    const exitWaiters = [];
    const tail = () => err.slice(-65536);
    proc.stderr.setEncoding('utf8');
    proc.stderr.on('data', (d) => { err += d; if (err.length > 262144) err = err.slice(-65536); });
    proc.stdout.setEncoding('utf8');
    const fail = (why) => {
      clearTimeout(timer);
      if (exited === null) proc.kill('SIGKILL');
      reject(new Error(`riskd ${argv.join(' ')}: ${why}\n${tail().trim().split('\n').slice(-10).join('\n')}`));
    };
    const timer = setTimeout(() => fail(`no "listening on" line within ${startTimeoutMs} ms`), startTimeoutMs);
    proc.on('error', (e) => { if (!started) fail(String(e.message || e)); });
    proc.on('exit', (code, signal) => {
      exited = { code, signal };
      live.delete(proc);
      for (const w of exitWaiters.splice(0)) w(exited);
      if (!started) fail(`exited ${code}${signal ? ` (signal ${signal})` : ''} before listening`);
    });
    proc.stdout.on('data', (d) => {
      out += d;
      const m = /^listening on (https?:\/\/127\.0\.0\.1:(\d+))\s*$/m.exec(out);
      if (!m || started) return;
      const sm = /^sync listening on (\S+)\s*$/m.exec(out); // printed before "listening on"
      started = true;
      clearTimeout(timer);
      resolve({
        url: m[1],
        port: Number(m[2]),
        sync: sm ? sm[1] : null,
        pid: proc.pid,
        stderrTail: tail,
        exited: () => exited,
        // SIGTERM and wait for the exit; SIGKILL after stopTimeoutMs (reported as signal SIGKILL).
        stop(stopTimeoutMs = 15000) {
          return new Promise((res) => {
            if (exited) { res(exited); return; }
            const t = setTimeout(() => { proc.kill('SIGKILL'); }, stopTimeoutMs);
            exitWaiters.push((e) => { clearTimeout(t); res(e); });
            proc.kill('SIGTERM');
          });
        },
      });
    });
  });
}
