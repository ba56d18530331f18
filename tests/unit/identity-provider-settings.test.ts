import { describe, expect, it } from 'vitest';

import { createProviderRegistry, IdentityProvidersError, parseProviderList } from '../../src/upstream/index.ts';

const github = { id: 'github', name: 'GitHub', type: 'github', client_id: 'id', client_secret: 'secret' };

describe('IDENTITY_PROVIDERS_FILE entries', () => {
  it('fills the defaults of each type', () => {
    const [oidc, hub, entra] = parseProviderList(
      [
        { id: 'acme', name: 'Acme', type: 'oidc', issuer: 'https://sso.acme.test', client_id: 'x', client_secret: 'y', domains: ['Acme.Test'] },
        github,
        { id: 'entra', name: 'Microsoft', type: 'microsoft', client_id: 'x', client_secret: 'y' },
      ],
      'test',
    );
    expect(oidc).toMatchObject({ scopes: ['openid', 'email', 'profile'], claims: { email: 'email', email_verified: 'claim' }, domains: ['acme.test'], enforce: false, enabled: true });
    expect(hub).toMatchObject({ github_url: 'https://github.com', api_url: 'https://api.github.com' });
    expect(entra).toMatchObject({ tenant: 'organizations', authority: 'https://login.microsoftonline.com' });
  });

  it.each([
    ['an unknown type', { ...github, type: 'saml' }, /identity provider "github": type: /],
    ['a missing secret', { ...github, client_secret: undefined }, /identity provider "github": client_secret: /],
    ['an oidc entry with neither secret nor key', { id: 'acme', name: 'Acme', type: 'oidc', issuer: 'https://sso.acme.test', client_id: 'x' }, /"acme": client_secret: set client_secret or private_key_jwt/],
    ['a bad issuer', { id: 'acme', name: 'Acme', type: 'oidc', issuer: 'not a url', client_id: 'x', client_secret: 'y' }, /"acme": issuer: /],
    ['an id the account pages use', { ...github, id: 'passkeys' }, /"passkeys": id: /],
    ['an entry without id', { name: 'Nameless', type: 'github' }, /identity provider #1: /],
  ])('refuses %s, naming the entry and the field', (_what, entry, message) => {
    expect(() => parseProviderList([entry], 'test')).toThrow(IdentityProvidersError);
    expect(() => parseProviderList([entry], 'test')).toThrow(message);
  });

  it('refuses an id used twice, and http URLs in production', () => {
    expect(() => parseProviderList([github, github], 'test')).toThrow('identity provider "github": id: used twice');
    expect(() => parseProviderList([{ ...github, github_url: 'http://github.test' }], 'test', true)).toThrow('identity provider "github": github_url: must be https in production');
  });
});

describe('provider names', () => {
  it('names a provider no longer configured by its id, and a well-known one by its name, whatever the id', () => {
    const registry = createProviderRegistry('https://idp.example');
    expect(registry.nameOf('github')).toBe('GitHub');
    expect(registry.nameOf('acme-sso')).toBe('acme-sso');
    // Ids come from URLs: an id that names a property of every object is still only an id.
    expect(registry.nameOf('constructor')).toBe('constructor');
    expect(registry.nameOf('__proto__')).toBe('__proto__');
  });
});
