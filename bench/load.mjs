#!/usr/bin/env node
// SSO sign-in load against 1 and 2 Latchkey instances sharing one PostgreSQL
// database, or against one instance on its embedded SQLite database
// (--sqlite, --backends postgres,sqlite), with the real npm `oidc-provider`
// (end2end/idp.mjs in its opt-in automatic login mode) as the organization's
// IdP. See bench/README.md.
//
// One sign-in, as a fresh browser (its own cookie jar, its own client
// address):
//   GET  {public}/sso/{login_id}/start?login_hint=EMAIL   -> 303 to the IdP
//   GET  {idp}/auth?...  -> /interaction/:uid -> /auth/:uid -> 303 to the callback
//   GET  {public}/sso/{org_id}/oidc/callback?code=...     -> 303 to the landing page
//   GET  {public}/api/v1/me                               -> 200 with the email
// {public} is a round-robin proxy run by this script (the load balancer), so
// with 2 instances a sign-in often starts on one and finishes on the other.
//
// With --systems reference (or latchkey,reference), the same sign-ins also
// run against bench/reference-rp.mjs, a textbook express + openid-client
// relying party, behind the same proxy and IdP:
//   GET  {public}/login?login_hint=EMAIL -> IdP -> GET {public}/callback -> GET {public}/me
// and the figures are printed side by side, with Latchkey / reference ratios.
//
// Only Node built-ins; oidc-provider comes from end2end/node_modules, express
// and openid-client (the reference RP only) from bench/node_modules.
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import {
  CLK_TCK, Jar, ROOT, cpuTicks, freePort, rssKiB, sleep, startProcess, stopAll, stopProcess, tail, waitFor,
} from './lib.mjs';

// ---------------------------------------------------------------- options

const HELP = `usage: node bench/load.mjs [options]

  --systems LIST        what to measure, in order: latchkey, reference or both, e.g.
                        latchkey,reference (default latchkey); reference is
                        bench/reference-rp.mjs (express + openid-client, sessions in
                        memory; needs npm ci in bench/, no binary, no database), and
                        with it the figures are also printed side by side with
                        Latchkey / reference ratios
  --bin PATH            latchkey binary (default target/release/latchkey if present,
                        else target/debug/latchkey); copied aside first, so a rebuild
                        during the run changes nothing
  --backends LIST       databases to measure, in order: postgres, sqlite or both, e.g.
                        postgres,sqlite (default postgres); each gets a fresh database,
                        IdP, DNS server and proxy, and the figures share one table
  --sqlite              the same as --backends sqlite: one instance on
                        LATCHKEY_DATABASE_URL=sqlite://<fresh temp dir>/latchkey.db;
                        no PostgreSQL needed
  --pg URL              PostgreSQL server (default postgres://postgres@127.0.0.1:55432);
                        a database path in the URL is ignored
  --db NAME             database to DROP and create for the run (default latchkey_bench)
  --n N                 measured sign-ins per (instances, concurrency) (default 1000)
  --concurrency LIST    virtual browsers at once, e.g. 16,64 (default 16,64; 1,4,16 when
                        --systems includes reference)
  --instances LIST      Latchkey instances behind the proxy, e.g. 1,2 (default 1,2);
                        always 1 on sqlite (the embedded file is not shared) and for
                        the reference RP
  --users N             distinct people (default 64)
  --same-user           every sign-in is the same person
  --warmup N            unmeasured sign-ins before each measurement (default 20)
  --cold                no first sign-in of every user before the runs: the first
                        run (warm-up included) then creates the accounts, concurrently
  --timeout SECS        per-request timeout (default 60)
  --rust-log FILTER     RUST_LOG of the instances (default warn)
  --domain NAME         the verified email domain (default bench.example.com)
  --one-address         every browser sends the same X-Forwarded-For (shows the per-address
                        limit of 30 sign-in starts a minute: 429 too_many_requests)
  --rounds N            repeat everything N times (default 1), the order of --systems
                        reversed every other round, and print the ratios of each round
                        and their medians: on a shared machine whose speed drifts, the
                        spread between rounds shows how far one run can be trusted
  --keep-logs           keep the work directory (logs) even when everything passed
  -h, --help
Exit code: 0 when every sign-in succeeded, 1 when any failed, 2 when set-up failed.`;

function parseArgs(argv) {
  const o = {
    bin: null,
    systems: ['latchkey'],
    backends: ['postgres'],
    pg: 'postgres://postgres@127.0.0.1:55432',
    db: 'latchkey_bench',
    n: 1000,
    concurrency: [16, 64],
    concurrencyGiven: false,
    instances: [1, 2],
    users: 64,
    sameUser: false,
    warmup: 20,
    timeout: 60,
    rustLog: 'warn',
    domain: 'bench.example.com',
    keepLogs: false,
    cold: false,
    oneAddress: false,
    rounds: 1,
  };
  const list = (v) => v.split(',').map((x) => Number(x.trim())).filter((x) => Number.isInteger(x) && x > 0);
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const [flag, inline] = a.includes('=') ? [a.slice(0, a.indexOf('=')), a.slice(a.indexOf('=') + 1)] : [a, null];
    const val = () => {
      if (inline !== null) return inline;
      if (i + 1 >= argv.length) die(`${flag} needs a value`);
      return argv[++i];
    };
    switch (flag) {
      case '-h': case '--help': console.log(HELP); process.exit(0); break;
      case '--systems': o.systems = systemList(val()); break;
      case '--bin': o.bin = val(); break;
      case '--backends': o.backends = backendList(val()); break;
      case '--sqlite': o.backends = ['sqlite']; break;
      case '--pg': o.pg = val(); break;
      case '--db': o.db = val(); break;
      case '--n': o.n = Number(val()); break;
      case '--concurrency': o.concurrency = list(val()); o.concurrencyGiven = true; break;
      case '--instances': o.instances = list(val()); break;
      case '--users': o.users = Number(val()); break;
      case '--same-user': o.sameUser = true; break;
      case '--warmup': o.warmup = Number(val()); break;
      case '--timeout': o.timeout = Number(val()); break;
      case '--rust-log': o.rustLog = val(); break;
      case '--domain': o.domain = val().toLowerCase(); break;
      case '--rounds': o.rounds = Number(val()); break;
      case '--keep-logs': o.keepLogs = true; break;
      case '--cold': o.cold = true; break;
      case '--one-address': o.oneAddress = true; break;
      default: die(`unknown option ${a}\n\n${HELP}`);
    }
  }
  if (!Number.isInteger(o.n) || o.n < 1) die('--n must be a positive integer');
  if (!Number.isInteger(o.users) || o.users < 1) die('--users must be a positive integer');
  if (!Number.isInteger(o.warmup) || o.warmup < 0) die('--warmup must be 0 or more');
  if (!Number.isInteger(o.rounds) || o.rounds < 1) die('--rounds must be a positive integer');
  if (!o.systems.length) die('--systems needs at least one of latchkey, reference');
  if (!o.backends.length) die('--backends needs at least one of postgres, sqlite');
  if (o.systems.includes('reference') && !o.concurrencyGiven) o.concurrency = [1, 4, 16];
  if (!o.concurrency.length) die('--concurrency needs at least one positive integer');
  if (!o.instances.length || o.instances.some((x) => x > 8)) die('--instances: 1 to 8 each');
  if (!/^[a-z_][a-z0-9_]*$/.test(o.db)) die('--db: a plain identifier, please');
  if (o.systems.includes('latchkey')) {
    if (!o.bin) {
      const release = path.join(ROOT, 'target/release/latchkey');
      o.bin = fs.existsSync(release) ? release : path.join(ROOT, 'target/debug/latchkey');
    }
    o.bin = path.resolve(ROOT, o.bin);
    if (!fs.existsSync(o.bin)) die(`no binary at ${o.bin}`);
  }
  const u = new URL(o.pg);
  u.pathname = '';
  u.search = '';
  o.pgServer = u.toString().replace(/\/$/, '');
  return o;
}

