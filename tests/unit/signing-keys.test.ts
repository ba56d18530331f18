import { describe, expect, it } from 'vitest';

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
