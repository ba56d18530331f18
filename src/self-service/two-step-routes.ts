import Router from '@koa/router';
import type { Context, Middleware } from 'koa';

import type { SecondFactors } from '../accounts/index.ts';
import type { AccountSessions } from '../oidc/index.ts';
import type { Message, Views } from '../views/index.ts';
import { refusal } from '../web/index.ts';
import { ACCOUNT_PAGES, type AccountPage, refusalNotice } from './account-page.ts';

export interface TwoStepDeps {
  page: AccountPage;
  secondFactors: SecondFactors;
  sessions: AccountSessions;
  views: Views;
  /** The guard of sensitive changes: a recent authentication, else re-authenticate and return to `returnTo` (a GET returns to itself). */
  recent(returnTo: string): Middleware;
}

const SECTION = `${ACCOUNT_PAGES.security}#methods-title`;
const SETUP = '/two-step/setup';

/** Setting up, renewing and removing the authenticator app from the account page. */
export function twoStepRoutes(deps: TwoStepDeps): Router {
  const { page, secondFactors, views } = deps;
  const router = new Router();

  async function renderSetup(ctx: Context, error?: Message, status = 200) {
    const { account } = await page.signedIn(ctx);
    try {
      const enrollment = await secondFactors.startTotp(account.id, account.email);
      views.render(ctx, 'second-factor-setup', { action: `/account${SETUP}`, cancel: ACCOUNT_PAGES.security, enrollment, errors: error ? { code: error } : {} }, status);
    } catch (error) {
      return page.render(ctx, 'security', refusalNotice('appSetup', error));
    }
  }

  router.get(SETUP, deps.recent(SECTION), (ctx) => renderSetup(ctx));

  router.post(SETUP, deps.recent(SECTION), async (ctx) => {
    const { account } = await page.signedIn(ctx);
    const code = String((ctx.request.body as Record<string, unknown> | undefined)?.code ?? '').replace(/\s/g, '');
    try {
      const recoveryCodes = await secondFactors.confirmTotp(account.id, code, ctx.ip);
      views.render(ctx, 'recovery-codes', { action: '/account/two-step/done', recoveryCodes });
    } catch (error) {
      const { text, status } = refusal('code', error);
      return renderSetup(ctx, text, status);
    }
  });

  router.post('/two-step/done', (ctx) => page.render(ctx, 'security', { notice: { kind: 'ok', text: 'account.notices.twoStepOn' } }));

  router.post('/two-step/recovery-codes', deps.recent(SECTION), async (ctx) => {
    const { account } = await page.signedIn(ctx);
    try {
      const recoveryCodes = await secondFactors.regenerateRecoveryCodes(account.id, ctx.ip);
      views.render(ctx, 'recovery-codes', { action: '/account/two-step/done', recoveryCodes });
    } catch (error) {
      return page.render(ctx, 'security', refusalNotice('recoveryCodes', error));
    }
  });

  router.post('/two-step/remove', deps.recent(SECTION), async (ctx) => {
    const { account } = await page.signedIn(ctx);
    try {
      await secondFactors.removeTotp(account.id, await page.mfaRequired(account.id), ctx.ip);
    } catch (error) {
      return page.render(ctx, 'security', refusalNotice('appRemoval', error));
    }
    return page.render(ctx, 'security', { notice: { kind: 'ok', text: 'account.notices.twoStepRemoved' } });
  });

  return router;
}
