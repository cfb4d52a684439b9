import { test, expect } from './fixtures';
import { type Page } from '@playwright/test';
import { createOrg, signUp, uniqueEmail, waitForHydration } from './helpers';
import { connectIdp, idp, openSecurityTab, registerClient, setIdpProfile, signInAtIdp, testAndEnable, verifyDomain } from './sso-helpers';

/** A member's role, read through the REST API with the admin's session. */
async function roleOf(admin: Page, slug: string, email: string): Promise<string | undefined> {
  const res = await admin.request.get(`/api/v1/orgs/${slug}/members?q=${encodeURIComponent(email)}`);
  expect(res.ok()).toBe(true);
  const body = await res.json();
  return body.members.find((m: { email: string }) => m.email === email)?.role;
}

/** Opens the login URL and signs in through the IdP. */
async function ssoSignIn(page: Page, loginUrl: string, login: string, atIdp = true): Promise<void> {
  await page.goto(loginUrl);
  await page.getByRole('button', { name: 'Sign in with Test IdP' }).click();
  if (atIdp) {
    await signInAtIdp(page, login);
  }
}

test('provisioning and logout against a real IdP: role mapping, profile sync, back-channel and RP-initiated logout, JIT off, disconnect', async ({ page, browser }) => {
  test.setTimeout(150_000);
  const suffix = `${Date.now()}${Math.floor(Math.random() * 1000)}`;
  const domain = `life-${suffix}.example.com`;
  const orgName = `Life Co ${suffix}`;
  await signUp(page, uniqueEmail('life-admin'));
  await createOrg(page, orgName);
  const slug = new URL(page.url()).pathname.split('/')[2];
  await page.getByRole('navigation', { name: 'Console' }).getByRole('link', { name: 'Security' }).click();
  await waitForHydration(page);
  await verifyDomain(page, domain);
  const client = await registerClient(page);
  await connectIdp(page, client);

  // Rules: `groups` contains `admins` → admin; otherwise member.
  await openSecurityTab(page, 'Provisioning');
  const form = page.locator('#provisioning-form');
  await form.getByLabel('Rule 1 claim').fill('groups');
  await form.getByLabel('Rule 1 operator').selectOption('contains');
  await form.getByLabel('Rule 1 value').fill('admins');
  await form.getByLabel('Rule 1 role').selectOption('admin');
  await form.getByLabel('Default role').selectOption('member');
  await form.getByRole('button', { name: 'Save provisioning' }).click();
  await expect(form.getByLabel('Rule 2 claim')).toBeVisible();
  await expect(form.getByLabel('Rule 1 value')).toHaveValue('admins');

  // The test shows which rule matched.
  const ada = `ada@${domain}`;
  await setIdpProfile(ada, { name: 'Ada Lovelace', groups: ['engineering', 'admins'] });
  await openSecurityTab(page, 'Single sign-on');
  const loginUrl = await testAndEnable(page, ada);
  await expect(page.locator('[data-test-role]')).toHaveText('admin');
  await expect(page.locator('[data-test-rule]')).toHaveText('rule 1: groups contains admins → admin');

  // JIT on: Ada's first sign-in creates her, as an admin.
  const adaContext = await browser.newContext();
  const adaPage = await adaContext.newPage();
  await ssoSignIn(adaPage, loginUrl, ada);
  await expect(adaPage).toHaveURL(new RegExp(`/o/${slug}$`));
  await expect(adaPage.locator('.user-email')).toHaveText('Ada Lovelace');
  expect(await roleOf(page, slug, ada)).toBe('admin');

  // The IdP renames her and drops her from admins: synced at the next sign-in.
  await setIdpProfile(ada, { name: 'Ada King', groups: ['engineering'] });
  await waitForHydration(adaPage);
  await adaPage.getByRole('button', { name: 'Sign out', exact: true }).click();
  await expect(adaPage).toHaveURL(/\/login/);
  await ssoSignIn(adaPage, loginUrl, ada, false);
  await expect(adaPage).toHaveURL(new RegExp(`/o/${slug}$`));
  await expect(adaPage.locator('.user-email')).toHaveText('Ada King');
  expect(await roleOf(page, slug, ada)).toBe('member');

  // Signing out at the IdP itself logs her out of Latchkey (back-channel).
  await adaPage.goto(`${idp}/session/end`);
  await adaPage.getByRole('button', { name: 'Yes, sign me out' }).click();
  await expect(adaPage.locator('body')).toContainText(/sign-?out|signed out|success/i);
  await adaPage.goto(`/o/${slug}`);
  await expect(adaPage).toHaveURL(/\/login\?return_to=/);

  // RP-initiated: "Sign out of Test IdP too" ends both sessions.
  await ssoSignIn(adaPage, loginUrl, ada);
  await expect(adaPage).toHaveURL(new RegExp(`/o/${slug}$`));
  await waitForHydration(adaPage);
  await adaPage.getByRole('button', { name: 'Sign out of Test IdP too' }).click();
  await expect(adaPage).toHaveURL(new RegExp(`^${idp}/session/end`));
  await adaPage.getByRole('button', { name: 'Yes, sign me out' }).click();
  await expect(adaPage).toHaveURL(/\/login\?signed_out=1$/);
  await expect(adaPage.getByRole('status')).toContainText('You are signed out');
  await adaPage.goto(`/o/${slug}`);
  await expect(adaPage).toHaveURL(/\/login\?return_to=/);
  // And the IdP asks for a login again.
  await ssoSignIn(adaPage, loginUrl, ada, false);
  await expect(adaPage).toHaveURL(new RegExp(`^${idp}/interaction/`));
  await adaContext.close();

  // JIT off: a newcomer is refused; an invited one gets in.
  await openSecurityTab(page, 'Provisioning');
  await waitForHydration(page);
  await form.getByLabel('Create accounts at first sign-in', { exact: false }).uncheck();
  await form.getByRole('button', { name: 'Save provisioning' }).click();
  await expect(form.getByLabel('Create accounts at first sign-in', { exact: false })).not.toBeChecked();
  const bobContext = await browser.newContext();
  const bob = await bobContext.newPage();
  await ssoSignIn(bob, loginUrl, `bob@${domain}`);
  await expect(bob.locator('[data-code="not_provisioned"]')).toContainText(`ask an admin of ${orgName}`);
  await bobContext.close();
  const carol = `carol@${domain}`;
  const invited = await page.request.post(`/api/v1/orgs/${slug}/invitations`, { data: { email: carol, role: 'viewer' } });
  expect(invited.status()).toBe(201);
  const carolContext = await browser.newContext();
  const carolPage = await carolContext.newPage();
  await ssoSignIn(carolPage, loginUrl, carol);
  await expect(carolPage).toHaveURL(new RegExp(`/o/${slug}$`));
  // Rules exist, so they decide her role (engineering → the default).
  expect(await roleOf(page, slug, carol)).toBe('member');

  // Disconnect, after a confirmation: SSO sessions end, SSO members become viewers.
  await openSecurityTab(page, 'Single sign-on');
  await page.getByText('Disconnect…').click();
  await expect(page.locator('.danger-zone')).toContainText('signs out everyone who signed in through single sign-on');
  await page.getByRole('button', { name: 'Yes, disconnect' }).click();
  await expect(page.locator('[data-sso-status]')).toHaveText('Not connected');
  await carolPage.reload();
  await expect(carolPage).toHaveURL(/\/login\?return_to=/);
  expect(await roleOf(page, slug, ada)).toBe('viewer');
  expect(await roleOf(page, slug, carol)).toBe('viewer');
  const events = await page.request.get(`/api/v1/orgs/${slug}/audit-events?action=sso.disconnected`);
  expect(JSON.stringify(await events.json())).toContain('sso.disconnected');
  await carolContext.close();
});
