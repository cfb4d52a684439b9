import { test, expect } from './fixtures';
import { type Locator, type Page } from '@playwright/test';
import { createOrg, signUp, uniqueEmail, waitForHydration } from './helpers';
import { idp, registerAtIdp } from './sso-helpers';

const dnsControl = `http://127.0.0.1:${process.env.E2E_DNS_CONTROL_PORT ?? 5355}`;

/** Presses Tab until `target` has the focus (as a keyboard user would). */
async function tabTo(page: Page, target: Locator, most = 150): Promise<void> {
  for (let i = 0; i < most; i++) {
    if (await target.evaluate((el) => el === document.activeElement).catch(() => false)) return;
    await page.keyboard.press('Tab');
  }
  throw new Error(`Tab never reached ${target}`);
}

/** Tabs to `target` and types `text` into it. */
async function typeInto(page: Page, target: Locator, text: string): Promise<void> {
  await tabTo(page, target);
  await page.keyboard.type(text);
}

test('an admin configures, tests and enables SSO with the keyboard alone', async ({ page, context }) => {
  test.setTimeout(120_000);
  await context.grantPermissions(['clipboard-read', 'clipboard-write']);
  const suffix = `${Date.now()}${Math.floor(Math.random() * 1000)}`;
  const domain = `kbd-${suffix}.example.com`;
  await signUp(page, uniqueEmail('kbd-admin'));
  await createOrg(page, `Keyboard Co ${suffix}`);
  await waitForHydration(page);
  // From here on, only the keyboard (reading the page is fine).
  const tabs = page.getByRole('navigation', { name: 'Security settings' });

  await tabTo(page, page.getByRole('navigation', { name: 'Console' }).getByRole('link', { name: 'Security' }));
  await page.keyboard.press('Enter');
  await expect(page).toHaveURL(/\/settings\/security$/);
  await tabTo(page, tabs.getByRole('link', { name: 'Domains', exact: true }));
  await page.keyboard.press('Enter');
  await expect(page).toHaveURL(/\/settings\/security\/domains$/);

  await typeInto(page, page.getByLabel('Domain', { exact: true }), domain);
  await page.keyboard.press('Enter');
  const row = page.locator(`[data-domain="${domain}"]`);
  const name = await row.getByLabel('TXT record name').inputValue();
  const value = await row.getByLabel('TXT record value').inputValue();
  expect((await fetch(`${dnsControl}/records`, { method: 'POST', body: JSON.stringify({ name, value }) })).ok).toBe(true);
  await tabTo(page, row.getByRole('button', { name: 'Verify now' }));
  await page.keyboard.press('Enter');
  await expect(row.locator('[data-status]')).toContainText('verified by DNS');

  await tabTo(page, tabs.getByRole('link', { name: 'Single sign-on', exact: true }));
  await page.keyboard.press('Enter');
  await expect(page).toHaveURL(/\/settings\/security\/sso$/);
  await waitForHydration(page);
  // A copy button, by keyboard.
  const redirect = page.getByLabel('Redirect URI', { exact: true });
  await tabTo(page, page.locator('.copy-field').filter({ has: redirect }).getByRole('button', { name: 'Copy' }));
  await page.keyboard.press('Enter');
  const redirectUri = await redirect.inputValue();
  expect(await page.evaluate(() => navigator.clipboard.readText())).toBe(redirectUri);

  // The IdP learns the redirect URI (its registration API, not this page).
  const client = await registerAtIdp(redirectUri);

  await typeInto(page, page.getByLabel('Provider label'), 'Test IdP');
  await typeInto(page, page.getByLabel('Discovery URL'), idp);
  await typeInto(page, page.getByLabel('Client ID'), client.client_id);
  await typeInto(page, page.getByLabel('Client secret'), client.client_secret);
  await page.keyboard.press('Enter');
  await expect(page.locator('[data-sso-status]')).toHaveText('Configured, not enabled');

  await tabTo(page, page.getByRole('button', { name: 'Test connection' }));
  await page.keyboard.press('Enter');
  await expect(page).toHaveURL(new RegExp(`^${idp}/interaction/`));
  await typeInto(page, page.locator('input[name="login"]'), `kim@${domain}`);
  await typeInto(page, page.locator('input[name="password"]'), 'any password');
  await page.keyboard.press('Enter');
  const consent = page.getByRole('button', { name: 'Continue' });
  await Promise.race([consent.waitFor({ state: 'visible' }), page.waitForURL((url) => !url.href.startsWith(idp))]);
  if (page.url().startsWith(idp)) {
    await tabTo(page, consent);
    await page.keyboard.press('Enter');
  }
  await expect(page).toHaveURL(/\/settings\/security\/sso#sso-test$/);
  await expect(page.locator('[data-last-test="ok"]')).toBeVisible();

  await tabTo(page, page.getByRole('button', { name: 'Enable' }));
  await page.keyboard.press('Enter');
  await expect(page.locator('[data-sso-status]')).toHaveText('Enabled');
});
