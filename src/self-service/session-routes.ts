import Router from '@koa/router';

import type { AccountSessions } from '../oidc/index.ts';
import type { AccountPage } from './account-page.ts';

/** Ending sessions and revoking apps from the account page. */
export function sessionRoutes(deps: { page: AccountPage; sessions: AccountSessions }): Router {
  const { page, sessions } = deps;
  const router = new Router();

  router.post('/sessions/:handle/end', async (ctx) => {
    const { account } = await page.signedIn(ctx);
    const ended = await sessions.end(account.id, ctx.params.handle!);
    // Ending the session this page runs in signs this browser out: the page says so on the next load.
    return page.render(ctx, 'devices', ended ? { notice: { kind: 'ok', text: 'account.notices.sessionEnded' } } : { notice: { kind: 'error', text: 'account.notices.sessionGone' }, status: 404 });
  });

  router.post('/sessions/end-others', async (ctx) => {
    const { account, sessionId } = await page.signedIn(ctx);
    await sessions.endOthers(account.id, sessionId);
    return page.render(ctx, 'devices', { notice: { kind: 'ok', text: 'account.notices.othersEnded' } });
  });

  router.post('/apps/:clientId/revoke', async (ctx) => {
    const { account } = await page.signedIn(ctx);
    const revoked = await sessions.revokeApp(account.id, ctx.params.clientId!);
    return page.render(ctx, 'devices', revoked ? { notice: { kind: 'ok', text: 'account.notices.appRevoked' } } : { notice: { kind: 'error', text: 'account.notices.appGone' }, status: 404 });
  });

  return router;
}
