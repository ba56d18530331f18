import { randomBytes } from 'node:crypto';
import { availableParallelism } from 'node:os';
import argon2 from 'argon2';
import pLimit from 'p-limit';

import { verifyLegacyPassword } from './legacy-password-verifiers.ts';
import { parsePasswordHash } from './password-hash-formats.ts';

export interface Argon2Parameters {
  memoryCost: number;
  timeCost: number;
  parallelism: number;
}

export interface PasswordVerification {
  valid: boolean;
  /** The hash was made with weaker parameters than configured now: store a new one. */
  needsRehash: boolean;
}

export interface PasswordHasher {
  hash(password: string): Promise<string>;
  /**
   * Verifies argon2 and the formats of password-hash-formats.ts; a match with a hash other than our
   * argon2id with today's parameters needs a rehash. With no stored hash, still spends one full
   * verification, so unknown accounts cost the same time.
   */
  verify(storedHash: string | null | undefined, password: string): Promise<PasswordVerification>;
}

/**
 * argon2id hashing, at most `concurrency` hashes at once (imported formats included): hashes run on
 * libuv's 4 threads, and more hashes than cores would take the CPU from the event loop that answers
 * every other request.
 */
export function createPasswordHasher(parameters: Argon2Parameters, concurrency = availableParallelism()): PasswordHasher {
  const options = { type: argon2.argon2id as 2, ...parameters };
  const limit = pLimit(concurrency);
  let decoyHash: Promise<string> | undefined;
  const decoy = () => (decoyHash ??= limit(() => argon2.hash(randomBytes(32).toString('hex'), options)));
  const verifyDecoy = async (password: string) => {
    const hash = await decoy();
    await limit(() => argon2.verify(hash, password));
  };

  return {
    hash: (password) => limit(() => argon2.hash(password, options)),
    async verify(storedHash, password) {
      const parsed = storedHash ? parsePasswordHash(storedHash) : undefined;
      if (!storedHash || !parsed) {
        // No account, or a hash we cannot read: the same work as for a wrong password.
        await verifyDecoy(password);
        return { valid: false, needsRehash: false };
      }
      const ours = parsed.format === 'argon2' && parsed.phc === storedHash && parsed.variant === 'argon2id' && !argon2.needsRehash(storedHash, parameters);
      const check = parsed.format === 'argon2' ? () => argon2.verify(parsed.phc, password) : () => verifyLegacyPassword(parsed, password);
      // A hash that is not ours costs what its maker chose: an imported bcrypt cost 4 answers in a
      // millisecond. The decoy check runs beside it, so a wrong password is never answered sooner
      // than for one of our hashes or an unknown email. (A slower hash still answers later until its
      // owner's first sign-in replaces it: every unknown email cannot be made to cost that much.)
      const [valid] = await Promise.all([limit(check).catch(() => false), ours ? undefined : verifyDecoy(password)]);
      return { valid, needsRehash: valid && !ours };
    },
  };
}
