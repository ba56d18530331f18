import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';

import { newSecretsKey, parseSecretsKeys, type SecretsKey } from '../crypto/index.ts';
import { generateJwks, parseJwks, SigningKeysError, type StoredJwks } from './signing-keys.ts';

export interface Secrets {
  jwks: StoredJwks;
  cookieKeys: string[];
  /** SECRETS_KEY: encrypts secrets kept in the database; the first encrypts. */
  secretsKeys: SecretsKey[];
}

/** What the development file keeps (written before SECRETS_KEY existed, it lacks `secretsKey`). */
interface KeptSecrets {
  jwks: StoredJwks;
  cookieKeys: string[];
  secretsKey?: string;
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

/** Where the generated development keys are kept. */
export const developmentSecretsFile = (dataDir: string) => path.join(dataDir, 'secrets.json');

export interface DevelopmentJwks {
  jwks: StoredJwks;
  file: string;
  /** When the server generated them: the file's birth time (its last change where the file system keeps none). */
  generatedAt: Date;
}

/** The signing keys the server generated in dataDir when JWKS_FILE and JWKS are unset; undefined before its first start. */
export function readDevelopmentJwks(dataDir: string): DevelopmentJwks | undefined {
  const file = developmentSecretsFile(dataDir);
  if (!existsSync(file)) return undefined;
  const kept = JSON.parse(readFileSync(file, 'utf8')) as KeptSecrets;
  const { birthtimeMs, mtime } = statSync(file);
  return { jwks: kept.jwks, file, generatedAt: birthtimeMs > 0 ? new Date(birthtimeMs) : mtime };
}

/**
 * Signing, cookie and secrets keys from configuration, or (embedded development mode) generated on
 * first start and kept in dataDir, so that a restart keeps sessions, tokens and second factors valid.
 */
export async function loadSecrets(options: {
  jwks: JwksSource;
  cookieKeys: string[] | undefined;
  secretsKeys: SecretsKey[] | undefined;
  dataDir: string;
}): Promise<Secrets & { generated: boolean }> {
  if (options.jwks && options.cookieKeys && options.secretsKeys) {
    return { jwks: readJwks(options.jwks), cookieKeys: options.cookieKeys, secretsKeys: options.secretsKeys, generated: false };
  }
  const file = developmentSecretsFile(options.dataDir);
  let kept: KeptSecrets;
  if (existsSync(file)) {
    kept = JSON.parse(readFileSync(file, 'utf8')) as KeptSecrets;
    if (!kept.secretsKey) {
      kept.secretsKey = newSecretsKey('dev');
      writeFileSync(file, JSON.stringify(kept, null, 2), { mode: 0o600 });
    }
  } else {
    kept = { jwks: await generateJwks(), cookieKeys: [randomBytes(32).toString('base64url')], secretsKey: newSecretsKey('dev') };
    mkdirSync(options.dataDir, { recursive: true });
    writeFileSync(file, JSON.stringify(kept, null, 2), { mode: 0o600, flag: 'wx' });
  }
  return {
    jwks: options.jwks ? readJwks(options.jwks) : kept.jwks,
    cookieKeys: options.cookieKeys ?? kept.cookieKeys,
    secretsKeys: options.secretsKeys ?? parseSecretsKeys(kept.secretsKey!),
    generated: true,
  };
}
