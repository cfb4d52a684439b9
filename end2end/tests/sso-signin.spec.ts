import { test, expect } from './fixtures';
import { createOrg, signUp, uniqueEmail, waitForHydration } from './helpers';
import { connectIdp, idp, openSecurityTab, registerClient, signInAtIdp, testAndEnable, verifyDomain } from './sso-helpers';


test('an admin connects a real OpenID Provider, tests and enables it; members sign in from the login URL without JavaScript and by email', async ({ page, browser }) => {
  const suffix = `${Date.now()}${Math.floor(Math.random() * 1000)}`;
  const domain = `sso-${suffix}.example.com`;
  const orgName = `Sso Real ${suffix}`;
  await signUp(page, uniqueEmail('sso-real-admin'));
  await createOrg(page, orgName);
  await page.getByRole('navigation', { name: 'Console' }).getByRole('link', { name: 'Security' }).click();
  await waitForHydration(page);

  // A verified domain, the client registered at the IdP, tested, enabled.
  await verifyDomain(page, domain);
  const client = await registerClient(page);
  const redirectUri = await page.getByLabel('Redirect URI', { exact: true }).inputValue();
  await connectIdp(page, client);
  const loginUrl = await testAndEnable(page, `ada@${domain}`);
  await expect(page.locator('table.claims')).toContainText('engineering');
  await page.setViewportSize({ width: 1280, height: 900 });
  await page.screenshot({ path: 'screenshots/sso.png', fullPage: true });
  // The overview's checklist: every required step done.
  await page.getByRole('navigation', { name: 'Console' }).getByRole('link', { name: 'Overview' }).click();
  await expect(page.locator('[data-checklist-progress]')).toHaveText('4 of 4 steps done');
  await page.screenshot({ path: 'screenshots/checklist.png' });

  // A colleague opens the login URL in a browser without JavaScript.
  const plain = await browser.newContext({ javaScriptEnabled: false });
  const member = await plain.newPage();
  await member.goto(loginUrl);
  await expect(member.getByRole('heading', { name: `Sign in to ${orgName}` })).toBeVisible();
  await member.getByRole('button', { name: 'Sign in with Test IdP' }).click();
  await signInAtIdp(member, `grace@${domain}`);
  await expect(member).toHaveURL(/\/o\/sso-real-[0-9]+$/);
  await expect(member.getByRole('heading', { level: 1, name: orgName })).toBeVisible();
  const slug = new URL(member.url()).pathname.split('/')[2];
  await member.goto('/api/v1/me');
  await expect(member.locator('body')).toContainText(`grace@${domain}`);
  await plain.close();

  // Email first: /login sends an address in the verified domain to the IdP.
  const third = await browser.newContext();
  const lin = await third.newPage();
  await lin.goto('/login');
  await lin.getByLabel('Email').fill(`lin@${domain}`);
  await lin.getByRole('button', { name: 'Continue' }).click();
  await signInAtIdp(lin, `lin@${domain}`);
  await expect(lin).toHaveURL(/\/o\/sso-real-[0-9]+$/);
  await third.close();

  // Started from the IdP's side (third-party-initiated login), landing on
  // the page it names.
  const orgId = redirectUri.split('/')[4];
  const fourth = await browser.newContext();
  const max = await fourth.newPage();
  const target = encodeURIComponent(`${new URL(loginUrl).origin}/o/${slug}/members`);
  await max.goto(`/sso/${orgId}/oidc/initiate?iss=${encodeURIComponent(idp)}&target_link_uri=${target}`);
  await signInAtIdp(max, `max@${domain}`);
  await expect(max).toHaveURL(new RegExp(`/o/${slug}/members$`));
  await fourth.close();

  // The admin sees the new member, who joined through SSO.
  await page.getByRole('navigation', { name: 'Console' }).getByRole('link', { name: 'Members' }).click();
  await expect(page.getByRole('row').filter({ hasText: `grace@${domain}` })).toContainText('via sso');
});

test('login page branding previews live, saves, and takes a logo upload', async ({ page }) => {
  const suffix = `${Date.now()}${Math.floor(Math.random() * 1000)}`;
  await signUp(page, uniqueEmail('brand-admin'));
  await createOrg(page, `Brand Co ${suffix}`);
  await page.getByRole('navigation', { name: 'Console' }).getByRole('link', { name: 'Security' }).click();
  await openSecurityTab(page, 'Login page');
  await waitForHydration(page);
  const preview = page.locator('.login-preview');
  await expect(preview).toContainText(`Sign in to Brand Co ${suffix}`);

  // The preview follows the inputs as they are typed.
  await page.getByLabel('Display name').fill('Brand Corp');
  await expect(preview).toContainText('Sign in to Brand Corp');
  await page.getByLabel('Accent colour').fill('#0f766e');
  await expect(preview).toHaveAttribute('style', /--accent: #0f766e/);
  await page.getByRole('button', { name: 'Apply branding' }).click();
  await expect(page.getByRole('button', { name: 'Apply branding' })).toBeEnabled();

  // A 1×1 PNG through the plain upload form.
  const png = Buffer.from(
    'iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg==',
    'base64',
  );
  await page.getByLabel('Logo', { exact: true }).setInputFiles({ name: 'logo.png', mimeType: 'image/png', buffer: png });
  await page.getByRole('button', { name: 'Upload logo' }).click();
  await expect(page).toHaveURL(/\/settings\/security\/login-page#branding$/);
  await expect(preview.locator('img.brand-logo')).toBeVisible();
  await expect(page.getByLabel('Display name')).toHaveValue('Brand Corp');

  // Something that is not an image is refused with a readable message.
  await page.getByLabel('Logo', { exact: true }).setInputFiles({ name: 'evil.svg', mimeType: 'image/svg+xml', buffer: Buffer.from('<svg onload="alert(1)"></svg>') });
  await page.getByRole('button', { name: 'Upload logo' }).click();
  await expect(page.locator('#branding .form-error')).toContainText('The logo was refused: this SVG contains scripts');
});
