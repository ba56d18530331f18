import Router from '@koa/router';
import type { Context, Middleware } from 'koa';

import { SecondFactorRequiredError, type SecondFactors, TotpAlreadyEnabledError, WrongSecondFactorCodeError } from '../accounts/index.ts';
import type { AccountSessions } from '../oidc/index.ts';
import type { Message, Views } from '../views/index.ts';
import { codeRefusal } from '../web/index.ts';
import type { AccountPage } from './account-page.ts';

export interface TwoStepDeps {
  page: AccountPage;
  secondFactors: SecondFactors;
  sessions: AccountSessions;
  views: Views;
  /** The guard of sensitive changes: a recent authentication, else re-authenticate and return to `section`. */
  recent(section: string): Middleware;
}

const SECTION = 'methods-title';
const SETUP = '/two-step/setup';

/** Setting up, renewing and removing the authenticator app from the account page. */
export function twoStepRoutes(deps: TwoStepDeps): Router {
  const { page, secondFactors, views } = deps;
  const router = new Router();

  async function renderSetup(ctx: Context, error?: Message, status = 200) {
    const { account } = await page.signedIn(ctx);
    try {
      const enrollment = await secondFactors.startTotp(account.id, account.email);
      views.render(ctx, 'second-factor-setup', { action: `/account${SETUP}`, enrollment, errors: error ? { code: error } : {} }, status);
    } catch (cause) {
      if (!(cause instanceof TotpAlreadyEnabledError)) throw cause;
      return page.render(ctx, { notice: { kind: 'error', text: 'account.notices.twoStepAlreadyOn' }, status: 409 });
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
      const { text, status } = codeRefusal(error);
      return renderSetup(ctx, text, status);
    }
  });

  router.post('/two-step/done', (ctx) => page.render(ctx, { notice: { kind: 'ok', text: 'account.notices.twoStepOn' } }));

  router.post('/two-step/recovery-codes', deps.recent(SECTION), async (ctx) => {
    const { account } = await page.signedIn(ctx);
    try {
      const recoveryCodes = await secondFactors.regenerateRecoveryCodes(account.id, ctx.ip);
      views.render(ctx, 'recovery-codes', { action: '/account/two-step/done', recoveryCodes });
    } catch (error) {
      if (!(error instanceof WrongSecondFactorCodeError)) throw error;
      return page.render(ctx, { notice: { kind: 'error', text: 'account.notices.twoStepOff' }, status: 409 });
    }
  });

  router.post('/two-step/remove', deps.recent(SECTION), async (ctx) => {
    const { account } = await page.signedIn(ctx);
    try {
      await secondFactors.removeTotp(account.id, await page.mfaRequired(account.id), ctx.ip);
    } catch (error) {
      if (!(error instanceof SecondFactorRequiredError)) throw error;
      return page.render(ctx, { notice: { kind: 'error', text: 'account.notices.twoStepRequired' }, status: 409 });
    }
    return page.render(ctx, { notice: { kind: 'ok', text: 'account.notices.twoStepRemoved' } });
  });

  return router;
}
