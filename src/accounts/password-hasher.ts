import { randomBytes } from 'node:crypto';
import argon2 from 'argon2';

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

export function createPasswordHasher(parameters: Argon2Parameters): PasswordHasher {
  const options = { type: argon2.argon2id as 2, ...parameters };
  let decoyHash: Promise<string> | undefined;
  const decoy = () => (decoyHash ??= argon2.hash(randomBytes(32).toString('hex'), options));

  return {
    hash: (password) => argon2.hash(password, options),
    async verify(storedHash, password) {
      if (!storedHash) {
        await argon2.verify(await decoy(), password);
        return { valid: false, needsRehash: false };
      }
      let valid: boolean;
      try {
        valid = await argon2.verify(storedHash, password);
      } catch {
        valid = false;
      }
      return { valid, needsRehash: valid && argon2.needsRehash(storedHash, parameters) };
    },
  };
}