function backendList(v) {
  const names = { postgres: 'postgres', postgresql: 'postgres', pg: 'postgres', sqlite: 'sqlite' };
  const out = [];
  for (const x of v.split(',').map((y) => y.trim().toLowerCase()).filter(Boolean)) {
    const b = names[x];
    if (!b) die(`--backends: unknown backend ${x} (postgres or sqlite)`);
    if (!out.includes(b)) out.push(b);
  }
  return out;
}

function systemList(v) {
  const out = [];
  for (const x of v.split(',').map((y) => y.trim().toLowerCase()).filter(Boolean)) {
    if (x !== 'latchkey' && x !== 'reference') die(`--systems: unknown system ${x} (latchkey or reference)`);
    if (!out.includes(x)) out.push(x);
  }
  return out;
}

function die(msg, code = 2) {
  console.error(`load.mjs: ${msg}`);
  process.exit(code);
}

const opts = parseArgs(process.argv.slice(2));

// ---------------------------------------------------------------- processes

let workDir = null;
/** Summed RSS of `procs` in MiB; NaN when any is gone. */
function rssMiB(procs) {
  let kib = 0;
  for (const p of procs) {
    const v = rssKiB(p.pid);
    if (v === null) return NaN;
    kib += v;
  }
  return kib / 1024;
}

/** PostgreSQL backends connected to our database: pid -> ticks. Backends
 * that exit between two readings lose their share (the pool keeps most). */
function pgBackendTicks(db) {
  const out = new Map();
  for (const d of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(d)) continue;
    let cmd;
    try {
      cmd = fs.readFileSync(`/proc/${d}/cmdline`, 'utf8');
    } catch {
      continue;
    }
    if (cmd.startsWith('postgres: ') && cmd.split(' ')[2] === db) {
      const t = cpuTicks(d);
      if (t !== null) out.set(d, t);
    }
  }
  return out;
}

function cpuSnapshot(procs) {
  // On SQLite the database work is in the instance's own CPU: no pg figure.
  const pg = ctx.backend === 'postgres' ? pgBackendTicks(opts.db) : null;
  const snap = { t: process.hrtime.bigint(), driver: process.cpuUsage(), procs: new Map(), pg };
  for (const p of procs) snap.procs.set(p.name, cpuTicks(p.pid));
  return snap;
}

/** CPU milliseconds spent between two snapshots, per process name. */
function cpuDelta(a, b) {
  const out = {};
  for (const [name, before] of a.procs) {
    const after = b.procs.get(name);
    out[name] = before === null || after == null ? NaN : ((after - before) * 1000) / CLK_TCK;
  }
  if (a.pg && b.pg) {
    let pg = 0;
    for (const [pid, after] of b.pg) pg += after - (a.pg.get(pid) ?? 0);
    out.pg = (pg * 1000) / CLK_TCK;
  } else {
    out.pg = NaN;
  }
  const d = process.cpuUsage(a.driver);
  out.driver = (d.user + d.system) / 1000;
  return out;
}

// ---------------------------------------------------------------- the load balancer

/** Round-robin HTTP proxy on the public URL's port: each request goes to the
 * next instance, whichever browser sent it. Marks answers with the instance
 * (`x-bench-backend`) so the driver can tell where a step ran. */
function startProxy(port) {
  const agent = new http.Agent({ keepAlive: true, maxSockets: 512 });
  const state = { backends: [], next: 0, counts: new Map(), errors: 0 };
  const hop = new Set(['connection', 'keep-alive', 'proxy-connection', 'transfer-encoding', 'upgrade']);
  const server = http.createServer((req, res) => {
    if (!state.backends.length) {
      res.writeHead(503, { 'content-type': 'text/plain' });
      res.end('bench proxy: no backend');
      return;
    }
    const b = state.backends[state.next++ % state.backends.length];
    state.counts.set(b.name, (state.counts.get(b.name) ?? 0) + 1);
    const headers = {};
    for (const [k, v] of Object.entries(req.headers)) if (!hop.has(k)) headers[k] = v;
    const up = http.request(
      { host: '127.0.0.1', port: b.port, method: req.method, path: req.url, headers, agent },
      (ur) => {
        const h = {};
        for (const [k, v] of Object.entries(ur.headers)) if (!hop.has(k)) h[k] = v;
        h['x-bench-backend'] = b.name;
        res.writeHead(ur.statusCode, h);
        ur.pipe(res);
      },
    );
    up.on('error', (e) => {
      state.errors++;
      if (!res.headersSent) {
        res.writeHead(502, { 'content-type': 'text/plain', 'x-bench-backend': b.name, 'x-bench-proxy-error': '1' });
      }
      res.end(`bench proxy: ${b.name}: ${e.code ?? e.message}`);
    });
    req.pipe(up);
  });
  server.keepAliveTimeout = 30_000;
  return new Promise((resolve) => server.listen(port, '127.0.0.1', () => resolve({ server, state, agent })));
}

// ---------------------------------------------------------------- a browser

const UA = 'latchkey-bench/1 (Node.js)';

