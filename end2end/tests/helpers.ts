import { expect, type Page } from '@playwright/test';

export const PASSWORD = 'correct horse battery staple';

/** A unique address per test, so tests can run in parallel on one database. */
export function uniqueEmail(prefix: string): string {
  return `${prefix}-${Date.now()}-${Math.floor(Math.random() * 1e6)}@example.com`;
}

/** Waits until the wasm bundle has hydrated the page. */
export async function waitForHydration(page: Page): Promise<void> {
  await expect(page.locator('html')).toHaveAttribute('data-hydrated', 'true');
}

export async function signUp(page: Page, email: string, name = 'Ada Admin'): Promise<void> {
  await page.goto('/signup');
  await page.getByLabel('Work email').fill(email);
  await page.getByLabel('Your name').fill(name);
  await page.getByLabel('Password').fill(PASSWORD);
  await page.getByRole('button', { name: 'Create account' }).click();
  await expect(page).toHaveURL(/\/orgs\/new$/);
}

export async function createOrg(page: Page, name: string): Promise<void> {
  await page.getByLabel('Organization name').fill(name);
  await page.getByRole('button', { name: 'Create organization' }).click();
  await expect(page.getByRole('heading', { level: 1, name })).toBeVisible();
}

/** Signs in on `/login`: the email step (when shown), then the password. */
export async function signIn(page: Page, email: string, password = PASSWORD): Promise<void> {
  const next = page.getByRole('button', { name: 'Continue' });
  if ((await next.count()) > 0) {
    await page.getByLabel('Email').fill(email);
    await next.click();
    await expect(page).toHaveURL(/\/login\?email=/);
  }
  await page.getByLabel('Email').fill(email);
  await page.getByLabel('Password').fill(password);
  await page.getByRole('button', { name: 'Sign in' }).click();
}
