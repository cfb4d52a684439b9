#!/usr/bin/env node
// The server cost of one SAML sign-in. Starts the release `latchkey` on
// SQLite, Debian's SimpleSAMLphp as the IdP (end2end/saml-idp/run.sh) and
// the test DNS server; connects, tests and enables a SAML connection over
// REST; then runs N sign-ins one after another, each as a fresh browser
// whose IdP session already exists (so the IdP answers at once):
//   GET  {public}/sso/{login_id}/start      -> 303 to the IdP (AuthnRequest)
//   GET  {idp}/saml2/idp/SSOService.php?... -> 200, the auto-post form
//   POST {public}/saml/{org_id}/acs         -> 303 (verified, signed in)
//   GET  {public}/api/v1/me                 -> 200 with the email
// and prints Latchkey's CPU per sign-in (from /proc/PID/stat) and the
// ACS latency. Figures, never pass/fail. Usage:
//   node bench/saml.mjs [--n 300] [--bin target/release/latchkey]
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { CLK_TCK, Jar, ROOT, cpuTicks, freePort, rssKiB, startProcess, stopAll, waitFor } from './lib.mjs';

const args = process.argv.slice(2);
const arg = (name, dflt) => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? args[i + 1] : dflt;
};
const N = Number(arg('n', 300));
const BIN = path.resolve(ROOT, arg('bin', 'target/release/latchkey'));
if (!fs.existsSync(BIN)) {
  console.error(`${BIN} is missing: build it with \`cargo xtask build --release\``);
  process.exit(2);
}

const work = fs.mkdtempSync(path.join(os.tmpdir(), 'latchkey-saml-bench-'));
const [port, idpPort, dnsPort, dnsControlPort] = await Promise.all([freePort(), freePort(), freePort(), freePort()]);
const pub = `http://127.0.0.1:${port}`;
const idp = `http://127.0.0.1:${idpPort}/simplesaml`;
const idpDir = path.join(work, 'idp');
const env = {
  ...process.env,
  LATCHKEY_BIND: `127.0.0.1:${port}`,
  LATCHKEY_PUBLIC_URL: pub,
  LATCHKEY_DATA_DIR: path.join(work, 'data'),
  LATCHKEY_SECRET_KEY: 'latchkey-bench-secret-key-latchkey-bench-secret-key',
  LATCHKEY_DNS_SERVERS: `127.0.0.1:${dnsPort}`,
  LATCHKEY_ALLOW_PRIVATE_IDP: 'true',
  // Each sign-in comes from an address of its own (X-Forwarded-For), as
  // one address may start only 30 sign-ins a minute.
  LATCHKEY_TRUSTED_PROXIES: '127.0.0.1',
  LEPTOS_SITE_ROOT: 'target/site',
  RUST_LOG: 'warn',
};

let addresses = 0;

/** One request, redirects not followed; a form body when `form` is given. */
async function go(jar, url, form, ip) {
  const u = new URL(url);
  const headers = { accept: 'text/html' };
  if (ip) headers['x-forwarded-for'] = ip;
  const cookie = jar.header(u);
  if (cookie) headers.cookie = cookie;
  const init = { headers, redirect: 'manual' };
  if (form) {
    init.method = 'POST';
    init.body = new URLSearchParams(form).toString();
    headers['content-type'] = 'application/x-www-form-urlencoded';
  }
  const t0 = performance.now();
  const res = await fetch(u, init);
  jar.store(u, res.headers.getSetCookie());
  const body = await res.text();
  const location = res.headers.get('location');
  return { status: res.status, body, location: location && new URL(location, u).toString(), ms: performance.now() - t0 };
}

const input = (body, name) => {
  const m = new RegExp(`name="${name}"[^>]*value="([^"]*)"`).exec(body);
  return m && m[1].replace(/&#x2B;|&#43;/g, '+').replace(/&#x3D;|&#61;/g, '=').replace(/&quot;/g, '"').replace(/&amp;/g, '&');
};

/** From an AuthnRequest redirect to the SAMLResponse form, signing in at
 * the IdP's form when it asks. */
async function atIdp(jar, url) {
  let at = url;
  let r = await go(jar, at);
  for (let hops = 0; r.location && hops < 5; hops++) {
    at = r.location;
    r = await go(jar, at);
  }
  const authState = input(r.body, 'AuthState');
  if (authState) r = await go(jar, at, { username: 'ada', password: 'ada-password', AuthState: authState });
  const response = input(r.body, 'SAMLResponse');
  if (!response) throw new Error(`no SAMLResponse from the IdP: ${r.status} ${r.body.slice(0, 300)}`);
  return response;
}

async function api(token, method, p, body) {
  const res = await fetch(`${pub}${p}`, {
    method,
    headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
    body: body && JSON.stringify(body),
  });
  const json = await res.json().catch(() => null);
  if (!res.ok) throw new Error(`${method} ${p}: HTTP ${res.status} ${JSON.stringify(json)}`);
  return json;
}

const pct = (sorted, q) => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))];

