import { test, expect, type Page } from '@playwright/test';
import AxeBuilder from '@axe-core/playwright';
import { createOrg, signUp, uniqueEmail } from './helpers';

/** axe-core's serious and critical violations of the page as it is now. */
async function seriousViolations(page: Page): Promise<string[]> {
  const results = await new AxeBuilder({ page }).analyze();
  return results.violations
    .filter((v) => v.impact === 'serious' || v.impact === 'critical')
    .map((v) => `${v.id} (${v.impact}): ${v.nodes.map((n) => n.target.join(' ')).slice(0, 3).join(', ')}`);
}

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

/** The pages as a browser without JavaScript gets them: the server's HTML
 * with its scripts removed and no script or wasm loaded (axe itself still
 * needs the page's JavaScript engine, so the context keeps it on). */
async function withoutScripts(page: Page): Promise<void> {
  await page.route('**/*', async (route) => {
    const request = route.request();
    if (request.resourceType() === 'script' || request.url().endsWith('.wasm')) {
      await route.abort();
    } else if (request.resourceType() === 'document' && request.method() === 'GET') {
      const response = await route.fetch({ maxRedirects: 0 });
      if (response.status() >= 300 && response.status() < 400) {
        // Redirects are the browser's to follow (the next page comes back here).
        await route.continue();
        return;
      }
      const body = (await response.text()).replace(/<script[\s\S]*?<\/script>/gi, '');
      await route.fulfill({ response, body });
    } else {
      await route.continue();
    }
  });
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
        `${base}/settings/roles`,
        `${base}/settings/tokens`,
        `${base}/audit`,
        '/account/security',
        '/orgs/new',
      ]);
    });
  });
}
