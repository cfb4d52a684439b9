import { test, expect, seriousViolations, withoutScripts } from './fixtures';
import { type Page } from '@playwright/test';
import { createOrg, signUp, uniqueEmail } from './helpers';

/** Visits each path and checks it with axe. */
async function checkPages(page: Page, paths: string[]): Promise<void> {
  const found: string[] = [];
  for (const path of paths) {
    await page.goto(path);
    await expect(page.locator('main, .auth-page').first()).toBeVisible();
    for (const v of await seriousViolations(page)) found.push(`${path}: ${v}`);
  }
  expect(found, found.join('\n')).toEqual([]);
}

for (const javaScript of [true, false]) {
  test.describe(javaScript ? 'with JavaScript' : 'without JavaScript', () => {
    test('sign-in pages and console pages have no serious or critical axe violations', async ({ page }) => {
      test.setTimeout(120_000);
      if (!javaScript) await withoutScripts(page);
      await checkPages(page, ['/login', '/signup']);
      await signUp(page, uniqueEmail(`axe-${javaScript ? 'js' : 'nojs'}`));
      const name = `Axe Co ${Date.now()}${Math.floor(Math.random() * 1000)}`;
      await createOrg(page, name);
      const base = new URL(page.url()).pathname;
      await checkPages(page, [
        base,
        `${base}/members`,
        `${base}/settings/security/domains`,
        `${base}/settings/security/sso`,
        `${base}/settings/security/sso?guide=okta&protocol=oidc`,
        `${base}/settings/security/sso?protocol=saml`,
        `${base}/settings/security/provisioning`,
        `${base}/settings/security/two-factor`,
        `${base}/settings/security/login-page`,
        `${base}/settings/security/setup-links`,
        `${base}/settings/roles`,
        `${base}/settings/tokens`,
        `${base}/audit`,
        '/account/security',
        '/orgs/new',
      ]);
      // A setup link's page (as this signed-in admin sees it).
      const link = await page.request.post(`/api/v1/orgs${base.slice(2)}/setup-links`, { data: { scopes: ['sso'] } });
      expect(link.status()).toBe(201);
      await checkPages(page, [new URL((await link.json()).url).pathname]);
    });
  });
}
