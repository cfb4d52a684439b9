#!/usr/bin/env node
// The reference relying party of bench/load.mjs (--systems reference): an
// OpenID Connect sign-in built the textbook way a Node.js team would, with
// express 5 and openid-client 6, so the bench can put Latchkey's figures
// beside it. See bench/README.md.
//
//   GET /login?login_hint=EMAIL  -> 302 to the IdP (authorization code, PKCE S256,
//                                   state and nonce kept in a server-side session)
//   GET /callback?code=...       -> code for tokens at the IdP's token endpoint,
//                                   a new session (sub, email, access token), 303 to /
//   GET /me                      -> the IdP's userinfo with the session's access
//                                   token; 200 {"sub", "email"}
//   GET /healthz                 -> 200 once discovery is done
//
// Sessions live in a plain Map in this process (no database), keyed by a
// random cookie. openid-client 6 checks state, nonce, PKCE and the ID
// token's claims (iss, aud, exp, iat), but not the ID token's signature: it
// came straight from the token endpoint over the back channel (OIDC Core
// 3.1.3.7 allows that for TLS; here the IdP is plain http on loopback).
//
// Configuration, options over the environment:
//   --issuer URL          RP_ISSUER          the IdP (discovery at start)
//   --client-id ID        RP_CLIENT_ID
//   --client-secret S     RP_CLIENT_SECRET   client_secret_basic at the token endpoint
//   --redirect-uri URL    RP_REDIRECT_URI    as registered; its path is the callback's
//                                            (default http://127.0.0.1:PORT/callback)
//   --port N              RP_PORT            listens on 127.0.0.1 (default 3000)
// Nothing is logged per request.
import crypto from 'node:crypto';
import { parseArgs } from 'node:util';
import express from 'express';
import * as client from 'openid-client';

const { values: args } = parseArgs({
  options: {
    issuer: { type: 'string' },
    'client-id': { type: 'string' },
    'client-secret': { type: 'string' },
    'redirect-uri': { type: 'string' },
    port: { type: 'string' },
    help: { type: 'boolean', short: 'h' },
  },
});
if (args.help) {
  console.log('usage: node bench/reference-rp.mjs --issuer URL --client-id ID --client-secret SECRET [--redirect-uri URL] [--port N]\n'
    + '(or RP_ISSUER, RP_CLIENT_ID, RP_CLIENT_SECRET, RP_REDIRECT_URI, RP_PORT)');
  process.exit(0);
}

const port = Number(args.port ?? process.env.RP_PORT ?? 3000);
const issuer = args.issuer ?? process.env.RP_ISSUER;
const clientId = args['client-id'] ?? process.env.RP_CLIENT_ID;
const clientSecret = args['client-secret'] ?? process.env.RP_CLIENT_SECRET;
const redirectUri = new URL(args['redirect-uri'] ?? process.env.RP_REDIRECT_URI ?? `http://127.0.0.1:${port}/callback`);
if (!issuer || !clientId || !clientSecret || !Number.isInteger(port) || port < 1) {
  console.error('reference-rp: --issuer, --client-id, --client-secret and a valid --port are needed (see --help)');
  process.exit(2);
}

const SCOPE = 'openid email profile';
const COOKIE = 'rp_sid';
const LOGIN_TTL_MS = 10 * 60 * 1000; // a sign-in in progress
const SESSION_TTL_MS = 8 * 60 * 60 * 1000; // a signed-in session

// Discovery once, at start. The bench's IdP is plain http on 127.0.0.1,
// which openid-client refuses unless told.
const issuerUrl = new URL(issuer);
const config = await client.discovery(
  issuerUrl,
  clientId,
  undefined,
  client.ClientSecretBasic(clientSecret),
  { execute: issuerUrl.protocol === 'http:' ? [client.allowInsecureRequests] : [] },
);

// ---------------------------------------------------------------- sessions

/** id -> {expires, login?: {state, nonce, codeVerifier}, user?: {sub, email, accessToken}} */
const sessions = new Map();

function newSession(data, ttlMs) {
  const id = crypto.randomBytes(32).toString('base64url');
  sessions.set(id, { ...data, expires: Date.now() + ttlMs });
  return id;
}

