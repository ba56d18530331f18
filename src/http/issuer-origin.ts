import type Koa from 'koa';

import type { TrustProxy } from '../config.ts';
import { clientAddressOf } from './client-address.ts';

const clientAddress = Symbol('clientAddress');
const absoluteForm = /^https?:\/\//i;

/** The path and query of a request target, also when it came in absolute form (`GET http://host/path`). */
function pathOf(target: string): string {
  if (!absoluteForm.test(target)) return target;
  try {
    const url = new URL(target);
    return url.pathname + url.search;
  } catch {
    return '/';
  }
}

/**
 * Every request of this app is taken to have come to ISSUER, whatever its Host, X-Forwarded-Host
 * or X-Forwarded-Proto say: the URLs node-oidc-provider publishes (discovery, redirects,
 * device verification) and our own links are all made from `ctx.href`/`ctx.host`/`ctx.protocol`,
 * so none of them can be pointed elsewhere by a header, and a cached discovery document is
 * the same for everyone. `ctx.ip` is the client address by TRUST_PROXY (see clientAddressOf),
 * so rate limits, sign-in history, audit and sessions all read the one value.
 */
export function pinRequestsToIssuer(app: Koa, options: { issuer: string; trustProxy: TrustProxy }): void {
  const issuer = new URL(options.issuer);
  const protocol = issuer.protocol.slice(0, -1);
  const addressOf = clientAddressOf(options.trustProxy);
  app.proxy = false; // Koa's own reading of X-Forwarded-* is replaced by the getters below
  Object.defineProperties(app.request, {
    host: { get: () => issuer.host, configurable: true },
    protocol: { get: () => protocol, configurable: true },
    href: {
      get(this: Koa.Request) {
        return issuer.origin + pathOf(this.originalUrl);
      },
      configurable: true,
    },
    URL: {
      get(this: Koa.Request) {
        return new URL(pathOf(this.originalUrl || '/'), issuer.origin);
      },
      configurable: true,
    },
    ip: {
      get(this: Koa.Request & { [clientAddress]?: string }) {
        return (this[clientAddress] ??= addressOf(this.req));
      },
      set(this: Koa.Request & { [clientAddress]?: string }, value: string) {
        this[clientAddress] = value;
      },
      configurable: true,
    },
  });
}
