import { test, expect } from './fixtures';
import { PASSWORD, createOrg, signIn, signUp, totp, uniqueEmail, waitForHydration } from './helpers';

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
