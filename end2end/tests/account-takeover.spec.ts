import { test, expect } from './fixtures';
import { PASSWORD, createOrg, enrollMfa, signUp, uniqueEmail, waitForHydration } from './helpers';
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

// Whoever controls organization A's IdP can sign in as anyone in A's
// domain. That sign-in must not open organization Z, which asks its
// members for a second factor: an SSO session counts as strong only in the
// organization whose connection made it.
test('an SSO session of one organization does not satisfy another organization\'s two-factor requirement', async ({ page, browser }) => {
  const suffix = `${Date.now()}${Math.floor(Math.random() * 1000)}`;
  const domain = `cross-${suffix}.example.com`;
  const member = `vic@${domain}`;

  // Organization A, with SSO for its domain.
  await signUp(page, uniqueEmail('cross-a-admin'));
  await createOrg(page, `Cross A ${suffix}`);
  await page.getByRole('navigation', { name: 'Console' }).getByRole('link', { name: 'Security' }).click();
  await waitForHydration(page);
  await verifyDomain(page, domain);
  await connectIdp(page, await registerClient(page));
  const loginUrl = await testAndEnable(page, `tester@${domain}`);

  // Organization Z invites the same person.
  const zContext = await browser.newContext();
  const z = await zContext.newPage();
  const zName = `Cross Z ${suffix}`;
  await signUp(z, uniqueEmail('cross-z-admin'));
  await createOrg(z, zName);
  const zConsole = z.url();
  await z.getByRole('navigation', { name: 'Console' }).getByRole('link', { name: 'Members' }).click();
  await waitForHydration(z);
  await z.getByLabel('Email').fill(member);
  await z.getByLabel('Role', { exact: true }).selectOption('member');
  await z.getByRole('button', { name: 'Invite' }).click();
  const invite = await z.getByLabel('Accept link').inputValue();

  // The person signs in through A's SSO and accepts Z's invitation.
  const vContext = await browser.newContext();
  const v = await vContext.newPage();
  await v.goto(loginUrl);
  await v.getByRole('button', { name: 'Sign in with Test IdP' }).click();
  await signInAtIdp(v, member);
  await expect(v.getByRole('heading', { level: 1, name: `Cross A ${suffix}` })).toBeVisible();
  const aConsole = v.url();
  await v.goto(invite);
  await v.getByRole('button', { name: 'Accept invitation' }).click();
  await expect(v.getByRole('heading', { level: 1, name: zName })).toBeVisible();

  // Z starts requiring two-factor authentication.
  await enrollMfa(z);
  await z.goto(`${zConsole}/settings/security/two-factor`);
  await waitForHydration(z);
  await z.locator('#require-mfa-form').getByRole('checkbox').check();
  await z.getByRole('button', { name: 'Save MFA requirement' }).click();
  await expect(z.locator('#require-mfa-form').getByRole('checkbox')).toBeChecked();
  await z.reload();
  await expect(z.locator('#require-mfa-form').getByRole('checkbox')).toBeChecked();

  // A's SSO session no longer opens Z, in the console or through the API,
  // and says what is needed; A itself still opens.
  await v.goto(zConsole);
  await expect(v.locator('[data-code="mfa_required"]')).toContainText('Two-factor authentication required');
  const zSlug = zConsole.split('/o/')[1];
  const members = await v.request.get(`/api/v1/orgs/${zSlug}/members`);
  expect(members.status()).toBe(403);
  expect((await members.json()).error.code).toBe('mfa_required');
  await v.goto(aConsole);
  await expect(v.getByRole('heading', { level: 1, name: `Cross A ${suffix}` })).toBeVisible();

  await Promise.all([zContext.close(), vContext.close()]);
});
