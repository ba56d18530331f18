import Router from '@koa/router';
import Koa from 'koa';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, describe, expect, it } from 'vitest';

import { leadingSegmentsOf, routersBySegment } from '../../src/http/scoped-routes.ts';

/** Serves the app on a free loopback port for this describe block; returns the URL of a path. */
function serve(app: Koa): (path: string) => string {
  const server = createServer(app.callback()).listen(0, '127.0.0.1');
  afterAll(() => new Promise((resolve) => server.close(resolve)));
  return (path) => `http://127.0.0.1:${(server.address() as AddressInfo).port}${path}`;
}

describe('routersBySegment, one router each', () => {
  const admin = new Router({ prefix: '/admin' });
  admin.use(async (ctx, next) => {
    ctx.set('X-Admin-Guard', 'ran');
    await next();
  });
  admin.get('/users', (ctx) => void (ctx.body = 'users'));
  const interactions = new Router({ prefix: '/interaction/:uid' });
  interactions.post('/login', (ctx) => void (ctx.body = `login ${ctx.params.uid}`));

  const app = new Koa();
  app.use(routersBySegment([admin]));
  app.use(routersBySegment([interactions]));
  app.use((ctx) => void (ctx.body = `fallthrough ${ctx.path}`));
  const url = serve(app);

  it('finds the first fixed segment of every route, or gives up', () => {
    expect(leadingSegmentsOf(admin)).toEqual(new Set(['admin']));
    expect(leadingSegmentsOf(interactions)).toEqual(new Set(['interaction']));
    const anywhere = new Router();
    anywhere.get('/:page', () => {});
    expect(leadingSegmentsOf(anywhere)).toBeUndefined();
    const home = new Router();
    home.get('/', () => {});
    expect(leadingSegmentsOf(home)).toEqual(new Set(['']));
  });

  it('serves its routes and runs its middleware as before', async () => {
    const users = await fetch(url('/admin/users'));
    expect(await users.text()).toBe('users');
    expect(users.headers.get('x-admin-guard')).toBe('ran');
    expect(await (await fetch(url('/interaction/abc/login'), { method: 'POST' })).text()).toBe('login abc');
  });

  it('passes other paths on without running the router', async () => {
    const token = await fetch(url('/token'), { method: 'POST' });
    expect(await token.text()).toBe('fallthrough /token');
    expect(token.headers.get('x-admin-guard')).toBeNull();
    // A segment that merely begins like one of ours is another path.
    expect(await (await fetch(url('/administrator'))).text()).toBe('fallthrough /administrator');
  });
});

describe('routersBySegment', () => {
  const callback = new Router();
  callback.get('/interaction/callback/google', (ctx) => void (ctx.body = 'callback first'));
  const interactions = new Router({ prefix: '/interaction/:uid' });
  interactions.get('/', (ctx) => void (ctx.body = `interaction ${ctx.params.uid}`));
  const anywhere = new Router();
  anywhere.get('/:page/help', (ctx) => void (ctx.body = `help for ${ctx.params.page}`));

  const app = new Koa();
  app.use(routersBySegment([callback, interactions, anywhere]));
  app.use((ctx) => void (ctx.body = `provider ${ctx.path}`));
  const url = serve(app);
  const text = async (path: string) => (await fetch(url(path))).text();

  it('keeps the routers’ order within a segment, runs a match-anywhere router for every path, and passes the rest on', async () => {
    expect(await text('/interaction/callback/google')).toBe('callback first');
    expect(await text('/interaction/abc')).toBe('interaction abc');
    expect(await text('/interaction/help')).toBe('interaction help');
    expect(await text('/token/help')).toBe('help for token');
    expect(await text('/jwks')).toBe('provider /jwks');
  });
});

describe('routersBySegment with a router for the root', () => {
  const home = new Router();
  home.get('/', (ctx) => void (ctx.body = 'home'));
  const app = new Koa();
  app.use(routersBySegment([home]));
  app.use((ctx) => void (ctx.body = `provider ${ctx.path}`));
  const url = serve(app);
  const text = async (path: string) => (await fetch(url(path))).text();

  it('answers / and passes every other path on', async () => {
    expect(await text('/')).toBe('home');
    expect(await text('/jwks')).toBe('provider /jwks');
  });
});