/** One request without following redirects; cookies in and out of `jar`. */
async function go(jar, url, { ip, accept = 'text/html', method = 'GET' } = {}) {
  const u = new URL(url);
  const headers = { accept, 'user-agent': UA };
  const cookie = jar.header(u);
  if (cookie) headers.cookie = cookie;
  if (ip) headers['x-forwarded-for'] = ip;
  const t0 = performance.now();
  let res;
  try {
    res = await fetch(u, { method, headers, redirect: 'manual', signal: AbortSignal.timeout(opts.timeout * 1000) });
  } catch (e) {
    const why = e.name === 'TimeoutError' ? 'timeout' : (e.cause?.code ?? e.name);
    return { status: 0, error: why, ms: performance.now() - t0, url: u };
  }
  jar.store(u, res.headers.getSetCookie());
  const location = res.headers.get('location');
  const body = location ? (await res.arrayBuffer(), '') : await res.text();
  return {
    status: res.status,
    location: location ? new URL(location, u).toString() : null,
    body,
    backend: res.headers.get('x-bench-backend'),
    ms: performance.now() - t0,
    url: u,
  };
}

/** The error code a Latchkey answer names: `data-code` on a refusal page, or
 * `error.code` in JSON. */
function codeOf(r) {
  if (r.error) return r.error;
  const m = /data-code="([^"]+)"/.exec(r.body ?? '');
  if (m) return m[1];
  try {
    return JSON.parse(r.body).error?.code ?? '';
  } catch {
    return '';
  }
}

const isRedirect = (r) => r.status >= 300 && r.status < 400 && r.location;

// ---------------------------------------------------------------- the set-up

let ctx = null; // {backend, databaseUrl, public, idp, dnsControl, dnsPort, orgId, orgSlug, loginId, token}

async function api(method, p, body) {
  const res = await fetch(`${ctx.public}${p}`, {
    method,
    headers: {
      authorization: `Bearer ${ctx.token}`,
      accept: 'application/json',
      ...(body ? { 'content-type': 'application/json' } : {}),
    },
    body: body ? JSON.stringify(body) : undefined,
    signal: AbortSignal.timeout(opts.timeout * 1000),
  });
  const text = await res.text();
  let json = null;
  try {
    json = JSON.parse(text);
  } catch { /* not JSON */ }
  return { status: res.status, json, text };
}

async function must(what, promise, ok = [200]) {
  const r = await promise;
  if (!ok.includes(r.status)) throw new Error(`${what}: HTTP ${r.status}: ${r.text.slice(0, 500)}`);
  return r.json;
}

/** Follows the IdP's redirects (auto login) until they leave the IdP. */
async function throughIdp(jar, url, ip, login) {
  let r = null;
  for (let hops = 0; url.startsWith(`${ctx.idp}/`); hops++) {
    if (hops > 10) return { fail: { step: 'idp', status: 0, code: 'too_many_redirects', body: url } };
    if (login && new URL(url).pathname.startsWith('/interaction/')) {
      const u = new URL(url);
      u.searchParams.set('login', login);
      url = u.toString();
    }
    r = await go(jar, url, { ip });
    if (!isRedirect(r)) return { fail: { step: 'idp', status: r.status, code: r.error ?? idpError(r.body), body: r.body } };
    url = r.location;
  }
  return { url };
}

function idpError(body = '') {
  const m = /<pre>([\s\S]*?)<\/pre>|"error":"([^"]+)"/.exec(body);
  return (m?.[1] ?? m?.[2] ?? '').replace(/\s+/g, ' ').slice(0, 80);
}

/** A confidential client registered at the IdP (dynamic registration), for
 * Latchkey and the reference RP alike: {client_id, client_secret, ...}. */
async function registerAtIdp(redirectUri) {
  const reg = await fetch(`${ctx.idp}/reg`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({
      redirect_uris: [redirectUri],
      grant_types: ['authorization_code'],
      response_types: ['code'],
      token_endpoint_auth_method: 'client_secret_basic',
    }),
  });
  if (reg.status !== 201) throw new Error(`IdP registration: HTTP ${reg.status}: ${await reg.text()}`);
  return reg.json();
}

