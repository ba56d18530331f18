import { pbkdf2, scrypt, timingSafeEqual } from 'node:crypto';
import { promisify } from 'node:util';

import type { ParsedPasswordHash } from './password-hash-formats.ts';

export type LegacyPasswordHash = Exclude<ParsedPasswordHash, { format: 'argon2' }>;

const pbkdf2Async = promisify(pbkdf2);
const scryptAsync = promisify(scrypt) as (password: string, salt: Buffer, keylen: number, options: { N: number; r: number; p: number; maxmem: number }) => Promise<Buffer>;

/**
 * Whether `password` matches a hash made by another stack's library. Each runs on libuv's threads,
 * off the event loop: Node's pbkdf2 and scrypt, and the native bcrypt (bcryptjs would hash on the
 * event loop itself). Every stack hashes the password's UTF-8 bytes; a string passed to Node's
 * crypto is encoded so too.
 */
export async function verifyLegacyPassword(hash: LegacyPasswordHash, password: string): Promise<boolean> {
  switch (hash.format) {
    case 'bcrypt':
      // $2y$ (PHP's name, passlib's option) is the same algorithm as $2b$, which the library knows;
      // it compares in constant time.
      // Loaded on the first such hash: most nodes never see one.
      return (await import('bcrypt')).default.compare(password, hash.hash.replace(/^\$2y\$/, '$2b$'));
    case 'passlib-pbkdf2':
    case 'werkzeug-pbkdf2':
    case 'django-pbkdf2':
      return sameBytes(await pbkdf2Async(password, hash.salt, hash.iterations, hash.expected.length, hash.digest), hash.expected);
    case 'werkzeug-scrypt': {
      const { n, r, p } = hash;
      // Exactly what OpenSSL allocates, 128·r·p for B and 128·r·(N+2) for V (Node's default bound
      // is below Werkzeug's default); parsePasswordHash has already refused what costs too much.
      const maxmem = 128 * r * (n + p + 2);
      return sameBytes(await scryptAsync(password, hash.salt, hash.expected.length, { N: n, r, p, maxmem }), hash.expected);
    }
  }
}

function sameBytes(derived: Buffer, expected: Buffer): boolean {
  return derived.length === expected.length && timingSafeEqual(derived, expected);
}
