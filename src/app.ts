import path from 'node:path';
import type Router from '@koa/router';
import Koa from 'koa';
import mount from 'koa-mount';
import serve from 'koa-static';
import type Provider from 'oidc-provider';

import type { AccountLifecycle, AccountService, Federation } from './accounts/index.ts';
import type { ResourceServer } from './clients/index.ts';
import type { TrustProxy } from './config.ts';
import type { DevOutbox } from './email/index.ts';
import {
  devOutboxRoutes,
  errorHandler,
  healthRoutes,
  type Metrics,
  pinRequestsToIssuer,
  type RateLimits,
  type ReadinessCheck,
  requestLogger,
  requestOrigin,
  type RouteEntry,
  routersBySegment,
  routeTable,
  securityHeaders,
} from './http/index.ts';
import { googleCallbackRoute, interactionRoutes, type SignInCompletion } from './interactions/index.ts';
import type { Logger } from './logger.ts';
import { publicMetadataCaching } from './oidc/index.ts';
import { viewsDir } from './paths.ts';
import { mailedLinkRoutes } from './self-service/index.ts';
import type { GoogleClient } from './upstream/index.ts';
import { type Brand, brandRoutes, type Views, webauthnBrowserScript } from './views/index.ts';

export interface AppDependencies {
  production: boolean;
  brand: Brand;
  /** Every URL is made from it, whatever Host or X-Forwarded-* say. */
  issuer: string;
  trustProxy: TrustProxy;
  cookieKeys: string[];
  log: Logger;
  views: Views;
  provider: Provider;
  accounts: AccountService;
  lifecycle: AccountLifecycle;
  federation: Federation;
  google: GoogleClient | undefined;
  rateLimits: RateLimits;
  registrationOpen: boolean;
  resourceServers: ResourceServer[];
  /** What follows the password or Google: the second factor, when there is one. */
  completion: SignInCompletion;
  readinessChecks: Record<string, ReadinessCheck>;
  /** /account: the signed-in person's page. */
  accountPages: Router;
  /** /account/api: the same as JSON for apps, with an `account`-scoped access token. */
  accountApi: Router;
  adminApi: Router;
  adminConsole: Router;
  metrics: Metrics;
  /** Serve /metrics here too (false when it has a port of its own). */
  metricsOnMainPort: boolean;
  /** Development only: the outbox pages. */
  outbox: DevOutbox | undefined;
}

const routeTables = new WeakMap<Koa, RouteEntry[]>();

/** The routes of our own pages and APIs on this app (node-oidc-provider's not included). */
export const routesOf = (app: Koa): RouteEntry[] => routeTables.get(app) ?? [];

/** The Koa host: our middleware and pages in front, node-oidc-provider behind them. */
export function createApp(deps: AppDependencies): Koa {
  const app = new Koa({ keys: deps.cookieKeys });
  pinRequestsToIssuer(app, { issuer: deps.issuer, trustProxy: deps.trustProxy });
  app.silent = true; // errors are logged by errorHandler and the provider's events, with the request id

  app.use(requestLogger(deps.log));
  app.use(requestOrigin());
  app.use(deps.metrics.middleware());
  app.use(errorHandler(deps.views));
  app.use(securityHeaders({ production: deps.production }));
  app.use(webauthnBrowserScript());
  app.use(mount('/static', serve(path.join(viewsDir, 'static'), { maxage: 3600_000 })));

  // The Google callback first: its path would otherwise match the interaction router's /interaction/:uid.
  const routers = [
    brandRoutes(deps.brand),
    healthRoutes(deps.readinessChecks),
    googleCallbackRoute(),
    interactionRoutes(deps),
    mailedLinkRoutes(deps),
    deps.accountApi,
    deps.accountPages,
    deps.adminApi,
    deps.adminConsole,
  ];
  if (deps.outbox) routers.push(devOutboxRoutes(deps.outbox, deps.views));
  if (deps.metricsOnMainPort) routers.push(deps.metrics.routes());
  app.use(routersBySegment(routers));
  routeTables.set(app, routeTable(routers));

  app.use(deps.rateLimits.tokenEndpoint);
  app.use(publicMetadataCaching());
  app.use(mount(deps.provider));
  return app;
}
