import { test, expect, seriousViolations } from './fixtures';
import { createOrg, signUp, uniqueEmail, waitForHydration } from './helpers';
import { connectIdp, openSecurityTab, registerClient, testAndEnable, verifyDomain } from './sso-helpers';

test('a setup link lets the IT team set up SSO without an account, and reaches nothing else', async ({ page, browser }) => {
  test.setTimeout(120_000);
  const suffix = `${Date.now()}${Math.floor(Math.random() * 1000)}`;
  const domain = `link-${suffix}.example.com`;
  const orgName = `Link Co ${suffix}`;
  await signUp(page, uniqueEmail('link-admin'), 'Ada Admin');
  await createOrg(page, `Other ${suffix}`);
  const otherSlug = new URL(page.url()).pathname.split('/')[2];
  await page.goto('/orgs/new');
  await createOrg(page, orgName);
  const slug = new URL(page.url()).pathname.split('/')[2];

  // The admin makes a link for the domains and the SSO connection.
  await page.getByRole('navigation', { name: 'Console' }).getByRole('link', { name: 'Security' }).click();
  await openSecurityTab(page, 'Setup links');
  await expect(page.getByText('No setup links yet')).toBeVisible();
  await page.getByLabel('Note (optional)').fill('Okta admin at Link Co');
  await page.getByRole('button', { name: 'Create setup link' }).click();
  const url = await page.getByLabel('Setup link', { exact: true }).inputValue();
  expect(url).toMatch(/\/setup\/lks_[A-Za-z0-9]{40}$/);
  await expect(page.locator('tr', { hasText: 'Okta admin at Link Co' })).toContainText('never');
  await page.setViewportSize({ width: 1280, height: 900 });
  await page.screenshot({ path: 'screenshots/setup-links.png' });

  // Someone without an account opens it in a browser of their own.
  const itContext = await browser.newContext();
  const it = await itContext.newPage();
  await it.goto(url);
  await expect(it.getByRole('heading', { name: `Set up single sign-on for ${orgName}` })).toBeVisible();
  await expect(it.getByText('Ada Admin invited you to set up: Domains, SSO connection.')).toBeVisible();
  // This browser context is the test's own, so axe runs here by hand.
  expect(await seriousViolations(it)).toEqual([]);
  await it.getByRole('button', { name: 'Start setting up' }).click();
  await expect(it).toHaveURL(new RegExp(`/o/${slug}/settings/security/domains$`));
  await expect(it.getByTestId('setup-banner')).toContainText(
    `Setting up SSO for ${orgName} through a setup link from Ada Admin.`,
  );
  // Only the pages of its scopes, no members, no organization switcher.
  const tabs = it.getByRole('navigation', { name: 'Security settings' }).getByRole('link');
  await expect(tabs).toHaveText(['Domains', 'Single sign-on']);
  await expect(it.getByRole('navigation', { name: 'Console' }).getByRole('link', { name: 'Members' })).toHaveCount(0);
  await waitForHydration(it);
  expect(await seriousViolations(it)).toEqual([]);

  // Domain through the test DNS server, Okta's guidance, the real IdP.
  await verifyDomain(it, domain);
  await openSecurityTab(it, 'Single sign-on');
  await it.getByRole('navigation', { name: 'Identity provider' }).getByRole('link', { name: 'Okta', exact: true }).click();
  const guide = it.locator('[data-guide="okta"]');
  await expect(guide.getByRole('heading', { name: 'Set up Okta' })).toBeVisible();
  await expect(guide.getByLabel('Sign-in redirect URIs: replace the example with')).toHaveValue(/\/oidc\/callback$/);
  await it.setViewportSize({ width: 1280, height: 900 });
  await it.screenshot({ path: 'screenshots/setup-link.png' });
  const client = await registerClient(it);
  await connectIdp(it, client);
  await testAndEnable(it, `it@${domain}`);
  expect(await seriousViolations(it)).toEqual([]);

  // What it cannot open: members, another organization of its creator.
  await it.goto(`/o/${slug}/members`);
  await expect(it.getByRole('alert')).toContainText('A setup link only reaches the pages it was made for');
  await it.goto(`/o/${otherSlug}`);
  await expect(it.getByRole('alert')).toContainText('There is no such organization');
  await it.goto(`/o/${slug}/settings/security/login-page`);
  await expect(it.locator('#content')).toContainText('A setup link only reaches the pages it was made for');

  // The admin's checklist is all done; the link shows its use, then is revoked.
  await page.goto(`/o/${slug}`);
  await expect(page.locator('[data-checklist-progress]')).toHaveText('4 of 4 steps done');
  await page.goto(`/o/${slug}/settings/security/setup-links`);
  await waitForHydration(page);
  const row = page.locator('tr', { hasText: 'Okta admin at Link Co' });
  await expect(row.locator('.badge')).toHaveText('active');
  await expect(row).not.toContainText('never');
  await row.getByText('Revoke…').click();
  await row.getByRole('button', { name: 'Yes, revoke' }).click();
  await expect(row.locator('.badge')).toHaveText('revoked');
  const audit = await page.request.get(`/api/v1/orgs/${slug}/audit-events?limit=200`);
  const events: { actor_type: string; action: string }[] = (await audit.json()).events;
  expect(events.filter((e) => e.actor_type === 'setup_link').map((e) => e.action)).toEqual(
    expect.arrayContaining(['setup_link.opened', 'domain.added', 'sso.enabled']),
  );

  // The open session ends at its next page, and the link opens nothing.
  await it.goto(`/o/${slug}/settings/security/sso`);
  await expect(it.locator('[data-code="setup_link_revoked"]')).toContainText('This setup link was revoked');
  await it.goto(url);
  await expect(it.getByRole('alert')).toContainText('This setup link was revoked. Ask Ada Admin for a new one.');
  await itContext.close();
});

