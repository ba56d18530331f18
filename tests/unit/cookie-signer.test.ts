import { once } from 'node:events';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import Koa from 'koa';
import { afterAll, describe, expect, it } from 'vitest';

import { CookieSigner } from '../../src/crypto/index.ts';

/** A Koa app whose cookies are signed with `keys`: an array is Koa's default (Keygrip), a CookieSigner ours. */
async function cookieServer(keys: string[] | CookieSigner): Promise<{ origin: string; server: Server }> {
  const app = new Koa();
  app.keys = keys;
  app.use((ctx) => {
    if (ctx.method === 'POST') {
      ctx.cookies.set('session', String(ctx.query.value), { signed: true });
      ctx.status = 204;
    } else ctx.body = { session: ctx.cookies.get('session', { signed: true }) ?? null };
  });
  const server = createServer(app.callback()).listen(0, '127.0.0.1');
  await once(server, 'listening');
  return { origin: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, server };
}

const servers: Server[] = [];
async function started(keys: string[] | CookieSigner) {
  const started = await cookieServer(keys);
  servers.push(started.server);
  return started.origin;
}
afterAll(() => servers.forEach((server) => server.close()));

/** The cookies a response sets, as a browser sends them back. */
const cookieHeader = (response: Response) => response.headers.getSetCookie().map((cookie) => cookie.split(';')[0]).join('; ');
const setBy = async (origin: string, value: string) => cookieHeader(await fetch(`${origin}/?value=${value}`, { method: 'POST' }));
const readBy = async (origin: string, cookie: string) => {
  const response = await fetch(origin, { headers: { cookie } });
  return { session: ((await response.json()) as { session: string | null }).session, resigned: cookieHeader(response) };
};

describe('cookie signer', () => {
  const [current, previous] = ['current-cookie-key-0123456789abcdef', 'previous-cookie-key-0123456789abcdef'];

  it('reads the signed cookies Keygrip wrote, and writes ones Keygrip reads: browsers stay signed in across the change', async () => {
    const keygrip = await started([current]);
    const ours = await started(new CookieSigner([current]));
    expect(await readBy(ours, await setBy(keygrip, 'from-keygrip'))).toEqual({ session: 'from-keygrip', resigned: '' });
    expect(await readBy(keygrip, await setBy(ours, 'from-ours'))).toEqual({ session: 'from-ours', resigned: '' });
  });

  it('accepts a cookie signed with an older listed key and signs it again with the first', async () => {
    const before = await started(new CookieSigner([previous]));
    const rotated = await started(new CookieSigner([current, previous]));
    const { session, resigned } = await readBy(rotated, await setBy(before, 'kept'));
    expect(session).toBe('kept');
    expect(resigned).toMatch(/^session\.sig=/);
    const onlyCurrent = await started(new CookieSigner([current]));
    expect((await readBy(onlyCurrent, `session=kept; ${resigned}`)).session).toBe('kept');
  });

  it('refuses a changed value, a changed or missing signature, and one made with a key no longer listed', async () => {
    const ours = await started(new CookieSigner([current]));
    const signed = await setBy(ours, 'alice');
    const signature = /session\.sig=([^;]+)/.exec(signed)![1]!;
    expect((await readBy(ours, `session=mallory; session.sig=${signature}`)).session).toBeNull();
    const otherLast = signature.endsWith('A') ? 'B' : 'A';
    expect((await readBy(ours, `session=alice; session.sig=${signature.slice(0, -1)}${otherLast}`)).session).toBeNull();
    expect((await readBy(ours, `session=alice; session.sig=${signature}${signature}`)).session).toBeNull();
    expect((await readBy(ours, 'session=alice')).session).toBeNull();
    const retired = await started(new CookieSigner([previous]));
    expect((await readBy(ours, await setBy(retired, 'alice'))).session).toBeNull();
  });

  it('needs a key', () => {
    expect(() => new CookieSigner([])).toThrow(/no keys/);
  });
});
