import { test, expect } from './fixtures';
import { createOrg, signUp, uniqueEmail, waitForHydration } from './helpers';

test('the SSO section shows the URIs to register first and names the field at fault', async ({ page }) => {
  await signUp(page, uniqueEmail('sso-admin'));
  await createOrg(page, 'Sso Setup');
  await page.getByRole('navigation', { name: 'Console' }).getByRole('link', { name: 'Security' }).click();
  await waitForHydration(page);
  await expect(page.locator('[data-sso-status]')).toHaveText('Not connected');
  // The checklist starts at the first step.
  await expect(page.locator('[data-checklist-progress]')).toHaveText('0 of 4 steps done');
  await expect(page.locator('.checklist li[data-state="next"]')).toContainText('A domain verified');

  // Provider guidance: Okta's own words, with Latchkey's values to copy.
  await page.getByRole('navigation', { name: 'Identity provider' }).getByRole('link', { name: 'Okta', exact: true }).click();
  const guide = page.locator('[data-guide="okta"]');
  await expect(guide.getByRole('heading', { name: 'Set up Okta' })).toBeVisible();
  await expect(guide.getByLabel('Sign-in redirect URIs: replace the example with')).toHaveValue(/\/oidc\/callback$/);
  await page.setViewportSize({ width: 1280, height: 900 });
  await page.screenshot({ path: 'screenshots/sso-guide.png', fullPage: true });
  const redirect = await page.getByLabel('Redirect URI', { exact: true }).inputValue();
  expect(redirect).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/sso\/o[a-z0-9]{15}\/oidc\/callback$/);
  await expect(page.getByLabel('Back-channel logout URI', { exact: true })).toHaveValue(/\/oidc\/backchannel-logout$/);
  await expect(page.getByLabel('Initiate login URI', { exact: true })).toHaveValue(/\/oidc\/initiate$/);

  // Nothing answers there: the error names the field and the address.
  await page.getByLabel('Provider label').fill('Okta');
  await page.getByLabel('Discovery URL').fill('http://127.0.0.1:9');
  await page.getByLabel('Client ID').fill('latchkey');
  await page.getByLabel('Client secret').fill('a-secret-value');
  await page.getByRole('button', { name: 'Save', exact: true }).click();
  const field = page.locator('.field').filter({ has: page.getByLabel('Discovery URL') });
  await expect(field.getByRole('alert')).toContainText('could not be reached');
  // The page comes back with the focus on the field at fault.
  await expect(page.getByLabel('Discovery URL')).toBeFocused();
  await expect(page.locator('[data-sso-status]')).toHaveText('Not connected');
});
