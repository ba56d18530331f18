import { lookup } from 'node:dns/promises';
import { once } from 'node:events';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { hostname } from 'node:os';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { addressRefusal, checkClientUriField } from '../../src/clients/client-uris.ts';
import { guardedFetch } from '../../src/oidc/guarded-fetch.ts';

describe('addresses the IdP calls', () => {
  it.each(['127.0.0.1', '10.1.2.3', '172.16.0.1', '192.168.0.1', '::1', 'fd12::1', '::ffff:127.0.0.1'])('refuses %s in production, allows it in development', (address) => {
    expect(addressRefusal(address, false)).toBeDefined();
    expect(addressRefusal(address, true)).toBeUndefined();
  });

  it.each(['169.254.169.254', '169.254.1.1', 'fe80::1', '0.0.0.0', '::', '224.0.0.1', '100.100.100.200', '168.63.129.16', 'fd00:ec2::254', '::ffff:169.254.169.254'])(
    'refuses %s always (link-local, unspecified, multicast, metadata services)',
    (address) => {
      expect(addressRefusal(address, true)).toBeDefined();
      expect(addressRefusal(address, false)).toBeDefined();
    },
  );

  it.each(['93.184.215.14', '2606:2800:21f:cb07:6820:80da:af6b:8b2c'])('allows the public address %s', (address) => {
    expect(addressRefusal(address, false)).toBeUndefined();
  });

  it('native apps alone may use http on loopback in production (RFC 8252), and never on localhost', () => {
    const production = { httpsOnly: true, allowPrivateNetwork: false };
    expect(() => checkClientUriField('redirect_uris', ['http://127.0.0.1/cb'], { application_type: 'native' }, production)).not.toThrow();
    expect(() => checkClientUriField('redirect_uris', ['http://[::1]/cb'], { application_type: 'native' }, production)).not.toThrow();
    expect(() => checkClientUriField('redirect_uris', ['http://127.0.0.1/cb'], { application_type: 'web' }, production)).toThrow(/https/);
    expect(() => checkClientUriField('redirect_uris', ['http://localhost/cb'], { application_type: 'native' }, production)).toThrow(/https/);
    expect(() => checkClientUriField('jwks_uri', 'http://keys.example.com/', {}, production)).toThrow(/https/);
  });
});

describe('the fetch guard (node-oidc-provider outgoing requests)', () => {
  let calls = 0;
  let url = '';
  const receiver = createServer((_req, res) => {
    calls += 1;
    res.writeHead(200).end();
  });
  beforeAll(async () => {
    receiver.listen(0, '127.0.0.1');
    await once(receiver, 'listening');
    url = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}/backchannel`;
  });
  afterAll(() => receiver.close());

  it('never calls a loopback receiver when private networks are refused, and calls it when they are allowed', async () => {
    await expect(guardedFetch(false)(url, { method: 'POST' })).rejects.toThrow(/loopback/);
    expect(calls).toBe(0);
    expect((await guardedFetch(true)(url, { method: 'POST' })).status).toBe(200);
    expect(calls).toBe(1);
  });

  it('refuses the metadata service even when private networks are allowed', async () => {
    await expect(guardedFetch(true)('http://169.254.169.254/latest/meta-data/', {})).rejects.toThrow(/metadata service/);
    await expect(guardedFetch(true)('http://user:pw@127.0.0.1/', {})).rejects.toThrow(/user name/);
  });

  // A name registration cannot judge: only the address it resolves to at fetch time shows it is loopback.
  it('refuses a host name that resolves to loopback when private networks are refused (where this machine has one)', async (test) => {
    const machine = hostname();
    const resolvesToLoopback = await lookup(machine).then(({ address }) => address.startsWith('127.'), () => false);
    if (!resolvesToLoopback) test.skip();
    const before = calls;
    await expect(guardedFetch(false)(url.replace('127.0.0.1', machine), { method: 'POST' })).rejects.toThrow(/loopback/);
    expect(calls).toBe(before);
  });
});
