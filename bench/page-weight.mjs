#!/usr/bin/env node
// What a browser downloads to show Latchkey's pages: for each page, the
// scripts and wasm it loads, in bytes as sent with `Accept-Encoding: br`
// (and gzip, and uncompressed), plus the HTML itself. Starts the release
// binary on a fresh SQLite database, signs a person up and creates an
// organization through the plain form posts, then measures sign-in pages
// (anonymous) and console pages (signed in). Then the time to fetch each of
// those files again on a reused keep-alive connection, as a browser does
// for the next page (median of 20, brotli). Prints figures; asserts nothing.
//
//   node bench/page-weight.mjs [--bin target/release/latchkey] [--port 3999]

import { spawn } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import zlib from 'node:zlib';

const args = process.argv.slice(2);
const arg = (name, dflt) => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? args[i + 1] : dflt;
};
const root = path.resolve(path.dirname(new URL(import.meta.url).pathname), '..');
const bin = path.resolve(root, arg('bin', 'target/release/latchkey'));
const port = Number(arg('port', '3999'));
const base = `http://127.0.0.1:${port}`;

if (!fs.existsSync(bin)) {
  console.error(`no binary at ${bin}: run \`cargo xtask build --release\` first (or pass --bin)`);
  process.exit(2);
}
const work = fs.mkdtempSync(path.join(os.tmpdir(), 'latchkey-weight-'));
const server = spawn(bin, ['serve'], {
  cwd: root,
  stdio: ['ignore', 'ignore', 'inherit'],
  env: {
    PATH: process.env.PATH,
    LATCHKEY_BIND: `127.0.0.1:${port}`,
    LATCHKEY_DATA_DIR: work,
    LATCHKEY_DATABASE_URL: `sqlite://${work}/latchkey.db`,
    LATCHKEY_SECRET_KEY: 'latchkey-page-weight-secret-key-latchkey-page-weight',
    LEPTOS_SITE_ROOT: 'target/site',
    RUST_LOG: 'warn',
  },
});
const stop = () => {
  server.kill('SIGINT');
  fs.rmSync(work, { recursive: true, force: true });
};

let cookie = '';
async function request(url, { method = 'GET', body, encoding } = {}) {
  const headers = { accept: 'text/html', cookie };
  if (encoding) headers['accept-encoding'] = encoding;
  if (body) headers['content-type'] = 'application/x-www-form-urlencoded';
  const res = await fetch(new URL(url, base), { method, body, headers, redirect: 'manual' });
  for (const c of res.headers.getSetCookie()) {
    const [pair] = c.split(';');
    const name = pair.split('=')[0];
    cookie = [...cookie.split('; ').filter((p) => p && !p.startsWith(`${name}=`)), pair].join('; ');
  }
  return res;
}

/** Bytes on the wire for `url` with this Accept-Encoding: fetch() decodes
 *  bodies, so the encoded size is the identity size re-encoded the way the
 *  server said it encoded it, checked against Content-Length when sent. */
async function wireBytes(url, encoding) {
  const res = await request(url, { encoding });
  const body = Buffer.from(await res.arrayBuffer());
  const sent = res.headers.get('content-encoding') ?? 'identity';
  const length = Number(res.headers.get('content-length'));
  if (Number.isFinite(length) && length > 0 && sent !== 'identity') return { bytes: length, sent };
  const bytes =
    sent === 'br' ? zlib.brotliCompressSync(body).length : sent === 'gzip' ? zlib.gzipSync(body).length : body.length;
  return { bytes, sent };
}

/** Scripts and wasm a page makes the browser load: <script src>, module
 *  preloads, and the wasm the hydration script names. */
function assets(html) {
  const found = new Set();
  for (const m of html.matchAll(/<script[^>]*\bsrc="([^"]+)"/g)) found.add(m[1]);
  for (const m of html.matchAll(/<link[^>]*rel="(?:modulepreload|preload)"[^>]*href="([^"]+\.(?:js|wasm))"/g)) found.add(m[1]);
  for (const m of html.matchAll(/["'](\/pkg\/[^"']+\.(?:js|wasm))["']/g)) found.add(m[1]);
  return [...found];
}

