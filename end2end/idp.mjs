// The OpenID Provider the end-to-end tests sign in against: the npm package
// `oidc-provider`, on 127.0.0.1, with open dynamic registration so a test can
// register Latchkey with the URIs its console shows, and back-channel logout
// so ending a session here logs out of Latchkey.
import Provider from 'oidc-provider';

const port = Number(process.env.E2E_IDP_PORT ?? 5356);
const issuer = `http://127.0.0.1:${port}`;

// Per-account changes a test makes to what the IdP says (name, groups),
// set through POST /test/profiles {"login": ..., "name": ..., "groups": [...]}.
const overrides = new Map();

const provider = new Provider(issuer, {
  features: {
    registration: { enabled: true },
    devInteractions: { enabled: true },
    backchannelLogout: { enabled: true },
    rpInitiatedLogout: { enabled: true },
  },
  pkce: { required: () => true },
  // Email, profile and groups in the ID token too, not only from userinfo.
  conformIdTokenClaims: false,
  claims: {
    openid: ['sub'],
    email: ['email', 'email_verified'],
    profile: ['name'],
    groups: ['groups'],
  },
  scopes: ['openid', 'offline_access', 'email', 'profile', 'groups'],
  // Whatever is typed as login is the account: `ada@example.com` signs in
  // as that address, verified, in the group `engineering` unless a test
  // said otherwise.
  findAccount: async (_ctx, id) => ({
    accountId: id,
    claims: async () => ({
      sub: id,
      email: id,
      email_verified: true,
      name: `User ${id.split('@')[0]}`,
      groups: ['engineering'],
      ...overrides.get(id),
    }),
  }),
  // Version 9 refuses back-channel requests to loopback addresses otherwise.
  fetch: (url, options) => {
    delete options.dispatcher;
    return globalThis.fetch(url, options);
  },
  cookies: { keys: ['latchkey-e2e-idp-cookie-key'] },
});

provider.use(async (ctx, next) => {
  if (ctx.path !== '/test/profiles' || ctx.method !== 'POST') {
    return next();
  }
  let raw = '';
  for await (const chunk of ctx.req) raw += chunk;
  const { login, ...claims } = JSON.parse(raw);
  overrides.set(login, claims);
  ctx.status = 204;
  return undefined;
});

// Opt-in for load tests (bench/load.mjs): E2E_IDP_AUTO_LOGIN=1 answers the
// interaction page at once, with no form: it signs in the `login_hint` of
// the authorization request (else `?login=` on the interaction URL, else
// E2E_IDP_AUTO_LOGIN_DEFAULT) and grants the requested scopes in the same
// step, so /auth -> /interaction/:uid -> /auth/:uid -> redirect_uri.
// Unset, nothing here runs and the IdP behaves as above.
if (process.env.E2E_IDP_AUTO_LOGIN === '1') {
  provider.use(async (ctx, next) => {
    if (ctx.method !== 'GET' || !/^\/interaction\/[^/]+$/.test(ctx.path)) {
      return next();
    }
    const { prompt, params, session, grantId } = await provider.interactionDetails(ctx.req, ctx.res);
    let result;
    if (prompt.name === 'login') {
      const accountId = params.login_hint || ctx.query.login
        || process.env.E2E_IDP_AUTO_LOGIN_DEFAULT || 'auto@example.com';
      const grant = new provider.Grant({ accountId, clientId: params.client_id });
      grant.addOIDCScope(String(params.scope ?? 'openid'));
      result = { login: { accountId }, consent: { grantId: await grant.save() } };
    } else if (prompt.name === 'consent') {
      const grant = grantId
        ? await provider.Grant.find(grantId)
        : new provider.Grant({ accountId: session.accountId, clientId: params.client_id });
      const { details } = prompt;
      if (details.missingOIDCScope) grant.addOIDCScope(details.missingOIDCScope.join(' '));
      if (details.missingOIDCClaims) grant.addOIDCClaims(details.missingOIDCClaims);
      result = { consent: { grantId: await grant.save() } };
    } else {
      ctx.throw(501, 'not implemented');
    }
    const returnTo = await provider.interactionResult(ctx.req, ctx.res, result, {
      mergeWithLastSubmission: false,
    });
    ctx.set('Cache-Control', 'no-store');
    ctx.redirect(returnTo);
    ctx.status = 303;
    return undefined;
  });
}

provider.listen(port, '127.0.0.1', () => {
  console.log(`test IdP on ${issuer}`);
});
