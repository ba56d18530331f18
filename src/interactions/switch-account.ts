import Router from '@koa/router';
import type Provider from 'oidc-provider';

import { type AccountSessions, currentSession } from '../oidc/index.ts';
import { type InteractionLoader, loadedInteraction, saveInteraction } from './interaction-loader.ts';
import { forgetFirstFactor } from './second-factor-step.ts';

/**
 * "Not you? Use another account" on the consent and second-factor pages: this browser is signed out (its IdP
 * session ends, and the grants it gave, as signing out would; a password proven for the second step is
 * forgotten) and the same authorization request goes back to the sign-in step. An interaction that began in
 * a signed-in session forgets it, so node-oidc-provider resumes it in the browser's new session.
 */
export function switchAccountRoute(deps: { provider: Provider; load: InteractionLoader; sessions: Pick<AccountSessions, 'endById'> }): Router {
  const { provider, load, sessions } = deps;
  const router = new Router();
  router.post('/switch-account', load(), async (ctx) => {
    const { interaction } = loadedInteraction(ctx);
    forgetFirstFactor(ctx, interaction.uid);
    const session = await currentSession(provider, ctx);
    if (session) await sessions.endById(session.sessionId);
    if (interaction.session?.accountId || interaction.prompt.name !== 'login') {
      interaction.session = undefined;
      interaction.grantId = undefined;
      interaction.result = undefined;
      interaction.lastSubmission = undefined;
      interaction.prompt = { name: 'login', reasons: ['switch_account'], details: {} };
      await saveInteraction(interaction);
    }
    ctx.status = 303;
    ctx.redirect(`/interaction/${interaction.uid}`);
  });
  return router;
}
