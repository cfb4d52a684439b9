import { test, expect } from '@playwright/test';
import { createHmac } from 'node:crypto';
import { PASSWORD, createOrg, signIn, signUp, uniqueEmail, waitForHydration } from './helpers';

/** RFC 6238 TOTP (SHA-1, 6 digits, 30 s) for a base32 key, in the test's own code. */
function totp(base32: string, at = Date.now()): string {
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

test('a user turns on two-factor authentication and signs in with a code, then with a recovery code', async ({ page }) => {
  const email = uniqueEmail('mfa');
  await signUp(page, email);
  await createOrg(page, `Mfa Org ${Date.now()}`);
  await page.getByRole('link', { name: 'Ada Admin' }).click();
  await expect(page).toHaveURL(/\/account\/security$/);
  await waitForHydration(page);
  await expect(page.locator('[data-mfa-status]')).toHaveText('Off');
  await page.getByLabel('Current password').fill(PASSWORD);
  await page.getByRole('button', { name: 'Set up two-factor authentication' }).click();
  await expect(page.locator('.qr svg')).toBeVisible();
  const key = await page.getByLabel('Setup key').inputValue();

  await page.getByLabel('Code from the app').fill('000000');
  await page.getByRole('button', { name: 'Confirm and turn on' }).click();
  await expect(page.locator('.field-error')).toContainText('not valid');
  await page.getByLabel('Code from the app').fill(totp(key, Date.now() - 30_000));
  await page.getByRole('button', { name: 'Confirm and turn on' }).click();
  await expect(page.locator('[data-mfa-status]')).toHaveText('On');
  const codes = await page.locator('[data-recovery-codes] li').allTextContents();
  expect(codes).toHaveLength(10);

  // Sign out; the password alone is not enough any more.
  await page.goto('/');
  await waitForHydration(page);
  await page.getByRole('button', { name: 'Sign out', exact: true }).click();
  await expect(page).toHaveURL(/\/login/);
  await signIn(page, email);
  await expect(page).toHaveURL(/\/login\/mfa$/);
  await page.getByLabel('Code').fill(totp(key));
  await page.getByRole('button', { name: 'Verify' }).click();
  await expect(page).toHaveURL(/\/o\/mfa-org-/);

  // Without the phone: a recovery code, once.
  await waitForHydration(page);
  await page.getByRole('button', { name: 'Sign out', exact: true }).click();
  await expect(page).toHaveURL(/\/login/);
  await signIn(page, email);
  await expect(page).toHaveURL(/\/login\/mfa$/);
  await page.getByLabel('Code').fill(codes[0]);
  await page.getByRole('button', { name: 'Verify' }).click();
  await expect(page).toHaveURL(/\/o\/mfa-org-/);
  await page.goto('/account/security');
  await expect(page.locator('[data-mfa-status]').locator('..')).toContainText('9 recovery codes left');
});
