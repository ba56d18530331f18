import Router from '@koa/router';
import type { Context, Middleware } from 'koa';

import type { Passkeys } from '../accounts/index.ts';
import { PageError } from '../http/index.ts';
import type { Views } from '../views/index.ts';
import { passkeyAnswer, startCeremony, takeCeremonyKey } from '../web/index.ts';
import { ACCOUNT_PAGES, type AccountPage, refusalNotice } from './account-page.ts';

export interface PasskeyDeps {
  page: AccountPage;
  /** Undefined when the issuer cannot have passkeys (its host is an IP address). */
  passkeys: Passkeys | undefined;
  views: Views;
  /** The guard of sensitive changes (see two-step-routes). */
  recent(returnTo: string): Middleware;
}

const SECTION = `${ACCOUNT_PAGES.security}#methods-title`;

const field = (ctx: Context, name: string, max: number) => {
  const value = (ctx.request.body as Record<string, unknown> | undefined)?.[name];
  return typeof value === 'string' ? value.slice(0, max) : '';
};

/** Adding, renaming and removing passkeys from the account page. */
export function passkeyRoutes(deps: PasskeyDeps): Router {
  const { page, views } = deps;
  const router = new Router();
  const passkeysOrRefuse = () => {
    if (!deps.passkeys) throw new PageError(404, 'passkeysUnavailable');
    return deps.passkeys;
  };

  router.post('/passkeys/options', deps.recent(SECTION), async (ctx) => {
    const passkeys = passkeysOrRefuse();
    const { account } = await page.signedIn(ctx);
    startCeremony(ctx, await passkeys.startRegistration(account));
  });

  router.post('/passkeys', deps.recent(SECTION), async (ctx) => {
    const passkeys = passkeysOrRefuse();
    const { account } = await page.signedIn(ctx);
    const name = field(ctx, 'name', 200).trim() || views.translate(ctx)('account.passkeys.defaultName');
    try {
      await passkeys.finishRegistration(account.id, takeCeremonyKey(ctx), passkeyAnswer(ctx), name, ctx.ip);
    } catch (error) {
      return page.render(ctx, 'security', refusalNotice('passkeyAdd', error));
    }
    return page.render(ctx, 'security', { notice: { kind: 'ok', text: 'account.notices.passkeyAdded' } });
  });

  router.post('/passkeys/rename', async (ctx) => {
    const passkeys = passkeysOrRefuse();
    const { account } = await page.signedIn(ctx);
    try {
      await passkeys.rename(account.id, field(ctx, 'id', 2000), field(ctx, 'name', 200), ctx.ip);
    } catch (error) {
      return page.render(ctx, 'security', refusalNotice('passkeyRename', error));
    }
    return page.render(ctx, 'security', { notice: { kind: 'ok', text: 'account.notices.passkeyRenamed' } });
  });

  router.post('/passkeys/remove', deps.recent(SECTION), async (ctx) => {
    const passkeys = passkeysOrRefuse();
    const { account } = await page.signedIn(ctx);
    try {
      await passkeys.remove(account.id, field(ctx, 'id', 2000), await page.mfaRequired(account.id), ctx.ip);
    } catch (error) {
      return page.render(ctx, 'security', refusalNotice('passkeyRemove', error));
    }
    return page.render(ctx, 'security', { notice: { kind: 'ok', text: 'account.notices.passkeyRemoved' } });
  });

  return router;
}
