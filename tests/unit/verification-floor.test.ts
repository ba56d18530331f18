import { describe, expect, it, vi } from 'vitest';

import { createPasswordHasher, createVerificationFloor, type VerificationFloor } from '../../src/accounts/index.ts';
import { OWASP_ARGON2_MINIMUM } from '../../src/config.ts';
import { legacyHashes } from '../support/legacy-hashes.ts';
import { timeOf } from '../support/timing.ts';

const bcrypt4 = legacyHashes.find((fixture) => fixture.hash.startsWith('$2b$04$'))!;

/** A floor that only records who waited on it. */
function stubbedFloor(): VerificationFloor & { pad: ReturnType<typeof vi.fn> } {
  return { ms: 1_000, pad: vi.fn(async () => {}), observe: vi.fn(), set: vi.fn() };
}

describe('the timing floor of password verification', () => {
  it('makes every failed verification wait it out, and never a successful one', async () => {
    const floor = stubbedFloor();
    const hasher = createPasswordHasher(OWASP_ARGON2_MINIMUM, 2, floor);
    const ours = await hasher.hash('the right password');

    for (const [storedHash, password] of [
      [null, 'anything'],
      ['not a hash we can read', 'anything'],
      [ours, 'a wrong password'],
      [bcrypt4.hash, 'a wrong password'],
    ] as const) {
      floor.pad.mockClear();
      const before = performance.now();
      expect((await hasher.verify(storedHash, password)).valid).toBe(false);
      expect(floor.pad).toHaveBeenCalledOnce();
      const [startedAt] = floor.pad.mock.calls[0]!;
      expect(startedAt).toBeGreaterThanOrEqual(before);
    }

    floor.pad.mockClear();
    expect(await hasher.verify(ours, 'the right password')).toEqual({ valid: true, needsRehash: false });
    expect(await hasher.verify(bcrypt4.hash, bcrypt4.password)).toEqual({ valid: true, needsRehash: true });
    expect(floor.pad).not.toHaveBeenCalled();
  });

  it('holds a wrong password back until the floor has passed', async () => {
    const floor = createVerificationFloor();
    floor.set(400);
    const hasher = createPasswordHasher(OWASP_ARGON2_MINIMUM, 2, floor);
    // A timer may fire up to a millisecond early.
    expect(await timeOf(() => hasher.verify(null, 'anything'))).toBeGreaterThanOrEqual(399);
  });

  it('rises to each check of a hash that is not ours, and only a new measurement lowers it', async () => {
    const floor = createVerificationFloor();
    const hasher = createPasswordHasher(OWASP_ARGON2_MINIMUM, 2, floor);
    await hasher.verify(await hasher.hash('ours'), 'wrong');
    expect(floor.ms).toBe(0);

    await hasher.verify(bcrypt4.hash, 'wrong');
    const raised = floor.ms;
    expect(raised).toBeGreaterThan(0);
    floor.observe(raised / 2);
    expect(floor.ms).toBe(raised);
    floor.set(0);
    expect(floor.ms).toBe(0);
  });

  it('measures a check of an imported hash, and nothing for ours or an unreadable one', async () => {
    const hasher = createPasswordHasher(OWASP_ARGON2_MINIMUM, 2);
    expect(await hasher.legacyCheckMs(bcrypt4.hash)).toBeGreaterThan(0);
    expect(await hasher.legacyCheckMs(await hasher.hash('ours'))).toBe(0);
    expect(await hasher.legacyCheckMs('not a hash')).toBe(0);
  });
});
