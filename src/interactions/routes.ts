import Router from '@koa/router';
import type { Context, Middleware } from 'koa';
import type Provider from 'oidc-provider';
import { errors } from 'oidc-provider';

import {
  AccountDisabledError,
  type AccountLifecycle,
  AccountLockedError,
  type AccountService,
  EmailNotVerifiedError,
  type Federation,
  IdentityInUseError,
  InvalidAccountInputError,
  InvalidCredentialsError,
  PasswordMismatchError,
  RegistrationClosedError,
  UnverifiedFederatedEmailError,
  WeakPasswordError,
} from '../accounts/index.ts';
import type { ResourceServer } from '../clients/index.ts';
import { csrfProtection, formBody, PageError, type RateLimits } from '../http/index.ts';
import { describeScopes, isFirstParty } from '../oidc/index.ts';
import { type GoogleClient, GoogleSignInError, GoogleUnavailableError } from '../upstream/index.ts';
import { message, type Message, type Views } from '../views/index.ts';
import {
  emailOnlyForm,
  fieldErrors,
  interactionPath,
  keepFlow,
  keepPendingLink,
  loginForm,
  minutesUntil,
  passkeyRefusal,
  registrationForm,
  takeFlow,
  takePendingLink,
  typed,
  weakPasswordMessage,
} from '../web/index.ts';
import { knownDevices } from './known-devices.ts';
import type { SignInCompletion } from './second-factor-step.ts';

type Interaction = Awaited<ReturnType<Provider['interactionDetails']>>;

interface ConsentDetails {
  missingOIDCScope?: string[];
  missingOIDCClaims?: string[];
  missingResourceScopes?: Record<string, string[]>;
  /** Privileged APIs requested (the admin API): shown even when granted before, never skipped. */
  privilegedResources?: Record<string, string[]>;
}

/** A missing, expired or tampered interaction: node-oidc-provider's SessionNotFound, as a readable page. */
const expiredInteraction: Middleware = async (ctx, next) => {
  ctx.set('Cache-Control', 'no-store');
  try {
    await next();
  } catch (error) {
    if (error instanceof errors.SessionNotFound) {
      throw new PageError(400, 'interactionExpired');
    }
    throw error;
  }
};

function expectPrompt(interaction: Interaction, name: string): void {
  if (interaction.prompt.name !== name) {
    throw new PageError(400, 'stepDone');
  }
}

