import Router from '@koa/router';

import type { AccountLifecycle } from '../accounts/index.ts';
import { PageError, type RateLimits } from '../http/index.ts';
import type { Message, Views } from '../views/index.ts';
import { fieldErrors, formErrorOf, interactionPath, refusal, registrationForm, typed } from '../web/index.ts';
import { type InteractionLoader, loadedInteraction } from './interaction-loader.ts';

/** Creating an account from the login page; the mailed link verifies it and returns to this interaction. */
export function registerStep(deps: {
  load: InteractionLoader;
  registrationOpen: boolean;
  google: boolean;
  lifecycle: AccountLifecycle;
  rateLimits: RateLimits;
  views: Views;
}): Router {
  const { load, lifecycle, rateLimits, views } = deps;
  const router = new Router();

  if (!deps.registrationOpen) {
    // Refused before any interaction is loaded: registration is closed, whatever the interaction.
    const closed = () => {
      throw new PageError(404, 'registrationClosed');
    };
    router.get('/register', closed);
    router.post('/register', closed);
    return router;
  }

  router.get('/register', load('login'), (ctx) => {
    const { interaction, client } = loadedInteraction(ctx);
    views.render(ctx, 'register', { uid: interaction.uid, client, google: deps.google, values: {}, errors: {} });
  });

  router.post('/register', load('login'), async (ctx) => {
    const { interaction, client } = loadedInteraction(ctx);
    const body = (ctx.request.body ?? {}) as Record<string, unknown>;
    const values = { email: typed(body, 'email'), name: typed(body, 'name', 200) };
    const rerender = (errors: Record<string, Message>) =>
      views.render(ctx, 'register', { uid: interaction.uid, client, google: deps.google, values, errors }, 400);

    const form = registrationForm.safeParse(body);
    if (!form.success) return rerender(fieldErrors(form.error));
    await rateLimits.limitIp('forms', ctx.ip);
    try {
      await lifecycle.register({
        email: form.data.email,
        name: form.data.name,
        password: form.data.password,
        passwordConfirmation: form.data.password_confirmation,
        returnTo: interactionPath(interaction.uid),
        locale: views.locale(ctx),
      });
    } catch (error) {
      return rerender(formErrorOf(refusal('registration', error)));
    }
    views.render(ctx, 'check-email', { email: form.data.email, heading: 'checkEmail.almostDone' });
  });

  return router;
}
