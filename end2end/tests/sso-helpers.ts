import { expect, type Page } from '@playwright/test';
import { waitForHydration } from './helpers';

/** The test OpenID Provider (end2end/idp.mjs, npm `oidc-provider`). */
export const idp = `http://127.0.0.1:${process.env.E2E_IDP_PORT ?? 5356}`;
const dnsControl = `http://127.0.0.1:${process.env.E2E_DNS_CONTROL_PORT ?? 5355}`;

/** Signs in at oidc-provider's development login form and consents. */
export async function signInAtIdp(page: Page, login: string): Promise<void> {
  await expect(page).toHaveURL(new RegExp(`^${idp}/interaction/`));
  await page.locator('input[name="login"]').fill(login);
  await page.locator('input[name="password"]').fill('any password');
  await page.getByRole('button', { name: 'Sign-in' }).click();
  // The consent step, the first time this account meets this client.
  const consent = page.getByRole('button', { name: 'Continue' });
  await Promise.race([
    consent.waitFor({ state: 'visible' }),
    page.waitForURL((url) => !url.href.startsWith(idp)),
  ]);
  if (page.url().startsWith(idp)) {
    await consent.click();
  }
}

/** Changes what the IdP says about `login` from now on (name, groups). */
export async function setIdpProfile(login: string, claims: Record<string, unknown>): Promise<void> {
  const res = await fetch(`${idp}/test/profiles`, {
    method: 'POST',
    body: JSON.stringify({ login, ...claims }),
  });
  expect(res.status).toBe(204);
}

/** Opens a page of Settings › Security by its tab (a plain link). */
export async function openSecurityTab(page: Page, name: string): Promise<void> {
  await page.getByRole('navigation', { name: 'Security settings' }).getByRole('link', { name, exact: true }).click();
  await expect(
    page.getByRole('navigation', { name: 'Security settings' }).getByRole('link', { name, exact: true }),
  ).toHaveAttribute('aria-current', 'page');
}

/** On Settings › Security › Domains: adds `domain` and verifies it through the test DNS server. */
export async function verifyDomain(page: Page, domain: string): Promise<void> {
  await openSecurityTab(page, 'Domains');
  await page.getByLabel('Domain', { exact: true }).fill(domain);
  await page.getByRole('button', { name: 'Add domain' }).click();
  const row = page.locator(`[data-domain="${domain}"]`);
  const name = await row.getByLabel('TXT record name').inputValue();
  const value = await row.getByLabel('TXT record value').inputValue();
  expect((await fetch(`${dnsControl}/records`, { method: 'POST', body: JSON.stringify({ name, value }) })).ok).toBe(true);
  await row.getByRole('button', { name: 'Verify now' }).click();
  await expect(row.locator('[data-status]')).toContainText('verified by DNS');
}

export type Client = { client_id: string; client_secret: string };

/** Registers Latchkey at the IdP with the URIs the console shows. */
export async function registerClient(page: Page): Promise<Client> {
  await openSecurityTab(page, 'Single sign-on');
  const redirectUri = await page.getByLabel('Redirect URI', { exact: true }).inputValue();
  const backchannel = await page.getByLabel('Back-channel logout URI', { exact: true }).inputValue();
  const postLogout = await page.getByLabel('Post-logout redirect URI', { exact: true }).inputValue();
  return registerAtIdp(redirectUri, {
    post_logout_redirect_uris: [postLogout],
    backchannel_logout_uri: backchannel,
    backchannel_logout_session_required: true,
  });
}

/** A confidential client at the IdP (its dynamic registration API). */
export async function registerAtIdp(redirectUri: string, more: Record<string, unknown> = {}): Promise<Client> {
  const reg = await fetch(`${idp}/reg`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({
      redirect_uris: [redirectUri],
      grant_types: ['authorization_code'],
      response_types: ['code'],
      token_endpoint_auth_method: 'client_secret_basic',
      ...more,
    }),
  });
  expect(reg.status).toBe(201);
  return reg.json();
}

/** Fills and saves the connection form; the secret never comes back. */
export async function connectIdp(page: Page, client: Client): Promise<void> {
  await page.getByLabel('Provider label').fill('Test IdP');
  await page.getByLabel('Discovery URL').fill(idp);
  await page.getByLabel('Client ID').fill(client.client_id);
  await page.getByLabel('Client secret').fill(client.client_secret);
  await page.getByLabel('Scopes').fill('openid profile email groups');
  await page.getByRole('button', { name: 'Save', exact: true }).click();
  await expect(page.locator('[data-sso-status]')).toHaveText('Configured, not enabled');
  expect(await page.content()).not.toContain(client.client_secret);
}

/** Test connection as `login`, then Enable; returns the login URL. */
export async function testAndEnable(page: Page, login: string): Promise<string> {
  await page.getByRole('button', { name: 'Test connection' }).click();
  await signInAtIdp(page, login);
  await expect(page).toHaveURL(/\/settings\/security\/sso#sso-test$/);
  await expect(page.locator('[data-last-test="ok"]')).toBeVisible();
  await expect(page.locator('[data-test-email]')).toHaveText(login);
  await waitForHydration(page);
  await page.getByRole('button', { name: 'Enable' }).click();
  await expect(page.locator('[data-sso-status]')).toHaveText('Enabled');
  return page.getByLabel('Login URL to share with your people').inputValue();
}
