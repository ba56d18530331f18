import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { runAdmin } from '../support/cli.ts';

// Hashes as the back ends people leave write them (any format passwordHashFormat knows is stored as it is).
const BCRYPT = '$2b$12$R9h/cIPz0gi.URNNX3kh2OPST9/PgBkqquzi.Ss7KIUgO2t0jWMUW';
const DJANGO = 'pbkdf2_sha256$600000$c2FsdHNhbHQ$Jd6nb0jVXw2ZJxqBJm8Y8VtTBlrJQ2xpyFEaS5kOqkQ=';

const people = [
  { email: 'Ann@Example.com', email_verified: true, name: 'Ann Old', given_name: 'Ann', roles: ['chief', 'user'], status: 'active', created_at: '2020-01-02T03:04:05Z', metadata: { plan: 'pro', seats: 3 }, password_hash: BCRYPT, google_sub: '1001' },
  { email: 'bob@example.com', roles: ['member'], status: 'disabled', password_hash: DJANGO, locale: 'de-CH', zoneinfo: 'Europe/Zurich' },
  { email: 'cy@example.com', email_verified: false },
];
const jsonl = (rows: unknown[]) => `${rows.map((row) => JSON.stringify(row)).join('\n')}\n`;

// Each command starts the embedded database afresh: seconds per run on a busy 2-core machine.
describe('npm run admin -- import-users / export-users (embedded database)', { timeout: 180_000 }, () => {
  let work: string;
  let dataDir: string;
  const env = (dir = dataDir) => ({ DATA_DIR: dir, NODE_ENV: 'test' });
  const file = (name: string, content: string) => {
    const target = path.join(work, name);
    writeFileSync(target, content);
    return target;
  };
  const exported = async (dir = dataDir) => {
    const result = await runAdmin(['export-users'], { env: env(dir) });
    expect(result.code).toBe(0);
    return result.stdout.trim().split('\n').filter(Boolean).map((line) => JSON.parse(line));
  };

  beforeAll(() => {
    work = mkdtempSync(path.join(tmpdir(), 'idp-import-'));
    dataDir = path.join(work, 'data');
  });
  afterAll(() => rmSync(work, { recursive: true, force: true }));

  it('refuses a file with invalid lines, naming each as line N: field: reason, and writes nothing (exit 2)', async () => {
    const input = file('bad.jsonl', `${jsonl([people[0], { email: 'nope', password_hash: 'plain-text' }, { email: 'ann@example.COM' }, { email: 'x@example.com', created_at: '2023-02-30', colour: 'red' }])}{oops\n`);
    const result = await runAdmin(['import-users', '--file', input], { env: env() });
    expect(result.code).toBe(2);
    expect(result.stderr.split('\n').filter((line) => line.startsWith('line '))).toEqual([
      'line 1: roles: unknown role "chief" (map it with --role-map chief=ROLE, or add --create-roles)',
      'line 2: email: not a valid email address',
      'line 2: password_hash: not a hash format we can verify (bcrypt, passlib pbkdf2, Werkzeug pbkdf2 or scrypt, Django pbkdf2, argon2)',
      'line 3: email: the same email as line 1',
      'line 4: created_at: must be a date like 2024-05-01 or 2024-05-01T09:30:00Z',
      'line 4: colour: not a field we import',
      'line 5: json: not valid JSON',
    ]);
    expect(result.stderr).toContain('Nothing was imported: 5 invalid lines');
    expect(await exported()).toEqual([]);
  });

  it('checks everything in a dry run and writes nothing', async () => {
    const input = file('people.jsonl', jsonl(people));
    const result = await runAdmin(['import-users', '--file', input, '--dry-run', '--role-map', 'chief=moderator', '--create-roles'], { env: env() });
    expect(result).toMatchObject({ code: 0, stdout: 'Dry run, nothing written: would have imported 3, updated 0, skipped 0, invalid 0; new roles: member\n' });
    expect(await exported()).toEqual([]);
  });

  it('imports, keeping hashes as they are; a re-run with --on-conflict skip changes nothing; the default refuses', async () => {
    const input = path.join(work, 'people.jsonl');
    const first = await runAdmin(['import-users', '--file', input, '--role-map', 'chief=moderator', '--create-roles'], { env: env() });
    expect(first).toMatchObject({ code: 0, stdout: 'imported 3, updated 0, skipped 0, invalid 0; new roles: member\n' });
    const after = await exported();
    expect(after).toEqual(
      expect.arrayContaining([
        { ...people[0], roles: ['moderator', 'user'], created_at: '2020-01-02T03:04:05.000Z' },
        { ...people[1], email_verified: false, metadata: {}, created_at: expect.any(String) },
        { email: 'cy@example.com', email_verified: false, roles: ['user'], status: 'active', metadata: {}, created_at: expect.any(String) },
      ]),
    );

    const again = await runAdmin(['import-users', '--file', input, '--role-map', 'chief=moderator', '--create-roles', '--on-conflict', 'skip'], { env: env() });
    expect(again).toMatchObject({ code: 0, stdout: 'imported 0, updated 0, skipped 3, invalid 0\n' });
    expect(await exported()).toEqual(after);

    const refused = await runAdmin(['import-users', '--file', file('ann.jsonl', jsonl([{ email: 'ANN@example.com' }]))], { env: env() });
    expect(refused.code).toBe(2);
    expect(refused.stderr).toContain('line 1: email: an account with this email exists (see --on-conflict)');
  });

  it('updates only the fields a line has with --on-conflict update, and imports the valid lines with --skip-invalid', async () => {
    const input = file('update.csv', 'email,name,roles,email_verified,metadata\nann@example.com,Ann New,guest,,\nbad-address,Nobody,,,\ndee@example.com,"Dee, D.",user;member,t,"{""from"":""csv""}"\n');
    const result = await runAdmin(['import-users', '--file', input, '--format', 'csv', '--on-conflict', 'update', '--skip-invalid'], { env: env() });
    expect(result).toMatchObject({ code: 0, stdout: 'imported 1, updated 1, skipped 0, invalid 1\n' });
    expect(result.stderr).toContain('line 3: email: not a valid email address');
    const byEmail = new Map((await exported()).map((person) => [person.email.toLowerCase(), person]));
    expect(byEmail.get('ann@example.com')).toMatchObject({ name: 'Ann New', given_name: 'Ann', roles: ['guest'], password_hash: BCRYPT, google_sub: '1001', metadata: { plan: 'pro', seats: 3 } });
    expect(byEmail.get('dee@example.com')).toMatchObject({ name: 'Dee, D.', email_verified: true, roles: ['user', 'member'], metadata: { from: 'csv' } });
  });

  it('refuses a CSV header with a column it does not know', async () => {
    const result = await runAdmin(['import-users', '--file', file('odd.csv', 'email,shoe_size\nzed@example.com,44\n'), '--format', 'csv'], { env: env() });
    expect(result.code).toBe(2);
    expect(result.stderr).toContain('line 1: shoe_size: not a column we import');
  });

  it('exports to a file only its owner can read, which restores every person, role and link into an empty IdP', async () => {
    const backup = path.join(work, 'backup.jsonl');
    const result = await runAdmin(['export-users', '--file', backup], { env: env() });
    expect(result).toMatchObject({ code: 0, stdout: `Exported 4 people to ${backup} (mode 0600: it holds password hashes)\n` });
    expect(statSync(backup).mode & 0o777).toBe(0o600);
    expect((await runAdmin(['export-users', '--file', backup], { env: env() })).stderr).toContain('exists');

    const emptyIdp = path.join(work, 'other-data');
    const restored = await runAdmin(['import-users', '--file', backup, '--create-roles'], { env: env(emptyIdp) });
    expect(restored).toMatchObject({ code: 0, stdout: 'imported 4, updated 0, skipped 0, invalid 0; new roles: member\n' });
    const sorted = (list: { email: string }[]) => [...list].sort((a, b) => a.email.localeCompare(b.email));
    const original = readFileSync(backup, 'utf8').trim().split('\n').map((line) => JSON.parse(line));
    expect(sorted(await exported(emptyIdp))).toEqual(sorted(original));
  });
});
