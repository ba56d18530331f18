import Router from '@koa/router';
import type { Context } from 'koa';

import type { AccountLifecycle, AccountService } from '../accounts/index.ts';
import { PageError, type RateLimits } from '../http/index.ts';
import type { ProviderRegistry } from '../upstream/index.ts';
import type { Message, Views } from '../views/index.ts';
import { fieldErrors, forgetRegistered, formErrorOf, interactionPath, keepRegistered, refusal, registeredIn, registrationForm, typed } from '../web/index.ts';
import { type InteractionLoader, loadedInteraction } from './interaction-loader.ts';
import type { KnownDevices } from './known-devices.ts';
import { offeredProviders } from './login-page.ts';
import type { SignInCompletion } from './second-factor-step.ts';

/** What the "check your email" page of an interaction shows: resend, "I've confirmed, continue", the outbox in development. */
export interface CheckEmailPage {
  (ctx: Context, uid: string, email: string, options?: { heading?: Message; notConfirmed?: boolean }): void;
}

export function checkEmailPage(views: Views, devOutbox: boolean): CheckEmailPage {
  return (ctx, uid, email, options = {}) =>
    views.render(ctx, 'check-email', {
      uid,
      email,
      heading: options.heading ?? 'checkEmail.almostDone',
      notConfirmed: options.notConfirmed ?? false,
      devOutbox,
    });
}

/**
 * Creating an account from the login page. The registering browser is bound to the new account (a signed
 * cookie); once the mailed link confirms the address, that browser, and only that one, finishes the sign-in
 * without the password being typed again: straight from the link when it is opened there, or with the
 * "I've confirmed" button of the page it waits on.
 */
export function registerStep(deps: {
  load: InteractionLoader;
  registrationOpen: boolean;
  upstream: ProviderRegistry;
  accounts: AccountService;
  lifecycle: AccountLifecycle;
  devices: KnownDevices;
  completion: SignInCompletion;
  checkEmail: CheckEmailPage;
  rateLimits: RateLimits;
  views: Views;
}): Router {
  const { load, accounts, lifecycle, devices, completion, checkEmail, rateLimits, views } = deps;
  const router = new Router();

  /**
   * GET: where the confirmed link sends its registering browser; POST: the waiting page's "I've confirmed" button.
   * Open even when registration is closed: an unverified account that proved its password continues here too.
   */
  const continueRegistered = async (ctx: Context) => {
    const { interaction } = loadedInteraction(ctx);
    const registered = registeredIn(ctx, interaction.uid);
    // Nothing registered in this browser (or long ago): the sign-in form.
    if (!registered) return ctx.redirect(interactionPath(interaction.uid)!);
    const account = await accounts.signInRegistered(registered.accountId, { ip: ctx.ip, userAgent: ctx.get('user-agent') || null });
    if (!account) return checkEmail(ctx, interaction.uid, registered.email, { notConfirmed: true });
    forgetRegistered(ctx);
    devices.remember(ctx, account.id);
    return completion.afterFirstFactor(ctx, interaction, account.id, 'pwd');
  };
  router.get('/registered', load('login'), continueRegistered);
  router.post('/registered', load('login'), continueRegistered);

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
    views.render(ctx, 'register', { uid: interaction.uid, client, providers: offeredProviders(deps.upstream), values: {}, errors: {} });
  });

  router.post('/register', load('login'), async (ctx) => {
    const { interaction, client } = loadedInteraction(ctx);
    const body = (ctx.request.body ?? {}) as Record<string, unknown>;
    const values = { email: typed(body, 'email'), name: typed(body, 'name', 200) };
    const rerender = (errors: Record<string, Message>) =>
      views.render(ctx, 'register', { uid: interaction.uid, client, providers: offeredProviders(deps.upstream), values, errors }, 400);

    const form = registrationForm.safeParse(body);
    if (!form.success) return rerender(fieldErrors(form.error));
    await rateLimits.limitIp('forms', ctx.ip);
    try {
      const { accountId } = await lifecycle.register({
        email: form.data.email,
        name: form.data.name,
        password: form.data.password,
        passwordConfirmation: form.data.password_confirmation,
        returnTo: interactionPath(interaction.uid),
        locale: views.locale(ctx),
      });
      keepRegistered(ctx, { uid: interaction.uid, accountId, email: form.data.email });
    } catch (error) {
      return rerender(formErrorOf(refusal('registration', error)));
    }
    checkEmail(ctx, interaction.uid, form.data.email);
  });

  return router;
}
