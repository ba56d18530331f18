import type { IncomingMessage, ServerResponse } from 'node:http';
import helmet from 'helmet';
import type { Middleware } from 'koa';

/**
 * Helmet's headers with a strict Content-Security-Policy: no inline script anywhere
 * (node-oidc-provider adds the hash of its own form_post script). `form-action` is left
 * out because browsers apply it to the redirect back to the relying party after a form post.
 */
function helmetFor(options: { production: boolean }) {
  return helmet({
    contentSecurityPolicy: {
      useDefaults: false,
      directives: {
        defaultSrc: ["'self'"],
        scriptSrc: ["'self'"],
        styleSrc: ["'self'"],
        // Client logos (logo_uri) and the brand logo: https only in production, http too for local development.
        imgSrc: ["'self'", 'data:', 'https:', ...(options.production ? [] : ['http:'])],
        fontSrc: ["'self'"],
        objectSrc: ["'none'"],
        baseUri: ["'none'"],
        frameAncestors: ["'none'"],
        ...(options.production ? { upgradeInsecureRequests: [] } : {}),
      },
    },
    strictTransportSecurity: options.production ? { maxAge: 31536000, includeSubDomains: true } : false,
    // Koa never sends X-Powered-By: nothing to remove.
    xPoweredBy: false,
  });
}

/**
 * The headers helmet sets with these options, worked out once: none of them depends on the
 * request (no directive is a function of it), so every response gets the same list.
 */
export function securityHeaderList(options: { production: boolean }): [name: string, value: string][] {
  const headers: [string, string][] = [];
  const recorder = {
    setHeader(name: string, value: string | number | readonly string[]) {
      headers.push([name, String(value)]);
      return recorder;
    },
    removeHeader() {},
  };
  // Synchronous: helmet checks the options when it is made, and throws there.
  helmetFor(options)({} as IncomingMessage, recorder as unknown as ServerResponse, () => {});
  return headers;
}

/** Sets the security headers on every response, before anything downstream may adjust them (the provider's form_post CSP). */
export function securityHeaders(options: { production: boolean }): Middleware {
  const headers = securityHeaderList(options);
  return (ctx, next) => {
    for (const [name, value] of headers) ctx.res.setHeader(name, value);
    return next();
  };
}
