import { randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { ClientMetadata } from 'oidc-provider';
import * as oidc from 'openid-client';

import { relyingParty } from './rp.ts';

interface RpSession {
  checks?: { state: string; nonce: string; verifier: string };
  user?: { sub: string; email?: string; name?: string; amr?: string[] };
  idToken?: string;
  error?: string;
}

const escape = (text: string) => text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);

const page = (title: string, body: string) => `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>${escape(title)}</title></head>
<body style="font-family: system-ui, sans-serif; max-width: 36rem; margin: 2rem auto; padding: 0 1rem;">
<header><strong>Sample Notes</strong></header><main>${body}</main></body></html>`;

const LOGO = `<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 64 64"><rect width="64" height="64" rx="14" fill="#f59e0b"/>
<path d="M18 16h22l8 8v24H18z" fill="#fff"/><path d="M24 30h18M24 37h18M24 44h12" stroke="#b45309" stroke-width="3"/></svg>`;

/**
 * A relying party as a person meets it: a page with a "Sign in" link that starts an authorization
 * request (openid-client, PKCE), a callback that exchanges the code and shows who signed in, and a
 * "Sign out" link (RP-initiated logout). It also serves its logo, for the client's logo_uri.
 */
export async function startSampleRp(options: { clientId: string; clientSecret: string; clientName: string }) {
  const server = createServer();
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const redirectUri = `${origin}/callback`;
  const postLogoutUri = `${origin}/logged-out`;
  const sessions = new Map<string, RpSession>();
  let issuer: string | undefined;
  let configuration: Promise<oidc.Configuration> | undefined;
  const config = () => (configuration ??= relyingParty(issuer!, { client_id: options.clientId, client_secret: options.clientSecret }));

  function sessionOf(req: IncomingMessage, res: ServerResponse): RpSession {
    const id = /(?:^|;\s*)rp_sid=([\w-]+)/.exec(req.headers.cookie ?? '')?.[1];
    if (id && sessions.has(id)) return sessions.get(id)!;
    const fresh = randomBytes(12).toString('base64url');
    sessions.set(fresh, {});
    res.setHeader('set-cookie', `rp_sid=${fresh}; Path=/; HttpOnly; SameSite=Lax`);
    return sessions.get(fresh)!;
  }
  const send = (res: ServerResponse, status: number, html: string, type = 'text/html; charset=utf-8') => {
    res.writeHead(status, { 'content-type': type, 'cache-control': 'no-store' });
    res.end(html);
  };
  const redirect = (res: ServerResponse, to: string) => {
    res.writeHead(302, { location: to });
    res.end();
  };

  async function handle(req: IncomingMessage, res: ServerResponse) {
    const url = new URL(req.url ?? '/', origin);
    const session = sessionOf(req, res);
    switch (url.pathname) {
      case '/logo.svg':
        return send(res, 200, LOGO, 'image/svg+xml');
      case '/': {
        const error = session.error ? `<p id="rp-error" role="alert">The sign-in ended with: <code>${escape(session.error)}</code></p>` : '';
        session.error = undefined;
        if (session.user) {
          return send(res, 200, page('Sample Notes', `<h1>Your notes</h1>
<p id="signed-in">Signed in as <span id="user-name">${escape(session.user.name ?? '')}</span> &lt;<span id="user-email">${escape(session.user.email ?? '')}</span>&gt;</p>
<p>Signed in with: <span id="user-amr">${escape((session.user.amr ?? []).join(' '))}</span></p>
<p><a href="/logout">Sign out</a></p>`));
        }
        return send(res, 200, page('Sample Notes', `<h1>Sample Notes</h1>${error}<p id="signed-out">You are not signed in.</p><p><a href="/login">Sign in</a></p>`));
      }
      case '/login': {
        const checks = { state: oidc.randomState(), nonce: oidc.randomNonce(), verifier: oidc.randomPKCECodeVerifier() };
        session.checks = checks;
        const extra = Object.fromEntries([...url.searchParams].filter(([name]) => ['ui_locales', 'prompt', 'login_hint'].includes(name)));
        const authorization = oidc.buildAuthorizationUrl(await config(), {
          redirect_uri: redirectUri,
          scope: url.searchParams.get('scope') ?? 'openid email profile',
          state: checks.state,
          nonce: checks.nonce,
          code_challenge: await oidc.calculatePKCECodeChallenge(checks.verifier),
          code_challenge_method: 'S256',
          ...extra,
        });
        return redirect(res, authorization.href);
      }
      case '/callback': {
        const checks = session.checks;
        session.checks = undefined;
        if (url.searchParams.has('error') || !checks) {
          session.error = url.searchParams.get('error') ?? 'no sign-in was started';
          return redirect(res, '/');
        }
        const tokens = await oidc.authorizationCodeGrant(await config(), url, {
          expectedState: checks.state,
          expectedNonce: checks.nonce,
          pkceCodeVerifier: checks.verifier,
        });
        const claims = tokens.claims()!;
        session.user = { sub: claims.sub, email: claims.email as string | undefined, name: claims.name as string | undefined, amr: claims.amr as string[] | undefined };
        session.idToken = tokens.id_token;
        return redirect(res, '/');
      }
      case '/logout': {
        const end = oidc.buildEndSessionUrl(await config(), {
          post_logout_redirect_uri: postLogoutUri,
          ...(session.idToken ? { id_token_hint: session.idToken } : {}),
        });
        return redirect(res, end.href);
      }
      case '/logged-out':
        session.user = undefined;
        session.idToken = undefined;
        return send(res, 200, page('Signed out', '<h1>Signed out</h1><p id="signed-out">You are signed out of Sample Notes.</p><p><a href="/login">Sign in</a></p>'));
      default:
        return send(res, 404, page('Not found', '<h1>Not found</h1>'));
    }
  }

  server.on('request', (req, res) => {
    handle(req, res).catch((error: Error) => send(res, 500, page('Error', `<h1>Error</h1><pre id="rp-failure">${escape(error.message)}</pre>`)));
  });

  return {
    origin,
    /** This app's registration at the IdP, logo included. */
    client(): ClientMetadata {
      return {
        client_id: options.clientId,
        client_secret: options.clientSecret,
        client_name: options.clientName,
        logo_uri: `${origin}/logo.svg`,
        client_uri: origin,
        redirect_uris: [redirectUri],
        post_logout_redirect_uris: [postLogoutUri],
        grant_types: ['authorization_code', 'refresh_token'],
        response_types: ['code'],
      };
    },
    /** The IdP this app signs in with (known once the IdP runs, which needs this app's address first). */
    useIssuer(url: string) {
      issuer = url;
    },
    close: () => {
      server.closeAllConnections();
      return new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

export type SampleRp = Awaited<ReturnType<typeof startSampleRp>>;
