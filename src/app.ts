import path from 'node:path';
import type Router from '@koa/router';
import Koa, { type Middleware } from 'koa';
import compose from 'koa-compose';
import mount from 'koa-mount';
import serve from 'koa-static';
import type Provider from 'oidc-provider';

import type { TrustProxy } from './config.ts';
import { CookieSigner } from './crypto/index.ts';
import {
  errorHandler,
  healthRoutes,
  onlyUnder,
  type Metrics,
  pinRequestsToIssuer,
  refuseControlCharactersInPath,
  type RateLimits,
  type ReadinessCheck,
  requestLogger,
  requestOrigin,
  type RouteEntry,
  routersBySegment,
  routeTable,
  securityHeaders,
} from './http/index.ts';
import type { Logger } from './logger.ts';
import { publicMetadataCaching } from './oidc/index.ts';
import { viewsDir } from './paths.ts';
import { type Brand, brandRoutes, languageChoiceRoutes, type Views, webauthnBrowserScript } from './views/index.ts';

export interface AppDependencies {
  production: boolean;
  brand: Brand;
  /** Every URL is made from it, whatever Host or X-Forwarded-* say. */
  issuer: string;
  trustProxy: TrustProxy;
  cookieKeys: string[];
  log: Logger;
  /** The error pages. */
  views: Views;
  metrics: Metrics;
  /** Serve /metrics here too (false when it has a port of its own, and always in production). */
  metricsOnMainPort: boolean;
  /** Cache-Control max-age of /jwks (JWKS_MAX_AGE). */
  jwksMaxAge: number;
  readinessChecks: Record<string, ReadinessCheck>;
  /** The host applies only the token endpoint's limit, in front of the provider. */
  rateLimits: RateLimits;
  /** Our pages and APIs, in the order a request meets them (after the brand assets and health checks). */
  routers: Router[];
  /** Run before any router or the provider sees the request (keeping shared settings current). */
  beforeRouting?: Middleware[];
  /** What no router answered: the OpenID Connect protocol. */
  provider: Provider;
}

const routeTables = new WeakMap<Koa, RouteEntry[]>();

/** The routes of our own pages and APIs on this app (node-oidc-provider's not included). */
export const routesOf = (app: Koa): RouteEntry[] => routeTables.get(app) ?? [];

/** The Koa host: our middleware and pages in front, node-oidc-provider behind them. */
export function createApp(deps: AppDependencies): Koa {
  const app = new Koa();
  // The provider is mounted on this app: its cookies, too, are signed and checked with these keys.
  app.keys = new CookieSigner(deps.cookieKeys);
  pinRequestsToIssuer(app, { issuer: deps.issuer, trustProxy: deps.trustProxy });
  app.silent = true; // errors are logged by errorHandler and the provider's events, with the request id

  // Every request: its id and log line (with the metrics), the error pages, the security headers.
  app.use(requestLogger(deps.log, deps.metrics.recordRequest));
  app.use(errorHandler(deps.views));
  app.use(securityHeaders({ production: deps.production }));
  app.use(refuseControlCharactersInPath());
  app.use(onlyUnder('/static/', compose([webauthnBrowserScript(), mount('/static', serve(path.join(viewsDir, 'static'), { maxage: 3600_000 }))])));

  for (const middleware of deps.beforeRouting ?? []) app.use(middleware);

  // Our pages, found by the first segment of the path (in the request's context, for the security notices they cause).
  const routers = [brandRoutes(deps.brand), languageChoiceRoutes(deps.views.catalogues.locales), healthRoutes(deps.readinessChecks), ...deps.routers];
  if (deps.metricsOnMainPort) routers.push(deps.metrics.routes());
  app.use(routersBySegment(routers, { before: [requestOrigin()] }));
  routeTables.set(app, routeTable(routers));

  // The protocol: what no router answered.
  app.use(deps.rateLimits.tokenEndpoint);
  app.use(publicMetadataCaching(deps.jwksMaxAge));
  app.use(mount(deps.provider));
  return app;
}

/** /metrics on a port of its own (METRICS_PORT), out of the public app's reach. */
export function createMetricsApp(metrics: Metrics): Koa {
  const app = new Koa();
  app.use(metrics.routes().routes());
  return app;
}
