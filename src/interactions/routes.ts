import Router from '@koa/router';
import type { Context, Middleware } from 'koa';
import type Provider from 'oidc-provider';
import { errors } from 'oidc-provider';

import { AccountDisabledError, InvalidCredentialsError, type AccountService } from '../accounts/index.ts';
import { csrfProtection } from '../http/csrf.ts';
import { PageError } from '../http/errors.ts';
import { formBody } from '../http/form-body.ts';
import type { Views } from '../http/views.ts';
import type { ResourceServer } from '../oidc/index.ts';
import { fieldErrors, loginForm } from './forms.ts';
import { describeScopes } from './scopes.ts';

type Interaction = Awaited<ReturnType<Provider['interactionDetails']>>;

interface ConsentDetails {
  missingOIDCScope?: string[];
  missingOIDCClaims?: string[];
  missingResourceScopes?: Record<string, string[]>;
}

/** A missing, expired or tampered interaction: node-oidc-provider's SessionNotFound, as a readable page. */
const expiredInteraction: Middleware = async (ctx, next) => {
  ctx.set('Cache-Control', 'no-store');
  try {
    await next();
  } catch (error) {
    if (error instanceof errors.SessionNotFound) {
      throw new PageError(
        400,
        'This sign-in has expired',
        'The sign-in page was open too long or was already used. Go back to the application and start again.',
      );
    }
    throw error;
  }
};

function expectPrompt(interaction: Interaction, name: string): void {
  if (interaction.prompt.name !== name) {
    throw new PageError(400, 'This step is already done', 'Go back to the application and start again.');
  }
}

export function interactionRoutes(deps: {
  provider: Provider;
  accounts: AccountService;
  views: Views;
  resourceServers: ResourceServer[];
}): Router {
  const { provider, accounts, views } = deps;
  const resourceNames = new Map(deps.resourceServers.map((server) => [server.indicator, server.name ?? server.indicator]));
  const router = new Router({ prefix: '/interaction/:uid' });
  router.use(expiredInteraction, formBody(), csrfProtection());

  async function clientOf(interaction: Interaction) {
    const client = await provider.Client.find(String(interaction.params.client_id));
    return { name: client?.clientName ?? client?.clientId ?? 'An application', uri: client?.clientUri };
  }

  async function renderLogin(ctx: Context, interaction: Interaction, data: Record<string, unknown>, status = 200) {
    views.render(ctx, 'login', { uid: interaction.uid, client: await clientOf(interaction), errors: {}, ...data }, status);
  }

  router.get('/', async (ctx) => {
    const interaction = await provider.interactionDetails(ctx.req, ctx.res);
    if (interaction.prompt.name === 'login') {
      const hint = interaction.params.login_hint;
      return renderLogin(ctx, interaction, { email: typeof hint === 'string' ? hint : '' });
    }
    if (interaction.prompt.name === 'consent') {
      const details = interaction.prompt.details as ConsentDetails;
      return views.render(ctx, 'consent', {
        uid: interaction.uid,
        client: await clientOf(interaction),
        scopes: describeScopes(details.missingOIDCScope ?? []),
        apis: Object.entries(details.missingResourceScopes ?? {}).map(([indicator, scopes]) => ({
          name: resourceNames.get(indicator) ?? indicator,
          scopes,
        })),
      });
    }
    throw new PageError(400, 'Unknown step', 'Go back to the application and start again.');
  });

  router.post('/login', async (ctx) => {
    const interaction = await provider.interactionDetails(ctx.req, ctx.res);
    expectPrompt(interaction, 'login');
    const body = (ctx.request.body ?? {}) as Record<string, unknown>;
    const email = typeof body.email === 'string' ? body.email.slice(0, 254) : '';

    const form = loginForm.safeParse(body);
    if (!form.success) return renderLogin(ctx, interaction, { email, errors: fieldErrors(form.error) }, 400);

    try {
      const account = await accounts.authenticate(form.data.email, form.data.password, {
        ip: ctx.ip,
        userAgent: ctx.get('user-agent') || null,
      });
      return await provider.interactionFinished(
        ctx.req,
        ctx.res,
        { login: { accountId: account.id, amr: ['pwd'] } },
        { mergeWithLastSubmission: false },
      );
    } catch (error) {
      if (error instanceof InvalidCredentialsError) {
        return renderLogin(ctx, interaction, { email, errors: { form: 'Wrong email or password.' } }, 400);
      }
      if (error instanceof AccountDisabledError) {
        return renderLogin(ctx, interaction, { email, errors: { form: 'This account is disabled. Contact your administrator.' } }, 403);
      }
      throw error;
    }
  });

  router.post('/confirm', async (ctx) => {
    const interaction = await provider.interactionDetails(ctx.req, ctx.res);
    expectPrompt(interaction, 'consent');
    const details = interaction.prompt.details as ConsentDetails;
    const accountId = interaction.session?.accountId;
    if (!accountId) throw new PageError(400, 'This sign-in has expired', 'Go back to the application and start again.');

    const grant = interaction.grantId
      ? await provider.Grant.find(interaction.grantId)
      : new provider.Grant({ accountId, clientId: String(interaction.params.client_id) });
    if (!grant) throw new PageError(400, 'This sign-in has expired', 'Go back to the application and start again.');
    if (details.missingOIDCScope?.length) grant.addOIDCScope(details.missingOIDCScope.join(' '));
    if (details.missingOIDCClaims?.length) grant.addOIDCClaims(details.missingOIDCClaims);
    for (const [indicator, scopes] of Object.entries(details.missingResourceScopes ?? {})) {
      grant.addResourceScope(indicator, scopes.join(' '));
    }
    const grantId = await grant.save();

    return provider.interactionFinished(ctx.req, ctx.res, { consent: interaction.grantId ? {} : { grantId } }, {
      mergeWithLastSubmission: true,
    });
  });

  router.post('/abort', async (ctx) => {
    await provider.interactionDetails(ctx.req, ctx.res);
    return provider.interactionFinished(
      ctx.req,
      ctx.res,
      { error: 'access_denied', error_description: 'The person declined the request' },
      { mergeWithLastSubmission: false },
    );
  });

  return router;
}
