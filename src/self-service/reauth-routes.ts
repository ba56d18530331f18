import Router from '@koa/router';
import type { Context } from 'koa';

import type { Reauthentication } from '../accounts/index.ts';
import { PageError, type RateLimits } from '../http/index.ts';
import type { ProviderRegistry } from '../upstream/index.ts';
import { message, type Message, type Views } from '../views/index.ts';
import { keepFlow, passkeyAnswer, refusal, startCeremony, takeCeremonyKey, takeFlow } from '../web/index.ts';
import { ACCOUNT_PAGES, type AccountPage } from './account-page.ts';
import { returnTarget } from './recent-authentication.ts';

export interface ReauthDeps {
  page: AccountPage;
  reauthentication: Reauthentication;
  upstream: ProviderRegistry;
  rateLimits: RateLimits;
  views: Views;
}

const field = (ctx: Context, name: string, max: number) => {
  const value = (ctx.request.body as Record<string, unknown> | undefined)?.[name];
  return typeof value === 'string' ? value.slice(0, max) : '';
};

const pagePaths = new Set<string>(Object.values(ACCOUNT_PAGES));

/** Back where the person was; an account page says that the change is now theirs to submit again. */
function sendBack(ctx: Context, returnTo: string) {
  const [path, section] = returnTo.split('#');
  ctx.status = 303;
  ctx.redirect(pagePaths.has(path!) ? `${path}?reauthenticated=1${section ? `#${section}` : ''}` : returnTo);
}

/** "Confirm it's you": the page sensitive changes send a person to, and each way of confirming. */
export function reauthRoutes(deps: ReauthDeps): Router {
  const { page, reauthentication, upstream, views } = deps;
  const router = new Router();

  async function render(ctx: Context, returnTo: string, error?: Message, status = 200) {
    const { account } = await page.signedIn(ctx);
    const methods = await reauthentication.methodsOf(account);
    // Only providers offered now, and able to say when the person signed in (not GitHub), can confirm it is you.
    const providers = methods.federated.flatMap((id) => {
      const provider = upstream.get(id);
      return provider?.reauthenticates ? [{ id, name: provider.name }] : [];
    });
    views.render(
      ctx,
      'reauthenticate',
      { returnTo, methods, providers, none: !methods.password && !methods.passkey && providers.length === 0, passkeyScripts: methods.passkey, error },
      status,
    );
  }

  router.get('/reauth', (ctx) => render(ctx, returnTarget(ctx.query.return_to)));

  router.post('/reauth', async (ctx) => {
    const returnTo = returnTarget(field(ctx, 'return_to', 300));
    const { account, session } = await page.signedIn(ctx);
    await deps.rateLimits.limitIp('login', ctx.ip);
    try {
      await reauthentication.withPassword(account, session, field(ctx, 'password', 1024), field(ctx, 'code', 32), { ip: ctx.ip, userAgent: ctx.get('user-agent') || null });
    } catch (error) {
      const { text, status } = refusal('reauth', error);
      return render(ctx, returnTo, text, status);
    }
    sendBack(ctx, returnTo);
  });

  router.post('/reauth/passkey/options', async (ctx) => {
    const { account, session } = await page.signedIn(ctx);
    if (!(await reauthentication.methodsOf(account)).passkey) throw new PageError(404, 'passkeysUnavailable');
    startCeremony(ctx, await reauthentication.startPasskey(account.id, session));
  });

  router.post('/reauth/passkey', async (ctx) => {
    const returnTo = returnTarget(field(ctx, 'return_to', 300));
    const { account, session } = await page.signedIn(ctx);
    try {
      await reauthentication.withPasskey(account.id, session, takeCeremonyKey(ctx), passkeyAnswer(ctx), ctx.ip);
    } catch (error) {
      const { text, status } = refusal('reauth', error);
      return render(ctx, returnTo, text, status);
    }
    sendBack(ctx, returnTo);
  });

  router.post('/reauth/:provider', async (ctx) => {
    const returnTo = returnTarget(field(ctx, 'return_to', 300));
    const { account, session } = await page.signedIn(ctx);
    const provider = upstream.get(String(ctx.params.provider));
    if (!provider?.reauthenticates) throw new PageError(404, 'upstreamUnavailable', undefined, { provider: upstream.nameOf(String(ctx.params.provider)).slice(0, 60) });
    try {
      const { url, checks } = await provider.start({ reauthenticate: true });
      keepFlow(ctx, { mode: 'reauth', provider: provider.id, accountId: account.id, sessionUid: session.uid, askedAt: Date.now(), returnTo, checks });
      ctx.status = 303;
      ctx.redirect(url.href);
    } catch (error) {
      const { text, status } = refusal('upstreamStart', error, { provider: provider.name });
      return render(ctx, returnTo, text, status);
    }
  });

  router.get('/reauth/:provider/callback', async (ctx) => {
    const { account, session } = await page.signedIn(ctx);
    const provider = upstream.get(String(ctx.params.provider));
    const flow = takeFlow(ctx);
    const name = { provider: upstream.nameOf(String(ctx.params.provider)).slice(0, 60) };
    if (!provider || flow?.mode !== 'reauth' || flow.provider !== provider.id || flow.accountId !== account.id || flow.sessionUid !== session.uid) {
      return render(ctx, '/account', message('account.notices.upstreamUnmatched', name), 400);
    }
    try {
      await reauthentication.withUpstream(account, session, await provider.finish(ctx.search, flow.checks), flow.askedAt, ctx.ip);
    } catch (error) {
      const { text, status } = refusal('reauthUpstream', error, name);
      ctx.state.log.warn({ provider: provider.id, reason: (error as Error).message }, 're-authentication with an upstream provider refused');
      return render(ctx, flow.returnTo, text, status);
    }
    sendBack(ctx, flow.returnTo);
  });

  return router;
}
