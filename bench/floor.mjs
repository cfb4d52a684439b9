#!/usr/bin/env node
// What Latchkey's cheapest requests cost in CPU, with nothing else running:
// the floor under an SSO sign-in's three requests and thirteen statements.
// Starts the release binary on a fresh SQLite database (or `--pg URL`),
// bootstraps an owner with an API token, signs a person up for a session
// cookie, then sends each request `--n` times over kept-alive connections,
// one at a time and 16 at once, and prints the instance's CPU per request
// (utime+stime from /proc). Prints figures; asserts nothing.
//
//   node bench/floor.mjs [--bin target/release/latchkey] [--n 5000] [--pg postgres://…/db]

import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { CLK_TCK, ROOT, cpuTicks, freePort, startProcess, stopAll, waitFor } from './lib.mjs';

const args = process.argv.slice(2);
const arg = (name, dflt) => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? args[i + 1] : dflt;
};
const bin = path.resolve(ROOT, arg('bin', 'target/release/latchkey'));
const n = Number(arg('n', '5000'));
const pg = arg('pg', null);
if (!fs.existsSync(bin)) {
  console.error(`no binary at ${bin}: run \`cargo xtask build --release\` first (or pass --bin)`);
  process.exit(2);
}

const work = fs.mkdtempSync(path.join(os.tmpdir(), 'latchkey-floor-'));
const port = await freePort();
const env = {
  PATH: process.env.PATH,
  LATCHKEY_BIND: `127.0.0.1:${port}`,
  LATCHKEY_PUBLIC_URL: `http://127.0.0.1:${port}`,
  LATCHKEY_DATA_DIR: work,
  LATCHKEY_DATABASE_URL: pg ?? `sqlite://${work}/latchkey.db`,
  LATCHKEY_SECRET_KEY: 'latchkey-floor-secret-key-latchkey-floor-secret-key',
  LEPTOS_SITE_ROOT: 'target/site',
  RUST_LOG: 'warn',
};

/** GETs `p` `count` times from `concurrency` loops, each on its own
 *  kept-alive connection; resolves to requests per second. */
async function drive(p, headers, count, concurrency) {
  const agent = new http.Agent({ keepAlive: true, maxSockets: concurrency });
  const once = () =>
    new Promise((resolve, reject) => {
      http
        .get({ host: '127.0.0.1', port, path: p, headers, agent }, (res) => {
          res.resume();
          res.on('end', () => resolve(res.statusCode));
        })
        .on('error', reject);
    });
  let left = count;
  const started = performance.now();
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (left-- > 0) await once();
    }),
  );
  const seconds = (performance.now() - started) / 1000;
  agent.destroy();
  return count / seconds;
}

try {
  const server = startProcess('latchkey', bin, ['serve'], { env, logFile: path.join(work, 'latchkey.log') });
  await waitFor(`http://127.0.0.1:${port}/api/v1/health`, server);
  const out = execFileSync(bin, ['bootstrap', '--email', 'floor@bench.test', '--password', 'correct horse battery', '--org-name', 'Floor'], {
    cwd: ROOT,
    env,
    encoding: 'utf8',
  });
  const token = JSON.parse(out.trim().split('\n').filter((l) => l.startsWith('{')).pop()).api_token;
  // A console session: the sign-up form post a browser without JavaScript makes.
  const signedUp = await fetch(`http://127.0.0.1:${port}/api/sign_up`, {
    method: 'POST',
    redirect: 'manual',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({ email: 'session@bench.test', name: 'Floor', password: 'correct horse battery staple' }).toString(),
  });
  const cookie = signedUp.headers
    .getSetCookie()
    .map((c) => c.split(';')[0])
    .join('; ');
  if (!cookie) throw new Error(`sign-up answered ${signedUp.status} without a session cookie`);
  const rows = [
    ['`GET /api/v1/nothing` (404)', 'none', '/api/v1/nothing', {}],
    ['`GET /api/v1/health`', '1 (`SELECT 1`), 1 pool return', '/api/v1/health', {}],
    ['`GET /api/v1/me`, session cookie', 'session with its user, organizations', '/api/v1/me', { cookie }],
    ['`GET /api/v1/me`, API token', '3 (token, user, organizations; the token\'s last use is written once a minute at most), 3 pool returns', '/api/v1/me', { authorization: `Bearer ${token}` }],
  ];
  console.log(`${pg ? 'PostgreSQL' : 'SQLite'}, ${n} requests per cell, CPU of the Latchkey process only\n`);
  console.log('| request | statements | CPU µs/request, 1 at a time | 16 at once | requests/s, 1 / 16 |');
  console.log('|---|---|---:|---:|---:|');
  for (const [label, statements, p, headers] of rows) {
    const cells = [];
    const rates = [];
    for (const concurrency of [1, 16]) {
      await drive(p, headers, 200, concurrency);
      const t0 = cpuTicks(server.pid);
      rates.push(await drive(p, headers, n, concurrency));
      const ticks = cpuTicks(server.pid) - t0;
      cells.push(((ticks / CLK_TCK) * 1e6 / n).toFixed(0));
    }
    console.log(`| ${label} | ${statements} | ${cells[0]} | ${cells[1]} | ${rates.map((r) => r.toFixed(0)).join(' / ')} |`);
  }
} catch (e) {
  console.error(e);
  process.exitCode = 1;
} finally {
  await stopAll();
  fs.rmSync(work, { recursive: true, force: true });
}
