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

provider.listen(port, '127.0.0.1', () => {
  console.log(`test IdP on ${issuer}`);
});
