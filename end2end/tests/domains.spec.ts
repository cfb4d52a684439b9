import { openSecurityTab } from './sso-helpers';
import { test, expect } from './fixtures';
import { execFileSync } from 'node:child_process';
import path from 'node:path';
import { createOrg, signUp, uniqueEmail, waitForHydration } from './helpers';

const root = path.resolve(__dirname, '..', '..');
const dnsControl = `http://127.0.0.1:${process.env.E2E_DNS_CONTROL_PORT ?? 5355}`;

async function publishTxt(name: string, value: string): Promise<void> {
  const res = await fetch(`${dnsControl}/records`, { method: 'POST', body: JSON.stringify({ name, value }) });
  expect(res.ok).toBe(true);
}

/** `latchkey operator grant` against the database of the server under test. */
function grantOperator(email: string): void {
  execFileSync(path.join(root, process.env.LATCHKEY_BIN ?? 'target/debug/latchkey'), ['operator', 'grant', email], {
    cwd: root,
    env: { ...process.env, LATCHKEY_DATA_DIR: 'end2end/.tmp/data', LATCHKEY_SECRET_KEY: 'e2e-secret-key-e2e-secret-key-e2e-secret-key' },
    stdio: 'pipe',
  });
}

test('an admin verifies a domain through DNS and an operator approves another by hand', async ({ page, browser }) => {
  const suffix = `${Date.now()}${Math.floor(Math.random() * 1000)}`;
  const dnsDomain = `dns-${suffix}.example.com`;
  const manualDomain = `manual-${suffix}.example.com`;
  await signUp(page, uniqueEmail('domains-admin'));
  await createOrg(page, `Domain Owners ${suffix}`);
  await page.getByRole('navigation', { name: 'Console' }).getByRole('link', { name: 'Security' }).click();
  await openSecurityTab(page, 'Domains');
  await waitForHydration(page);
  await expect(page.getByText('No domains yet')).toBeVisible();

  // A bad name is refused next to the field.
  await page.getByLabel('Domain', { exact: true }).fill('co.uk');
  await page.getByRole('button', { name: 'Add domain' }).click();
  await expect(page.locator('.field-error')).toContainText('public suffix');

  await page.getByLabel('Domain', { exact: true }).fill(dnsDomain);
  await page.getByRole('button', { name: 'Add domain' }).click();
  const row = page.locator(`[data-domain="${dnsDomain}"]`);
  await expect(row.locator('[data-status]')).toHaveText('pending');
  const txtName = await row.getByLabel('TXT record name').inputValue();
  const txtValue = await row.getByLabel('TXT record value').inputValue();
  expect(txtName).toBe(`_latchkey-challenge.${dnsDomain}`);
  expect(txtValue).toMatch(/^latchkey-verification=[A-Za-z0-9]{32}$/);

  // Before publishing: a readable reason.
  await row.getByRole('button', { name: 'Verify now' }).click();
  await expect(row.locator('.field-error')).toContainText('No TXT record found');

  await publishTxt(txtName, txtValue);
  await row.getByRole('button', { name: 'Verify now' }).click();
  await expect(row.locator('[data-status]')).toContainText('verified by DNS');

  // A second domain, left to the operator.
  await page.getByLabel('Domain', { exact: true }).fill(manualDomain);
  await page.getByRole('button', { name: 'Add domain' }).click();
  await expect(page.locator(`[data-domain="${manualDomain}"] [data-status]`)).toHaveText('pending');

  const operatorEmail = uniqueEmail('operator');
  const staff = await browser.newContext();
  const op = await staff.newPage();
  await signUp(op, operatorEmail, 'Ops Person');
  grantOperator(operatorEmail);
  await op.goto('/operator');
  const pendingRow = op.getByRole('row').filter({ hasText: manualDomain });
  await pendingRow.getByRole('button', { name: 'Approve' }).click();
  await expect(op.getByRole('row').filter({ hasText: manualDomain })).toHaveCount(0);
  await staff.close();

  await page.reload();
  await expect(page.locator(`[data-domain="${manualDomain}"] [data-status]`)).toContainText('verified by our team');
  await page.setViewportSize({ width: 1280, height: 900 });
  await page.evaluate(() => window.scrollTo(0, 0));
  await page.screenshot({ path: 'screenshots/domains.png', fullPage: true });
});

test('the operator page is closed to everyone else', async ({ page }) => {
  await signUp(page, uniqueEmail('not-operator'));
  await page.goto('/operator');
  await expect(page.getByRole('alert')).toContainText('Only platform operators');
  await page.context().clearCookies();
  await page.goto('/operator');
  await expect(page).toHaveURL(/\/login\?return_to=\/operator$/);
});
