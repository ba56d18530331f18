import { Readable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { importUsers, passwordHashFormat, userRecords } from '../../src/accounts/index.ts';
import { backends, startTestIdp, type TestIdp, webAppClient } from '../support/idp.ts';
import { legacyHashes } from '../support/legacy-hashes.ts';
import { exchangeCode, newBrowser, relyingParty, signIn, startAuthorization, submitLogin } from '../support/rp.ts';

/** The hash each stack writes by default, as an import would store it: one person per format. */
const imported = [
  'passlib 1.7.4 bcrypt (FastAPI default, cost 12)',
  'passlib 1.7.4 pbkdf2_sha256 (default rounds)',
  'Werkzeug 2.2.2 (default)',
  'Werkzeug 3.1.8 (default)',
  'Django 3.2.25 (default)',
  'argon2-cffi 21.1.0 argon2i',
  'Django 3.2.25 Argon2PasswordHasher',
].map((library, i) => {
  const fixture = legacyHashes.find((candidate) => candidate.library === library);
  if (!fixture) throw new Error(`no fixture from ${library}: regenerate tests/fixtures/legacy-hashes.json`);
  return [library, { ...fixture, email: `imported${i}@example.com` }] as const;
});

describe('people imported with the password hash of their old back end', () => {
  let idp: TestIdp;
  const storedHash = async (email: string) =>
    (await idp.idp.database.db.selectFrom('accounts').select('password_hash').where('email', '=', email).executeTakeFirstOrThrow()).password_hash;

  /** Through the web app's pages, as the person would; the tokens the app gets back. */
  async function signInAtApp(credentials: { email: string; password: string }) {
    const config = await relyingParty(idp.issuer, webAppClient);
    const start = await startAuthorization(config, { scope: 'openid email' });
    return exchangeCode(config, await signIn(newBrowser(), start.url, credentials), start);
  }

  beforeAll(async () => {
    idp = await startTestIdp({ backend: backends.includes('postgres') ? 'postgres' : 'pglite' });
    // Through the import, as an operator moves them: one JSON line per person, the hash as their back end stored it.
    const file = imported.map(([, person]) => JSON.stringify({ email: person.email, email_verified: true, password_hash: person.hash })).join('\n');
    const report = await importUsers(idp.idp.database.db, userRecords(Readable.from([file]), 'jsonl'), {
      onConflict: 'fail',
      dryRun: false,
      skipInvalid: false,
      createRoles: false,
      roleMap: new Map(),
    });
    expect(report).toMatchObject({ imported: imported.length, invalid: 0, written: true });
  });
  afterAll(() => idp?.destroy());

  it.each(imported)('%s: a wrong password is refused and leaves the hash as it was', async (_, person) => {
    const config = await relyingParty(idp.issuer, webAppClient);
    const browser = newBrowser();
    const login = await browser.open((await startAuthorization(config, { scope: 'openid' })).url.href);
    const refused = await submitLogin(browser, login, person.email, `${person.password}?`);
    expect(refused.leftTo).toBeUndefined();
    expect(refused.page!.$('form[action$="/login"]').length).toBe(1);
    expect(await storedHash(person.email)).toBe(person.hash);
  });

  it.each(imported)('%s: signs in to the app with the old password, which is then kept as our argon2id and still works', async (_, person) => {
    const first = await signInAtApp(person);
    expect(first.claims()!.email).toBe(person.email);

    const rehashed = await storedHash(person.email);
    expect(rehashed).toMatch(/^\$argon2id\$/);
    expect(rehashed).not.toBe(person.hash);
    expect(passwordHashFormat(rehashed!)).toBe('argon2');

    const again = await signInAtApp(person);
    expect(again.claims()!.sub).toBe(first.claims()!.sub);
    expect(await storedHash(person.email)).toBe(rehashed);
  });
});