/** Median milliseconds to fetch `url` on one kept-alive connection, after a
 *  first fetch that opened it. */
async function reusedFetchMs(url, times = 20) {
  const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
  const once = () =>
    new Promise((resolve, reject) => {
      const t0 = performance.now();
      http
        .get(new URL(url, base), { agent, headers: { 'accept-encoding': 'br' } }, (res) => {
          res.resume();
          res.on('end', () => resolve(performance.now() - t0));
        })
        .on('error', reject);
    });
  try {
    await once();
    const ms = [];
    for (let i = 0; i < times; i += 1) ms.push(await once());
    ms.sort((a, b) => a - b);
    return ms[Math.floor(ms.length / 2)];
  } finally {
    agent.destroy();
  }
}

async function measure(label, pathname) {
  const res = await request(pathname);
  const html = await res.text();
  const inline = (html.match(/<script/g) ?? []).length;
  const urls = assets(html);
  const styles = [...html.matchAll(/<link[^>]*rel="stylesheet"[^>]*href="([^"]+)"/g)].map((m) => m[1]);
  const row = { label, pathname, status: res.status, html: Buffer.byteLength(html), inline, br: 0, gzip: 0, raw: 0, urls, styles };
  for (const u of urls) {
    row.br += (await wireBytes(u, 'br')).bytes;
    row.gzip += (await wireBytes(u, 'gzip')).bytes;
    row.raw += (await wireBytes(u, 'identity')).bytes;
  }
  return row;
}

async function waitUp() {
  for (let i = 0; i < 100; i += 1) {
    try {
      if ((await fetch(`${base}/api/v1/health`)).ok) return;
    } catch { /* not yet */ }
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error('latchkey did not start');
}

try {
  await waitUp();
  const rows = [];
  for (const [label, p] of [
    ['sign-in', '/login'],
    ['sign-up', '/signup'],
    ['second factor', '/login/mfa'],
    ['SSO login page', '/sso/no-such-login'],
    ['invitation', '/invite/inv_unknown'],
  ]) rows.push(await measure(label, p));

  const email = `weight-${Date.now()}@example.com`;
  const form = (o) => new URLSearchParams(o).toString();
  let res = await request('/api/sign_up', { method: 'POST', body: form({ email, name: 'Page Weight', password: 'correct horse battery staple' }) });
  if (res.status >= 400) throw new Error(`sign-up: ${res.status} ${await res.text()}`);
  res = await request('/api/create_org', { method: 'POST', body: form({ name: 'Weight Co' }) });
  if (res.status >= 400) throw new Error(`create org: ${res.status} ${await res.text()}`);
  for (const [label, p] of [
    ['new organization', '/orgs/new'],
    ['console home', '/o/weight-co'],
    ['members', '/o/weight-co/members'],
    ['security (SSO, branding)', '/o/weight-co/settings/security'],
  ]) rows.push(await measure(label, p));

  const kb = (n) => (n / 1024).toFixed(1);
  console.log('| page | path | status | HTML KB | inline <script> | script+wasm files | br KB | gzip KB | uncompressed KB |');
  console.log('|---|---|---:|---:|---:|---:|---:|---:|---:|');
  for (const r of rows) {
    console.log(`| ${r.label} | \`${r.pathname}\` | ${r.status} | ${kb(r.html)} | ${r.inline} | ${r.urls.length} | ${kb(r.br)} | ${kb(r.gzip)} | ${kb(r.raw)} |`);
  }
  const files = [...new Set(rows.flatMap((r) => r.urls))];
  if (files.length) console.log(`\nfiles: ${files.join(', ')}`);
  console.log('\n| file, fetched again on a kept-alive connection | median ms |');
  console.log('|---|---:|');
  for (const f of [...new Set(rows.flatMap((r) => r.styles)), ...files]) {
    console.log(`| \`${f}\` | ${(await reusedFetchMs(f)).toFixed(2)} |`);
  }
} catch (e) {
  console.error(e);
  process.exitCode = 1;
} finally {
  stop();
}
