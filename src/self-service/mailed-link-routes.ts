import Router from '@koa/router';
import type { Context } from 'koa';

import { type AccountLifecycle, InvalidLinkError, type KeptSignInMethods } from '../accounts/index.ts';
import { csrfProtection, formBody, type RateLimits } from '../http/index.ts';
import type { ProviderRegistry } from '../upstream/index.ts';
import type { Message, Views } from '../views/index.ts';
import { emailOnlyForm, fieldErrors, formErrorOf, interactionPath, newPasswordForm, refusal, registeredIn, tokenForm, typed } from '../web/index.ts';

/**
 * Pages behind the links we mail, and the "forgot password" form. A GET never uses a link up
 * (mail scanners open links); the page's button does, with a POST.
 */
export function mailedLinkRoutes(deps: {
  upstream: ProviderRegistry;
  lifecycle: AccountLifecycle;
  rateLimits: RateLimits;
  views: Views;
  /** Mail goes to the development outbox: the "check your email" page points there. */
  devOutbox: boolean;
}): Router {
  const { lifecycle, rateLimits, views } = deps;
  const router = new Router({ prefix: '/account' });
  router.use(formBody(), csrfProtection(), async (ctx, next) => {
    ctx.set('Cache-Control', 'no-store');
    await next();
  });

  const invalidLink = (ctx: Context, kind: 'verify' | 'reset') =>
    views.render(ctx, 'invalid-link', { kind }, 400);
  const queryToken = (ctx: Context) => (typeof ctx.query.token === 'string' ? ctx.query.token.slice(0, 200) : '');
  /** A form field that may repeat (checkboxes): its string values. */
  const ticked = (body: Record<string, unknown>, name: string) => [body[name]].flat().filter((value): value is string => typeof value === 'string');

  /**
   * The reset form, with the account's passkeys and linked identities to keep (none ticked, or what
   * was ticked before a refused try); the link's error page once it is dead.
   */
  async function renderReset(ctx: Context, token: string, errors: Record<string, Message>, status = 200, kept: KeptSignInMethods = { passkeys: [], identities: [] }) {
    const review = token ? await lifecycle.resetLinkReview(token) : undefined;
    if (!review) return invalidLink(ctx, 'reset');
    views.render(ctx, 'reset-password', { token, review, kept, errors, providerName: deps.upstream.nameOf }, status);
  }

  router.get('/verify-email', async (ctx) => {
    const token = queryToken(ctx);
    if (!token || !(await lifecycle.verificationLinkIsLive(token))) return invalidLink(ctx, 'verify');
    views.render(ctx, 'verify-email', { token });
  });

  router.post('/verify-email', async (ctx) => {
    const form = tokenForm.safeParse(ctx.request.body ?? {});
    if (!form.success) return invalidLink(ctx, 'verify');
    try {
      const { accountId, email, returnTo } = await lifecycle.verifyEmail(form.data.token);
      // The browser that registered (or proved the password) continues at once; any other one is sent back to it.
      const uid = returnTo?.slice('/interaction/'.length) ?? '';
      if (returnTo && registeredIn(ctx, uid)?.accountId === accountId) {
        ctx.status = 303;
        return ctx.redirect(`${returnTo}/registered`);
      }
      views.render(ctx, 'email-verified', { email, returnTo });
    } catch (error) {
      if (error instanceof InvalidLinkError) return invalidLink(ctx, 'verify');
      throw error;
    }
  });

  router.get('/forgot-password', (ctx) => {
    views.render(ctx, 'forgot-password', { interaction: interactionPath(ctx.query.interaction) ? ctx.query.interaction : '', email: '', errors: {} });
  });

  router.post('/forgot-password', async (ctx) => {
    const body = (ctx.request.body ?? {}) as Record<string, unknown>;
    const interaction = interactionPath(body.interaction) ? String(body.interaction) : '';
    const form = emailOnlyForm.safeParse(body);
    if (!form.success) {
      return views.render(ctx, 'forgot-password', { interaction, email: typed(body, 'email'), errors: fieldErrors(form.error) }, 400);
    }
    await rateLimits.limitIp('forms', ctx.ip);
    try {
      await lifecycle.requestPasswordReset(form.data.email, interactionPath(body.interaction), views.locale(ctx));
    } catch (error) {
      const refused = refusal('emailAddress', error);
      return views.render(ctx, 'forgot-password', { interaction, email: typed(body, 'email'), errors: formErrorOf(refused) }, refused.status);
    }
    views.render(ctx, 'check-email', { email: form.data.email, heading: 'checkEmail.title', reset: true, devOutbox: deps.devOutbox });
  });

  router.get('/reset-password', (ctx) => renderReset(ctx, queryToken(ctx), {}));

  router.post('/reset-password', async (ctx) => {
    const body = (ctx.request.body ?? {}) as Record<string, unknown>;
    const form = newPasswordForm.safeParse(body);
    const token = typed(body, 'token', 200);
    const keep = { passkeys: ticked(body, 'keep_passkey'), identities: ticked(body, 'keep_identity') };
    if (!form.success) return renderReset(ctx, token, fieldErrors(form.error), 400, keep);
    try {
      const { returnTo } = await lifecycle.resetPassword(form.data.token, form.data.password, form.data.password_confirmation, keep);
      views.render(ctx, 'password-changed', { returnTo });
    } catch (error) {
      // A dead link is not a refusal in words: the link's own page says so.
      if (error instanceof InvalidLinkError) return invalidLink(ctx, 'reset');
      const refused = refusal('passwordReset', error);
      return renderReset(ctx, token, formErrorOf(refused), refused.status, keep);
    }
  });

  return router;
}
