import Router from '@koa/router';

import { type AccountLifecycle, type AccountService, EmailNotVerifiedError, type Federation } from '../accounts/index.ts';
import { PageError, type RateLimits } from '../http/index.ts';
import type { ProviderRegistry } from '../upstream/index.ts';
import { message, type Views } from '../views/index.ts';
import { emailOnlyForm, fieldErrors, formErrorOf, interactionPath, keepRegistered, loginForm, refusal, takePendingLink, typed } from '../web/index.ts';
import { type InteractionLoader, loadedInteraction } from './interaction-loader.ts';
import type { KnownDevices } from './known-devices.ts';
import { sendToProvider } from './federation-step.ts';
import type { LoginPage } from './login-page.ts';
import type { CheckEmailPage } from './register-step.ts';
import type { SignInCompletion } from './second-factor-step.ts';

/**
 * Signing in with email and password, and asking again for the verification mail the password step found missing.
 * Home-realm discovery first: an email of a domain an upstream provider claims goes straight to that provider
 * when no password was typed; with the provider's `enforce`, a password is refused for that domain.
 */
export function loginStep(deps: {
  load: InteractionLoader;
  loginPage: LoginPage;
  accounts: AccountService;
  lifecycle: AccountLifecycle;
  federation: Federation;
  upstream: ProviderRegistry;
  devices: KnownDevices;
  rateLimits: RateLimits;
  completion: SignInCompletion;
  checkEmail: CheckEmailPage;
  views: Views;
}): Router {
  const { load, loginPage, accounts, federation, devices, rateLimits, completion, checkEmail, views } = deps;
  const router = new Router();

  router.post('/login', load('login'), async (ctx) => {
    const { interaction } = loadedInteraction(ctx);
    const body = (ctx.request.body ?? {}) as Record<string, unknown>;
    const email = typed(body, 'email');

    const realm = email.includes('@') ? deps.upstream.forEmail(email.trim()) : undefined;
    if (realm) {
      const password = typeof body.password === 'string' ? body.password : '';
      if (!password) return sendToProvider(ctx, realm, loginPage, email.trim());
      if (realm.enforce) {
        ctx.state.log.info({ provider: realm.id }, 'password sign-in refused: the domain signs in with its provider');
        return loginPage(ctx, { email, errors: { form: message('login.errors.upstreamEnforced', { provider: realm.name }) } }, 403);
      }
    }

    const form = loginForm.safeParse(body);
    if (!form.success) return loginPage(ctx, { email, errors: fieldErrors(form.error) }, 400);
    await rateLimits.limitIp('login', ctx.ip);

    /** A Google identity that waited for this password is linked now, for the same address only. */
    const linkPending = async (accountId: string, email: string) => {
      const pending = takePendingLink(ctx, interaction.uid);
      if (!pending || pending.email.toLowerCase() !== email.toLowerCase()) return false;
      await federation.link(accountId, pending);
      return true;
    };

    try {
      const account = await accounts.authenticate(
        form.data.email,
        form.data.password,
        { ip: ctx.ip, userAgent: ctx.get('user-agent') || null },
        { knownDevice: (accountId) => devices.knows(ctx, accountId) },
      );
      devices.remember(ctx, account.id);
      await linkPending(account.id, account.email);
      return await completion.afterFirstFactor(ctx, interaction, account.id, 'pwd');
    } catch (error) {
      // The password proves the account and Google verified the address: link, and the email is verified.
      if (error instanceof EmailNotVerifiedError && (await linkPending(error.accountId, error.email))) {
        return completion.afterFirstFactor(ctx, interaction, error.accountId, 'pwd');
      }
      // Not a refusal in words but a page of its own: the person has a mail to find.
      // The password is proven here: once the address is confirmed, this browser continues without it.
      if (error instanceof EmailNotVerifiedError) {
        keepRegistered(ctx, { uid: interaction.uid, accountId: error.accountId, email: error.email });
        return views.render(ctx, 'verify-email-needed', { uid: interaction.uid, email: error.email }, 403);
      }
      const refused = refusal('signInPassword', error);
      if (refused.retryAfterSeconds !== undefined) ctx.set('Retry-After', String(refused.retryAfterSeconds));
      return loginPage(ctx, { email, errors: formErrorOf(refused) }, refused.status);
    }
  });

  router.post('/resend-verification', load(), async (ctx) => {
    const { interaction } = loadedInteraction(ctx);
    const form = emailOnlyForm.safeParse(ctx.request.body ?? {});
    if (!form.success) throw new PageError(400, 'emailMissing');
    await rateLimits.limitIp('forms', ctx.ip);
    await rateLimits.limitVerificationMail(form.data.email);
    await deps.lifecycle.resendVerification(form.data.email, interactionPath(interaction.uid), views.locale(ctx));
    checkEmail(ctx, interaction.uid, form.data.email, { heading: 'checkEmail.title' });
  });

  return router;
}
