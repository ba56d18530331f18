import { randomBytes } from 'node:crypto';
import { availableParallelism } from 'node:os';
import argon2 from 'argon2';
import pLimit from 'p-limit';

import { verifyLegacyPassword } from './legacy-password-verifiers.ts';
import { type ParsedPasswordHash, parsePasswordHash } from './password-hash-formats.ts';
import type { VerificationFloor } from './verification-floor.ts';

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
  /** Milliseconds one check of a stored hash that is not ours takes (a random password); 0 for ours or an unreadable one. */
  legacyCheckMs(storedHash: string): Promise<number>;
}

/**
 * argon2id hashing, at most `concurrency` hashes at once (imported formats included): hashes run on
 * libuv's 4 threads, and more hashes than cores would take the CPU from the event loop that answers
 * every other request. With a `floor`, a failed verification is answered no sooner than it.
 */
export function createPasswordHasher(parameters: Argon2Parameters, concurrency = availableParallelism(), floor?: VerificationFloor): PasswordHasher {
  const options = { type: argon2.argon2id as 2, ...parameters };
  const limit = pLimit(concurrency);
  let decoyHash: Promise<string> | undefined;
  const decoy = () => (decoyHash ??= limit(() => argon2.hash(randomBytes(32).toString('hex'), options)));
  const verifyDecoy = async (password: string) => {
    const hash = await decoy();
    await limit(() => argon2.verify(hash, password));
  };

  const isOurs = (parsed: ParsedPasswordHash, storedHash: string) =>
    parsed.format === 'argon2' && parsed.phc === storedHash && parsed.variant === 'argon2id' && !argon2.needsRehash(storedHash, parameters);
  const check = (parsed: ParsedPasswordHash, password: string) =>
    parsed.format === 'argon2' ? argon2.verify(parsed.phc, password) : verifyLegacyPassword(parsed, password);
  /** Timed inside the limit: the check itself, not the wait for a thread. */
  const timedCheck = (parsed: ParsedPasswordHash, password: string) =>
    limit(async () => {
      const started = performance.now();
      const valid = await check(parsed, password).catch(() => false);
      return { valid, ms: performance.now() - started };
    });

  async function verifyUnpadded(storedHash: string | null | undefined, password: string): Promise<PasswordVerification> {
    const parsed = storedHash ? parsePasswordHash(storedHash) : undefined;
    if (!storedHash || !parsed) {
      // No account, or a hash we cannot read: the same work as for a wrong password.
      await verifyDecoy(password);
      return { valid: false, needsRehash: false };
    }
    if (isOurs(parsed, storedHash)) return { valid: (await timedCheck(parsed, password)).valid, needsRehash: false };
    // A hash that is not ours costs what its maker chose. The decoy check runs beside it, so a wrong
    // password is never answered sooner than for one of our hashes or an unknown email; a slower one
    // (bcrypt cost 12) raises the floor, which every failed verification waits out.
    const [{ valid, ms }] = await Promise.all([timedCheck(parsed, password), verifyDecoy(password)]);
    floor?.observe(ms);
    return { valid, needsRehash: valid };
  }

  return {
    hash: (password) => limit(() => argon2.hash(password, options)),
    async verify(storedHash, password) {
      const started = performance.now();
      const verification = await verifyUnpadded(storedHash, password);
      if (!verification.valid) await floor?.pad(started);
      return verification;
    },
    async legacyCheckMs(storedHash) {
      const parsed = parsePasswordHash(storedHash);
      if (!parsed || isOurs(parsed, storedHash)) return 0;
      return (await timedCheck(parsed, randomBytes(16).toString('hex'))).ms;
    },
  };
}
