import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';

import { BoundedMap } from '../bounded-map.ts';

/** One entry of SECRETS_KEY: a key id and 32 random bytes. */
export interface SecretsKey {
  kid: string;
  key: Buffer;
}

export class SecretsKeyError extends Error {}

const KID = /^[A-Za-z0-9_-]{1,32}$/;
const IV_BYTES = 12;
const TAG_BYTES = 16;
/** Values opened (or sealed) lately, by their sealed form and context: a session or interaction is read again and again. */
const REMEMBERED_VALUES = 10_000;
/** A sealed value holds no space (kid, base64url and dots), so the last space parts it from its context. */
const memoKey = (sealed: string, context: string) => `${context} ${sealed}`;

/**
 * `kid:key,kid:key`: each key 32 bytes in base64 or base64url (`openssl rand -base64 32`). The first
 * entry encrypts; every entry decrypts, so a key rotates by putting a new one first.
 */
export function parseSecretsKeys(text: string): SecretsKey[] {
  const entries = text.split(',').map((entry) => entry.trim()).filter(Boolean);
  if (!entries.length) throw new SecretsKeyError('SECRETS_KEY: no key given');
  const keys = entries.map((entry) => {
    const colon = entry.indexOf(':');
    const kid = entry.slice(0, colon);
    if (colon < 1 || !KID.test(kid)) throw new SecretsKeyError('SECRETS_KEY: each entry is kid:key, the kid of letters, digits, - or _');
    const key = Buffer.from(entry.slice(colon + 1), 'base64');
    if (key.length !== 32) throw new SecretsKeyError(`SECRETS_KEY: the key of "${kid}" must be 32 bytes in base64 (openssl rand -base64 32)`);
    return { kid, key };
  });
  if (new Set(keys.map((k) => k.kid)).size !== keys.length) throw new SecretsKeyError('SECRETS_KEY: a kid is listed twice');
  return keys;
}

export const newSecretsKey = (kid: string) => `${kid}:${randomBytes(32).toString('base64url')}`;

/**
 * Encrypts values kept at rest (TOTP secrets, ids inside stored sessions) with AES-256-GCM.
 * A sealed value is `kid.iv.ciphertext+tag` (base64url); `context` is bound as associated data,
 * so a value copied to another row or field does not open there.
 */
export interface SecretBox {
  /** What every value sealed with the current (first) key starts with. */
  readonly currentPrefix: string;
  seal(plaintext: string, context: string): string;
  open(sealed: string, context: string): string;
  /** Whether a stored value is sealed at all (rows written before encryption are not). */
  isSealed(value: string): boolean;
}

export function createSecretBox(keys: SecretsKey[]): SecretBox {
  const current = keys[0];
  if (!current) throw new SecretsKeyError('SECRETS_KEY: no key given');
  const byKid = new Map(keys.map((k) => [k.kid, k.key]));
  // A box's plaintexts stay in the process that holds its keys; none of it is ever written anywhere.
  const opened = new BoundedMap<string, string>(REMEMBERED_VALUES);

  return {
    currentPrefix: `${current.kid}.`,
    seal(plaintext, context) {
      const iv = randomBytes(IV_BYTES);
      const cipher = createCipheriv('aes-256-gcm', current.key, iv);
      cipher.setAAD(Buffer.from(context));
      const body = Buffer.concat([cipher.update(plaintext, 'utf8'), cipher.final(), cipher.getAuthTag()]);
      const sealed = `${current.kid}.${iv.toString('base64url')}.${body.toString('base64url')}`;
      opened.set(memoKey(sealed, context), plaintext);
      return sealed;
    },
    open(sealed, context) {
      const key = memoKey(sealed, context);
      let plaintext = opened.get(key);
      if (plaintext === undefined) opened.set(key, (plaintext = decrypt(sealed, context)));
      return plaintext;
    },
    isSealed: (value) => value.split('.').length === 3,
  };

  function decrypt(sealed: string, context: string): string {
    const [kid, iv, body] = sealed.split('.');
    const key = kid === undefined ? undefined : byKid.get(kid);
    if (!key || !iv || !body) throw new SecretsKeyError(`a value sealed with key "${kid}", which SECRETS_KEY does not list`);
    const bytes = Buffer.from(body, 'base64url');
    const decipher = createDecipheriv('aes-256-gcm', key, Buffer.from(iv, 'base64url'));
    decipher.setAAD(Buffer.from(context));
    decipher.setAuthTag(bytes.subarray(bytes.length - TAG_BYTES));
    return Buffer.concat([decipher.update(bytes.subarray(0, bytes.length - TAG_BYTES)), decipher.final()]).toString('utf8');
  }
}
