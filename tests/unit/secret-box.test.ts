import { describe, expect, it } from 'vitest';

import { createSecretBox, newSecretsKey, parseSecretsKeys } from '../../src/crypto/index.ts';

describe('secret box (SECRETS_KEY)', () => {
  const [oldKey, newKey] = [newSecretsKey('old'), newSecretsKey('new')];

  it('seals with the first key, names it, and opens with any listed key', () => {
    const before = createSecretBox(parseSecretsKeys(oldKey));
    const sealed = before.seal('JBSWY3DPEHPK3PXP', 'totp:a');
    expect(sealed).toMatch(/^old\.[\w-]+\.[\w-]+$/);
    expect(sealed).not.toContain('JBSWY3DPEHPK3PXP');
    expect(before.seal('JBSWY3DPEHPK3PXP', 'totp:a')).not.toBe(sealed);

    const rotated = createSecretBox(parseSecretsKeys(`${newKey},${oldKey}`));
    expect(rotated.open(sealed, 'totp:a')).toBe('JBSWY3DPEHPK3PXP');
    expect(sealed.startsWith(rotated.currentPrefix)).toBe(false);
    expect(rotated.seal('x', 'c').startsWith(rotated.currentPrefix)).toBe(true);
    expect(rotated.currentPrefix).toBe('new.');
  });

  it('refuses a value moved to another context, altered, or sealed with a key no longer listed', () => {
    const box = createSecretBox(parseSecretsKeys(oldKey));
    const sealed = box.seal('secret', 'totp:alice');
    expect(() => box.open(sealed, 'totp:mallory')).toThrow();
    const [kid, iv, body] = sealed.split('.');
    const bytes = Buffer.from(body!, 'base64url');
    bytes[0]! ^= 1;
    const flipped = `${kid}.${iv}.${bytes.toString('base64url')}`;
    expect(() => box.open(flipped, 'totp:alice')).toThrow();
    expect(() => createSecretBox(parseSecretsKeys(newKey)).open(sealed, 'totp:alice')).toThrow(/"old", which SECRETS_KEY does not list/);
  });

  it('opens a value again from memory, and never lets one it opened stand in for another context or an altered copy', () => {
    const box = createSecretBox(parseSecretsKeys(oldKey));
    const sealed = createSecretBox(parseSecretsKeys(oldKey)).seal('session-id', 'oidc:Session:jti');
    expect(box.open(sealed, 'oidc:Session:jti')).toBe('session-id');
    expect(box.open(sealed, 'oidc:Session:jti')).toBe('session-id');
    expect(() => box.open(sealed, 'oidc:DeviceCode:jti')).toThrow();
    expect(() => box.open(`${sealed}A`, 'oidc:Session:jti')).toThrow();
    expect(() => box.open(sealed.replace(/\.(.)/, (_, first: string) => `.${first === 'A' ? 'B' : 'A'}`), 'oidc:Session:jti')).toThrow();
  });

  it('tells sealed values from plaintext ones stored before', () => {
    const box = createSecretBox(parseSecretsKeys(oldKey));
    expect(box.isSealed(box.seal('x', 'c'))).toBe(true);
    expect(box.isSealed('JBSWY3DPEHPK3PXP')).toBe(false);
  });
});
