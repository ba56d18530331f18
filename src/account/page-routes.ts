import Router from '@koa/router';
import type { Context } from 'koa';
import type Provider from 'oidc-provider';

import { IdentityInUseError, LastSignInMethodError, type AccountService, type Federation } from '../accounts/index.ts';
import { csrfProtection } from '../http/csrf.ts';
import { PageError } from '../http/errors.ts';
import { formBody } from '../http/form-body.ts';
import type { Message } from '../http/i18n.ts';
import type { Views } from '../http/views.ts';
import { GoogleSignInError, GoogleUnavailableError, keepFlow, takeFlow, type GoogleClient } from '../interactions/index.ts';
import { currentAccountId } from '../oidc/index.ts';

/** The signed-in person's account page: who they are and how they sign in (Google link and unlink). */
export function accountPageRoutes(deps: {
  provider: Provider;
  accounts: AccountService;
  federation: Federation;
  google: GoogleClient | undefined;
  views: Views;
}): Router {
  const { provider, accounts, federation, google, views } = deps;
  const router = new Router({ prefix: '/account' });
  router.use(formBody(), csrfProtection(), async (ctx, next) => {
    ctx.set('Cache-Control', 'no-store');
    await next();
  });

  async function signedIn(ctx: Context) {
    const accountId = await currentAccountId(provider, ctx);
    const account = accountId ? await accounts.findActiveAccount(accountId) : undefined;
    if (!account) {
      throw new PageError(401, 'notSignedIn');
    }
    return account;
  }

  async function renderPage(ctx: Context, notice?: { kind: 'ok' | 'error'; text: Message }, status = 200) {
    const account = await signedIn(ctx);
    const identities = await federation.identitiesOf(account.id);
    views.render(
      ctx,
      'account',
      {
        account,
        hasPassword: Boolean(account.password_hash),
        googleEnabled: Boolean(google),
        googleIdentity: identities.find((identity) => identity.provider === 'google'),
        notice,
      },
      status,
    );
  }

  router.get('/', (ctx) => renderPage(ctx));

  router.post('/google/link', async (ctx) => {
    const account = await signedIn(ctx);
    if (!google) throw new PageError(404, 'googleUnavailable');
    try {
      const { url, checks } = await google.start();
      keepFlow(ctx, { mode: 'link', accountId: account.id, checks });
      ctx.status = 303;
      ctx.redirect(url.href);
    } catch (error) {
      if (!(error instanceof GoogleUnavailableError)) throw error;
      return renderPage(ctx, { kind: 'error', text: 'account.notices.googleUnavailable' }, 503);
    }
  });

  router.get('/google/callback', async (ctx) => {
    const account = await signedIn(ctx);
    const flow = takeFlow(ctx);
    if (!google || flow?.mode !== 'link' || flow.accountId !== account.id) {
      return renderPage(ctx, { kind: 'error', text: 'account.notices.googleUnmatched' }, 400);
    }
    try {
      await federation.link(account.id, await google.finish(ctx.search, flow.checks));
    } catch (error) {
      const refusal =
        error instanceof IdentityInUseError
          ? { status: 409, text: 'account.notices.googleInUse' }
          : error instanceof GoogleSignInError
            ? { status: 400, text: error.reason === 'cancelled' ? 'account.notices.googleCancelled' : 'account.notices.googleFailed' }
            : error instanceof GoogleUnavailableError
              ? { status: 503, text: 'account.notices.googleUnavailable' }
              : undefined;
      if (!refusal) throw error;
      ctx.state.log.warn({ reason: (error as Error).message }, 'linking google refused');
      return renderPage(ctx, { kind: 'error', text: refusal.text }, refusal.status);
    }
    return renderPage(ctx, { kind: 'ok', text: 'account.notices.googleLinked' });
  });

  router.post('/google/unlink', async (ctx) => {
    const account = await signedIn(ctx);
    try {
      await federation.unlink(account.id, 'google');
    } catch (error) {
      if (!(error instanceof LastSignInMethodError)) throw error;
      return renderPage(ctx, { kind: 'error', text: 'account.notices.lastMethod' }, 409);
    }
    return renderPage(ctx, { kind: 'ok', text: 'account.notices.googleUnlinked' });
  });

  return router;
}
