import Router from '@koa/router';

import type { RateLimits } from '../http/index.ts';
import { formErrorOf, refusal } from '../web/index.ts';
import { type InteractionLoader, loadedInteraction } from './interaction-loader.ts';
import type { LoginPage } from './login-page.ts';
import type { SignInCompletion } from './second-factor-step.ts';

/** "Sign in with a passkey": no email, no password; the authenticator says whose passkey it is. */
export function passkeyStep(deps: { load: InteractionLoader; loginPage: LoginPage; rateLimits: RateLimits; completion: SignInCompletion }): Router {
  const { load, loginPage, rateLimits, completion } = deps;
  const router = new Router();

  router.post('/passkey/options', load('login'), async (ctx) => {
    await rateLimits.limitIp('login', ctx.ip);
    return completion.startPasskeySignIn(ctx, loadedInteraction(ctx).interaction);
  });

  router.post('/passkey', load('login'), async (ctx) => {
    await rateLimits.limitIp('login', ctx.ip);
    try {
      return await completion.finishPasskeySignIn(ctx, loadedInteraction(ctx).interaction, { ip: ctx.ip, userAgent: ctx.get('user-agent') || null });
    } catch (error) {
      const refused = refusal('passkey', error);
      return loginPage(ctx, { errors: formErrorOf(refused) }, refused.status);
    }
  });

  return router;
}