async function setUp(procs) {
  // The organization and its owner, straight into the database.
  const out = execFileSync(opts.binCopy, ['bootstrap', '--email', 'a@bench.test', '--password', 'correct horse battery', '--org-name', 'Bench'], {
    cwd: ROOT,
    env: instanceEnv({ port: procs.setupPort, name: 'bootstrap' }),
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const boot = JSON.parse(out.trim().split('\n').filter((l) => l.startsWith('{')).pop());
  ctx.orgId = boot.org_id;
  ctx.orgSlug = boot.org_slug;
  ctx.token = boot.api_token;
  const org = ctx.orgId;

  // A verified domain, through the test DNS server.
  const dom = await must('POST domains', api('POST', `/api/v1/orgs/${org}/domains`, { domain: opts.domain }), [201]);
  const pub = await fetch(`${ctx.dnsControl}/records`, {
    method: 'POST',
    body: JSON.stringify({ name: dom.txt_record_name, value: dom.txt_record_value }),
  });
  if (!pub.ok) throw new Error(`publishing the TXT record: HTTP ${pub.status}`);
  const verified = await must('verify domain', api('POST', `/api/v1/orgs/${org}/domains/${encodeURIComponent(opts.domain)}/verify`));
  if (verified.status !== 'verified') throw new Error(`domain not verified: ${JSON.stringify(verified)}`);

  // Latchkey registered at the IdP with the redirect URI it shows.
  const before = await must('GET sso', api('GET', `/api/v1/orgs/${org}/sso`));
  const client = await registerAtIdp(before.redirect_uri);

  await must('PUT sso', api('PUT', `/api/v1/orgs/${org}/sso`, {
    provider_label: 'Bench IdP',
    discovery_url: ctx.idp,
    client_id: client.client_id,
    client_secret: client.client_secret,
    scopes: ['openid', 'profile', 'email'],
    jit_enabled: true,
    default_role: 'member',
  }));

  // Test connection: the one-time link, opened by a browser.
  const { test_url: testUrl } = await must('POST sso/test', api('POST', `/api/v1/orgs/${org}/sso/test`));
  const jar = new Jar();
  const first = await go(jar, testUrl, { ip: '10.255.255.1' });
  if (!isRedirect(first)) throw new Error(`test link: HTTP ${first.status} ${codeOf(first)}: ${first.body?.slice(0, 300)}`);
  const back = await throughIdp(jar, first.location, '10.255.255.1', `test@${opts.domain}`);
  if (back.fail) throw new Error(`test at the IdP: ${JSON.stringify(back.fail).slice(0, 500)}`);
  const cb = await go(jar, back.url, { ip: '10.255.255.1' });
  if (!isRedirect(cb)) throw new Error(`test callback: HTTP ${cb.status} ${codeOf(cb)}: ${cb.body?.slice(0, 300)}`);
  const tested = await must('GET sso', api('GET', `/api/v1/orgs/${org}/sso`));
  if (!tested.last_test?.ok) throw new Error(`the connection test failed: ${JSON.stringify(tested.last_test)}`);

  const enabled = await must('enable', api('POST', `/api/v1/orgs/${org}/sso/enable`));
  ctx.loginId = new URL(enabled.login_url).pathname.split('/').filter(Boolean).pop();
  console.log(`set-up: org ${ctx.orgSlug} (${org}), domain ${opts.domain} verified, client ${client.client_id}, login URL ${enabled.login_url}`);
}

// ---------------------------------------------------------------- one sign-in

let addressSeq = 0;

/** A client address of its own for every sign-in: Latchkey lets one address
 * start 30 sign-ins a minute, which a load from one machine would hit at
 * once. The instances trust 127.0.0.1 as a proxy (LATCHKEY_TRUSTED_PROXIES). */
function nextAddress() {
  if (opts.oneAddress) return '10.0.0.1';
  const i = ++addressSeq;
  return `10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}`;
}

function emailFor(i) {
  return opts.sameUser ? `user0@${opts.domain}` : `user${i % opts.users}@${opts.domain}`;
}

async function signIn(i) {
  const jar = new Jar();
  const ip = nextAddress();
  const email = emailFor(i);
  const t0 = performance.now();
  const fail = (step, r, code) => ({
    ok: false,
    email,
    step,
    status: r?.status ?? 0,
    code: code ?? (r ? codeOf(r) : ''),
    body: r?.body ?? '',
    backend: r?.backend ?? null,
    ms: performance.now() - t0,
  });

  // Latchkey, or the reference RP (the same steps, its own paths).
  const latchkey = ctx.system === 'latchkey';
  const startUrl = latchkey
    ? `${ctx.public}/sso/${ctx.loginId}/start?login_hint=${encodeURIComponent(email)}`
    : `${ctx.public}/login?login_hint=${encodeURIComponent(email)}`;
  const callbackUrl = latchkey ? `${ctx.public}/sso/${ctx.orgId}/oidc/callback` : `${ctx.public}/callback`;
  const meUrl = latchkey ? `${ctx.public}/api/v1/me` : `${ctx.public}/me`;

  const start = await go(jar, startUrl, { ip });
  if (!isRedirect(start) || !start.location.startsWith(`${ctx.idp}/`)) return fail('start', start);

  const back = await throughIdp(jar, start.location, ip, null);
  if (back.fail) return { ok: false, email, ...back.fail, ms: performance.now() - t0 };
  if (!back.url.startsWith(callbackUrl)) {
    return fail('idp', { status: 0, body: back.url }, 'unexpected_redirect');
  }

  const cb = await go(jar, back.url, { ip });
  if (!isRedirect(cb)) return fail('callback', cb);
  if (latchkey && new URL(cb.location).pathname.startsWith('/login/sso-link')) return fail('callback', cb, 'link_required');

  const me = await go(jar, meUrl, { ip, accept: 'application/json' });
  if (me.status !== 200) return fail('me', me);
  let who = null;
  try {
    who = JSON.parse(me.body);
  } catch { /* below */ }
  if (who?.email !== email || (latchkey && who?.authenticated_by !== 'session')) {
    return fail('me', me, `wrong_user:${who?.email ?? 'none'}`);
  }
  return {
    ok: true,
    email,
    callbackMs: cb.ms,
    callbackApiMs: cb.ms + me.ms,
    ms: performance.now() - t0,
    cross: start.backend !== cb.backend,
  };
}

// ---------------------------------------------------------------- runs

const allFailures = []; // {backend, phase, result}

async function runBatch(phase, n, concurrency, seqBase) {
  let next = 0;
  const results = [];
  const worker = async () => {
    for (;;) {
      const i = next++;
      if (i >= n) return;
      const r = await signIn(seqBase + i);
      results.push(r);
      if (!r.ok) allFailures.push({ backend: ctx.label, phase, result: r });
    }
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, n) }, worker));
  return results;
}

function pct(sorted, q) {
  if (!sorted.length) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))];
}

function summarize(results, seconds, cpu, names) {
  const ok = results.filter((r) => r.ok);
  const cb = ok.map((r) => r.callbackMs).sort((a, b) => a - b);
  const tot = ok.map((r) => r.ms).sort((a, b) => a - b);
  const cbApi = ok.map((r) => r.callbackApiMs).sort((a, b) => a - b);
  const errors = new Map();
  for (const r of results.filter((x) => !x.ok)) {
    const key = `${r.step} ${r.status}${r.code ? ` ${r.code}` : ''}`;
    errors.set(key, (errors.get(key) ?? 0) + 1);
  }
  const per = (ms) => ms / results.length;
  const row = {
    n: results.length,
    ok: ok.length,
    failed: results.length - ok.length,
    rate: ok.length / seconds,
    cbP50: pct(cb, 0.5),
    cbP99: pct(cb, 0.99),
    totP50: pct(tot, 0.5),
    totP99: pct(tot, 0.99),
    cbApiP50: pct(cbApi, 0.5),
    cbApiP99: pct(cbApi, 0.99),
    cross: ok.length ? (100 * ok.filter((r) => r.cross).length) / ok.length : NaN,
    cpu: Object.fromEntries([...names, 'idp', 'pg', 'driver'].map((k) => [k, per(cpu[k] ?? NaN)])),
    errors,
    seconds,
  };
  return row;
}

function logMarker(procs, text) {
  for (const p of procs) {
    try {
      fs.appendFileSync(p.logFile, `=== bench: ${text} ===\n`);
    } catch { /* ignore */ }
  }
}

function instanceEnv({ port, name }) {
  const env = {};
  for (const [k, v] of Object.entries(process.env)) {
    if (!k.startsWith('LATCHKEY_') && !k.startsWith('LEPTOS_') && k !== 'RUST_LOG') env[k] = v;
  }
  return {
    ...env,
    LATCHKEY_BIND: `127.0.0.1:${port}`,
    LATCHKEY_PUBLIC_URL: ctx.public,
    LATCHKEY_DATABASE_URL: ctx.databaseUrl,
    LATCHKEY_SECRET_KEY: 'latchkey-bench-secret-key-latchkey-bench-secret-key',
    LATCHKEY_DATA_DIR: path.join(workDir, `data-${ctx.backend}-${name}`),
    LATCHKEY_DNS_SERVERS: `127.0.0.1:${ctx.dnsPort}`,
    LATCHKEY_DNS_TIMEOUT_SECS: '2',
    LATCHKEY_ALLOW_PRIVATE_IDP: 'true',
    LATCHKEY_TRUSTED_PROXIES: '127.0.0.1',
    LEPTOS_SITE_ROOT: 'target/site',
    RUST_LOG: opts.rustLog,
    NO_COLOR: '1',
  };
}

