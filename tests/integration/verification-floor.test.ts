import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Readable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import {
  createAccountService,
  createPasswordHasher,
  createVerificationFloor,
  importUsers,
  keepVerificationFloorCurrent,
  type PasswordHasher,
  userRecords,
} from '../../src/accounts/index.ts';
import { OWASP_ARGON2_MINIMUM } from '../../src/config.ts';
import { type Database, migrateDatabase, openDatabase } from '../../src/db/index.ts';
import { createPostgresDatabase } from '../support/idp.ts';
import { legacyHashes } from '../support/legacy-hashes.ts';
import { pairedTimingGap, passwordCheckMs, timeOf } from '../support/timing.ts';

/** FastAPI's default: a check takes several of our argon2id checks. */
const bcrypt12 = legacyHashes.find((fixture) => fixture.library === 'passlib 1.7.4 bcrypt (FastAPI default, cost 12)')!;
const context = { ip: '127.0.0.1', userAgent: null };

async function importPeople(database: Database, people: { email: string; password_hash: string }[]) {
  const file = people.map((person) => JSON.stringify(person)).join('\n');
  await importUsers(database.db, userRecords(Readable.from([file]), 'jsonl'), { onConflict: 'fail', dryRun: false, skipInvalid: false, createRoles: false, roleMap: new Map() });
}

async function openTestDatabase(backend: 'postgres' | 'pglite') {
  const dataDir = mkdtempSync(path.join(tmpdir(), 'idp-floor-'));
  const postgres = backend === 'postgres' ? await createPostgresDatabase() : undefined;
  const database = await openDatabase({ databaseUrl: postgres?.url, dataDir });
  await migrateDatabase(database);
  return {
    database,
    async destroy() {
      await database.close();
      await postgres?.drop();
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

const postgres = Boolean(process.env.TEST_DATABASE_URL);
/** PostgreSQL where the tests have it; the embedded database always. */
const stores = postgres ? (['postgres', 'pglite'] as const) : (['pglite'] as const);

describe.each(stores)('the sign-in timing floor on %s', (backend) => {
  let store: Awaited<ReturnType<typeof openTestDatabase>>;
  beforeAll(async () => {
    store = await openTestDatabase(backend);
  });
  afterAll(() => store?.destroy());

  it('is nothing while only our hashes are stored, and the slowest imported hash once people are imported', async () => {
    const floor = createVerificationFloor();
    const hasher = createPasswordHasher(OWASP_ARGON2_MINIMUM, 2, floor);
    const refresher = keepVerificationFloorCurrent({ db: store.database.db, floor, measure: hasher.legacyCheckMs, onError: (error) => expect.fail(String(error)) });
    try {
      const accounts = createAccountService({ db: store.database.db, hasher, passwordPolicy: { minLength: 8 } });
      await accounts.createAccount({ email: 'ours@example.com', password: 'our own argon2id' });
      await refresher.refresh();
      expect(floor.ms).toBe(0);

      const bcrypt4 = legacyHashes.find((fixture) => fixture.hash.startsWith('$2b$04$'))!;
      await importPeople(store.database, [
        { email: 'cheap@example.com', password_hash: bcrypt4.hash },
        { email: 'fastapi@example.com', password_hash: bcrypt12.hash },
      ]);
      await refresher.refresh();
      // One bcrypt cost-12 check: 256 times the work of the cost-4 one.
      expect(floor.ms).toBeGreaterThan(10 * (await hasher.legacyCheckMs(bcrypt4.hash)));
    } finally {
      await refresher.stop();
    }
  });
});

describe('a wrong password for an imported bcrypt cost-12 hash', () => {
  let store: Awaited<ReturnType<typeof openTestDatabase>>;
  let hashMs: number;

  /** The gap between a wrong password for the imported person and for an unknown email, through sign-in. */
  async function gapThrough(hasher: PasswordHasher) {
    const accounts = createAccountService({ db: store.database.db, hasher, passwordPolicy: { minLength: 8 } });
    const refused = (email: string, i: number) => timeOf(() => accounts.authenticate(email, `wrong password ${i}`, context).catch(() => undefined));
    return pairedTimingGap(
      11,
      (i) => refused('fastapi@example.com', i),
      (i) => refused('nobody@example.com', i),
    );
  }

  beforeAll(async () => {
    store = await openTestDatabase(stores[0]);
    await importPeople(store.database, [{ email: 'fastapi@example.com', password_hash: bcrypt12.hash }]);
    hashMs = await passwordCheckMs();
  });
  afterAll(() => store?.destroy());

  it('is answered in the same time as for an unknown email', async () => {
    const floor = createVerificationFloor();
    const hasher = createPasswordHasher(OWASP_ARGON2_MINIMUM, 2, floor);
    const refresher = keepVerificationFloorCurrent({ db: store.database.db, floor, measure: hasher.legacyCheckMs, onError: (error) => expect.fail(String(error)) });
    try {
      await refresher.refresh();
      expect(Math.abs(await gapThrough(hasher))).toBeLessThan(hashMs / 2);
    } finally {
      await refresher.stop();
    }
  });

  it('is answered measurably later without the floor', async () => {
    expect(await gapThrough(createPasswordHasher(OWASP_ARGON2_MINIMUM, 2))).toBeGreaterThan(hashMs / 2);
  });
});
