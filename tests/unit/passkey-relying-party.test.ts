import { describe, expect, it } from 'vitest';

import { relyingPartyOf } from '../../src/accounts/index.ts';

describe('the passkey relying party of an issuer', () => {
  it('is the issuer host (RP ID) and its origin, port and all', () => {
    expect(relyingPartyOf('https://login.example.com', 'Acme')).toEqual({ id: 'login.example.com', origin: 'https://login.example.com', name: 'Acme' });
    expect(relyingPartyOf('http://localhost:3000/', 'Acme')).toEqual({ id: 'localhost', origin: 'http://localhost:3000', name: 'Acme' });
    expect(relyingPartyOf('https://example.com/idp', 'Acme')?.origin).toBe('https://example.com');
  });

  it('does not exist for an IP address, which WebAuthn refuses as an RP ID', () => {
    expect(relyingPartyOf('http://127.0.0.1:3000', 'Acme')).toBeUndefined();
    expect(relyingPartyOf('http://[::1]:3000', 'Acme')).toBeUndefined();
  });
});
