import { createPrivateKey, createPublicKey, sign, constants, type JsonWebKey, type KeyObject } from 'node:crypto';
import { promisify } from 'node:util';
import providerInstance from 'oidc-provider/lib/helpers/weak_cache.js';
import { ExternalSigningKey, type Provider } from 'oidc-provider';

import { type AcceptedAlgorithm, nowInSeconds, type StoredJwk, type StoredJwks } from '../keys/index.ts';

const signAsync = promisify(sign);

/** How node:crypto signs for each JWS algorithm we accept: digest, and the options of the key. */
const jwsSigning: Record<AcceptedAlgorithm, { digest: string | null; options: object }> = {
  RS256: { digest: 'sha256', options: {} },
  RS384: { digest: 'sha384', options: {} },
  RS512: { digest: 'sha512', options: {} },
  PS256: { digest: 'sha256', options: { padding: constants.RSA_PKCS1_PSS_PADDING, saltLength: constants.RSA_PSS_SALTLEN_DIGEST } },
  PS384: { digest: 'sha384', options: { padding: constants.RSA_PKCS1_PSS_PADDING, saltLength: constants.RSA_PSS_SALTLEN_DIGEST } },
  PS512: { digest: 'sha512', options: { padding: constants.RSA_PKCS1_PSS_PADDING, saltLength: constants.RSA_PSS_SALTLEN_DIGEST } },
  ES256: { digest: 'sha256', options: { dsaEncoding: 'ieee-p1363' } },
  ES384: { digest: 'sha384', options: { dsaEncoding: 'ieee-p1363' } },
  ES512: { digest: 'sha512', options: { dsaEncoding: 'ieee-p1363' } },
  EdDSA: { digest: null, options: {} },
  Ed25519: { digest: null, options: {} },
};

/**
 * A signing key whose turn comes at `activatesAt`. node-oidc-provider signs with the first key
 * of an algorithm that allows "sign"; before its time this one offers only "verify", so it is
 * published (and verifies) but signs nothing. Being an ExternalSigningKey, the provider keeps
 * this object rather than a copy, which is what lets the switch happen without a restart.
 */
class ScheduledSigningKey extends ExternalSigningKey {
  readonly #privateKey: KeyObject;
  readonly #publicKey: KeyObject;
  readonly #signing: { digest: string | null; options: object };
  readonly #kid: string;
  readonly #alg: string;

  constructor(jwk: StoredJwk, readonly activatesAt: number) {
    super();
    this.#kid = jwk.kid!;
    this.#alg = jwk.alg!;
    this.#privateKey = createPrivateKey({ key: jwk as JsonWebKey, format: 'jwk' });
    this.#publicKey = createPublicKey(this.#privateKey);
    this.#signing = jwsSigning[jwk.alg as AcceptedAlgorithm];
  }

  override get kid(): string {
    return this.#kid;
  }

  override get alg(): string {
    return this.#alg;
  }

  override get key_ops(): string[] | undefined {
    return nowInSeconds() < this.activatesAt ? ['verify'] : undefined;
  }

  override keyObject(): KeyObject {
    return this.#publicKey;
  }

  override async sign(data: Uint8Array): Promise<Uint8Array> {
    return signAsync(this.#signing.digest, data, { key: this.#privateKey, ...this.#signing.options });
  }
}

/**
 * The keys for node-oidc-provider's `jwks`, newest activation first: of the keys whose time has
 * come, the newest of each algorithm signs, and every key stays published and verifies.
 */
export function providerSigningKeys(jwks: StoredJwks): ExternalSigningKey[] {
  return [...jwks.keys]
    .sort((a, b) => (b.activates_at ?? 0) - (a.activates_at ?? 0))
    .map((jwk) => new ScheduledSigningKey(jwk, jwk.activates_at ?? 0));
}

/** node-oidc-provider's private state of a Provider: the key store it signs and verifies with, and the set /jwks serves. */
interface ProviderKeys {
  keystore: { clear(): void; add(key: ExternalSigningKey): void };
  jwks: { keys: object[] };
}

/**
 * node-oidc-provider takes `jwks` once, at construction, and has no way to change them later
 * (its maintainer expects a rolling restart). Its key store is a plain list it searches on
 * every use, and /jwks serves a public copy made at the same time, so both are replaced here,
 * as its own initialisation (lib/helpers/initialize_keystore.js, oidc-provider 9.13) fills them.
 * The keys are ScheduledSigningKeys of the algorithms the provider already signs with.
 */
export function replaceProviderSigningKeys(provider: Provider, jwks: StoredJwks): void {
  const state = providerInstance(provider) as Partial<ProviderKeys> | undefined;
  if (typeof state?.keystore?.clear !== 'function' || typeof state.keystore.add !== 'function' || !state.jwks) {
    throw new Error('node-oidc-provider keeps its keys differently than this version expects: signing keys cannot change without a restart');
  }
  const keys = providerSigningKeys(jwks);
  state.keystore.clear();
  for (const key of keys) state.keystore.add(key);
  state.jwks = {
    keys: keys.map((key) => ({
      kty: key.kty,
      use: key.use,
      key_ops: key.key_ops ? [...key.key_ops] : undefined,
      kid: key.kid,
      alg: key.alg,
      crv: key.crv,
      e: key.e,
      n: key.n,
      x: key.x,
      y: key.y,
    })),
  };
}
