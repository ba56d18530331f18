import { randomBytes } from 'node:crypto';
import { availableParallelism } from 'node:os';
import argon2 from 'argon2';
import pLimit from 'p-limit';

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
  /** With no stored hash, still spends one full verification, so unknown accounts cost the same time. */
  verify(storedHash: string | null | undefined, password: string): Promise<PasswordVerification>;
}

/**
 * argon2id hashing, at most `concurrency` hashes at once: argon2 runs on libuv's 4 threads, and more
 * hashes than cores would take the CPU from the event loop that answers every other request.
 */
export function createPasswordHasher(parameters: Argon2Parameters, concurrency = availableParallelism()): PasswordHasher {
  const options = { type: argon2.argon2id as 2, ...parameters };
  const limit = pLimit(concurrency);
  let decoyHash: Promise<string> | undefined;
  const decoy = () => (decoyHash ??= limit(() => argon2.hash(randomBytes(32).toString('hex'), options)));

  return {
    hash: (password) => limit(() => argon2.hash(password, options)),
    async verify(storedHash, password) {
      if (!storedHash) {
        const hash = await decoy();
        await limit(() => argon2.verify(hash, password));
        return { valid: false, needsRehash: false };
      }
      let valid: boolean;
      try {
        valid = await limit(() => argon2.verify(storedHash, password));
      } catch {
        valid = false;
      }
      return { valid, needsRehash: valid && argon2.needsRehash(storedHash, parameters) };
    },
  };
}
