import { test, expect } from './fixtures';
import { createOrg, PASSWORD, signIn, signUp, uniqueEmail, waitForHydration } from './helpers';

test('a new admin signs up, creates an organization, signs out and in again', async ({ page }) => {
  const email = uniqueEmail('admin');
  await signUp(page, email);
  await createOrg(page, 'Acme Robotics');
  await expect(page).toHaveURL(/\/o\/acme-robotics/);
  await expect(page.getByText('Your role:')).toContainText('owner');

  // The console shell: navigation and an organization switcher listing it.
  const nav = page.getByRole('navigation', { name: 'Console' });
  for (const item of ['Overview', 'Members', 'Security', 'Audit log']) {
    await expect(nav.getByRole('link', { name: item })).toBeVisible();
  }
  await page.locator('.org-switcher summary').click();
  await expect(page.locator('.org-switcher').getByRole('link', { name: /Acme Robotics/ })).toBeVisible();
  await page.locator('.org-switcher summary').click();

  await page.setViewportSize({ width: 1280, height: 760 });
  await waitForHydration(page);
  await page.screenshot({ path: 'screenshots/console.png' });

  await page.getByRole('button', { name: 'Sign out' }).click();
  await expect(page).toHaveURL(/\/login$/);

  // Signed out: the console sends us to sign in and back.
  await page.goto('/o/acme-robotics/members');
  await expect(page).toHaveURL(/\/login\?return_to=\/o\/acme-robotics\/members$/);
  await signIn(page, email);
  await expect(page).toHaveURL(/\/o\/acme-robotics\/members$/);
  await expect(page.getByRole('row').filter({ hasText: email })).toBeVisible();
});

test('a wrong password is refused with one clear message', async ({ page }) => {
  const email = uniqueEmail('wrong');
  await signUp(page, email);
  await page.context().clearCookies();
  await page.goto('/login');
  await signIn(page, email, 'not the password at all');
  await expect(page.getByRole('alert')).toHaveText('Email or password is wrong.');
  await expect(page).toHaveURL(/\/login/);
  await signIn(page, email, PASSWORD);
  await expect(page).toHaveURL(/\/orgs\/new$/);
});

test.describe('without JavaScript', () => {
  test.use({ javaScriptEnabled: false });

  test('sign-up, organization, sign-out and sign-in all work', async ({ page }) => {
    const email = uniqueEmail('nojs');
    await signUp(page, email, 'No Script');
    await createOrg(page, 'Plain Forms Inc');
    await page.getByRole('navigation', { name: 'Console' }).getByRole('link', { name: 'Members' }).click();
    await expect(page).toHaveURL(/\/o\/plain-forms-inc\/members$/);
    await expect(page.getByRole('row').filter({ hasText: email })).toBeVisible();

    await page.getByRole('button', { name: 'Sign out' }).click();
    await expect(page).toHaveURL(/\/login$/);

    await signIn(page, email, 'definitely wrong pw');
    await expect(page.getByRole('alert')).toHaveText('Email or password is wrong.');

    await page.goto('/login');
    await signIn(page, email);
    await expect(page).toHaveURL(/\/o\/plain-forms-inc$/);
    await expect(page.getByRole('heading', { level: 1, name: 'Plain Forms Inc' })).toBeVisible();
  });
});
