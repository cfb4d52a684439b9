import { test, expect } from './fixtures';
import { writeFileSync } from 'node:fs';
import { createOrg, signUp, uniqueEmail, waitForHydration } from './helpers';
import { openSecurityTab, verifyDomain } from './sso-helpers';

/** The SAML IdP: SimpleSAMLphp, started by playwright.config.ts. */
const samlIdp = `http://127.0.0.1:${process.env.E2E_SAML_IDP_PORT ?? 5357}/simplesaml`;
const samlIdpDir = '.tmp/saml-idp';

/** Registers Latchkey's SP at SimpleSAMLphp (its metadata file is re-read per request). */
function registerSp(entityId: string, acs: string, slo: string): void {
  writeFileSync(
    `${samlIdpDir}/metadata/saml20-sp-remote.php`,
    `<?php\n$metadata['${entityId}'] = [\n  'AssertionConsumerService' => '${acs}',\n  'SingleLogoutService' => '${slo}',\n` +
      `  'NameIDFormat' => 'urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress',\n];\n`,
  );
}

/** SimpleSAMLphp's login form; its answer posts itself to the ACS. */
async function signInAtSamlIdp(page: import('@playwright/test').Page, user: string): Promise<void> {
  await expect(page).toHaveURL(new RegExp(`^${samlIdp}/`));
  await page.locator('input[name="username"]').fill(user);
  await page.locator('input[name="password"]').fill(`${user}-password`);
  await page.locator('input[name="password"]').press('Enter');
}

test('an admin connects SimpleSAMLphp by its metadata URL, tests and enables it; a member signs in from the login URL and by email', async ({ page, browser }) => {
  test.setTimeout(120_000);
  const suffix = `${Date.now()}${Math.floor(Math.random() * 1000)}`;
  const orgName = `Saml Co ${suffix}`;
  await signUp(page, uniqueEmail('saml-admin'));
  await createOrg(page, orgName);
  const slug = new URL(page.url()).pathname.split('/')[2];
  await page.getByRole('navigation', { name: 'Console' }).getByRole('link', { name: 'Security' }).click();
  await waitForHydration(page);
  // SimpleSAMLphp's user grace is at saml-e2e.test.
  await verifyDomain(page, 'saml-e2e.test');

  // The admin picks SAML 2.0 and registers the addresses Latchkey shows.
  await openSecurityTab(page, 'Single sign-on');
  await page.getByRole('link', { name: 'SAML 2.0', exact: true }).click();
  await expect(page.getByRole('link', { name: 'SAML 2.0', exact: true })).toHaveAttribute('aria-current', 'true');
  const entityId = await page.locator('#saml-sp-entity-id').inputValue();
  const acs = await page.locator('#saml-acs-url').inputValue();
  const slo = await page.locator('#saml-slo-url').inputValue();
  expect(acs).toMatch(/\/saml\/[a-z0-9_]+\/acs$/);
  const spMetadata = await page.request.get(await page.locator('#saml-sp-metadata-url').inputValue());
  expect(await spMetadata.text()).toContain(acs);
  registerSp(entityId, acs, slo);

  // A metadata URL that serves no metadata: a clear error on the field, nothing saved.
  await page.getByLabel('Provider label').fill('SimpleSAMLphp');
  await page.getByLabel('IdP metadata URL').fill(`${samlIdp}/nothing-here`);
  await page.getByRole('button', { name: 'Save', exact: true }).click();
  await expect(page.locator('.field-error').first()).toBeVisible();
  await expect(page.locator('[data-sso-status]')).toHaveText('Not connected');

  await expect(page.locator('.field-error').first()).toContainText('answered with a redirect');
  await page.getByLabel('Provider label').fill('SimpleSAMLphp');
  await page.getByLabel('IdP metadata URL').fill(`${samlIdp}/saml2/idp/metadata.php`);
  await page.getByRole('button', { name: 'Save', exact: true }).click();
  await expect(page.locator('[data-sso-status]')).toHaveText('Configured, not enabled');
  await expect(page.locator('[data-saml-idp]')).toContainText(`${samlIdp}/saml2/idp/SSOService.php`);
  await expect(page.getByRole('table', { name: 'IdP signing certificates' })).toContainText('CN=SimpleSAMLphp test IdP');

  // Test connection: a real login at the IdP, nobody signed in here.
  await page.getByRole('button', { name: 'Test connection' }).click();
  await signInAtSamlIdp(page, 'grace');
  await expect(page).toHaveURL(/\/settings\/security\/sso#sso-test$/);
  await expect(page.locator('[data-last-test]')).toHaveAttribute('data-last-test', 'ok');
  await expect(page.locator('[data-test-email]')).toHaveText('grace@saml-e2e.test');
  await expect(page.locator('#sso-test table.claims')).toContainText('admins');
  await waitForHydration(page);
  await page.getByRole('button', { name: 'Enable' }).click();
  await expect(page.locator('[data-sso-status]')).toHaveText('Enabled');
  await page.setViewportSize({ width: 1280, height: 900 });
  await page.screenshot({ path: 'screenshots/sso-saml.png', fullPage: true });
  const loginUrl = await page.locator('#sso-login-url').inputValue();

  // A member opens the login URL (no JavaScript needed on Latchkey's side).
  const first = await browser.newContext();
  const grace = await first.newPage();
  await grace.goto(loginUrl);
  await grace.getByRole('button', { name: 'Sign in with SimpleSAMLphp' }).click();
  await signInAtSamlIdp(grace, 'grace');
  await expect(grace).toHaveURL(new RegExp(`/o/${slug}$`));
  await grace.goto('/api/v1/me');
  await expect(grace.locator('body')).toContainText('grace@saml-e2e.test');
  await first.close();

  // Email first: /login sends a saml-e2e.test address to the SAML IdP.
  const second = await browser.newContext();
  const again = await second.newPage();
  await again.goto('/login');
  await again.getByLabel('Email').fill('grace@saml-e2e.test');
  await again.getByRole('button', { name: 'Continue' }).click();
  await signInAtSamlIdp(again, 'grace');
  await expect(again).toHaveURL(new RegExp(`/o/${slug}$`));
  await second.close();
});
