import type Router from '@koa/router';
import type { Middleware } from 'koa';
import compose from 'koa-compose';

const leadingSegment = /^\/([A-Za-z0-9._~-]+)(?=[/(]|$)/;

/**
 * The first path segments under which a router has routes (`/admin/users/:id` gives `admin`, `/` gives the empty
 * segment), or undefined when some route does not begin with a fixed segment.
 */
export function leadingSegmentsOf(router: Router): Set<string> | undefined {
  const segments = new Set<string>();
  for (const layer of router.stack) {
    if (layer.path === '/') {
      segments.add('');
      continue;
    }
    const match = typeof layer.path === 'string' ? leadingSegment.exec(layer.path) : null;
    if (!match) return undefined;
    segments.add(match[1]!);
  }
  return segments;
}

/** The router's routes, then its allowed-methods answers (405/501, OPTIONS). */
function routesOf(router: Router): Middleware {
  const matched = router.routes() as Middleware;
  const allowedMethods = router.allowedMethods() as Middleware;
  return (ctx, next) => matched(ctx, () => allowedMethods(ctx, next));
}

/**
 * Several routers as one middleware: a request meets only the routers that have routes under its first
 * path segment (and those that could match anywhere), in their order, after the `before` middleware. A
 * protocol request such as /token or /jwks goes straight on to node-oidc-provider, through one function
 * instead of one per router.
 */
export function routersBySegment(routers: Router[], { before = [] }: { before?: Middleware[] } = {}): Middleware {
  const entries = routers.map((router) => ({ middleware: routesOf(router), segments: leadingSegmentsOf(router) }));
  const chainFor = (segment: string | undefined) =>
    entries.filter((entry) => !entry.segments || (segment !== undefined && entry.segments.has(segment))).map((entry) => entry.middleware);
  const chains = new Map<string, Middleware>();
  for (const entry of entries) {
    for (const segment of entry.segments ?? []) chains.set(segment, compose([...before, ...chainFor(segment)]) as Middleware);
  }
  const anywhere = chainFor(undefined);
  const fallback: Middleware | undefined = anywhere.length ? (compose([...before, ...anywhere]) as Middleware) : undefined;
  return (ctx, next) => {
    const end = ctx.path.indexOf('/', 1);
    const chain = chains.get(ctx.path.slice(1, end === -1 ? undefined : end)) ?? fallback;
    return chain ? chain(ctx, next) : next();
  };
}

/** `middleware` for the paths that begin with `prefix`; every other request passes by it at the cost of one comparison. */
export function onlyUnder(prefix: string, middleware: Middleware): Middleware {
  return (ctx, next) => (ctx.path.startsWith(prefix) ? middleware(ctx, next) : next());
}

export interface RouteEntry {
  method: string;
  path: string;
}

/** Every method and path these routers answer (nested routers included), so that a test can drive each one. */
export function routeTable(routers: Router[]): RouteEntry[] {
  return routers.flatMap((router) =>
    router.stack.flatMap((layer) =>
      typeof layer.path === 'string' ? layer.methods.filter((method) => method !== 'HEAD').map((method) => ({ method, path: layer.path as string })) : [],
    ),
  );
}
