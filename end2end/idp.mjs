// The OpenID Provider the end-to-end tests sign in against: the npm package
// `oidc-provider`, on 127.0.0.1, with open dynamic registration so a test can
// register Latchkey with the redirect URI its console shows.
import Provider from 'oidc-provider';

const port = Number(process.env.E2E_IDP_PORT ?? 5356);
const issuer = `http://127.0.0.1:${port}`;

const provider = new Provider(issuer, {
  features: {
    registration: { enabled: true },
    devInteractions: { enabled: true },
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
  // as that address, verified, in the group `engineering`.
  findAccount: async (_ctx, id) => ({
    accountId: id,
    claims: async () => ({
      sub: id,
      email: id,
      email_verified: true,
      name: `User ${id.split('@')[0]}`,
      groups: ['engineering'],
    }),
  }),
  // Version 9 refuses back-channel requests to loopback addresses otherwise.
  fetch: (url, options) => {
    delete options.dispatcher;
    return globalThis.fetch(url, options);
  },
  cookies: { keys: ['latchkey-e2e-idp-cookie-key'] },
});

provider.listen(port, '127.0.0.1', () => {
  console.log(`test IdP on ${issuer}`);
});
