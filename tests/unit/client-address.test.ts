import type { IncomingMessage } from 'node:http';
import { describe, expect, it } from 'vitest';

import { loadConfig } from '../../src/config.ts';
import { clientAddressOf } from '../../src/http/client-address.ts';

const requestFrom = (peer: string, forwardedFor?: string) =>
  ({ socket: { remoteAddress: peer }, connection: { remoteAddress: peer }, headers: forwardedFor ? { 'x-forwarded-for': forwardedFor } : {} }) as unknown as IncomingMessage;

describe('TRUST_PROXY and the client address', () => {
  it('reads hop counts, true, false and lists of addresses, and refuses anything else', () => {
    const trust = (value: string) => loadConfig({ NODE_ENV: 'test', TRUST_PROXY: value }).trustProxy;
    expect(trust('false')).toEqual({ hops: 0 });
    expect(trust('0')).toEqual({ hops: 0 });
    expect(trust('true')).toEqual({ hops: 1 });
    expect(trust('2')).toEqual({ hops: 2 });
    expect(trust('10.0.0.0/8, ::1,loopback')).toEqual({ addresses: ['10.0.0.0/8', '::1', 'loopback'] });
    for (const bad of ['maybe', '10.0.0.0/40', '300.1.1.1', '99']) expect(() => trust(bad), bad).toThrow(/TRUST_PROXY/);
  });

  it('takes the socket address when no proxy is trusted', () => {
    expect(clientAddressOf({ hops: 0 })(requestFrom('198.51.100.9', '203.0.113.1'))).toBe('198.51.100.9');
  });

  it('with N hops, takes the entry N from the right of X-Forwarded-For', () => {
    expect(clientAddressOf({ hops: 1 })(requestFrom('10.0.0.2', '203.0.113.1, 198.51.100.7'))).toBe('198.51.100.7');
    expect(clientAddressOf({ hops: 2 })(requestFrom('10.0.0.2', '203.0.113.1, 198.51.100.7, 10.0.0.1'))).toBe('198.51.100.7');
    expect(clientAddressOf({ hops: 1 })(requestFrom('10.0.0.2'))).toBe('10.0.0.2');
  });

  it('with a list, walks from the socket peer leftwards past trusted proxies only', () => {
    const trusted = clientAddressOf({ addresses: ['10.0.0.0/8'] });
    expect(trusted(requestFrom('10.0.0.2', '203.0.113.1, 198.51.100.7, 10.1.2.3'))).toBe('198.51.100.7');
    // The peer itself is not a trusted proxy: what it forwards is not believed.
    expect(trusted(requestFrom('198.51.100.66', '203.0.113.1'))).toBe('198.51.100.66');
    // Every entry trusted: the leftmost is the client.
    expect(trusted(requestFrom('10.0.0.2', '10.9.9.9'))).toBe('10.9.9.9');
  });

  it('does not believe an entry that is not an IP address', () => {
    expect(clientAddressOf({ hops: 1 })(requestFrom('10.0.0.2', 'not-an-address'))).toBe('10.0.0.2');
  });
});
