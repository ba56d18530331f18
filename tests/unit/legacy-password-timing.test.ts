import { beforeAll, describe, expect, it } from 'vitest';

import { createPasswordHasher } from '../../src/accounts/index.ts';
import { OWASP_ARGON2_MINIMUM } from '../../src/config.ts';
import { legacyHashes } from '../support/legacy-hashes.ts';
import { pairedTimingGap, passwordCheckMs, timeOf } from '../support/timing.ts';

/** Imported hashes far cheaper than our argon2id: checked alone, a wrong password would answer in a millisecond or two. */
const cheap = ['$2b$04$', '$pbkdf2-sha256$1000$', 'pbkdf2:sha256:1000$', 'scrypt:1024:8:1$', 'pbkdf2_sha256$1000$', '$argon2id$v=19$m=1024,'].map((prefix) => {
  const fixture = legacyHashes.find((candidate) => candidate.hash.startsWith(prefix))!;
  return [`${fixture.library} ${prefix}`, fixture.hash] as const;
});

describe('a wrong password for an imported hash', () => {
  const hasher = createPasswordHasher(OWASP_ARGON2_MINIMUM);
  let hashMs: number;

  beforeAll(async () => {
    hashMs = await passwordCheckMs();
  });

  it.each(cheap)('is answered no sooner than for an unknown email (%s)', async (_, hash) => {
    const gap = await pairedTimingGap(
      15,
      (i) => timeOf(() => hasher.verify(null, `wrong password ${i}`)),
      (i) => timeOf(() => hasher.verify(hash, `wrong password ${i}`)),
    );
    // Checked alone, the cheap hash would answer about one password check (hashMs) sooner.
    expect(gap).toBeLessThan(hashMs / 2);
  });
});
