import { renameSync, writeFileSync } from 'node:fs';
import { parseArgs } from 'node:util';

import { longestSignedTokenLifetime, readResourceServersFile } from '../clients/index.ts';
import type { Config } from '../config.ts';
import { developmentSecretsFile, readDevelopmentJwks, readJwks, retiredSince, rotateJwks, type StoredJwk, type StoredJwks } from '../keys/index.ts';

export class KeysUsageError extends Error {}

const UNITS: Record<string, number> = { s: 1, m: 60, h: 3600, d: 86_400 };

/** "90s", "30m", "1h", "7d" (or plain seconds) to seconds. */
export function parseDuration(text: string): number {
  const match = /^(\d+)([smhd]?)$/.exec(text.trim());
  if (!match) throw new KeysUsageError(`"${text}" is not a duration like 90s, 30m, 1h or 7d`);
  return Number(match[1]) * UNITS[match[2] || 's']!;
}

const at = (seconds: number) => new Date(seconds * 1000).toISOString();
const describe = (key: StoredJwk) => `${key.kid} (${key.alg})`;

/**
 * Without JWKS_FILE or JWKS the server signs with keys it generated in DATA_DIR on its first start:
 * listed as such, never rotated (that file also holds the cookie and secrets keys).
 */
function developmentKeys(config: Config, action: string | undefined, now: number, keepSeconds: number): string {
  if (action !== 'list') {
    throw new KeysUsageError(`keys rotate works on JWKS_FILE or JWKS; neither is set, so the server signs with development keys kept in ${developmentSecretsFile(config.dataDir)}. Set JWKS_FILE (from \`npm run admin -- generate-jwks --out jwks.json\`) to rotate.`);
  }
  const development = readDevelopmentJwks(config.dataDir);
  if (!development) {
    return `No signing keys yet: JWKS_FILE and JWKS are unset, so the server generates development keys in ${developmentSecretsFile(config.dataDir)} when it first starts.`;
  }
  const generated = `development key, generated ${development.generatedAt.toISOString()}`;
  return [
    `Development keys in ${development.file} (JWKS_FILE and JWKS are unset):`,
    ...keyStates(development.jwks, now, keepSeconds).map((line, index) => `${line}; use ${development.jwks.keys[index]!.use ?? 'sig'}; ${generated}`),
  ].join('\n');
}

/** Replaces the file in one step, so that a node starting meanwhile never reads half of it. */
function writeAtomically(file: string, jwks: StoredJwks) {
  const temporary = `${file}.${process.pid}.tmp`;
  writeFileSync(temporary, `${JSON.stringify(jwks, null, 2)}\n`, { mode: 0o600 });
  renameSync(temporary, file);
}

function keyStates(jwks: StoredJwks, now: number, keepSeconds: number): string[] {
  return jwks.keys.map((key) => {
    const since = key.activates_at ?? 0;
    if (since > now) return `${describe(key)}  published, signs from ${at(since)}`;
    const retired = retiredSince(jwks, key, now);
    if (retired === undefined) return `${describe(key)}  signing`;
    return `${describe(key)}  retired, published until ${at(retired + keepSeconds)}`;
  });
}

export async function keysCommand(config: Config, args: string[]): Promise<string> {
  const [action, ...rest] = args;
  const { values } = parseArgs({ args: rest, options: { 'activate-in': { type: 'string', default: '1h' } }, strict: true });
  if (action !== 'list' && action !== 'rotate') throw new KeysUsageError('keys needs "list" or "rotate [--activate-in 1h]"');
  const keepSeconds = longestSignedTokenLifetime(readResourceServersFile(config.resourceServersFile)) + 5 * 60;
  const now = Math.floor(Date.now() / 1000);
  const from = config.jwks;
  if (!from) return developmentKeys(config, action, now, keepSeconds);
  const jwks = readJwks(from);

  switch (action) {
    case 'list':
      return keyStates(jwks, now, keepSeconds).join('\n');
    case 'rotate': {
      const activateInSeconds = parseDuration(values['activate-in']!);
      // Relying parties may keep the published set this long: a key that signed sooner would not verify there.
      if (activateInSeconds < config.jwksMaxAge) {
        throw new KeysUsageError(`--activate-in must be at least ${config.jwksMaxAge}s, how long the JWKS may be cached (JWKS_MAX_AGE)`);
      }
      const rotation = await rotateJwks(jwks, { activateInSeconds, keepSeconds, now });
      const report = [
        ...rotation.added.map((key) => `added ${describe(key)}: published now, signs from ${at(key.activates_at!)}`),
        ...rotation.removed.map((key) => `removed ${describe(key)}: every token it signed has expired`),
        '',
        ...keyStates(rotation.jwks, now, keepSeconds),
      ].join('\n');
      if ('file' in from) {
        writeAtomically(from.file, rotation.jwks);
        return `${report}\n\nWrote ${from.file}. Every running node reading this file publishes the new keys within seconds, without a restart.`;
      }
      // JWKS comes from a variable: the operator stores the new set wherever that variable is kept.
      process.stderr.write(`${report}\n\nStore the JSON below as JWKS on every node before the new keys sign.\n`);
      return JSON.stringify(rotation.jwks);
    }
    default:
      throw new KeysUsageError('keys needs "list" or "rotate [--activate-in 1h]"');
  }
}