try {
  startProcess('dns', 'node', ['dns-server.mjs'], {
    cwd: path.join(ROOT, 'end2end'),
    env: { ...process.env, E2E_DNS_PORT: String(dnsPort), E2E_DNS_CONTROL_PORT: String(dnsControlPort) },
    logFile: path.join(work, 'dns.log'),
  });
  const php = startProcess('simplesamlphp', path.join(ROOT, 'end2end/saml-idp/run.sh'), [String(idpPort), idpDir], {
    env: process.env,
    logFile: path.join(work, 'idp.log'),
  });
  await waitFor(`${idp}/saml2/idp/metadata.php`, php, 60);
  await waitFor(`http://127.0.0.1:${dnsControlPort}/health`, null, 30);
  const out = execFileSync(BIN, ['bootstrap', '--email', 'owner@example.com', '--password', 'correct horse battery', '--org-name', 'Bench'], { cwd: ROOT, env, encoding: 'utf8' });
  const boot = JSON.parse(out.trim().split('\n').filter((l) => l.startsWith('{')).pop());
  const latchkey = startProcess('latchkey', BIN, ['serve'], { env, logFile: path.join(work, 'latchkey.log') });
  await waitFor(`${pub}/api/v1/health`, latchkey, 60);
  const org = boot.org_id;
  const token = boot.api_token;

  // Domain, SP registration at the IdP, connection, test, enable.
  const dom = await api(token, 'POST', `/api/v1/orgs/${org}/domains`, { domain: 'example.com' });
  await fetch(`http://127.0.0.1:${dnsControlPort}/records`, { method: 'POST', body: JSON.stringify({ name: dom.txt_record_name, value: dom.txt_record_value }) });
  await api(token, 'POST', `/api/v1/orgs/${org}/domains/example.com/verify`);
  const sp = await api(token, 'GET', `/api/v1/orgs/${org}/sso`);
  fs.writeFileSync(
    path.join(idpDir, 'metadata/saml20-sp-remote.php'),
    `<?php\n$metadata['${sp.sp_entity_id}'] = ['AssertionConsumerService' => '${sp.acs_url}', 'NameIDFormat' => 'urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress'];\n`,
  );
  await api(token, 'PUT', `/api/v1/orgs/${org}/sso`, { protocol: 'saml', provider_label: 'SimpleSAMLphp', idp_metadata_url: `${idp}/saml2/idp/metadata.php` });
  const idpJar = new Jar(); // the person's IdP session, kept across sign-ins
  const { test_url: testUrl } = await api(token, 'POST', `/api/v1/orgs/${org}/sso/test`);
  const testJar = new Jar();
  const t = await go(testJar, testUrl);
  const testResponse = await atIdp(idpJar, t.location);
  await go(testJar, sp.acs_url, { SAMLResponse: testResponse });
  const enabled = await api(token, 'POST', `/api/v1/orgs/${org}/sso/enable`);
  const start = `${enabled.login_url}/start`;

  const signIn = async () => {
    const jar = new Jar();
    const n = ++addresses;
    const ip = `10.${(n >> 16) & 255}.${(n >> 8) & 255}.${n & 255}`;
    const s = await go(jar, start, null, ip);
    if (!s.location) throw new Error(`start: HTTP ${s.status} ${s.body.slice(0, 300)}`);
    const response = await atIdp(idpJar, s.location);
    const acs = await go(jar, sp.acs_url, { SAMLResponse: response }, ip);
    if (acs.status !== 303) throw new Error(`ACS: HTTP ${acs.status} ${acs.body.slice(0, 300)}`);
    const me = await go(jar, `${pub}/api/v1/me`, null, ip);
    if (me.status !== 200 || !me.body.includes('ada@example.com')) throw new Error(`me: HTTP ${me.status}`);
    return { startMs: s.ms, acsMs: acs.ms, meMs: me.ms };
  };
  for (let i = 0; i < 20; i++) await signIn(); // warm-up
  const rssBefore = rssKiB(latchkey.pid) / 1024;
  const ticks0 = cpuTicks(latchkey.pid);
  const phpTicks0 = cpuTicks(php.pid);
  const t0 = performance.now();
  const runs = [];
  for (let i = 0; i < N; i++) runs.push(await signIn());
  const seconds = (performance.now() - t0) / 1000;
  const cpuMs = ((cpuTicks(latchkey.pid) - ticks0) / CLK_TCK / N) * 1000;
  const acs = runs.map((r) => r.acsMs).sort((a, b) => a - b);
  const all = runs.map((r) => r.startMs + r.acsMs + r.meMs).sort((a, b) => a - b);
  console.log(`SAML sign-ins, one at a time, SQLite, ${N} after 20 warm-up (${(N / seconds).toFixed(1)}/s):`);
  console.log(`  Latchkey CPU per sign-in (start + ACS + /api/v1/me): ${cpuMs.toFixed(2)} ms`);
  console.log(`  SimpleSAMLphp CPU per sign-in: ${(((cpuTicks(php.pid) - phpTicks0) / CLK_TCK / N) * 1000).toFixed(2)} ms (php -S runs the IdP; includes its PHP start-up per request)`);
  console.log(`  ACS wall time p50 / p99: ${pct(acs, 0.5).toFixed(2)} / ${pct(acs, 0.99).toFixed(2)} ms`);
  console.log(`  start + ACS + me wall time p50 / p99: ${pct(all, 0.5).toFixed(2)} / ${pct(all, 0.99).toFixed(2)} ms`);
  console.log(`  Latchkey RSS: ${rssBefore.toFixed(1)} MiB before, ${(rssKiB(latchkey.pid) / 1024).toFixed(1)} MiB after`);
} finally {
  await stopAll();
  fs.rmSync(work, { recursive: true, force: true });
}
