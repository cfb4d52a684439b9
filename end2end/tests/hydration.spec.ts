import { test, expect } from '@playwright/test';
import { createOrg, PASSWORD, signUp, uniqueEmail, waitForHydration } from './helpers';

test('the hydrated console copies, routes client-side and logs no errors', async ({ page, context }) => {
  const problems: string[] = [];
  page.on('pageerror', (e) => problems.push(`pageerror: ${e.message}`));
  page.on('console', (m) => {
    if (m.type() === 'error') problems.push(`console: ${m.text()}`);
  });
  await context.grantPermissions(['clipboard-read', 'clipboard-write']);

  const email = uniqueEmail('hydrate');
  await signUp(page, email);
  await createOrg(page, 'Hydra Labs');
  await waitForHydration(page);

  // Copying needs wasm: the button only shows once hydrated.
  const orgId = await page.getByLabel('Organization ID').inputValue();
  expect(orgId).toMatch(/^o[a-z0-9]{15}$/);
  await page.getByRole('button', { name: 'Copy' }).click();
  await expect(page.getByRole('status')).toHaveText('Copied');
  expect(await page.evaluate(() => navigator.clipboard.readText())).toBe(orgId);

  // Client-side navigation keeps the page (no full reload).
  await page.evaluate(() => ((window as unknown as { __marker: number }).__marker = 42));
  await page.getByRole('navigation', { name: 'Console' }).getByRole('link', { name: 'Members' }).click();
  await expect(page).toHaveURL(/\/o\/hydra-labs\/members$/);
  await expect(page.getByRole('row').filter({ hasText: email })).toBeVisible();
  expect(await page.evaluate(() => (window as unknown as { __marker?: number }).__marker)).toBe(42);

  expect(problems).toEqual([]);
});

test('hydrated console forms submit without a reload and show a pending state', async ({ page }) => {
  await signUp(page, uniqueEmail('pending'));
  await waitForHydration(page);
  await page.evaluate(() => ((window as unknown as { __marker: number }).__marker = 7));

  // Hold the server function's response so the pending state is observable.
  let release: () => void = () => {};
  const held = new Promise<void>((r) => (release = r));
  await page.route('**/api/create_org', async (route) => {
    await held;
    await route.continue();
  });
  await page.getByLabel('Organization name').fill('Pending Co');
  await page.getByRole('button', { name: 'Create organization' }).click();
  await expect(page.getByRole('button', { name: 'Creating…' })).toBeDisabled();
  release();
  await expect(page.getByRole('heading', { level: 1, name: 'Pending Co' })).toBeVisible();
  expect(await page.evaluate(() => (window as unknown as { __marker?: number }).__marker)).toBe(7);
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
