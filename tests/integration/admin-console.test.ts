import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import type { Browser, Page } from '../support/browser.ts';
import { backends, startTestIdp, type TestIdp, webAppClient } from '../support/idp.ts';
import { newBrowser, submitLogin } from '../support/rp.ts';

const backend = backends.at(-1)!;

describe(`admin console (${backend})`, () => {
  let idp: TestIdp;

  beforeAll(async () => {
    idp = await startTestIdp({ backend, env: { ADMIN_EMAIL: 'first@example.com', ADMIN_PASSWORD: 'first admin passphrase', LOGIN_MAX_FAILURES: '3' } });
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
    expect(actions.slice(0, 2)).toEqual(['Account disabled', 'Role granted']);
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

  it('shows each change as field: before -> after, never as JSON, in the viewing admin’s time zone', async () => {
    const zoned = await idp.idp.accounts.createAccount({ email: 'zoned@example.com', password: 'zoned passphrase 1', roles: ['admin'], emailVerified: true });
    await idp.idp.database.db.updateTable('accounts').set({ zoneinfo: 'America/New_York' }).where('id', '=', zoned.id).execute();
    const member = (await idp.idp.accounts.createAccount({ email: 'readable@example.com', password: null, name: 'Old Name' })).id;
    const { browser } = await signInToConsole('zoned');
    const page = await browser.open(`${idp.issuer}/admin/users/${member}`);
    expect(page.$('.created').text()).toMatch(/E[SD]T$/);
    await browser.submit(page, 'form.profile', { name: 'Read Able', zoneinfo: 'Asia/Tokyo' });

    const audit = await browser.open(`${idp.issuer}/admin/audit?target=${member}`);
    const row = audit.$('tbody tr').first();
    expect(row.find('td.action').text()).toBe('Profile changed');
    expect(row.find('td.target').text()).toBe('readable@example.com');
    const changes = row.find('.change-lines li').map((_i, line) => audit.$(line).text()).get();
    expect(changes).toEqual(['Name: Old Name → Read Able', 'Time zone: — → Asia/Tokyo']);
    expect(row.find('td.changes').text()).not.toMatch(/[{}[\]"]/);
    expect(row.find('td.when').text()).toMatch(/E[SD]T$/);
    expect(audit.$('main').text()).toContain('Times in America/New_York.');
  });

  it('filters the audit log by actor, action and dates with a GET form, and refuses a bad date', async () => {
    const member = (await idp.idp.accounts.createAccount({ email: 'filtered@example.com', password: null })).id;
    const { browser } = await signInToConsole('admin');
    const user = await browser.open(`${idp.issuer}/admin/users/${member}`);
    await browser.submit(user, 'form[action$="/roles"]', { role: 'guest' });
    await browser.submit((await browser.submit(user, 'form[action$="/disable"]')).page!, 'main form');

    const audit = await browser.open(`${idp.issuer}/admin/audit`);
    const form = audit.$('form[role=search]');
    expect(form.attr('method')).toBe('get');
    expect(form.find('select[name=action] option[value="users.disable"]').text()).toBe('Account disabled');
    const byAction = (await browser.submit(audit, 'form[role=search]', { target: member, action: 'users.disable' })).page!;
    expect(byAction.$('tbody tr td.action').map((_i, cell) => byAction.$(cell).text()).get()).toEqual(['Account disabled']);
    expect(byAction.$('select[name=action] option[selected]').attr('value')).toBe('users.disable');
    const byActor = (await browser.submit(audit, 'form[role=search]', { actor: 'ADMIN@example.com', target: member })).page!;
    expect(byActor.$('tbody tr')).toHaveLength(2);
    const byOther = (await browser.submit(audit, 'form[role=search]', { actor: 'moderator@example.com', target: member })).page!;
    expect(byOther.$('main p.empty').text()).toBe('No events to show.');
    const today = new Date().toISOString().slice(0, 10);
    const tomorrow = new Date(Date.now() + 36 * 3600_000).toISOString().slice(0, 10);
    expect((await browser.submit(audit, 'form[role=search]', { target: member, from: today, to: tomorrow })).page!.$('tbody tr')).toHaveLength(2);
    expect((await browser.submit(audit, 'form[role=search]', { target: member, from: '2099-01-01' })).page!.$('tbody tr')).toHaveLength(0);

    const bad = (await browser.submit(audit, 'form[role=search]', { from: '31/12/2026' })).page!;
    expect(bad.status).toBe(400);
    expect(bad.$('h1').text()).toBe('That filter is not valid');
    expect(bad.$('main p').first().text()).toContain('from: use a date like 2026-12-01');
    expect((await browser.submit(audit, 'form[role=search]', { from: '2026-12-02', to: '2026-12-01' })).page!.status).toBe(400);
  });

  it('keeps the filters across pages of the audit log', async () => {
    const member = (await idp.idp.accounts.createAccount({ email: 'many-changes@example.com', password: null })).id;
    const rows = Array.from({ length: 26 }, (_v, i) => ({ actor_id: null, actor_kind: 'cli', action: 'users.update', target_type: 'account', target_id: member, changes: JSON.stringify({ name: [`Name ${i}`, `Name ${i + 1}`] }) }));
    await idp.idp.database.db.insertInto('audit_events').values(rows).execute();
    const { browser } = await signInToConsole('admin');
    const first = await browser.open(`${idp.issuer}/admin/audit?actor=cli&target=${member}&action=users.update&from=2000-01-01`);
    expect(first.$('tbody tr')).toHaveLength(25);
    const next = new URL(first.$('a[rel=next]').attr('href')!, first.url);
    expect(Object.fromEntries(next.searchParams)).toEqual({ actor: 'cli', target: member, action: 'users.update', from: '2000-01-01', cursor: expect.any(String) });
    const second = await browser.open(next.href);
    expect(second.$('tbody tr')).toHaveLength(1);
    expect(second.$('.pagination').text()).toContain('26 found');
    expect(second.$('a[rel=next]')).toHaveLength(0);
    expect((await browser.open(new URL(second.$('a[rel=prev]').attr('href')!, second.url).href)).$('tbody tr')).toHaveLength(25);
  });

  it('pages through many people by Next and Previous, saying about how many there are', async () => {
    await sql`insert into accounts (email, name, metadata, created_at, updated_at)
      select 'throng' || lpad(g::text, 4, '0') || '@example.com', 'Throng ' || g, '{}', now() - g * interval '1 second', now() from generate_series(1, 1100) g`.execute(idp.idp.database.db);
    await sql`analyze accounts`.execute(idp.idp.database.db);
    const { browser } = await signInToConsole('admin');
    const first = await browser.open(`${idp.issuer}/admin?search=throng`);
    expect(first.$('main p.muted').first().text()).toMatch(/^about [\d,]+ accounts$/);
    expect(rowsOf(first).slice(0, 2)).toEqual(['throng0001@example.com', 'throng0002@example.com']);
    expect(first.$('a[rel=prev]')).toHaveLength(0);
    const second = await browser.open(new URL(first.$('a[rel=next]').attr('href')!, first.url).href);
    expect(new URL(second.url).searchParams.get('search')).toBe('throng');
    expect(rowsOf(second)[0]).toBe('throng0026@example.com');
    const back = await browser.open(new URL(second.$('a[rel=prev]').attr('href')!, second.url).href);
    expect(rowsOf(back)).toEqual(rowsOf(first));
    expect(rowsOf(await browser.open(new URL(second.$('a[rel=first]').attr('href')!, second.url).href))).toEqual(rowsOf(first));
    // Few matches: counted exactly.
    expect((await browser.open(`${idp.issuer}/admin?search=throng0042`)).$('main p.muted').first().text()).toBe('1 accounts');
    const altered = await browser.open(`${idp.issuer}/admin?cursor=bm9uc2Vuc2U`);
    expect(altered.status).toBe(400);
    expect(altered.$('h1').text()).toBe('That page link is not valid');
  });

  it('audits the first super admin of ADMIN_EMAIL as start-up, and a lockout as a security event', async () => {
    const locked = (await idp.idp.accounts.createAccount({ email: 'guessed@example.com', password: 'the real passphrase', emailVerified: true })).id;
    for (let i = 0; i < 3; i += 1) {
      await idp.idp.accounts.authenticate('guessed@example.com', 'a wrong guess', { ip: '203.0.113.9', userAgent: null }).catch(() => undefined);
    }
    const { browser } = await signInToConsole('admin');
    const startup = await browser.open(`${idp.issuer}/admin/audit?actor=startup`);
    const row = startup.$('tbody tr').first();
    expect(row.find('td.actor').text()).toBe('Start-up (ADMIN_EMAIL)');
    expect(row.find('td.action').text()).toBe('Account created');
    expect(row.find('td.target').text()).toBe('first@example.com');
    expect(row.find('.change-lines').text()).toContain('Roles: super_admin, user');
    await idp.idp.database.db.insertInto('audit_events').values({ actor_id: null, actor_kind: 'cli', action: 'clients.create', target_type: 'client', target_id: 'from-the-cli' }).execute();
    const cli = await browser.open(`${idp.issuer}/admin/audit?actor=cli&target=from-the-cli`);
    expect(cli.$('tbody tr td.actor').map((_i, cell) => cli.$(cell).text()).get()).toEqual(['Command line']);

    const lockout = await browser.open(`${idp.issuer}/admin/audit?action=account.lockout&target=${locked}`);
    const event = lockout.$('tbody tr').first();
    expect(event.find('td.action').text()).toBe('Sign-in locked after failures');
    expect(event.find('td.actor').text()).toBe('system');
    expect(event.find('td.ip').text()).toBe('203.0.113.9');
    // Each failure is in the person's sign-in history, not one audit row per guess.
    expect(lockout.$('tbody tr')).toHaveLength(1);
    const user = await browser.open(`${idp.issuer}/admin/users/${locked}`);
    expect(user.$('table.history tbody tr').first().find('td').eq(1).text()).toBe('wrong password');
  });

  it('offers the supported languages and the known time zones as lists, and refuses anything else', async () => {
    const member = (await idp.idp.accounts.createAccount({ email: 'choices@example.com', password: null })).id;
    const { browser } = await signInToConsole('admin');
    const page = await browser.open(`${idp.issuer}/admin/users/${member}`);
    expect(page.$('select#profile-locale option').map((_i, option) => page.$(option).attr('value')).get()).toEqual(['', 'en', 'de']);
    expect(page.$('select#profile-locale option[value=de]').text()).toBe('German (de)');
    expect(page.$('select#profile-zoneinfo option[value="Europe/Berlin"]')).toHaveLength(1);
    const saved = (await browser.submit(page, 'form.profile', { locale: 'de', zoneinfo: 'Europe/Berlin' })).page!;
    expect(saved.$('select#profile-locale option[selected]').attr('value')).toBe('de');
    expect(saved.$('select#profile-zoneinfo option[selected]').attr('value')).toBe('Europe/Berlin');

    const badLocale = (await browser.submit(saved, 'form.profile', { locale: 'xx' })).page!;
    expect(badLocale.status).toBe(400);
    expect(badLocale.$('main p').first().text()).toBe('Locale: choose a language from the list.');
    const badZone = (await browser.submit(saved, 'form.profile', { zoneinfo: 'Mars/Olympus' })).page!;
    expect(badZone.status).toBe(400);
    expect(badZone.$('main p').first().text()).toBe('Time zone: choose a zone from the list.');
  });

  it('names browsers in the sign-in history, keeping the raw user agent in a title', async () => {
    const ua = 'Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36';
    const member = (await idp.idp.accounts.createAccount({ email: 'browsing@example.com', password: 'browsing passphrase', emailVerified: true })).id;
    await idp.idp.accounts.authenticate('browsing@example.com', 'browsing passphrase', { ip: '198.51.100.7', userAgent: ua });
    const { browser } = await signInToConsole('admin');
    const page = await browser.open(`${idp.issuer}/admin/users/${member}`);
    const device = page.$('table.history td.device span').first();
    expect(device.text()).toBe('Chrome on Linux');
    expect(device.attr('title')).toBe(ua);
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
    const { browser } = await signInToConsole('admin');
    const page = await browser.open(`${idp.issuer}/admin?search=member`);
    expect(page.$('tbody tr').length).toBe(25);
    expect(page.$('.pagination').text()).toContain(`${page.$('.muted').first().text().split(' ')[0]} found`);
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
