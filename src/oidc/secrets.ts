import { randomBytes } from 'node:crypto';
import { existsSync, readFileSync, writeFileSync, mkdirSync } from 'node:fs';
import path from 'node:path';

import { generateJwks, parseJwks, SigningKeysError, type StoredJwks } from './signing-keys.ts';

export interface Secrets {
  jwks: StoredJwks;
  cookieKeys: string[];
}

/** Where the signing keys come from: a file, the JWKS setting itself, or neither (generated). */
export type JwksSource = { file: string } | { json: string } | undefined;

export function readJwks(source: NonNullable<JwksSource>): StoredJwks {
  if ('json' in source) return parseJwks(source.json, 'JWKS');
  let text: string;
  try {
    text = readFileSync(source.file, 'utf8');
  } catch (error) {
    throw new SigningKeysError(`JWKS_FILE ${source.file} cannot be read: ${(error as Error).message}`);
  }
  return parseJwks(text, `JWKS_FILE ${source.file}`);
}

/**
 * Signing and cookie keys from configuration, or (embedded development mode) generated on
 * first start and kept in dataDir, so that a restart keeps sessions and tokens valid.
 */
export async function loadSecrets(options: {
  jwks: JwksSource;
  cookieKeys: string[] | undefined;
  dataDir: string;
}): Promise<Secrets & { generated: boolean }> {
  if (options.jwks && options.cookieKeys) {
    return { jwks: readJwks(options.jwks), cookieKeys: options.cookieKeys, generated: false };
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
    jwks: options.jwks ? readJwks(options.jwks) : kept.jwks,
    cookieKeys: options.cookieKeys ?? kept.cookieKeys,
    generated: true,
  };
}