function sessionId(req) {
  for (const part of (req.headers.cookie ?? '').split(';')) {
    const eq = part.indexOf('=');
    if (eq > 0 && part.slice(0, eq).trim() === COOKIE) return part.slice(eq + 1).trim();
  }
  return null;
}

function readSession(req) {
  const id = sessionId(req);
  const s = id ? sessions.get(id) : undefined;
  if (!s) return { id: null, s: null };
  if (s.expires < Date.now()) {
    sessions.delete(id);
    return { id: null, s: null };
  }
  return { id, s };
}

const cookieOptions = (maxAge) => ({
  httpOnly: true,
  sameSite: 'lax',
  secure: redirectUri.protocol === 'https:',
  path: '/',
  maxAge,
});

setInterval(() => {
  const now = Date.now();
  for (const [id, s] of sessions) if (s.expires < now) sessions.delete(id);
}, 60_000).unref();

// ---------------------------------------------------------------- routes

const app = express();
app.disable('x-powered-by');

app.get('/healthz', (_req, res) => {
  res.type('text/plain').send('ok');
});

app.get('/login', async (req, res) => {
  const codeVerifier = client.randomPKCECodeVerifier();
  const codeChallenge = await client.calculatePKCECodeChallenge(codeVerifier);
  const state = client.randomState();
  const nonce = client.randomNonce();
  const params = {
    redirect_uri: redirectUri.href,
    scope: SCOPE,
    code_challenge: codeChallenge,
    code_challenge_method: 'S256',
    state,
    nonce,
  };
  if (typeof req.query.login_hint === 'string' && req.query.login_hint) params.login_hint = req.query.login_hint;
  const id = newSession({ login: { state, nonce, codeVerifier } }, LOGIN_TTL_MS);
  res.cookie(COOKIE, id, cookieOptions(LOGIN_TTL_MS));
  res.redirect(302, client.buildAuthorizationUrl(config, params).href);
});

app.get(redirectUri.pathname, async (req, res) => {
  const { id, s } = readSession(req);
  if (!s?.login) {
    res.status(400).json({ error: 'no_sign_in_in_progress' });
    return;
  }
  sessions.delete(id); // one use, whatever happens next
  let tokens;
  try {
    tokens = await client.authorizationCodeGrant(config, new URL(req.originalUrl, redirectUri), {
      pkceCodeVerifier: s.login.codeVerifier,
      expectedState: s.login.state,
      expectedNonce: s.login.nonce,
      idTokenExpected: true,
    });
  } catch (e) {
    res.status(400).json({ error: e.error ?? e.code ?? 'callback_failed', message: e.error_description ?? e.message });
    return;
  }
  const claims = tokens.claims();
  // A new session id at sign-in (no fixation).
  const sid = newSession({ user: { sub: claims.sub, email: claims.email ?? null, accessToken: tokens.access_token } }, SESSION_TTL_MS);
  res.cookie(COOKIE, sid, cookieOptions(SESSION_TTL_MS));
  res.redirect(303, '/');
});

app.get('/', (req, res) => {
  const { s } = readSession(req);
  if (!s?.user) {
    res.status(401).type('text/plain').send('not signed in: /login');
    return;
  }
  res.type('text/plain').send(`signed in as ${s.user.email ?? s.user.sub}`);
});

/** The authenticated API call: the IdP's userinfo, with the session's access token. */
app.get('/me', async (req, res) => {
  const { s } = readSession(req);
  if (!s?.user) {
    res.status(401).json({ error: 'not_signed_in' });
    return;
  }
  let info;
  try {
    info = await client.fetchUserInfo(config, s.user.accessToken, s.user.sub);
  } catch (e) {
    res.status(502).json({ error: e.error ?? e.code ?? 'userinfo_failed', message: e.error_description ?? e.message });
    return;
  }
  res.json({ sub: info.sub, email: info.email ?? null });
});

app.listen(port, '127.0.0.1', (err) => {
  if (err) {
    console.error(`reference-rp: ${err.message}`);
    process.exit(1);
  }
  console.log(`reference RP on http://127.0.0.1:${port}, redirect URI ${redirectUri.href}, issuer ${config.serverMetadata().issuer}`);
});
