import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import type { Browser, Page } from '../support/browser.ts';
import { backends, startTestIdp, type TestIdp, webAppClient } from '../support/idp.ts';
import { newBrowser, submitLogin } from '../support/rp.ts';

const backend = backends.at(-1)!;

describe(`admin console (${backend})`, () => {
  let idp: TestIdp;

  beforeAll(async () => {
    idp = await startTestIdp({ backend });
    for (const role of ['admin', 'moderator', 'user'] as const) {
      await idp.idp.accounts.createAccount({ email: `${role}@example.com`, password: `${role} passphrase 1`, roles: [role], emailVerified: true });
    }
    for (let i = 0; i < 27; i += 1) {
      await idp.idp.accounts.createAccount({ email: `member${String(i).padStart(2, '0')}@example.com`, password: null, name: `Member ${i}` });
    }
  });
  afterAll(() => idp?.destroy());

  /** Opens /admin, is sent to sign in through the IdP, and comes back to the console. */
  async function signInToConsole(role: string): Promise<{ browser: Browser; page: Page }> {
    const browser = newBrowser();
    const login = await browser.open(`${idp.issuer}/admin`);
    expect(login.$('h1').text()).toBe('Sign in');
    expect(login.$('.lead').text()).toContain('Admin console');
    const result = await submitLogin(browser, login, `${role}@example.com`, `${role} passphrase 1`);
    return { browser, page: result.page! };
  }

  const rowsOf = (page: Page) => page.$('tbody tr').map((_i, row) => page.$(row).find('td').first().text().trim()).get();

  it('lets an admin find a user, grant a role, disable the account after confirming, and see it audited', async () => {
    const { browser, page: users } = await signInToConsole('admin');
    expect(users.$('h1').text()).toBe('Users');

    const found = (await browser.submit(users, 'form[role=search]', { search: 'member07' })).page!;
    expect(rowsOf(found)).toEqual(['member07@example.com']);
    const member = await browser.open(new URL(found.$('tbody a').attr('href')!, found.url).href);
    expect(member.$('h1').text()).toBe('member07@example.com');

    const granted = (await browser.submit(member, 'form[action$="/roles"]', { role: 'moderator' })).page!;
    expect(granted.$('[role=status]').text()).toBe('Role granted');
    expect(granted.$('.roles').text()).toContain('moderator');

    const confirm = (await browser.submit(granted, 'form[action$="/disable"]')).page!;
    expect(confirm.$('h1').text()).toBe('Are you sure?');
    expect(confirm.$('p').first().text()).toContain('Disable this account?');
    const disabled = (await browser.submit(confirm, 'main form')).page!;
    expect(disabled.$('[role=status]').text()).toBe('Account disabled');
    expect(disabled.$('.facts').text()).toContain('disabled');

    const audit = await browser.open(`${idp.issuer}/admin/audit`);
    const actions = audit.$('tbody tr').map((_i, row) => audit.$(row).find('td').eq(2).text()).get();
    expect(actions.slice(0, 2)).toEqual(['users.disable', 'users.roles.grant']);
  });

  it('lists each person with their roles, highest first', async () => {
    await idp.idp.accounts.createAccount({ email: 'tworoles@example.com', password: null, roles: ['user', 'moderator'] });
    const { browser, page: users } = await signInToConsole('admin');
    expect(users.$('thead th').eq(2).text()).toBe('Roles');
    const found = (await browser.submit(users, 'form[role=search]', { search: 'tworoles' })).page!;
    expect(found.$('tbody td.roles').text()).toBe('moderator, user');
    const admins = (await browser.submit(users, 'form[role=search]', { search: 'admin@example.com' })).page!;
    expect(admins.$('tbody td.roles').text()).toBe('admin');
  });

  it('offers the least powerful role first when granting one', async () => {
    const member = (await idp.idp.accounts.createAccount({ email: 'grantee@example.com', password: null })).id;
    const { browser } = await signInToConsole('admin');
    const page = await browser.open(`${idp.issuer}/admin/users/${member}`);
    const options = page.$('form[action$="/roles"] select[name=role] option');
    expect(options.map((_i, option) => page.$(option).attr('value')).get()).toEqual(['guest', 'moderator', 'admin', 'super_admin']);
    expect(options.filter('[selected]').attr('value')).toBe('guest');
    // Granting without choosing grants the default: the least powerful role.
    const granted = (await browser.submit(page, 'form[action$="/roles"]')).page!;
    expect(granted.$('[role=status]').text()).toBe('Role granted');
    expect(granted.$('.roles li').map((_i, li) => granted.$(li).contents().first().text().trim()).get()).toEqual(['user', 'guest']);
  });

  it("names the actor of each audited action by email, and says so when nothing matches", async () => {
    const member = (await idp.idp.accounts.createAccount({ email: 'audited@example.com', password: null })).id;
    const { browser } = await signInToConsole('admin');
    const page = await browser.open(`${idp.issuer}/admin/users/${member}`);
    await browser.submit(page, 'form[action$="/roles"]', { role: 'guest' });
    const audit = await browser.open(`${idp.issuer}/admin/audit?target=${member}`);
    const actor = audit.$('tbody tr').first().find('td').eq(1);
    expect(actor.text()).toBe('admin@example.com');
    expect(actor.find('a').attr('href')).toMatch(/^\/admin\/users\/[0-9a-f-]{36}$/);

    const none = await browser.open(`${idp.issuer}/admin/audit?action=nothing.happened`);
    expect(none.$('table')).toHaveLength(0);
    expect(none.$('main p.empty').text()).toBe('No events to show.');
  });

  it('shows who has two-step verification and resets it after confirming', async () => {
    const member = (await idp.idp.accounts.createAccount({ email: 'twostep@example.com', password: 'two step passphrase', emailVerified: true })).id;
    const enrollment = await idp.idp.secondFactors.startTotp(member, 'twostep@example.com');
    await idp.idp.secondFactors.confirmTotp(member, await idp.idp.secondFactors.currentCode(enrollment.secret), null);
    const { browser } = await signInToConsole('admin');
    const page = await browser.open(`${idp.issuer}/admin/users/${member}`);
    expect(page.$('.second-factor').text()).toBe('yes');
    const confirm = (await browser.submit(page, 'form[action$="/second-factors/reset"]')).page!;
    expect(confirm.$('p').first().text()).toContain('authenticator app and recovery codes');
    const reset = (await browser.submit(confirm, 'main form')).page!;
    expect(reset.$('[role=status]').text()).toBe('Two-step verification reset');
    expect(reset.$('.second-factor').text()).toBe('no');
    expect(reset.$('form[action$="/second-factors/reset"]')).toHaveLength(0);
  });

  it('invites a person and edits a profile, refusing a stale edit', async () => {
    const { browser, page } = await signInToConsole('admin');
    const invited = (await browser.submit(page, 'form[action="/admin/users"]', { email: 'newbie@example.com', name: 'New Bie' })).page!;
    expect(invited.$('[role=status]').text()).toBe('Invitation mailed');
    expect(invited.$('h1').text()).toBe('newbie@example.com');

    const saved = (await browser.submit(invited, 'form.profile', { name: 'Newbie Renamed', locale: 'de' })).page!;
    expect(saved.$('[role=status]').text()).toBe('Profile saved');
    expect(saved.$('#profile-name').val()).toBe('Newbie Renamed');
    // The first page's form is now stale: someone (this admin) saved since it was shown.
    const stale = (await browser.submit(invited, 'form.profile', { name: 'Lost Update' })).page!;
    expect(stale.status).toBe(409);
    expect(stale.$('h1').text()).toBe('Someone else changed this account');
  });

  it('paginates the user table', async () => {
    const { browser, page } = await signInToConsole('admin');
    expect(page.$('tbody tr').length).toBe(25);
    expect(page.$('.pagination').text()).toContain('Page 1 of 2');
    const second = await browser.open(new URL(page.$('a[rel=next]').attr('href')!, page.url).href);
    expect(second.$('tbody tr').length).toBe(Number(page.$('.muted').first().text().split(' ')[0]) - 25);
    expect(second.$('a[rel=prev]').length).toBe(1);
  });

  it('registers a client and shows its secret once', async () => {
    const { browser } = await signInToConsole('admin');
    const clients = await browser.open(`${idp.issuer}/admin/clients`);
    const made = (await browser.submit(clients, 'form.stacked:not(.edit-client)', { name: 'Console App', redirect_uris: 'https://app.example.com/callback' })).page!;
    expect(made.status, made.$('main').text()).toBe(201);
    expect(made.$('.client-secret').text()).toMatch(/^[\w-]{40,}$/);
    const listed = await browser.open(`${idp.issuer}/admin/clients`);
    expect(listed.html).not.toContain(made.$('.client-secret').text());
    const bad = (await browser.submit(listed, 'form.stacked:not(.edit-client)', { name: 'Bad', redirect_uris: 'http://app.example.com/cb' })).page!;
    expect(bad.status).toBe(400);

    const edited = (await browser.submit(listed, 'form.edit-client', { redirect_uris: 'https://app.example.com/callback\nhttps://app.example.com/other' })).page!;
    expect(edited.$('tbody').text()).toContain('https://app.example.com/other');
  });

  it('lists the clients of CLIENTS_FILE read-only, marked as from the file, without their secrets', async () => {
    const { browser } = await signInToConsole('admin');
    const clients = await browser.open(`${idp.issuer}/admin/clients`);
    const row = clients.$('tbody tr').filter((_i, tr) => clients.$(tr).find('code').text() === webAppClient.client_id);
    expect(row).toHaveLength(1);
    expect(row.find('td').first().text()).toBe(webAppClient.client_name);
    expect(row.find('td').eq(2).text()).toBe(webAppClient.redirect_uris.join(' '));
    expect(row.find('td').last().text().trim()).toBe('from the clients file');
    expect(clients.$(`form[action^="/admin/clients/${webAppClient.client_id}"]`)).toHaveLength(0);
    expect(clients.html).not.toContain(webAppClient.client_secret);
  });

  it('lets a moderator view but not grant roles, and keeps ordinary users out', async () => {
    const { browser, page } = await signInToConsole('moderator');
    expect(page.$('h1').text()).toBe('Users');
    const member = await browser.open(new URL(page.$('tbody a').first().attr('href')!, page.url).href);
    const refused = (await browser.submit(member, 'form[action$="/roles"]', { role: 'admin' })).page!;
    expect(refused.status).toBe(403);
    expect(refused.$('h1').text()).toBe('Not allowed');

    const { page: userPage } = await signInToConsole('user');
    expect(userPage.status).toBe(403);
  });
});
