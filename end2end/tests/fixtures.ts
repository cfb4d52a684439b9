// The suite's `test`: Playwright's, plus an axe-core check of every
// Latchkey page the test's browser context visited. After the test, each
// visited page (GET, Latchkey's origin, HTML pages only) is opened again
// in a context with the same cookies and checked for serious or critical
// violations; a context that ran without JavaScript is checked on the
// server's HTML with its scripts removed.
import { test as base, expect, type BrowserContext, type Page } from '@playwright/test';
import AxeBuilder from '@axe-core/playwright';

/** Paths that are not pages, or that act when opened (tickets, starts). */
const SKIP = [/^\/api\//, /^\/pkg\//, /^\/saml\//, /^\/branding\//, /^\/sso\/[^/]+\/(start|oidc)/, /^\/verify-email\//, /^\/invite\//];

/** Serves documents without their scripts, and no script or wasm. */
export async function withoutScripts(page: Page): Promise<void> {
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

/** axe-core's serious and critical violations of the page as it is now. */
export async function seriousViolations(page: Page): Promise<string[]> {
  const results = await new AxeBuilder({ page }).analyze();
  return results.violations
    .filter((v) => v.impact === 'serious' || v.impact === 'critical')
    .map((v) => `${v.id} (${v.impact}): ${v.nodes.map((n) => n.target.join(' ')).slice(0, 3).join(', ')}`);
}

async function checkVisited(context: BrowserContext, urls: string[], javaScript: boolean): Promise<string[]> {
  const browser = context.browser();
  if (!browser || urls.length === 0) return [];
  // JavaScript on for axe itself (a test's `use` options would turn it off).
  const again = await browser.newContext({ storageState: await context.storageState(), javaScriptEnabled: true });
  const found: string[] = [];
  try {
    const page = await again.newPage();
    if (!javaScript) await withoutScripts(page);
    for (const url of urls) {
      const res = await page.goto(url);
      const type = res?.headers()['content-type'] ?? '';
      if (!type.includes('text/html')) continue;
      for (const v of await seriousViolations(page)) found.push(`${new URL(url).pathname}: ${v}`);
    }
  } finally {
    await again.close();
  }
  return found;
}

export const test = base.extend<{ axeVisited: void }>({
  axeVisited: [
    async ({ context, baseURL, javaScriptEnabled }, use) => {
      const origin = new URL(baseURL ?? 'http://127.0.0.1').origin;
      const visited = new Set<string>();
      context.on('request', (r) => {
        if (!r.isNavigationRequest() || r.method() !== 'GET') return;
        const u = new URL(r.url());
        if (u.origin === origin && !SKIP.some((re) => re.test(u.pathname))) {
          u.hash = '';
          visited.add(u.toString());
        }
      });
      await use();
      const found = await checkVisited(context, [...visited], javaScriptEnabled !== false);
      expect(found, `axe-core on the pages this test visited:\n${found.join('\n')}`).toEqual([]);
    },
    { auto: true },
  ],
});

export { expect };
