import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import type Provider from 'oidc-provider';

/**
 * Secrets of clients registered in the database are stored as `sha256:<digest>`. A plain SHA-256 is enough
 * because we generate every such secret (256 random bits): nothing can be guessed from its digest, and the
 * token endpoint stays as fast as before (argon2 would cost every client authentication tens of
 * milliseconds of CPU for no gain). Clients of CLIENTS_FILE keep their plaintext secrets.
 */
const PREFIX = 'sha256:';

const digestOf = (secret: string) => createHash('sha256').update(secret, 'utf8').digest();

export const newClientSecret = () => randomBytes(32).toString('base64url');

export const hashClientSecret = (secret: string) => `${PREFIX}${digestOf(secret).toString('base64url')}`;

export const isHashedClientSecret = (stored: unknown): stored is string => typeof stored === 'string' && stored.startsWith(PREFIX);

/**
 * What a client with a hashed secret cannot use, because it needs the secret itself: client_secret_jwt
 * (an HMAC with the secret) and HS* signatures or symmetric encryption keyed by it. Returns the offending
 * field and why, or undefined.
 */
export function symmetricUseOfSecret(metadata: Record<string, unknown>): { field: string; message: string } | undefined {
  if (metadata.token_endpoint_auth_method === 'client_secret_jwt') {
    return {
      field: 'token_endpoint_auth_method',
      message: 'client_secret_jwt needs the secret itself, which is stored only as a hash: use client_secret_basic, client_secret_post or private_key_jwt',
    };
  }
  for (const [field, value] of Object.entries(metadata)) {
    if (!field.endsWith('_alg') || typeof value !== 'string') continue;
    if (/^HS\d+$/.test(value) || value === 'dir' || /^A\d+(GCM)?KW$/.test(value)) {
      return { field, message: `${field} ${value} is keyed by the client secret, which is stored only as a hash: use an asymmetric algorithm` };
    }
  }
  return undefined;
}

/** node-oidc-provider compares client secrets in `Client#compareClientSecret` (awaited): compare hashed ones by digest. */
export function compareHashedClientSecrets(provider: Provider): void {
  const prototype = provider.Client.prototype as unknown as {
    clientSecret?: string;
    compareClientSecret(this: { clientSecret?: string }, actual: string): boolean | Promise<boolean>;
  };
  const compareStored = prototype.compareClientSecret;
  prototype.compareClientSecret = function compareClientSecret(actual) {
    if (!isHashedClientSecret(this.clientSecret)) return compareStored.call(this, actual);
    if (typeof actual !== 'string') return false;
    const expected = Buffer.from(this.clientSecret.slice(PREFIX.length), 'base64url');
    return expected.length === 32 && timingSafeEqual(expected, digestOf(actual));
  };
}
