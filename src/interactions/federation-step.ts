import Router from '@koa/router';

import type { Federation } from '../accounts/index.ts';
import { PageError } from '../http/index.ts';
import type { GoogleClient } from '../upstream/index.ts';
import type { Message } from '../views/index.ts';
import { keepFlow, keepPendingLink, refusal, takeFlow } from '../web/index.ts';
import { type InteractionLoader, loadedInteraction } from './interaction-loader.ts';
import type { LoginPage } from './login-page.ts';
import type { SignInCompletion } from './second-factor-step.ts';

/** "Continue with Google": off to Google, and back with the person's Google identity. */
export function federationStep(deps: {
  load: InteractionLoader;
  loginPage: LoginPage;
  google: GoogleClient | undefined;
  federation: Federation;
  completion: SignInCompletion;
}): Router {
  const { load, loginPage, google, federation, completion } = deps;
  const router = new Router();

  if (google) {
    router.post('/google', load('login'), async (ctx) => {
      try {
        const { url, checks } = await google.start();
        keepFlow(ctx, { mode: 'login', uid: loadedInteraction(ctx).interaction.uid, checks });
        ctx.status = 303;
        ctx.redirect(url.href);
      } catch (error) {
        const { text, status } = refusal('signInGoogleStart', error);
        ctx.state.log.warn({ reason: (error as Error).message }, 'google unavailable');
        return loginPage(ctx, { errors: { form: text } }, status);
      }
    });
  } else {
    // Refused before any interaction is loaded: there is no Google here, whatever the interaction.
    router.post('/google', () => {
      throw new PageError(404, 'googleUnavailable');
    });
  }

  router.get('/google/callback', load('login'), async (ctx) => {
    const { interaction } = loadedInteraction(ctx);
    const flow = takeFlow(ctx);
    const refuse = (status: number, text: Message, reason: string) => {
      ctx.state.log.warn({ reason }, 'google sign-in refused');
      return loginPage(ctx, { errors: { form: text } }, status);
    };
    if (!google || flow?.mode !== 'login' || flow.uid !== interaction.uid) {
      return refuse(400, 'login.errors.googleUnmatched', 'no matching flow');
    }

    try {
      const profile = await google.finish(ctx.search, flow.checks);
      const result = await federation.signIn(profile, { ip: ctx.ip, userAgent: ctx.get('user-agent') || null });
      if (result.kind === 'password-needed') {
        keepPendingLink(ctx, interaction.uid, profile);
        return loginPage(ctx, { email: result.email, errors: { form: 'login.errors.googlePasswordNeeded' } }, 409);
      }
      return await completion.afterFirstFactor(ctx, interaction, result.account.id, 'fed');
    } catch (error) {
      const { text, status } = refusal('signInGoogle', error);
      return refuse(status, text, (error as Error).message);
    }
  });

  return router;
}
