import { describe, expect, it } from 'vitest';

import { retryDelay, targetRefusal, withoutSecrets } from '../../src/webhooks/index.ts';
import { checkedLookup, RefusedTargetError } from '../../src/webhooks/webhook-sender.ts';

describe('webhook delivery rules', () => {
  it('refuses loopback and private targets unless private network requests are allowed, and metadata addresses always', async () => {
    expect(await targetRefusal('http://127.0.0.1:8080/hook', false)).toContain('loopback');
    expect(await targetRefusal('http://10.1.2.3/hook', false)).toContain('private');
    expect(await targetRefusal('http://localhost/hook', false)).toContain('loopback');
    expect(await targetRefusal('http://127.0.0.1:8080/hook', true)).toBeUndefined();
    expect(await targetRefusal('http://169.254.169.254/latest', true)).toContain('metadata');
    expect(await targetRefusal('https://user:pw@203.0.113.5/hook', true)).toContain('user name');
    expect(await targetRefusal('file:///etc/passwd', true)).toContain('http');
  });

  it('backs off exponentially with jitter, capped', () => {
    const settings = { retryBaseMs: 1000, maxRetryDelayMs: 60_000 };
    expect(retryDelay(1, settings, () => 0)).toBe(500);
    expect(retryDelay(1, settings, () => 1)).toBe(1000);
    expect(retryDelay(4, settings, () => 1)).toBe(8000);
    expect(retryDelay(30, settings, () => 0.5)).toBe(45_000);
    const spread = new Set(Array.from({ length: 20 }, () => retryDelay(3, settings)));
    expect(spread.size).toBeGreaterThan(1);
  });

  it('drops credential-like fields from a payload at any depth', () => {
    expect(withoutSecrets({ name: 'A', password_hash: '$argon2id$x', nested: { client_secret: 's', totp: 1, kept: [{ refresh_token: 't', ok: true }] } })).toEqual({
      name: 'A',
      nested: { kept: [{ ok: true }] },
    });
  });
});

describe('the address a webhook connection uses', () => {
  const resolve = (allowPrivateNetwork: boolean, all: boolean) =>
    new Promise<unknown>((done) => checkedLookup(allowPrivateNetwork)('localhost', { all }, (err, address) => done(err ?? address)));

  it('is checked when the connection resolves the name, not only when the subscription was made (DNS rebinding)', async () => {
    expect(await resolve(false, false)).toBeInstanceOf(RefusedTargetError);
    expect(await resolve(false, true)).toBeInstanceOf(RefusedTargetError);
    expect(await resolve(true, false)).toMatch(/^(127\.0\.0\.1|::1)$/);
    expect(await resolve(true, true)).toEqual(expect.arrayContaining([expect.objectContaining({ address: expect.stringMatching(/^(127\.0\.0\.1|::1)$/) })]));
  });
});
