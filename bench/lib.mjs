// Helpers shared by the bench scripts (load.mjs, saml.mjs): child
// processes, CPU and memory from /proc, and a browser's cookie jar.
import { spawn, execFileSync } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

export const children = new Set();

export function freePort() {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.unref();
    s.on('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
}

export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** Starts `cmd` with stdout and stderr appended to `logFile`. */
export function startProcess(name, cmd, args, { env, cwd = ROOT, logFile }) {
  const fd = fs.openSync(logFile, 'a');
  const child = spawn(cmd, args, { cwd, env, stdio: ['ignore', fd, fd] });
  fs.closeSync(fd);
  const proc = { name, child, pid: child.pid, logFile, exited: null };
  child.on('exit', (code, signal) => {
    proc.exited = { code, signal };
    children.delete(proc);
  });
  children.add(proc);
  return proc;
}

export async function stopProcess(proc) {
  if (proc.exited) return;
  const done = new Promise((r) => proc.child.once('exit', r));
  proc.child.kill('SIGTERM');
  const t = setTimeout(() => proc.exited || proc.child.kill('SIGKILL'), 5000);
  await done;
  clearTimeout(t);
}

export async function stopAll() {
  await Promise.all([...children].map(stopProcess));
}

export function tail(file, lines = 30) {
  try {
    return fs.readFileSync(file, 'utf8').split('\n').slice(-lines).join('\n');
  } catch {
    return '';
  }
}

export async function waitFor(url, proc, seconds = 90) {
  const deadline = Date.now() + seconds * 1000;
  while (Date.now() < deadline) {
    if (proc?.exited) {
      throw new Error(`${proc.name} exited (${JSON.stringify(proc.exited)}) before answering ${url}:\n${tail(proc.logFile)}`);
    }
    try {
      const r = await fetch(url, { signal: AbortSignal.timeout(2000) });
      if (r.ok) return;
    } catch { /* not yet */ }
    await sleep(200);
  }
  throw new Error(`${url} did not answer within ${seconds} s${proc ? `:\n${tail(proc.logFile)}` : ''}`);
}

// ---------------------------------------------------------------- CPU

export const CLK_TCK = (() => {
  try {
    const v = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim());
    return v > 0 ? v : 100;
  } catch {
    return 100;
  }
})();

/** utime + stime of one process, in clock ticks; null when it is gone. */
export function cpuTicks(pid) {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    // Fields 14 and 15 of proc(5); f[0] is field 3 (state).
    return Number(f[11]) + Number(f[12]);
  } catch {
    return null;
  }
}

/** Resident set size of one process (VmRSS of /proc/PID/status), in KiB;
 * null when it is gone. */
export function rssKiB(pid) {
  try {
    const m = /^VmRSS:\s+(\d+)\s+kB/m.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) : null;
  } catch {
    return null;
  }
}


/** Cookies as a browser keeps them: by host (not port), with path matching
 * and deletion by Max-Age/Expires. Domain, Secure and SameSite are ignored
 * (everything here is one host, plain http, top-level GETs). */
export class Jar {
  constructor() {
    this.cookies = new Map(); // `${host}\t${path}\t${name}` -> {host, path, name, value}
  }

  store(url, setCookies) {
    for (const line of setCookies) {
      const [pair, ...attrs] = line.split(';');
      const eq = pair.indexOf('=');
      if (eq < 1) continue;
      const name = pair.slice(0, eq).trim();
      const value = pair.slice(eq + 1).trim();
      let cpath = null;
      let remove = false;
      for (const attr of attrs) {
        const [k, ...rest] = attr.split('=');
        const key = k.trim().toLowerCase();
        const v = rest.join('=').trim();
        if (key === 'path' && v.startsWith('/')) cpath = v;
        if (key === 'max-age' && Number(v) <= 0) remove = true;
        if (key === 'expires' && Date.parse(v) < Date.now()) remove = true;
      }
      if (!cpath) {
        const p = url.pathname;
        cpath = p.lastIndexOf('/') > 0 ? p.slice(0, p.lastIndexOf('/')) : '/';
      }
      const key = `${url.hostname}\t${cpath}\t${name}`;
      if (remove) this.cookies.delete(key);
      else this.cookies.set(key, { host: url.hostname, path: cpath, name, value });
    }
  }

  header(url) {
    const p = url.pathname;
    const out = [];
    for (const c of this.cookies.values()) {
      if (c.host !== url.hostname) continue;
      const match = p === c.path || (p.startsWith(c.path) && (c.path.endsWith('/') || p[c.path.length] === '/'));
      if (match) out.push(c);
    }
    out.sort((a, b) => b.path.length - a.path.length);
    return out.map((c) => `${c.name}=${c.value}`).join('; ');
  }
}
