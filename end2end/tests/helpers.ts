import { expect, type Page } from '@playwright/test';
import { createHmac } from 'node:crypto';

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

/** RFC 6238 TOTP (SHA-1, 6 digits, 30 s) for a base32 key, in the test's own code. */
export function totp(base32: string, at = Date.now()): string {
  const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';
  let bits = '';
  for (const c of base32.replace(/=+$/, '')) bits += alphabet.indexOf(c).toString(2).padStart(5, '0');
  const key = Buffer.from(bits.match(/.{8}/g)!.map((b) => parseInt(b, 2)));
  const counter = Buffer.alloc(8);
  counter.writeBigUInt64BE(BigInt(Math.floor(at / 1000 / 30)));
  const h = createHmac('sha1', key).update(counter).digest();
  const o = h[19] & 0xf;
  const n = ((h[o] & 0x7f) << 24) | (h[o + 1] << 16) | (h[o + 2] << 8) | h[o + 3];
  return String(n % 1_000_000).padStart(6, '0');
}

/** Turns on two-factor authentication for the signed-in password user. */
export async function enrollMfa(page: Page, password = PASSWORD): Promise<void> {
  await page.goto('/account/security');
  await waitForHydration(page);
  await page.getByLabel('Current password').fill(password);
  await page.getByRole('button', { name: 'Set up two-factor authentication' }).click();
  const key = await page.getByLabel('Setup key').inputValue();
  await page.getByLabel('Code from the app').fill(totp(key));
  await page.getByRole('button', { name: 'Confirm and turn on' }).click();
  await expect(page.locator('[data-mfa-status]')).toHaveText('On');
}