export function interactionRoutes(deps: {
  provider: Provider;
  accounts: AccountService;
  lifecycle: AccountLifecycle;
  federation: Federation;
  google: GoogleClient | undefined;
  rateLimits: RateLimits;
  registrationOpen: boolean;
  views: Views;
  resourceServers: ResourceServer[];
  completion: SignInCompletion;
  cookieKeys: string[];
}): Router {
  const { provider, accounts, lifecycle, federation, google, rateLimits, views, registrationOpen, completion } = deps;
  const devices = knownDevices(deps.cookieKeys);
  const resourceNames = new Map(deps.resourceServers.map((server) => [server.indicator, server.name ?? server.indicator]));
  // An API's scope the client may not have there is not granted there: not shown as a scope of the person's own either.
  const apiScopes = new Set(deps.resourceServers.flatMap((server) => server.scopes));
  const router = new Router({ prefix: '/interaction/:uid' });
  router.use(expiredInteraction, formBody(), csrfProtection());
  router.use(completion.routes().routes());

  /** The interaction, and the language its authorization request asked for (ui_locales) for the pages. */
  async function detailsOf(ctx: Context): Promise<Interaction> {
    const interaction = await provider.interactionDetails(ctx.req, ctx.res);
    ctx.state.uiLocales = interaction.params.ui_locales;
    return interaction;
  }

  /** The client as the pages show it: its name (or id) and logo. */
  async function clientOf(interaction: Interaction) {
    const client = await provider.Client.find(String(interaction.params.client_id));
    return { name: client?.clientName ?? client?.clientId, uri: client?.clientUri, logoUri: client?.logoUri };
  }

  async function renderLogin(ctx: Context, interaction: Interaction, data: Record<string, unknown>, status = 200) {
    views.render(
      ctx,
      'login',
      {
        uid: interaction.uid,
        client: await clientOf(interaction),
        errors: {},
        registrationOpen,
        google: Boolean(google),
        passkey: completion.passkeysEnabled,
        passkeyScripts: completion.passkeysEnabled,
        ...data,
      },
      status,
    );
  }

  function checkEmailPage(ctx: Context, email: string, heading: string) {
    views.render(ctx, 'check-email', { email, heading });
  }

  router.get('/', async (ctx) => {
    const interaction = await detailsOf(ctx);
    if (interaction.prompt.name === 'login') {
      if (interaction.prompt.reasons.includes('second_factor_requested')) {
        ctx.status = 303;
        return ctx.redirect(`/interaction/${interaction.uid}/second-factor`);
      }
      const hint = interaction.params.login_hint;
      return renderLogin(ctx, interaction, { email: typeof hint === 'string' ? hint : '' });
    }
    if (interaction.prompt.name === 'consent') {
      // Our own applications are not asked (node-oidc-provider still asks for native and device clients),
      // except for a privileged API.
      const client = await provider.Client.find(String(interaction.params.client_id));
      const privileged = interaction.prompt.reasons.includes('privileged_resource');
      if (isFirstParty(client) && !privileged) return grantConsent(ctx, interaction);
      const details = interaction.prompt.details as ConsentDetails;
      return views.render(ctx, 'consent', {
        uid: interaction.uid,
        client: await clientOf(interaction),
        scopes: describeScopes((details.missingOIDCScope ?? []).filter((scope) => !apiScopes.has(scope))),
        apis: Object.entries({ ...details.missingResourceScopes, ...details.privilegedResources }).map(([indicator, scopes]) => ({
          name: resourceNames.get(indicator) ?? indicator,
          scopes,
        })),
      });
    }
    throw new PageError(400, 'unknownStep');
  });

  router.post('/login', async (ctx) => {
    const interaction = await detailsOf(ctx);
    expectPrompt(interaction, 'login');
    const body = (ctx.request.body ?? {}) as Record<string, unknown>;
    const email = typed(body, 'email');

    const form = loginForm.safeParse(body);
    if (!form.success) return renderLogin(ctx, interaction, { email, errors: fieldErrors(form.error) }, 400);
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
      if (error instanceof InvalidCredentialsError) {
        return renderLogin(ctx, interaction, { email, errors: { form: 'login.errors.wrongCredentials' } }, 400);
      }
      if (error instanceof AccountLockedError) {
        ctx.set('Retry-After', String(error.retryAfterSeconds));
        const form = message('login.errors.locked', { minutes: minutesUntil(error.retryAfterSeconds) });
        return renderLogin(ctx, interaction, { email, errors: { form } }, 429);
      }
      if (error instanceof AccountDisabledError) {
        return renderLogin(ctx, interaction, { email, errors: { form: 'login.errors.disabled' } }, 403);
      }
      if (error instanceof EmailNotVerifiedError) {
        return views.render(ctx, 'verify-email-needed', { uid: interaction.uid, email: error.email }, 403);
      }
      throw error;
    }
  });

  // "Sign in with a passkey": no email, no password; the authenticator says whose passkey it is.
  router.post('/passkey/options', async (ctx) => {
    const interaction = await detailsOf(ctx);
    expectPrompt(interaction, 'login');
    await rateLimits.limitIp('login', ctx.ip);
    return completion.startPasskeySignIn(ctx, interaction);
  });

  router.post('/passkey', async (ctx) => {
    const interaction = await detailsOf(ctx);
    expectPrompt(interaction, 'login');
    await rateLimits.limitIp('login', ctx.ip);
    try {
      return await completion.finishPasskeySignIn(ctx, interaction, { ip: ctx.ip, userAgent: ctx.get('user-agent') || null });
    } catch (error) {
      const { text, status } = passkeyRefusal(error);
      return renderLogin(ctx, interaction, { errors: { form: text } }, status);
    }
  });

  router.post('/google', async (ctx) => {
    if (!google) throw new PageError(404, 'googleUnavailable');
    const interaction = await detailsOf(ctx);
    expectPrompt(interaction, 'login');
    try {
      const { url, checks } = await google.start();
      keepFlow(ctx, { mode: 'login', uid: interaction.uid, checks });
      ctx.status = 303;
      ctx.redirect(url.href);
    } catch (error) {
      if (!(error instanceof GoogleUnavailableError)) throw error;
      ctx.state.log.warn({ reason: error.message }, 'google unavailable');
      return renderLogin(ctx, interaction, { errors: { form: 'login.errors.googleUnavailable' } }, 503);
    }
  });

  router.get('/google/callback', async (ctx) => {
    const interaction = await detailsOf(ctx);
    expectPrompt(interaction, 'login');
    const flow = takeFlow(ctx);
    const refuse = (status: number, text: Message, reason: string) => {
      ctx.state.log.warn({ reason }, 'google sign-in refused');
      return renderLogin(ctx, interaction, { errors: { form: text } }, status);
    };
    if (!google || flow?.mode !== 'login' || flow.uid !== interaction.uid) {
      return refuse(400, 'login.errors.googleUnmatched', 'no matching flow');
    }

    try {
      const profile = await google.finish(ctx.search, flow.checks);
      const result = await federation.signIn(profile, { ip: ctx.ip, userAgent: ctx.get('user-agent') || null });
      if (result.kind === 'password-needed') {
        keepPendingLink(ctx, interaction.uid, profile);
        return renderLogin(ctx, interaction, { email: result.email, errors: { form: 'login.errors.googlePasswordNeeded' } }, 409);
      }
      return await completion.afterFirstFactor(ctx, interaction, result.account.id, 'fed');
    } catch (error) {
      if (error instanceof GoogleSignInError) {
        if (error.reason === 'cancelled') return refuse(400, 'login.errors.googleCancelled', error.message);
        if (error.reason === 'hosted-domain') return refuse(403, 'login.errors.googleHostedDomain', error.message);
        return refuse(400, 'login.errors.googleFailed', error.message);
      }
      if (error instanceof GoogleUnavailableError) return refuse(503, 'login.errors.googleUnavailable', error.message);
      if (error instanceof UnverifiedFederatedEmailError) return refuse(403, 'login.errors.googleUnverified', error.message);
      if (error instanceof RegistrationClosedError) {
        return refuse(403, 'login.errors.googleNoAccount', error.message);
      }
      if (error instanceof AccountDisabledError) return refuse(403, 'login.errors.disabled', error.message);
      if (error instanceof IdentityInUseError) return refuse(409, 'login.errors.googleInUse', error.message);
      throw error;
    }
  });

  router.post('/resend-verification', async (ctx) => {
    const interaction = await detailsOf(ctx);
    const form = emailOnlyForm.safeParse(ctx.request.body ?? {});
    if (!form.success) throw new PageError(400, 'emailMissing');
    await rateLimits.limitIp('forms', ctx.ip);
    await rateLimits.limitVerificationMail(form.data.email);
    await lifecycle.resendVerification(form.data.email, interactionPath(interaction.uid), views.locale(ctx));
    checkEmailPage(ctx, form.data.email, 'checkEmail.title');
  });

  function registrationGuard() {
    if (!registrationOpen) {
      throw new PageError(404, 'registrationClosed');
    }
  }

  router.get('/register', async (ctx) => {
    registrationGuard();
    const interaction = await detailsOf(ctx);
    expectPrompt(interaction, 'login');
    views.render(ctx, 'register', { uid: interaction.uid, client: await clientOf(interaction), google: Boolean(google), values: {}, errors: {} });
  });

  router.post('/register', async (ctx) => {
    registrationGuard();
    const interaction = await detailsOf(ctx);
    expectPrompt(interaction, 'login');
    const body = (ctx.request.body ?? {}) as Record<string, unknown>;
    const values = { email: typed(body, 'email'), name: typed(body, 'name', 200) };
    const rerender = async (errors: Record<string, Message>) =>
      views.render(ctx, 'register', { uid: interaction.uid, client: await clientOf(interaction), google: Boolean(google), values, errors }, 400);

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
      if (error instanceof WeakPasswordError) return rerender({ password: weakPasswordMessage(error) });
      if (error instanceof PasswordMismatchError) return rerender({ password_confirmation: 'fields.passwordConfirmation.differs' });
      if (error instanceof InvalidAccountInputError) return rerender({ email: 'fields.email.invalid' });
      throw error;
    }
    checkEmailPage(ctx, form.data.email, 'checkEmail.almostDone');
  });

  /** Records the consent the interaction asks for, and continues to the application. */
  async function grantConsent(ctx: Context, interaction: Interaction) {
    const details = interaction.prompt.details as ConsentDetails;
    const accountId = interaction.session?.accountId;
    if (!accountId) throw new PageError(400, 'sessionExpired');

    const grant = interaction.grantId
      ? await provider.Grant.find(interaction.grantId)
      : new provider.Grant({ accountId, clientId: String(interaction.params.client_id) });
    if (!grant) throw new PageError(400, 'sessionExpired');
    if (details.missingOIDCScope?.length) grant.addOIDCScope(details.missingOIDCScope.join(' '));
    if (details.missingOIDCClaims?.length) grant.addOIDCClaims(details.missingOIDCClaims);
    for (const [indicator, scopes] of Object.entries(details.missingResourceScopes ?? {})) {
      grant.addResourceScope(indicator, scopes.join(' '));
    }
    const grantId = await grant.save();

    return provider.interactionFinished(ctx.req, ctx.res, { consent: interaction.grantId ? {} : { grantId } }, {
      mergeWithLastSubmission: true,
    });
  }

  router.post('/confirm', async (ctx) => {
    const interaction = await detailsOf(ctx);
    expectPrompt(interaction, 'consent');
    return grantConsent(ctx, interaction);
  });

  router.post('/abort', async (ctx) => {
    await detailsOf(ctx);
    return provider.interactionFinished(
      ctx.req,
      ctx.res,
      { error: 'access_denied', error_description: 'The person declined the request' },
      { mergeWithLastSubmission: false },
    );
  });

  return router;
}
