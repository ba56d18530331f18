import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import type { Browser, Page } from '../support/browser.ts';
import { backends, startTestIdp, type TestIdp } from '../support/idp.ts';
import { newBrowser, submitLogin } from '../support/rp.ts';
import { linkIn, startSmtpServer, type TestSmtpServer } from '../support/smtp.ts';

const backend = backends.at(-1)!;

/** The cookies a thief needs to use someone's console: the console session and the CSRF secret, nothing of the IdP's own session. */
const CONSOLE_COOKIES = ['admin_console', 'admin_console.sig', 'csrf_secret', 'csrf_secret.sig'];

describe(`admin console sessions and peer admins (${backend})`, () => {
  let idp: TestIdp;
  let smtp: TestSmtpServer;
  let superAdmin: Browser;
  let counter = 0;

  /** Opens /admin, signs in through the IdP, and comes back to the console's user list. */
  async function signInToConsole(email: string, password: string): Promise<{ browser: Browser; page: Page }> {
    const browser = newBrowser();
    const login = await browser.open(`${idp.issuer}/admin`);
    const page = (await submitLogin(browser, login, email, password)).page!;
    expect(page.$('h1').text()).toBe('Users');
    return { browser, page };
  }

  async function newAccount(role: string) {
    counter += 1;
    const email = `${role}${counter}@example.com`;
    const password = `${role} ${counter} passphrase`;
    const { id } = await idp.idp.accounts.createAccount({ email, password, roles: [role], emailVerified: true });
    return { id, email, password };
  }

  /** A second client holding copies of the console cookies only. */
  async function copyConsoleCookies(browser: Browser): Promise<Browser> {
    const thief = newBrowser();
    for (const cookie of await browser.jar.getCookies(`${idp.issuer}/admin/users`)) {
      if (CONSOLE_COOKIES.includes(cookie.key)) await thief.jar.setCookie(cookie.clone()!, `${idp.issuer}/admin`);
    }
    return thief;
  }

  /** What /admin answers this client: the user list (200) or a redirect to sign in. */
  async function consoleAnswer(browser: Browser) {
    const response = await browser.fetch(`${idp.issuer}/admin`);
    return { status: response.status, location: response.headers.get('location'), body: await response.text() };
  }

  /** The super admin presses an action's button on the user's page and confirms it, in the console. */
  async function superAdminDoes(action: string, targetId: string, fields: Record<string, string> = {}) {
    const page = await superAdmin.open(`${idp.issuer}/admin/users/${targetId}`);
    const confirm = (await superAdmin.submit(page, `form[action$="/${action}"]`, fields)).page!;
    return (await superAdmin.submit(confirm, 'main form')).page!;
  }

  const auditBy = (actorId: string) => idp.idp.database.db.selectFrom('audit_events').selectAll().where('actor_id', '=', actorId).orderBy('id').execute();

  beforeAll(async () => {
    smtp = await startSmtpServer();
    idp = await startTestIdp({ backend, env: { SMTP_URL: smtp.url } });
    const boss = await newAccount('super_admin');
    superAdmin = (await signInToConsole(boss.email, boss.password)).browser;
  });
  afterAll(async () => {
    await idp?.destroy();
    await smtp?.close();
  });

  it('refuses a copied console cookie once the admin is disabled', async () => {
    const admin = await newAccount('admin');
    const { browser } = await signInToConsole(admin.email, admin.password);
    const thief = await copyConsoleCookies(browser);
    expect((await consoleAnswer(thief)).status).toBe(200);

    expect((await superAdminDoes('disable', admin.id)).$('[role=status]').text()).toBe('Account disabled');
    const refused = await consoleAnswer(thief);
    expect(refused).toMatchObject({ status: 303, location: '/admin/login' });
    expect(refused.body).not.toContain(admin.email);
    expect((await consoleAnswer(browser)).status).toBe(303);
    // Enabled again, the old session stays dead: the person signs in anew.
    await superAdminDoes('enable', admin.id);
    expect((await consoleAnswer(thief)).status).toBe(303);
  });

  it('refuses a copied console cookie once the admin is deleted, and audits nothing in their name', async () => {
    const admin = await newAccount('admin');
    const victim = await newAccount('user');
    const { browser } = await signInToConsole(admin.email, admin.password);
    const victimPage = await browser.open(`${idp.issuer}/admin/users/${victim.id}`);
    const thief = await copyConsoleCookies(browser);

    expect((await superAdminDoes('delete', admin.id)).$('[role=status]').text()).toBe('Account deleted');
    expect(await consoleAnswer(thief)).toMatchObject({ status: 303, location: '/admin/login' });
    const attempt = await thief.submit(victimPage, 'form[action$="/disable"]', { confirmed: 'yes' });
    expect(attempt.page?.$('h1').text()).toBe('Sign in');
    const after = await idp.idp.database.db.selectFrom('accounts').select('status').where('id', '=', victim.id).executeTakeFirstOrThrow();
    expect(after.status).toBe('active');
    expect(await auditBy(admin.id)).toEqual([]);
  });

  it('ends the session itself at console sign-out, so a copied cookie is refused', async () => {
    const admin = await newAccount('admin');
    const { browser, page } = await signInToConsole(admin.email, admin.password);
    const thief = await copyConsoleCookies(browser);
    expect((await consoleAnswer(thief)).status).toBe(200);

    await browser.submit(page, 'form[action="/admin/logout"]');
    expect(await consoleAnswer(thief)).toMatchObject({ status: 303, location: '/admin/login' });
  });

  it('refuses a copied console cookie once the admin resets their password', async () => {
    const admin = await newAccount('admin');
    const { browser } = await signInToConsole(admin.email, admin.password);
    const thief = await copyConsoleCookies(browser);
    expect((await consoleAnswer(thief)).status).toBe(200);

    const owner = newBrowser();
    await owner.submit(await owner.open(`${idp.issuer}/account/forgot-password`), 'form', { email: admin.email });
    const form = await owner.open(linkIn(await smtp.waitFor(admin.email, /Reset your password/), '/account/reset-password?token='));
    const done = (await owner.submit(form, 'form', { password: 'a brand new passphrase', password_confirmation: 'a brand new passphrase' })).page!;
    expect(done.$('h1').text()).toBe('Your password was changed');
    expect(await consoleAnswer(thief)).toMatchObject({ status: 303, location: '/admin/login' });
  });

  it('stores only a hash of the console session id', async () => {
    const admin = await newAccount('admin');
    const { browser } = await signInToConsole(admin.email, admin.password);
    const cookie = (await browser.jar.getCookies(`${idp.issuer}/admin`)).find((c) => c.key === 'admin_console')!;
    const rows = await idp.idp.database.db.selectFrom('console_sessions').selectAll().where('account_id', '=', admin.id).execute();
    expect(rows).toHaveLength(1);
    expect(JSON.stringify(rows)).not.toContain(cookie.value);
    expect(rows[0]!.id_hash).toMatch(/^[0-9a-f]{64}$/);
  });

  describe('peer admins', () => {
    it("refuses an admin changing another admin's email, second factors or password, audited as denied", async () => {
      const admin = await newAccount('admin');
      const peer = await newAccount('admin');
      const { browser } = await signInToConsole(admin.email, admin.password);
      const enrollment = await idp.idp.secondFactors.startTotp(peer.id, peer.email);
      await idp.idp.secondFactors.confirmTotp(peer.id, await idp.idp.secondFactors.currentCode(enrollment.secret), null);
      // The peer's own notice of turning on two-step sign-in arrives first: no mail after it may.
      await smtp.waitFor(peer.email, /Two-step sign-in was turned on/);
      const before = smtp.received.length;

      const peerPage = await browser.open(`${idp.issuer}/admin/users/${peer.id}`);
      const email = (await browser.submit(peerPage, 'form.profile', { email: 'attacker@evil.example' })).page!;
      expect(email.status).toBe(403);
      expect(email.$('h1').text()).toBe('Not allowed');
      for (const action of ['second-factors/reset', 'password-reset']) {
        const refused = (await browser.submit(peerPage, `form[action$="/${action}"]`, { confirmed: 'yes' })).page!;
        expect(refused.status, action).toBe(403);
      }
      const account = await idp.idp.database.db.selectFrom('accounts').select(['email', 'email_verified']).where('id', '=', peer.id).executeTakeFirstOrThrow();
      expect(account).toEqual({ email: peer.email, email_verified: true });
      expect(await idp.idp.secondFactors.status(peer.id)).toMatchObject({ totp: true });
      expect(smtp.received.slice(before).filter((mail) => mail.to === peer.email)).toEqual([]);
      expect((await auditBy(admin.id)).map(({ action, outcome, target_id }) => ({ action, outcome, target_id }))).toEqual([
        { action: 'users.email', outcome: 'denied', target_id: peer.id },
        { action: 'users.second-factors.reset', outcome: 'denied', target_id: peer.id },
        { action: 'users.password-reset', outcome: 'denied', target_id: peer.id },
      ]);

      // The name is no way in: an admin may still fix it. And a super admin may do all of it.
      const renamed = (await browser.submit(peerPage, 'form.profile', { name: 'Renamed Peer' })).page!;
      expect(renamed.$('[role=status]').text()).toBe('Profile saved');
      expect((await superAdminDoes('second-factors/reset', peer.id)).$('[role=status]').text()).toBe('Two-step verification reset');
      const bySuper = (await superAdmin.submit(await superAdmin.open(`${idp.issuer}/admin/users/${peer.id}`), 'form.profile', { email: `moved${counter}@example.com` })).page!;
      expect(bySuper.$('[role=status]').text()).toBe('Profile saved');
    });

    it('lets an admin still change an ordinary user’s email', async () => {
      const admin = await newAccount('admin');
      const member = await newAccount('user');
      const { browser } = await signInToConsole(admin.email, admin.password);
      const saved = (await browser.submit(await browser.open(`${idp.issuer}/admin/users/${member.id}`), 'form.profile', { email: `member-moved${counter}@example.com` })).page!;
      expect(saved.$('[role=status]').text()).toBe('Profile saved');
    });
  });
});
