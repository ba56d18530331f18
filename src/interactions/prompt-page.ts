import Router from '@koa/router';

import { PageError } from '../http/index.ts';
import type { ConsentStep } from './consent-step.ts';
import { type InteractionLoader, loadedInteraction } from './interaction-loader.ts';
import type { LoginPage } from './login-page.ts';

/** Where an authorization request lands: the page of the prompt its interaction is at. */
export function promptPage(deps: { load: InteractionLoader; loginPage: LoginPage; consent: ConsentStep }): Router {
  const router = new Router();
  router.get('/', deps.load(), async (ctx) => {
    const { interaction } = loadedInteraction(ctx);
    if (interaction.prompt.name === 'login') {
      if (interaction.prompt.reasons.includes('second_factor_requested')) {
        ctx.status = 303;
        return ctx.redirect(`/interaction/${interaction.uid}/second-factor`);
      }
      const hint = interaction.params.login_hint;
      return deps.loginPage(ctx, { email: typeof hint === 'string' ? hint : '' });
    }
    if (interaction.prompt.name === 'consent') return deps.consent.show(ctx);
    throw new PageError(400, 'unknownStep');
  });
  return router;
}