test('without JavaScript: bad input is refused on its field, the link is shown once and opens', async ({ browser }) => {
  const context = await browser.newContext({ javaScriptEnabled: false });
  const page = await context.newPage();
  await signUp(page, uniqueEmail('nojs-links'), 'Ada Admin');
  await createOrg(page, 'Quiet Links');
  const slug = new URL(page.url()).pathname.split('/')[2];
  await page.goto(`/o/${slug}/settings/security/setup-links`);

  // No scope, then too long a life: each refused where it belongs, nothing made.
  await page.getByLabel('Domains').uncheck();
  await page.getByLabel('SSO connection').uncheck();
  await page.getByRole('button', { name: 'Create setup link' }).click();
  await expect(page.locator('#field-scopes-error')).toHaveText(
    'Choose what the link may set up: domains, sso and/or provisioning.',
  );
  await page.getByLabel('Expires in (days)').fill('45');
  await page.getByRole('button', { name: 'Create setup link' }).click();
  await expect(page.locator('#field-expires_in_days-error')).toContainText('A setup link lasts 1 to 30 days.');
  await expect(page.getByLabel('Expires in (days)')).toBeFocused();
  await expect(page.getByText('No setup links yet')).toBeVisible();

  // A good one: its URL comes back once, through the redirect.
  await page.getByLabel('Expires in (days)').fill('3');
  await page.getByLabel('Note (optional)').fill('for the quiet IT team');
  await page.getByRole('button', { name: 'Create setup link' }).click();
  const url = await page.getByLabel('Setup link', { exact: true }).inputValue();
  await expect(page.locator('tr', { hasText: 'for the quiet IT team' })).toContainText('Domains, SSO connection');
  await page.reload();
  await expect(page.getByLabel('Setup link', { exact: true })).toHaveCount(0);

  // Opened without JavaScript in another browser: a plain form post.
  const itContext = await browser.newContext({ javaScriptEnabled: false });
  const it = await itContext.newPage();
  await it.goto(url);
  await it.getByRole('button', { name: 'Start setting up' }).click();
  await expect(it).toHaveURL(new RegExp(`/o/${slug}/settings/security/domains$`));
  await expect(it.getByTestId('setup-banner')).toContainText('through a setup link from Ada Admin');
  await itContext.close();
  await context.close();
});
