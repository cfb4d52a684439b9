import { test, expect } from './fixtures';
import { createOrg, PASSWORD, signUp, uniqueEmail, waitForHydration } from './helpers';

test('console islands copy, and console pages load only the islands bundle, with no errors', async ({ page, context }) => {
  const problems: string[] = [];
  page.on('pageerror', (e) => problems.push(`pageerror: ${e.message}`));
  page.on('console', (m) => {
    if (m.type() === 'error') problems.push(`console: ${m.text()}`);
  });
  const scripts: string[] = [];
  page.on('request', (r) => {
    if (['script', 'fetch', 'xhr'].includes(r.resourceType())) scripts.push(new URL(r.url()).pathname);
  });
  await context.grantPermissions(['clipboard-read', 'clipboard-write']);

  const email = uniqueEmail('hydrate');
  await signUp(page, email);
  await createOrg(page, 'Hydra Labs');
  await waitForHydration(page);

  // Copying needs wasm: the button only shows once the island is live.
  const orgId = await page.getByLabel('Organization ID').inputValue();
  expect(orgId).toMatch(/^o[a-z0-9]{15}$/);
  await page.getByRole('button', { name: 'Copy' }).click();
  await expect(page.getByRole('status')).toHaveText('Copied');
  expect(await page.evaluate(() => navigator.clipboard.readText())).toBe(orgId);

  // Links are plain page loads: the server renders the page, and the
  // browser fetches the islands' script and nothing else (no server
  // function calls, no data requests).
  scripts.length = 0;
  await page.getByRole('navigation', { name: 'Console' }).getByRole('link', { name: 'Members' }).click();
  await expect(page).toHaveURL(/\/o\/hydra-labs\/members$/);
  await expect(page.getByRole('row').filter({ hasText: email })).toBeVisible();
  await waitForHydration(page);
  expect(scripts.filter((p) => !p.startsWith('/pkg/'))).toEqual([]);

  expect(problems).toEqual([]);
});

test('console forms post natively and show a pending state; a second click sends nothing', async ({ page }) => {
  await signUp(page, uniqueEmail('pending'));
  await waitForHydration(page);

  // Hold the form post so the pending state is observable. While the
  // browser waits on it the page is mid-navigation, where Playwright does
  // not query the DOM: the button reports its own changes instead.
  let posts = 0;
  let release: () => void = () => {};
  const held = new Promise<void>((r) => (release = r));
  await page.route('**/api/create_org', async (route) => {
    posts += 1;
    await held;
    await route.continue();
  });
  const seen: string[] = [];
  await page.exposeFunction('reportButton', (s: string) => seen.push(s));
  const button = page.getByRole('button', { name: 'Create organization' });
  await button.evaluate((b) => {
    const report = () =>
      (window as unknown as { reportButton: (s: string) => void }).reportButton(
        `${b.textContent}|${b.getAttribute('aria-disabled')}|${b.getAttribute('aria-busy')}`,
      );
    new MutationObserver(report).observe(b, { attributes: true, childList: true, subtree: true, characterData: true });
  });
  const box = await button.boundingBox();
  if (!box) throw new Error('the button has no box');
  await page.getByLabel('Organization name').fill('Pending Co');
  await button.click({ noWaitAfter: true });
  await expect.poll(() => seen).toContain('Creating…|true|true');
  await expect.poll(() => posts).toBe(1);
  // A second click while the first post is on its way is swallowed: had it
  // been sent, it would replace the held navigation and pass the route too.
  await page.mouse.click(box.x + box.width / 2, box.y + box.height / 2);
  release();
  await expect(page.getByRole('heading', { level: 1, name: 'Pending Co' })).toBeVisible();
  expect(posts).toBe(1);
});

test('an invalid form is not shown as pending', async ({ page }) => {
  await signUp(page, uniqueEmail('invalid'));
  await waitForHydration(page);
  await page.getByRole('button', { name: 'Create organization' }).click();
  await expect(page.getByRole('button', { name: 'Create organization' })).toBeEnabled();
});

// Everyone in every organization passes through the sign-in pages: they are
// plain forms that download no script and no wasm, and still work.
test('sign-in pages load no script or wasm and sign in with plain form posts', async ({ page }) => {
  const email = uniqueEmail('scriptless');
  await signUp(page, email);
  await page.context().clearCookies();
  const fetched: string[] = [];
  page.on('request', (r) => {
    if (['script', 'fetch', 'xhr'].includes(r.resourceType()) || r.url().endsWith('.wasm')) fetched.push(r.url());
  });
  for (const path of ['/signup', '/login']) {
    await page.goto(path);
    expect(await page.locator('script').count(), path).toBe(0);
  }
  // A wrong password: the error comes back on the page, without JavaScript.
  await page.getByLabel('Email').fill(email);
  await page.getByRole('button', { name: 'Continue' }).click();
  await expect(page).toHaveURL(/\/login\?email=/);
  await page.getByLabel('Password').fill('not the password');
  await page.getByRole('button', { name: 'Sign in' }).click();
  await expect(page.getByText('Email or password is wrong.')).toBeVisible();
  expect(fetched).toEqual([]);
  await page.getByLabel('Password').fill(PASSWORD);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await expect(page).toHaveURL(/\/orgs\/new$/);
  // The console after it loads its bundle and hydrates as before.
  await waitForHydration(page);
  expect(fetched.some((url) => url.endsWith('.wasm'))).toBe(true);
});
