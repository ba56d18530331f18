import helmet from 'koa-helmet';
import type { Middleware } from 'koa';

/**
 * Helmet's headers with a strict Content-Security-Policy: no inline script anywhere
 * (node-oidc-provider adds the hash of its own form_post script). `form-action` is left
 * out because browsers apply it to the redirect back to the relying party after a form post.
 */
export function securityHeaders(options: { production: boolean }): Middleware {
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
  }) as Middleware;
}
