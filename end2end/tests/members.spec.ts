import { test, expect } from './fixtures';
import { request } from '@playwright/test';
import { createOrg, PASSWORD, signUp, uniqueEmail, waitForHydration } from './helpers';

test('an admin invites a colleague, changes their role, deactivates them, and the audit log shows it', async ({
  page,
  browser,
}) => {
  const admin = uniqueEmail('team-admin');
  const colleague = uniqueEmail('colleague');
  await signUp(page, admin);
  await createOrg(page, 'Team Co');
  const nav = page.getByRole('navigation', { name: 'Console' });
  await nav.getByRole('link', { name: 'Members' }).click();
  await waitForHydration(page);

  // Invite: the accept link is shown once, with a copy button.
  await page.getByLabel('Email').fill(colleague);
  await page.getByLabel('Role', { exact: true }).selectOption('member');
  await page.getByRole('button', { name: 'Invite' }).click();
  const link = await page.getByLabel('Accept link').inputValue();
  expect(link).toMatch(/\/invite\/inv_[A-Za-z0-9]+$/);
  await expect(page.locator('.list-row').filter({ hasText: colleague })).toBeVisible();

  // The colleague accepts in a browser of their own.
  const other = await browser.newContext();
  const theirs = await other.newPage();
  await theirs.goto(link);
  await expect(theirs.getByRole('heading', { name: 'Join Team Co' })).toBeVisible();
  await theirs.getByLabel('Your name').fill('Cole League');
  await theirs.getByLabel('Password').fill(PASSWORD);
  await theirs.getByRole('button', { name: 'Create account and join' }).click();
  await expect(theirs.getByRole('heading', { level: 1, name: 'Team Co' })).toBeVisible();
  await expect(theirs.getByText('Your role:')).toContainText('member');

  // The admin changes the role, then deactivates.
  await page.reload();
  await waitForHydration(page);
  const row = page.getByRole('row').filter({ hasText: colleague });
  await row.getByLabel(`Role of ${colleague}`).selectOption('viewer');
  await row.getByRole('button', { name: 'Change role' }).click();
  await expect(row.locator('.badge')).toHaveText('viewer');
  await row.getByRole('button', { name: 'Deactivate' }).click();
  await expect(row.locator('.status')).toHaveText('deactivated');
  await page.setViewportSize({ width: 1280, height: 860 });
  await page.screenshot({ path: 'screenshots/members.png', fullPage: true });

  // The colleague's open session ends on their next request.
  await theirs.reload();
  await expect(theirs).toHaveURL(/\/login\?return_to=/);
  await other.close();

  // The audit log tells the story, newest first.
  await nav.getByRole('link', { name: 'Audit log' }).click();
  const actions = page.locator('tbody tr td:nth-child(3)');
  await expect(actions.first()).toHaveText('member.deactivated');
  for (const action of ['member.role_changed', 'invitation.accepted', 'invitation.created', 'org.created']) {
    await expect(actions.filter({ hasText: action })).toHaveCount(1);
  }
  await page.getByLabel('Action').selectOption('member.role_changed');
  await page.getByRole('button', { name: 'Filter' }).click();
  await expect(page).toHaveURL(/action=member\.role_changed/);
  await expect(actions).toHaveCount(1);
  await expect(page.locator('tbody tr').first()).toContainText('"to":"viewer"');
});

test('without JavaScript: a new token secret is shown once and works; revoking asks for confirmation', async ({ browser }) => {
  const context = await browser.newContext({ javaScriptEnabled: false });
  const page = await context.newPage();
  const admin = uniqueEmail('nojs-admin');
  await signUp(page, admin);
  await createOrg(page, 'Quiet Forms');
  await page.getByRole('navigation', { name: 'Console' }).getByRole('link', { name: 'API tokens' }).click();
  await page.getByLabel('Name').fill('deploy bot');
  await page.getByRole('button', { name: 'Create token' }).click();
  const row = page.getByRole('row').filter({ hasText: 'deploy bot' });
  await expect(row).toBeVisible();
  // The secret comes back to the page once, through the redirect, and works.
  const secret = await page.getByLabel('Token “deploy bot”').inputValue();
  expect(secret.length).toBeGreaterThan(20);
  const api = await request.newContext({ baseURL: new URL(page.url()).origin });
  const me = await api.get('/api/v1/me', { headers: { authorization: `Bearer ${secret}` } });
  expect(me.status()).toBe(200);
  expect((await me.json()).authenticated_by).toBe('token');
  await api.dispose();
  await page.reload();
  await expect(page.getByLabel('Token “deploy bot”')).toHaveCount(0);
  // Revoking is behind a disclosure.
  await expect(row.getByRole('button', { name: 'Yes, revoke' })).toBeHidden();
  await row.getByText('Revoke…').click();
  await row.getByRole('button', { name: 'Yes, revoke' }).click();
  await expect(page.getByRole('row').filter({ hasText: 'deploy bot' })).toHaveCount(0);
  await expect(page.getByText('No API tokens')).toBeVisible();
  await context.close();
});

test('an admin creates a custom role and edits its permissions', async ({ page }) => {
  await signUp(page, uniqueEmail('roles-admin'));
  await createOrg(page, 'Role Play');
  await page.getByRole('navigation', { name: 'Console' }).getByRole('link', { name: 'Roles' }).click();
  await waitForHydration(page);
  await page.getByLabel('Name', { exact: true }).fill('support');
  await page.locator('#perm-members-read').check();
  await page.getByRole('button', { name: 'Create role' }).click();
  const row = page.getByRole('row').filter({ hasText: 'support' });
  await expect(row.locator('td').nth(1)).toHaveText('members:read');

  await row.getByText('Edit…').click();
  await row.locator('#edit-support-audit-read').check();
  await row.getByRole('button', { name: 'Save permissions' }).click();
  await expect(page.getByRole('row').filter({ hasText: 'support' }).locator('td').nth(1)).toHaveText(
    'members:read, audit:read',
  );
});
