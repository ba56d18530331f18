import type { Client, KoaContextWithOIDC } from 'oidc-provider';
import { describe, expect, it } from 'vitest';

import { introspectionPolicy } from '../../src/oidc/client-policies.ts';

const API = 'https://things.example.com';
const allowed = introspectionPolicy([{ indicator: API, scopes: ['things:read'], accessTokenTTL: 600, personFacing: false, introspectionClients: ['things-api'] }]);
const ctx = {} as KoaContextWithOIDC;
const client = (clientId: string) => ({ clientId }) as Client;

// Our API tokens are JWTs, which node-oidc-provider refuses to introspect; the audience rule is for opaque ones.
describe('introspection policy', () => {
  it('answers the client a token was issued to', async () => {
    expect(await allowed(ctx, client('web-app'), { clientId: 'web-app', kind: 'RefreshToken' })).toBe(true);
  });

  it("answers an API's own client about access tokens for that API, and nothing else", async () => {
    expect(await allowed(ctx, client('things-api'), { clientId: 'web-app', kind: 'AccessToken', aud: API })).toBe(true);
    expect(await allowed(ctx, client('things-api'), { clientId: 'web-app', kind: 'AccessToken', aud: [API, 'https://other.example.com'] })).toBe(true);
    expect(await allowed(ctx, client('things-api'), { clientId: 'web-app', kind: 'AccessToken', aud: 'https://other.example.com' })).toBe(false);
    expect(await allowed(ctx, client('things-api'), { clientId: 'web-app', kind: 'AccessToken' })).toBe(false);
    expect(await allowed(ctx, client('things-api'), { clientId: 'web-app', kind: 'RefreshToken', aud: API })).toBe(false);
  });

  it("tells another client nothing about someone else's token", async () => {
    expect(await allowed(ctx, client('first-party'), { clientId: 'web-app', kind: 'AccessToken', aud: API })).toBe(false);
  });
});
