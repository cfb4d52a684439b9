import { test, expect } from '@playwright/test';
import { PASSWORD, createOrg, signUp, uniqueEmail, waitForHydration } from './helpers';
import { connectIdp, registerClient, signInAtIdp, testAndEnable, verifyDomain } from './sso-helpers';

// The outsider who signs up with someone else's work address before that
// person's first SSO sign-in must gain nothing from it.
test('a password account made first with a colleague\'s address is never linked to their SSO sign-in without its password', async ({ page, browser }) => {
  const suffix = `${Date.now()}${Math.floor(Math.random() * 1000)}`;
  const domain = `takeover-${suffix}.example.com`;
  const victim = `ada@${domain}`;

  // The squatter registers Ada's address while her company has no SSO yet.
  const squatterContext = await browser.newContext();
  const squatter = await squatterContext.newPage();
  await signUp(squatter, victim, 'Not Ada');

  // The company's admin connects its IdP and enables SSO.
  await signUp(page, uniqueEmail('takeover-admin'));
  await createOrg(page, `Takeover ${suffix}`);
  await page.getByRole('navigation', { name: 'Console' }).getByRole('link', { name: 'Security' }).click();
  await waitForHydration(page);
  await verifyDomain(page, domain);
  await connectIdp(page, await registerClient(page));
  const loginUrl = await testAndEnable(page, `tester@${domain}`);

  // Ada signs in through SSO: she is asked for the existing account's
  // password, and no session opens.
  const adaContext = await browser.newContext();
  const ada = await adaContext.newPage();
  await ada.goto(loginUrl);
  await ada.getByRole('button', { name: 'Sign in with Test IdP' }).click();
  await signInAtIdp(ada, victim);
  await expect(ada).toHaveURL(/\/login\/sso-link$/);
  await expect(ada.locator('[data-link-email]')).toHaveText(victim);
  await ada.getByLabel('Password').fill('a guess');
  await ada.getByRole('button', { name: 'Link and continue' }).click();
  await expect(ada.getByText("That is not this account's password.")).toBeVisible();
  expect((await ada.request.get('/api/v1/me')).status()).toBe(401);

  // The squatter's account was not let into the organization.
  const me = await (await squatter.request.get('/api/v1/me')).json();
  expect(me.orgs).toEqual([]);

  // And nobody can open a new password account in that domain any more.
  const late = await browser.newContext();
  const signup = await late.newPage();
  await signup.goto('/signup');
  await signup.getByLabel('Work email').fill(`grace@${domain}`);
  await signup.getByLabel('Your name').fill('Grace');
  await signup.getByLabel('Password').fill(PASSWORD);
  await signup.getByRole('button', { name: 'Create account' }).click();
  await expect(signup.getByText('Your organization signs in with single sign-on')).toBeVisible();
  await expect(signup.getByRole('link', { name: 'Continue with single sign-on' })).toBeVisible();

  await Promise.all([squatterContext.close(), adaContext.close(), late.close()]);
});
