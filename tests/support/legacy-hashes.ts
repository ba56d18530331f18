import { readFileSync } from 'node:fs';

import type { PasswordHashFormat } from '../../src/accounts/index.ts';

export interface LegacyHashFixture {
  format: PasswordHashFormat;
  /** The library (and version) that made the hash. */
  library: string;
  password: string;
  hash: string;
}

/** Hashes made by the real libraries of the stacks people import users from: scripts/legacy-hash-fixtures.py writes them. */
export const legacyHashes: LegacyHashFixture[] = JSON.parse(readFileSync(new URL('../fixtures/legacy-hashes.json', import.meta.url), 'utf8'));
