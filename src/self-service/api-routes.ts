import Router from '@koa/router';
import type { Context } from 'koa';
import type Provider from 'oidc-provider';

import { type Account, profileFieldsSchema, type Reauthentication, type SelfService } from '../accounts/index.ts';
import { jsonBody } from '../http/index.ts';
import type { AccountSessions, ReplayStore } from '../oidc/index.ts';
import { accountApiAuth, type AccountApiCaller } from './api-auth.ts';
import { apiNeedsRecentAuthentication } from './recent-authentication.ts';

const profileOf = (account: Account) => ({
  sub: account.id,
  email: account.email,
  email_verified: account.email_verified,
  name: account.name,
  given_name: account.given_name,
  family_name: account.family_name,
  picture: account.picture,
  locale: account.locale,
  zoneinfo: account.zoneinfo,
  updated_at: Math.floor(new Date(account.updated_at).getTime() / 1000),
});

/**
 * The signed-in person's own account as JSON, for apps that show it in their own UI:
 * `GET/PATCH/DELETE /account/api/me`, `GET/DELETE /account/api/sessions[/:handle]`, with an access token
 * that carries the `account` scope. Browsers may call it from the origins of the token's client.
 * Deleting the account needs a recent authentication of the token's session (RFC 9470 step-up).
 */
export function accountApiRoutes(deps: {
  provider: Provider;
  accounts: { findActiveAccount(id: string): Promise<Account | undefined> };
  selfService: SelfService;
  sessions: AccountSessions;
  issuer: string;
  /** DPoP proof ids seen before. */
  replay: ReplayStore;
  reauthentication: Reauthentication;
}): Router {
  const { provider, selfService, sessions } = deps;
  const recent = apiNeedsRecentAuthentication(deps);
  const router = new Router({ prefix: '/account/api' });
  const caller = (ctx: Context) => ctx.state.caller as AccountApiCaller;

  // Preflights carry no token: any origin may ask; the answer to the real request decides.
  for (const path of ['/me', '/sessions', '/sessions/:id']) {
    router.options(path, (ctx) => {
      ctx.set('Access-Control-Allow-Origin', ctx.get('origin') || '*');
      ctx.set('Access-Control-Allow-Methods', 'GET, PATCH, DELETE');
      ctx.set('Access-Control-Allow-Headers', 'authorization, content-type, dpop');
      ctx.set('Access-Control-Max-Age', '600');
      ctx.status = 204;
    });
  }
  router.use(async (ctx, next) => {
    if (ctx.method === 'OPTIONS') return next();
    ctx.set('Cache-Control', 'no-store');
    const origin = ctx.get('origin');
    await next();
    // CORS for the token's own app only: the origins of its redirect URIs.
    const client = ctx.state.caller && origin ? await provider.Client.find(caller(ctx).clientId) : undefined;
    if (client?.redirectUris?.some((uri) => new URL(uri).origin === origin)) {
      ctx.set('Access-Control-Allow-Origin', origin);
      ctx.vary('Origin');
    }
  });
  const auth = accountApiAuth(deps);
  router.use(async (ctx, next) => (ctx.method === 'OPTIONS' ? next() : auth(ctx, next)), jsonBody('16kb'));

  const account = (ctx: Context) => caller(ctx).account;

  router.get('/me', async (ctx) => {
    ctx.body = profileOf(account(ctx));
  });

  router.patch('/me', async (ctx) => {
    const parsed = profileFieldsSchema.strict().safeParse(ctx.request.body ?? {});
    if (!parsed.success) {
      const issue = parsed.error.issues[0]!;
      ctx.status = 400;
      ctx.body = { error: 'invalid_request', error_description: issue.message, field: issue.path.join('.') || undefined };
      return;
    }
    ctx.body = profileOf(await selfService.updateProfile({ accountId: account(ctx).id, ip: ctx.ip }, parsed.data));
  });

  // The session's recent authentication is the proof: there is no password to send along.
  router.delete('/me', recent, async (ctx) => {
    await selfService.deleteAccount({ accountId: account(ctx).id, ip: ctx.ip });
    ctx.status = 204;
  });

  router.get('/sessions', async (ctx) => {
    const list = await sessions.list(account(ctx).id, { sessionUid: caller(ctx).sessionUid });
    ctx.body = {
      sessions: list.map(({ handle, current, ip, userAgent, signedInAt, lastUsedAt, clientIds }) => ({
        id: handle,
        current,
        ip,
        user_agent: userAgent,
        signed_in_at: signedInAt.toISOString(),
        last_used_at: lastUsedAt.toISOString(),
        client_ids: clientIds,
      })),
    };
  });

  router.delete('/sessions/:id', async (ctx) => {
    const ended = await sessions.end(account(ctx).id, ctx.params.id!);
    if (!ended) {
      ctx.status = 404;
      ctx.body = { error: 'not_found', error_description: 'no such session' };
      return;
    }
    ctx.status = 204;
  });

  // Signs the person out everywhere: each session ends with the grants it gave, as if ended one by one.
  router.delete('/sessions', async (ctx) => {
    const { id } = account(ctx);
    for (const session of await sessions.list(id)) await sessions.end(id, session.handle);
    ctx.status = 204;
  });

  return router;
}
