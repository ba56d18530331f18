import { randomBytes } from 'node:crypto';
import { existsSync, readFileSync, writeFileSync, mkdirSync } from 'node:fs';
import path from 'node:path';
import { calculateJwkThumbprint, exportJWK, generateKeyPair, type JWK } from 'jose';

export interface Secrets {
  jwks: { keys: JWK[] };
  cookieKeys: string[];
}

export class SecretsError extends Error {}

const SIGNING_ALGORITHMS = ['RS256', 'ES256'] as const;

/** A private JWK set with one key per algorithm we sign with; RS256 first, the OIDC default. */
export async function generateJwks(): Promise<{ keys: JWK[] }> {
  const keys: JWK[] = [];
  for (const alg of SIGNING_ALGORITHMS) {
    const { privateKey } = await generateKeyPair(alg, { extractable: true });
    const jwk = await exportJWK(privateKey);
    keys.push({ ...jwk, alg, use: 'sig', kid: await calculateJwkThumbprint(jwk) });
  }
  return { keys };
}

export function readJwksFile(file: string): { keys: JWK[] } {
  let parsed: unknown;
  try {
    parsed = JSON.parse(readFileSync(file, 'utf8'));
  } catch (error) {
    throw new SecretsError(`JWKS_FILE ${file} is not a readable JSON file: ${(error as Error).message}`);
  }
  const keys = (parsed as { keys?: unknown })?.keys;
  if (!Array.isArray(keys) || keys.length === 0) throw new SecretsError(`JWKS_FILE ${file} has no "keys" array`);
  if (keys.some((key) => typeof key !== 'object' || key === null || !('d' in key))) {
    throw new SecretsError(`JWKS_FILE ${file} must hold private keys (each with "d")`);
  }
  return { keys: keys as JWK[] };
}

/**
 * Signing and cookie keys from configuration, or (embedded development mode) generated on
 * first start and kept in dataDir, so that a restart keeps sessions and tokens valid.
 */
export async function loadSecrets(options: {
  jwksFile: string | undefined;
  cookieKeys: string[] | undefined;
  dataDir: string;
}): Promise<Secrets & { generated: boolean }> {
  if (options.jwksFile && options.cookieKeys) {
    return { jwks: readJwksFile(options.jwksFile), cookieKeys: options.cookieKeys, generated: false };
  }
  const file = path.join(options.dataDir, 'secrets.json');
  let kept: Secrets;
  if (existsSync(file)) {
    kept = JSON.parse(readFileSync(file, 'utf8')) as Secrets;
  } else {
    kept = { jwks: await generateJwks(), cookieKeys: [randomBytes(32).toString('base64url')] };
    mkdirSync(options.dataDir, { recursive: true });
    writeFileSync(file, JSON.stringify(kept, null, 2), { mode: 0o600, flag: 'wx' });
  }
  return {
    jwks: options.jwksFile ? readJwksFile(options.jwksFile) : kept.jwks,
    cookieKeys: options.cookieKeys ?? kept.cookieKeys,
    generated: true,
  };
}