const fmt = (x, d = 0) => (Number.isFinite(x) ? x.toFixed(d) : '-');

/** A Markdown table: first column left-aligned, the others right-aligned. */
function printMarkdown(head, lines) {
  const widths = head.map((h, i) => Math.max(h.length, ...lines.map((l) => l[i].length)));
  const line = (cells) => `| ${cells.map((c, i) => (i === 0 ? c.padEnd(widths[i]) : c.padStart(widths[i]))).join(' | ')} |`;
  console.log(line(head));
  console.log(`|${widths.map((w, i) => (i === 0 ? ':' + '-'.repeat(w + 1) : '-'.repeat(w + 1) + ':')).join('|')}|`);
  for (const l of lines) console.log(line(l));
}

function printTable(rows, maxInstances) {
  const names = Array.from({ length: maxInstances }, (_, i) => String.fromCharCode(65 + i));
  const head = ['backend', 'inst', 'conc', 'sign-ins', 'failed', 'sign-ins/s', 'cb p50 ms', 'cb p99 ms', 'all p50 ms', 'all p99 ms', 'A->B %',
    ...names.map((n) => `cpu ${n}`), 'cpu IdP', 'cpu pg', 'cpu driver'];
  const lines = rows.map((r) => [
    r.backend, String(r.instances), String(r.concurrency), String(r.n), String(r.failed), fmt(r.rate, 1),
    fmt(r.cbP50), fmt(r.cbP99), fmt(r.totP50), fmt(r.totP99), r.instances > 1 ? fmt(r.cross) : '-',
    ...names.map((n) => fmt(r.cpu[n], 1)), fmt(r.cpu.idp, 1), fmt(r.cpu.pg, 1), fmt(r.cpu.driver, 1),
  ]);
  printMarkdown(head, lines);
  console.log('cpu columns: CPU milliseconds per sign-in (utime+stime from /proc); A, B: Latchkey instances;');
  console.log('pg: PostgreSQL backends of the bench database (- on sqlite: the database work is in cpu A);');
  console.log('driver: this script (browsers and the proxy).');
  console.log('A->B %: successful sign-ins whose callback ran on another instance than their start.');
}

