import { createHmac, timingSafeEqual } from 'node:crypto';

const signWith = (data: string, key: string) => createHmac('sha1', key).update(data).digest('base64url');

/**
 * Keygrip's signatures (HMAC-SHA1, base64url: the `.sig` cookies the `cookies` package writes), checked
 * with one HMAC per key and node's constant-time compare. Keygrip compares through tsscmp, which draws
 * a random key and computes two more HMACs per comparison: a third of every signed cookie read, on
 * every request that carries a session.
 */
export class CookieSigner {
  readonly #keys: readonly string[];

  constructor(keys: readonly string[]) {
    if (!keys.length) throw new Error('CookieSigner: no keys');
    this.#keys = keys;
  }

  /** Signs with the first key. */
  sign(data: string): string {
    return signWith(data, this.#keys[0]!);
  }

  verify(data: string, digest: string): boolean {
    return this.index(data, digest) > -1;
  }

  /** Which key signed `data` as `digest` (the cookie is signed again with the first one when it is not 0), or -1. */
  index(data: string, digest: string): number {
    const given = Buffer.from(digest, 'utf8');
    for (let i = 0; i < this.#keys.length; i += 1) {
      const expected = Buffer.from(signWith(data, this.#keys[i]!), 'utf8');
      if (expected.length === given.length && timingSafeEqual(expected, given)) return i;
    }
    return -1;
  }
}
