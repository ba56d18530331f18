import { basicAuth, service, webApp } from './clients.ts';
import { authorize, exchangeCode, type Person } from './load/authorize.ts';
import { send } from './load/http.ts';
import { loadWithAutocannon, loadWithFlows, type Sample } from './load/measure.ts';
import type { SideState } from './prepare.ts';
import type { IdpSide } from './report.ts';

export interface LoadSettings {
  seconds: number;
  connections: number;
  /** Simulated browsers for the SSO round trip. */
  browsers: number;
}

export interface Scenario {
  id: string;
  title: string;
  unit: string;
  /** Each side of ours over the baseline must reach this (undefined: no target, shown for reference). */
  targets: Partial<Record<IdpSide, number>>;
  run(side: SideState, load: LoadSettings, person: Person): Promise<Sample>;
}

const form = { 'content-type': 'application/x-www-form-urlencoded' };

/** Hands out the items in turn, so requests spread over every prepared token. */
function rotation(items: string[]) {
  let next = 0;
  return () => items[next++ % items.length]!;
}

/** The targets of issue #19: the host alone within 10% of bare node-oidc-provider, the embedded database within 60%. */
const targets = (ours: number | undefined) => ({ host: 0.9, ...(ours === undefined ? {} : { ours }), embedded: 0.4 });

const get = (path: string): Scenario['run'] => (side, load) =>
  loadWithAutocannon(side.origin, { path }, { connections: load.connections, seconds: load.seconds });

export const scenarios: Scenario[] = [
  {
    id: 'client_credentials',
    title: 'client_credentials token',
    unit: 'req/s',
    targets: targets(0.9),
    run: (side, load) =>
      loadWithAutocannon(
        side.origin,
        { method: 'POST', path: '/token', headers: { ...form, authorization: basicAuth(service) }, body: 'grant_type=client_credentials' },
        { connections: load.connections, seconds: load.seconds },
      ),
  },
  {
    id: 'sso',
    title: 'SSO code round trip (authorize → code → token → userinfo)',
    unit: 'round trips/s',
    targets: targets(0.75),
    run: (side, load, person) =>
      loadWithFlows(
        async (worker) => {
          const browser = side.sessions[worker % side.sessions.length]!;
          const code = await authorize(browser, side.origin, { clientId: webApp.id, scope: 'openid email profile' }, person);
          const { access_token } = await exchangeCode(side.agent, side.origin, webApp, code);
          const me = await send(side.agent, new URL('/me', side.origin), { headers: { authorization: `Bearer ${access_token}` } });
          if (me.status !== 200) throw new Error(`userinfo answered ${me.status}`);
        },
        { concurrency: load.browsers, seconds: load.seconds },
      ),
  },
  {
    id: 'refresh',
    title: 'refresh token rotation',
    unit: 'req/s',
    targets: targets(0.8),
    run(side, load) {
      const pool = side.refreshTokens;
      return loadWithAutocannon(
        side.origin,
        {
          method: 'POST',
          path: '/token',
          headers: { ...form, authorization: basicAuth(webApp) },
          // A refresh token is used once: a request in flight when the window closes loses its successor.
          setupRequest: (request) => ({
            ...request,
            body: new URLSearchParams({ grant_type: 'refresh_token', refresh_token: pool.shift() ?? 'pool-exhausted' }).toString(),
          }),
          onResponse(status, body) {
            if (status === 200) pool.push((JSON.parse(body) as { refresh_token: string }).refresh_token);
          },
        },
        { connections: load.connections, seconds: load.seconds },
      );
    },
  },
  {
    id: 'introspection',
    title: 'introspection',
    unit: 'req/s',
    targets: targets(0.85),
    run(side, load) {
      const token = rotation(side.accessTokens);
      return loadWithAutocannon(
        side.origin,
        {
          method: 'POST',
          path: '/token/introspection',
          headers: { ...form, authorization: basicAuth(webApp) },
          setupRequest: (request) => ({ ...request, body: new URLSearchParams({ token: token() }).toString() }),
        },
        { connections: load.connections, seconds: load.seconds },
      );
    },
  },
  {
    id: 'userinfo',
    title: 'userinfo',
    unit: 'req/s',
    targets: targets(0.85),
    run(side, load) {
      const token = rotation(side.accessTokens);
      return loadWithAutocannon(
        side.origin,
        { path: '/me', setupRequest: (request) => ({ ...request, headers: { ...request.headers, authorization: `Bearer ${token()}` } }) },
        { connections: load.connections, seconds: load.seconds },
      );
    },
  },
  { id: 'jwks', title: 'JWKS', unit: 'req/s', targets: targets(undefined), run: get('/jwks') },
  { id: 'discovery', title: 'discovery', unit: 'req/s', targets: targets(undefined), run: get('/.well-known/openid-configuration') },
];