/** WARN/ERROR lines of the instances' logs, counted by message, by phase. */
function logReport(procsEver) {
  if (!procsEver.length) {
    console.log('\nNo Latchkey instance ran.');
    return;
  }
  let any = false;
  for (const p of procsEver) {
    let text;
    try {
      text = fs.readFileSync(p.logFile, 'utf8');
    } catch {
      continue;
    }
    let phase = 'start';
    const counts = new Map();
    for (const raw of text.split('\n')) {
      const lineText = raw.replace(/\x1b\[[0-9;]*m/g, '');
      const m = /^=== bench: (.*) ===$/.exec(lineText);
      if (m) {
        phase = m[1];
        continue;
      }
      if (!/\b(WARN|ERROR)\b/.test(lineText)) continue;
      // Without the timestamp, so equal messages group.
      const msg = lineText
        .replace(/^\S+Z\s+/, '')
        .replace(/\b\d{4}-\d\d-\d\dT\S+/g, '<time>')
        .replace(/\b(elapsed(?:_secs)?=)[\d.]+\w*/g, '$1…')
        .slice(0, 400);
      const key = `[${phase}] ${msg}`;
      counts.set(key, (counts.get(key) ?? 0) + 1);
    }
    if (!counts.size) continue;
    any = true;
    console.log(`\n${p.label ?? p.name} (${p.logFile}): WARN/ERROR lines`);
    for (const [k, c] of [...counts.entries()].slice(0, 40)) console.log(`  ${String(c).padStart(5)} x ${k}`);
    if (counts.size > 40) console.log(`  ... and ${counts.size - 40} other kinds`);
  }
  if (!any) console.log('\nNo WARN/ERROR lines in the Latchkey logs.');
}

function failureReport(backend) {
  const mine = allFailures.filter((f) => f.backend === backend);
  if (!mine.length) return;
  console.log(`\nFailed sign-ins on ${backend}: ${mine.length}`);
  const groups = new Map();
  for (const { phase, result: r } of mine) {
    const key = `${r.step} ${r.status}${r.code ? ` ${r.code}` : ''}`;
    const g = groups.get(key) ?? { count: 0, phases: new Map(), example: r };
    g.count++;
    g.phases.set(phase, (g.phases.get(phase) ?? 0) + 1);
    groups.set(key, g);
  }
  for (const [key, g] of groups) {
    const phases = [...g.phases].map(([p, c]) => `${p}: ${c}`).join(', ');
    console.log(`  ${String(g.count).padStart(5)} x ${key}   (${phases})`);
    const body = (g.example.body ?? '').replace(/<[^>]+>/g, ' ').replace(/\s+/g, ' ').trim().slice(0, 300);
    console.log(`          e.g. ${g.example.email}${g.example.backend ? ` on ${g.example.backend}` : ''}: ${body || '(no body)'}`);
  }
}

// ---------------------------------------------------------------- main

/** A fresh database for `backend`; returns its URL. PostgreSQL: DROP and
 * CREATE `--db` on the `--pg` server. SQLite: a file in a new directory. */
function freshDatabase(backend) {
  if (backend === 'sqlite') {
    const dir = fs.mkdtempSync(path.join(workDir, 'sqlite-'));
    return `sqlite://${path.join(dir, 'latchkey.db')}`;
  }
  const admin = `${opts.pgServer}/postgres`;
  execFileSync('psql', [admin, '-Atq', '-v', 'ON_ERROR_STOP=1', '-c', `DROP DATABASE IF EXISTS ${opts.db} WITH (FORCE)`], { stdio: 'inherit' });
  execFileSync('psql', [admin, '-Atq', '-v', 'ON_ERROR_STOP=1', '-c', `CREATE DATABASE ${opts.db}`], { stdio: 'inherit' });
  return `${opts.pgServer}/${opts.db}`;
}

/** end2end/idp.mjs (oidc-provider) on `port`, in its automatic login mode. */
function startIdp(port, label) {
  return startProcess('idp', 'node', ['idp.mjs'], {
    cwd: path.join(ROOT, 'end2end'),
    env: { ...process.env, E2E_IDP_PORT: String(port), E2E_IDP_AUTO_LOGIN: '1', E2E_IDP_AUTO_LOGIN_DEFAULT: `test@${opts.domain}` },
    logFile: path.join(workDir, `idp-${label}.log`),
  });
}

/** Everything for one backend: database, DNS server, IdP, proxy, instances,
 * set-up, first sign-ins, the runs; stops what it started. */
async function runBackend(backend) {
  let instanceCounts = opts.instances;
  if (backend === 'sqlite' && (instanceCounts.length !== 1 || instanceCounts[0] !== 1)) {
    console.log(`sqlite: --instances ${instanceCounts.join(',')} forced to 1 (the embedded database file is not shared between instances)`);
    instanceCounts = [1];
  } else if (backend === 'sqlite') {
    console.log('sqlite: 1 instance (the embedded database file is not shared between instances)');
  }
  const out = { backend, rows: [], procsEver: [], proxyCounts: {}, proxyErrors: 0, idpLog: null, setupFailed: null };
  ctx = { system: 'latchkey', backend, label: backend };
  try {
    ctx.databaseUrl = freshDatabase(backend);
  } catch (e) {
    out.setupFailed = e;
    console.error(`\nload.mjs: ${backend}: set-up failed: preparing the database: ${e.message ?? e}`);
    return out;
  }
  console.log(`${backend}: database ${ctx.databaseUrl}, instances ${instanceCounts.join(',')}`);

  const [dnsPort, dnsControlPort, idpPort, publicPort] = await Promise.all([freePort(), freePort(), freePort(), freePort()]);
  Object.assign(ctx, {
    public: `http://127.0.0.1:${publicPort}`,
    idp: `http://127.0.0.1:${idpPort}`,
    dnsControl: `http://127.0.0.1:${dnsControlPort}`,
    dnsPort,
  });

  const dns = startProcess('dns', 'node', ['dns-server.mjs'], {
    cwd: path.join(ROOT, 'end2end'),
    env: { ...process.env, E2E_DNS_PORT: String(dnsPort), E2E_DNS_CONTROL_PORT: String(dnsControlPort) },
    logFile: path.join(workDir, `dns-${backend}.log`),
  });
  const idp = startIdp(idpPort, backend);
  out.idpLog = idp.logFile;
  const proxy = await startProxy(publicPort);

  const instances = []; // running, in order A, B, ...
  const ensureInstances = async (count) => {
    while (instances.length > count) {
      const p = instances.pop();
      await stopProcess(p);
    }
    while (instances.length < count) {
      const name = String.fromCharCode(65 + instances.length);
      const port = await freePort();
      const p = startProcess(name, opts.binCopy, ['serve'], {
        env: instanceEnv({ port, name }),
        logFile: path.join(workDir, `latchkey-${backend}-${name}.log`),
      });
      p.port = port;
      p.label = `${backend} ${name}`;
      out.procsEver.push(p);
      await waitFor(`http://127.0.0.1:${port}/api/v1/health`, p);
      instances.push(p);
    }
    proxy.state.backends = instances.map((p) => ({ name: p.name, port: p.port }));
    proxy.state.next = 0;
  };

  let seq = 0;
  let inSetUp = true;
  try {
    await waitFor(`${ctx.dnsControl}/health`, dns);
    await waitFor(`${ctx.idp}/.well-known/openid-configuration`, idp);
    await ensureInstances(instanceCounts[0]);
    logMarker(instances, 'set-up');
    await setUp({ setupPort: instances[0].port });
    inSetUp = false;

    // Every person signs in once, so accounts exist before the measurements.
    if (!opts.cold) {
      const people = opts.sameUser ? 1 : opts.users;
      logMarker(instances, 'first sign-in of every user');
      const first = await runBatch('first sign-ins', people, Math.min(8, people), 0);
      seq += people;
      console.log(`${backend}: first sign-ins: ${first.filter((r) => r.ok).length}/${people} ok`);
    }

    for (const count of instanceCounts) {
      await ensureInstances(count);
      for (const c of opts.concurrency) {
        const label = `${count} instance(s), concurrency ${c}`;
        const rssIdle = rssMiB(instances);
        if (opts.warmup) {
          logMarker(instances, `${label}: warm-up`);
          await runBatch(`warm-up ${count}x${c}`, opts.warmup, c, seq);
          seq += opts.warmup;
        }
        logMarker(instances, `${label}: measured`);
        const procs = [...instances, idp];
        const a = cpuSnapshot(procs);
        const results = await runBatch(`run ${count}x${c}`, opts.n, c, seq);
        const b = cpuSnapshot(procs);
        const rssAfter = rssMiB(instances);
        seq += opts.n;
        const seconds = Number(b.t - a.t) / 1e9;
        const row = summarize(results, seconds, cpuDelta(a, b), instances.map((p) => p.name));
        Object.assign(row, {
          system: 'latchkey',
          backend,
          instances: count,
          concurrency: c,
          serverCpu: instances.reduce((t, p) => t + row.cpu[p.name], 0),
          rssIdle,
          rssAfter,
        });
        out.rows.push(row);
        const errs = [...row.errors].map(([k, v]) => `${k}: ${v}`).join(', ');
        console.log(`${backend}, ${label}: ${row.ok}/${row.n} ok in ${seconds.toFixed(1)} s, ${row.rate.toFixed(1)} sign-ins/s${errs ? `; errors ${errs}` : ''}`);
      }
    }
  } catch (e) {
    console.error(`\nload.mjs: ${backend}: ${inSetUp ? 'set-up failed' : 'stopped'}: ${e.stack ?? e}`);
    out.setupFailed = e;
  } finally {
    logMarker(instances, 'end');
    await stopAll();
  }
  return closeProxy(proxy, out);
}

/** Stops the proxy and records what it counted into the run's result. */
function closeProxy(proxy, out) {
  proxy.server.close();
  proxy.agent.destroy();
  out.proxyCounts = Object.fromEntries(proxy.state.counts);
  out.proxyErrors = proxy.state.errors;
  return out;
}

/** The reference RP (bench/reference-rp.mjs) behind its own proxy, with its
 * own IdP: one instance, no database, the same sign-ins as Latchkey's; stops
 * what it started. */
async function runReference() {
  const label = 'reference';
  const out = { backend: label, system: 'reference', rows: [], procsEver: [], proxyCounts: {}, proxyErrors: 0, idpLog: null, rpLog: null, setupFailed: null };
  ctx = { system: 'reference', backend: null, label };
  const missing = ['express', 'openid-client'].filter((m) => !fs.existsSync(path.join(ROOT, 'bench/node_modules', m, 'package.json')));
  if (missing.length) {
    out.setupFailed = new Error(`${missing.join(', ')} not in bench/node_modules: run npm ci in bench/`);
    console.error(`\nload.mjs: reference: set-up failed: ${out.setupFailed.message}`);
    return out;
  }

  const [idpPort, publicPort, rpPort] = await Promise.all([freePort(), freePort(), freePort()]);
  Object.assign(ctx, { public: `http://127.0.0.1:${publicPort}`, idp: `http://127.0.0.1:${idpPort}` });
  const idp = startIdp(idpPort, label);
  out.idpLog = idp.logFile;
  // The same load balancer in front as Latchkey's, so both answer through
  // the same extra hop.
  const proxy = await startProxy(publicPort);

  let seq = 0;
  let inSetUp = true;
  try {
    await waitFor(`${ctx.idp}/.well-known/openid-configuration`, idp);
    const redirectUri = `${ctx.public}/callback`;
    const client = await registerAtIdp(redirectUri);
    const rp = startProcess('RP', 'node', [path.join(ROOT, 'bench/reference-rp.mjs')], {
      env: {
        ...process.env,
        RP_ISSUER: ctx.idp,
        RP_CLIENT_ID: client.client_id,
        RP_CLIENT_SECRET: client.client_secret,
        RP_REDIRECT_URI: redirectUri,
        RP_PORT: String(rpPort),
      },
      logFile: path.join(workDir, 'reference-rp.log'),
    });
    rp.port = rpPort;
    out.rpLog = rp.logFile;
    await waitFor(`http://127.0.0.1:${rpPort}/healthz`, rp);
    proxy.state.backends = [{ name: rp.name, port: rp.port }];
    console.log(`reference: set-up: client ${client.client_id} registered at the IdP, bench/reference-rp.mjs (pid ${rp.pid}) behind ${ctx.public}`);
    inSetUp = false;

    // As for Latchkey: everyone once before the measurements (the RP keeps
    // no accounts, but the warm-up of both processes is the same).
    if (!opts.cold) {
      const people = opts.sameUser ? 1 : opts.users;
      const first = await runBatch('first sign-ins', people, Math.min(8, people), 0);
      seq += people;
      console.log(`${label}: first sign-ins: ${first.filter((r) => r.ok).length}/${people} ok`);
    }

    for (const c of opts.concurrency) {
      const rssIdle = rssMiB([rp]);
      if (opts.warmup) {
        await runBatch(`warm-up 1x${c}`, opts.warmup, c, seq);
        seq += opts.warmup;
      }
      const procs = [rp, idp];
      const a = cpuSnapshot(procs);
      const results = await runBatch(`run 1x${c}`, opts.n, c, seq);
      const b = cpuSnapshot(procs);
      const rssAfter = rssMiB([rp]);
      seq += opts.n;
      const seconds = Number(b.t - a.t) / 1e9;
      const row = summarize(results, seconds, cpuDelta(a, b), [rp.name]);
      Object.assign(row, {
        system: 'reference',
        backend: null,
        instances: 1,
        concurrency: c,
        serverCpu: row.cpu[rp.name],
        rssIdle,
        rssAfter,
      });
      out.rows.push(row);
      const errs = [...row.errors].map(([k, v]) => `${k}: ${v}`).join(', ');
      console.log(`${label}, concurrency ${c}: ${row.ok}/${row.n} ok in ${seconds.toFixed(1)} s, ${row.rate.toFixed(1)} sign-ins/s${errs ? `; errors ${errs}` : ''}`);
    }
  } catch (e) {
    console.error(`\nload.mjs: ${label}: ${inSetUp ? 'set-up failed' : 'stopped'}: ${e.stack ?? e}`);
    out.setupFailed = e;
  } finally {
    await stopAll();
  }
  return closeProxy(proxy, out);
}

/** Latchkey and the reference RP, one row per (system, backend, instances,
 * concurrency). */
function printSideBySide(rows) {
  const head = ['system', 'backend', 'inst', 'conc', 'sign-ins', 'failed', 'sign-ins/s', 'cpu server ms', 'cpu pg ms', 'cpu IdP ms', 'cpu driver ms',
    'cb p50 ms', 'cb p99 ms', 'cb+api p50 ms', 'cb+api p99 ms', 'RSS idle MiB', 'RSS after MiB'];
  const lines = rows.map((r) => [
    opts.rounds > 1 ? `${r.system} #${r.round}` : r.system, r.backend ?? '-', String(r.instances), String(r.concurrency), String(r.n), String(r.failed), fmt(r.rate, 1),
    fmt(r.serverCpu, 2), fmt(r.cpu.pg, 2), fmt(r.cpu.idp, 2), fmt(r.cpu.driver, 2),
    fmt(r.cbP50, 1), fmt(r.cbP99, 1), fmt(r.cbApiP50, 1), fmt(r.cbApiP99, 1), fmt(r.rssIdle, 1), fmt(r.rssAfter, 1),
  ]);
  printMarkdown(head, lines);
  console.log('cpu columns: CPU milliseconds per sign-in (utime+stime from /proc); server: all Latchkey instances, or the reference RP;');
  console.log('pg: PostgreSQL backends of the bench database (- on sqlite and for the reference, which has no database);');
  console.log('IdP: oidc-provider (the reference also calls its userinfo in every API call); driver: this script (browsers and proxy).');
  console.log('cb: the callback request; cb+api: callback plus the authenticated API call (Latchkey /api/v1/me, reference /me).');
  console.log('RSS (VmRSS) of the server processes, summed over instances: idle is before the warm-up, after is after the measured run.');
}

/** Latchkey / reference, for each Latchkey row against the reference row of
 * the same concurrency and round; with several rounds, each round's and
 * their medians. */
function printRatios(rows) {
  const key = (r) => `${r.round}:${r.concurrency}`;
  const refs = new Map(rows.filter((r) => r.system === 'reference').map((r) => [key(r), r]));
  const lk = rows.filter((r) => r.system === 'latchkey' && refs.has(key(r)));
  if (!lk.length) {
    console.log('\nNo Latchkey / reference ratios: they need both systems (--systems latchkey,reference) at the same concurrency.');
    return;
  }
  const server = (r) => r.serverCpu + (Number.isFinite(r.cpu.pg) ? r.cpu.pg : 0);
  // The IdP does the same work for every sign-in of either system, so its
  // CPU per sign-in measures how fast the machine was during each run.
  const ratios = (r) => {
    const ref = refs.get(key(r));
    return [server(r) / ref.serverCpu, r.cpu.idp / ref.cpu.idp, (server(r) / r.cpu.idp) / (ref.serverCpu / ref.cpu.idp),
      r.cbApiP99 / ref.cbApiP99, r.rssIdle / ref.rssIdle, r.rssAfter / ref.rssAfter];
  };
  const head = ['round', 'backend', 'inst', 'conc', 'cpu server/sign-in', 'cpu IdP/sign-in', 'cpu server/IdP', 'cb+api p99', 'RSS idle', 'RSS after'];
  const lines = lk.map((r) => [String(r.round), r.backend, String(r.instances), String(r.concurrency), ...ratios(r).map((x) => fmt(x, 2))]);
  if (opts.rounds > 1) {
    const groups = new Map();
    for (const r of lk) {
      const g = `${r.backend}:${r.instances}:${r.concurrency}`;
      if (!groups.has(g)) groups.set(g, { r, all: [] });
      groups.get(g).all.push(ratios(r));
    }
    for (const { r, all } of groups.values()) {
      const median = all[0].map((_, i) => {
        const xs = all.map((a) => a[i]).sort((a, b) => a - b);
        const m = Math.floor(xs.length / 2);
        return xs.length % 2 ? xs[m] : (xs[m - 1] + xs[m]) / 2;
      });
      lines.push(['median', r.backend, String(r.instances), String(r.concurrency), ...median.map((x) => fmt(x, 2))]);
    }
  }
  console.log('\nLatchkey / reference (below 1: Latchkey uses less):');
  printMarkdown(head, lines);
  console.log('cpu server: Latchkey instances plus, on postgres, the PostgreSQL backends of the bench database; the reference RP.');
  console.log('cpu server/IdP: the cpu server ratio with each system\'s CPU taken per millisecond of IdP CPU in its own run');
  console.log('(the IdP does the same work for both, so this corrects for the machine running faster or slower between runs).');
}

async function main() {
  workDir = fs.mkdtempSync(path.join(os.tmpdir(), 'latchkey-bench-'));
  const withLatchkey = opts.systems.includes('latchkey');
  if (withLatchkey) {
    const binStat = fs.statSync(opts.bin);
    opts.binCopy = path.join(workDir, 'latchkey');
    fs.copyFileSync(opts.bin, opts.binCopy);
    fs.chmodSync(opts.binCopy, 0o755);
    const build = /\/release\//.test(opts.bin) ? 'release' : /\/debug\//.test(opts.bin) ? 'debug' : 'unknown';
    console.log(`binary: ${opts.bin} (${build} build, modified ${binStat.mtime.toISOString()}), run from a copy in ${workDir}`);
  }
  const systems = opts.systems.length === 1 && withLatchkey ? '' : `systems ${opts.systems.join(',')}; `;
  console.log(`load: ${systems}${withLatchkey ? `backends ${opts.backends.join(',')}; ` : ''}${opts.n} sign-ins per run, concurrency ${opts.concurrency.join(',')}, ` +
    `${withLatchkey ? `instances ${opts.instances.join(',')}${opts.backends.includes('sqlite') ? ' (1 on sqlite)' : ''}, ` : ''}` +
    `${opts.sameUser ? 'one user' : `${opts.users} users`}, warm-up ${opts.warmup}${opts.cold ? ', cold' : ''}; ` +
    `${os.cpus().length} CPUs; CLK_TCK ${CLK_TCK}`);

  const outcomes = [];
  for (let round = 1; round <= opts.rounds; round++) {
    const order = round % 2 ? opts.systems : [...opts.systems].reverse();
    for (const system of order) {
      const done = [];
      if (system === 'latchkey') {
        for (const backend of opts.backends) done.push(await runBackend(backend));
      } else {
        done.push(await runReference());
      }
      for (const o of done) {
        for (const r of o.rows) r.round = round;
        outcomes.push(o);
      }
    }
  }

  const rows = outcomes.flatMap((o) => o.rows);
  const latchkeyRows = rows.filter((r) => r.system === 'latchkey');
  if (latchkeyRows.length) {
    console.log('');
    printTable(latchkeyRows, Math.max(...latchkeyRows.map((r) => r.instances)));
  }
  if (opts.systems.includes('reference') && rows.length) {
    console.log('\nSide by side:');
    printSideBySide(rows);
    printRatios(rows);
  }
  for (const r of rows.filter((x) => x.errors.size)) {
    console.log(`errors on ${r.backend ?? r.system} at ${r.instances} instance(s), concurrency ${r.concurrency}: ` +
      `${[...r.errors].map(([k, v]) => `${k} x${v}`).join(', ')}`);
  }
  for (const o of outcomes) {
    console.log(`\n== ${o.backend}${o.setupFailed ? ' (set-up failed or stopped early)' : ''}`);
    console.log(`proxy: requests per instance ${JSON.stringify(o.proxyCounts)}, upstream errors ${o.proxyErrors}`);
    failureReport(o.backend);
    if (o.system === 'reference') {
      const rpLog = o.rpLog ? tail(o.rpLog, 200).split('\n').filter((l) => /error|Error/.test(l)) : [];
      if (rpLog.length) console.log(`\nreference RP log (${o.rpLog}), error lines:\n  ${rpLog.slice(0, 20).join('\n  ')}`);
    } else {
      logReport(o.procsEver);
    }
    const idpLog = o.idpLog ? tail(o.idpLog, 200).split('\n').filter((l) => /error|Error/.test(l)) : [];
    if (idpLog.length) console.log(`\nIdP log (${o.idpLog}), error lines:\n  ${idpLog.slice(0, 20).join('\n  ')}`);
  }

  if (opts.binCopy) fs.rmSync(opts.binCopy, { force: true });
  const setupFailed = outcomes.some((o) => o.setupFailed);
  const failed = allFailures.length > 0;
  if (setupFailed || failed || opts.keepLogs) {
    console.log(`\nlogs kept in ${workDir}`);
  } else {
    fs.rmSync(workDir, { recursive: true, force: true });
  }
  if (setupFailed) process.exit(2);
  process.exit(failed ? 1 : 0);
}

for (const sig of ['SIGINT', 'SIGTERM']) {
  process.on(sig, async () => {
    console.error(`\nload.mjs: ${sig}, stopping`);
    await stopAll();
    process.exit(130);
  });
}

main().catch(async (e) => {
  console.error(e.stack ?? e);
  await stopAll();
  process.exit(2);
});
