import { createPrivateKey, type JsonWebKey } from 'node:crypto';
import { calculateJwkThumbprint, exportJWK, generateKeyPair, type JWK } from 'jose';

/**
 * A private JWK as kept in JWKS_FILE / JWKS. `activates_at` (seconds since the epoch, our own
 * member: RFC 7517 lets implementations ignore unknown members) delays signing with a key
 * that is already published, so that relying parties have fetched it before they meet it.
 */
export type StoredJwk = JWK & { activates_at?: number };
export interface StoredJwks {
  keys: StoredJwk[];
}

export class SigningKeysError extends Error {}

export const SIGNING_ALGORITHMS = ['RS256', 'ES256'] as const;

/** The JWS algorithms a stored key may have (those ScheduledSigningKey signs with). */
export const ACCEPTED_ALGORITHMS = ['RS256', 'RS384', 'RS512', 'PS256', 'PS384', 'PS512', 'ES256', 'ES384', 'ES512', 'EdDSA', 'Ed25519'] as const;
export type AcceptedAlgorithm = (typeof ACCEPTED_ALGORITHMS)[number];

export const nowInSeconds = () => Math.floor(Date.now() / 1000);

/** Checks a private JWK set from JWKS_FILE or JWKS; `source` names it in the error. */
export function parseJwks(text: string, source: string): StoredJwks {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (error) {
    throw new SigningKeysError(`${source} is not JSON: ${(error as Error).message}`);
  }
  const keys = (parsed as { keys?: unknown })?.keys;
  if (!Array.isArray(keys) || keys.length === 0) throw new SigningKeysError(`${source} has no "keys" array`);
  const kids = new Set<string>();
  keys.forEach((key: StoredJwk, index) => {
    const where = `${source}: keys[${index}]`;
    if (typeof key !== 'object' || key === null || !('d' in key)) throw new SigningKeysError(`${where} is not a private key (no "d")`);
    if (typeof key.kid !== 'string' || !key.kid) throw new SigningKeysError(`${where} has no "kid"`);
    if (kids.has(key.kid)) throw new SigningKeysError(`${where}: "kid" ${key.kid} appears twice`);
    kids.add(key.kid);
    if (typeof key.alg !== 'string' || !(ACCEPTED_ALGORITHMS as readonly string[]).includes(key.alg)) {
      throw new SigningKeysError(`${where} needs "alg", one of ${ACCEPTED_ALGORITHMS.join(', ')}`);
    }
    if (key.activates_at !== undefined && !Number.isInteger(key.activates_at)) {
      throw new SigningKeysError(`${where}: "activates_at" must be seconds since the epoch`);
    }
    try {
      createPrivateKey({ key: key as JsonWebKey, format: 'jwk' });
    } catch (error) {
      throw new SigningKeysError(`${where} is not a usable key: ${(error as Error).message}`);
    }
  });
  if (!keys.some((key: StoredJwk) => key.alg === 'RS256' && (key.activates_at ?? 0) <= nowInSeconds())) {
    throw new SigningKeysError(`${source} needs an active RS256 key (the OpenID Connect default algorithm)`);
  }
  return { keys };
}

/** The public half of every key, for verifying our own tokens in-process (the admin API). */
export function publicKeysOf(jwks: StoredJwks): JWK[] {
  return jwks.keys.map(({ d: _d, p: _p, q: _q, dp: _dp, dq: _dq, qi: _qi, oth: _oth, activates_at: _at, ...publicJwk }) => publicJwk);
}

async function newKey(alg: string, activatesAt?: number): Promise<StoredJwk> {
  const { privateKey } = await generateKeyPair(alg, { extractable: true });
  const jwk = await exportJWK(privateKey);
  return { ...jwk, alg, use: 'sig', kid: await calculateJwkThumbprint(jwk), ...(activatesAt ? { activates_at: activatesAt } : {}) };
}

/** A private JWK set with one key per algorithm we sign with; RS256 first, the OIDC default. */
export async function generateJwks(): Promise<StoredJwks> {
  return { keys: await Promise.all(SIGNING_ALGORITHMS.map((alg) => newKey(alg))) };
}

/** When a newer key of the same algorithm took over signing from `key`; undefined while none has. */
export function retiredSince(jwks: StoredJwks, key: StoredJwk, now: number): number | undefined {
  const since = key.activates_at ?? 0;
  const successors = jwks.keys
    .filter((other) => other.alg === key.alg && (other.activates_at ?? 0) > since && (other.activates_at ?? 0) <= now)
    .map((other) => other.activates_at!);
  return successors.length ? Math.min(...successors) : undefined;
}

export interface Rotation {
  jwks: StoredJwks;
  added: StoredJwk[];
  removed: StoredJwk[];
}

/**
 * Adds a new key per algorithm in use, signing from `activateInSeconds` from now, and drops the
 * keys whose successor has signed for longer than `keepSeconds` (the longest lifetime of a
 * token we sign), so that no token still alive loses the key that verifies it.
 */
export async function rotateJwks(jwks: StoredJwks, options: { activateInSeconds: number; keepSeconds: number; now?: number }): Promise<Rotation> {
  const now = options.now ?? nowInSeconds();
  const activatesAt = now + options.activateInSeconds;
  const algorithms = [...new Set(jwks.keys.map((key) => key.alg!))];
  const added = await Promise.all(algorithms.map((alg) => newKey(alg, activatesAt)));

  const removed = jwks.keys.filter((key) => (retiredSince(jwks, key, now) ?? Infinity) + options.keepSeconds < now);
  return { jwks: { keys: [...added, ...jwks.keys.filter((key) => !removed.includes(key))] }, added, removed };
}
