import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';

import { liveJwks } from '../../src/keys/live-jwks.ts';
import { generateJwks, parseJwks, rotateJwks } from '../../src/keys/signing-keys.ts';

const HOUR = 3600;

describe('rotateJwks', () => {
  it('keeps a retired key while tokens it signed may live, and drops it after', async () => {
    const start = 1_800_000_000;
    const first = await generateJwks();
    const second = await rotateJwks(first, { activateInSeconds: HOUR, keepSeconds: 2 * HOUR, now: start });
    expect(second.added.map((key) => [key.alg, key.activates_at])).toEqual([['RS256', start + HOUR], ['ES256', start + HOUR]]);
    expect(second.removed).toEqual([]);

    // The new keys took over an hour after the rotation; two hours later the old ones still verify.
    const early = await rotateJwks(second.jwks, { activateInSeconds: HOUR, keepSeconds: 2 * HOUR, now: start + 3 * HOUR - 1 });
    expect(early.removed).toEqual([]);

    const late = await rotateJwks(second.jwks, { activateInSeconds: HOUR, keepSeconds: 2 * HOUR, now: start + 3 * HOUR + 1 });
    expect(late.removed.map((key) => key.kid).sort()).toEqual(first.keys.map((key) => key.kid).sort());
    expect(late.jwks.keys).toHaveLength(4);
  });
});

describe('parseJwks', () => {
  it.each([
    ['not json', /JWKS is not JSON/],
    ['{"keys":[]}', /JWKS has no "keys" array/],
    ['{"keys":[{"kty":"RSA","n":"x","e":"AQAB","kid":"a","alg":"RS256"}]}', /keys\[0\] is not a private key/],
  ])('refuses %s', (text, message) => {
    expect(() => parseJwks(text, 'JWKS')).toThrow(message);
  });

  it('names a key without kid, an unknown algorithm, a repeated kid, and a set with no RS256 key signing now', async () => {
    const { keys } = await generateJwks();
    const [rsa, ec] = keys as [Record<string, unknown>, Record<string, unknown>];
    expect(() => parseJwks(JSON.stringify({ keys: [{ ...rsa, kid: undefined }] }), 'JWKS')).toThrow(/keys\[0\] has no "kid"/);
    expect(() => parseJwks(JSON.stringify({ keys: [{ ...rsa, alg: 'HS256' }] }), 'JWKS')).toThrow(/keys\[0\] needs "alg"/);
    expect(() => parseJwks(JSON.stringify({ keys: [rsa, rsa] }), 'JWKS')).toThrow(/appears twice/);
    expect(() => parseJwks(JSON.stringify({ keys: [ec] }), 'JWKS')).toThrow(/needs an active RS256 key/);
    const future = Math.floor(Date.now() / 1000) + HOUR;
    expect(() => parseJwks(JSON.stringify({ keys: [{ ...rsa, activates_at: future }, ec] }), 'JWKS')).toThrow(/needs an active RS256 key/);
    expect(parseJwks(JSON.stringify({ keys }), 'JWKS').keys).toHaveLength(2);
  });
});

describe('liveJwks (JWKS_FILE watched while the server runs)', () => {
  const until = async (check: () => boolean) => {
    for (let tries = 0; tries < 200 && !check(); tries++) await new Promise((resolve) => setTimeout(resolve, 25));
    expect(check()).toBe(true);
  };

  it('keeps the keys in use when the file turns unusable, and takes up the next good set', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'live-jwks-'));
    const file = path.join(dir, 'jwks.json');
    const first = await generateJwks();
    writeFileSync(file, JSON.stringify(first));
    const refused: string[] = [];
    const heard: string[][] = [];
    const live = liveJwks({ file }, first, { changed: () => {}, refused: (error) => refused.push(error.message) }, 50);
    live.onChange((jwks) => heard.push(jwks.keys.map((key) => key.kid!)));
    try {
      writeFileSync(file, '{"keys": [');
      await until(() => refused.length > 0);
      expect(refused[0]).toMatch(/is not JSON/);
      expect(live.current()).toBe(first);

      // Written in place, not renamed: the poll sees it even where no file-system event comes.
      const second = await generateJwks();
      writeFileSync(file, JSON.stringify(second));
      await until(() => heard.length > 0);
      expect(heard).toEqual([second.keys.map((key) => key.kid)]);
      expect(live.publicKeys().map((key) => key.kid)).toEqual(second.keys.map((key) => key.kid));
      expect(JSON.stringify(live.publicKeys())).not.toContain('"d"');
    } finally {
      live.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
