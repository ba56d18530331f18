import Router from '@koa/router';
import type { Context } from 'koa';
import type Provider from 'oidc-provider';

import type { AccountService } from '../accounts/index.ts';
import type { ResourceServer } from '../clients/index.ts';
import { PageError } from '../http/index.ts';
import { describeScopes } from '../oidc/index.ts';
import type { Views } from '../views/index.ts';
import { finishInteraction, type Interaction, type InteractionLoader, loadedInteraction } from './interaction-loader.ts';

interface ConsentDetails {
  missingOIDCScope?: string[];
  missingOIDCClaims?: string[];
  missingResourceScopes?: Record<string, string[]>;
  /** Privileged APIs requested (the admin API): shown even when granted before, never skipped. */
  privilegedResources?: Record<string, string[]>;
}

export interface ConsentStep {
  /** The consent page, or straight on to the application for our own apps. */
  show(ctx: Context): Promise<void>;
  /** Confirming the consent page, or declining the whole request. */
  router: Router;
}

export function consentStep(deps: {
  provider: Provider;
  accounts: AccountService;
  resourceServers: ResourceServer[];
  views: Views;
  load: InteractionLoader;
}): ConsentStep {
  const { provider, accounts, views, load } = deps;
  const resourceNames = new Map(deps.resourceServers.map((server) => [server.indicator, server.name ?? server.indicator]));
  // An API's scope the client may not have there is not granted there: not shown as a scope of the person's own either.
  const apiScopes = new Set(deps.resourceServers.flatMap((server) => server.scopes));

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

    return finishInteraction(ctx, { consent: interaction.grantId ? {} : { grantId } }, { mergeWithLastSubmission: true });
  }

  const router = new Router();

  router.post('/confirm', load('consent'), (ctx) => grantConsent(ctx, loadedInteraction(ctx).interaction));

  router.post('/abort', load(), (ctx) =>
    finishInteraction(ctx, { error: 'access_denied', error_description: 'The person declined the request' }, { mergeWithLastSubmission: false }),
  );

  return {
    async show(ctx) {
      const { interaction, client } = loadedInteraction(ctx);
      // Our own applications are not asked (node-oidc-provider still asks for native and device clients),
      // except for a privileged API.
      const privileged = interaction.prompt.reasons.includes('privileged_resource');
      if (client.firstParty && !privileged) return grantConsent(ctx, interaction);
      const details = interaction.prompt.details as ConsentDetails;
      const accountId = interaction.session?.accountId;
      const account = accountId ? await accounts.findActiveAccount(accountId) : undefined;
      if (!account) throw new PageError(400, 'sessionExpired');
      views.render(ctx, 'consent', {
        uid: interaction.uid,
        client,
        email: account.email,
        scopes: describeScopes((details.missingOIDCScope ?? []).filter((scope) => !apiScopes.has(scope))),
        apis: Object.entries({ ...details.missingResourceScopes, ...details.privilegedResources }).map(([indicator, scopes]) => ({
          name: resourceNames.get(indicator) ?? indicator,
          scopes,
        })),
      });
    },
    router,
  };
}
