import type { Context, Middleware } from 'koa';
import type Provider from 'oidc-provider';

import { PageError } from '../http/index.ts';
import { isFirstParty } from '../oidc/index.ts';

export type Interaction = Awaited<ReturnType<Provider['interactionDetails']>>;

/** The client as the pages show it (its name, or else its id, and logo), and whether it is one of our own apps. */
export interface InteractionClient {
  name: string | undefined;
  uri: string | undefined;
  logoUri: string | undefined;
  firstParty: boolean;
}

export interface LoadedInteraction {
  interaction: Interaction;
  client: InteractionClient;
}

/** Loads the interaction for a route, optionally only at one prompt (else: "this step is done"). */
export type InteractionLoader = (prompt?: 'login' | 'consent') => Middleware;

/**
 * Every interaction route's first step: node-oidc-provider's interaction details and the client,
 * loaded once onto `ctx.state`, and the language the authorization request asked for (ui_locales)
 * for every page that follows.
 */
export function interactionLoader(provider: Provider): InteractionLoader {
  return (prompt) => async (ctx, next) => {
    const interaction = await provider.interactionDetails(ctx.req, ctx.res);
    ctx.state.uiLocales = interaction.params.ui_locales;
    if (prompt && interaction.prompt.name !== prompt) throw new PageError(400, 'stepDone');
    const client = await provider.Client.find(String(interaction.params.client_id));
    const loaded: LoadedInteraction = {
      interaction,
      client: {
        name: client?.clientName ?? client?.clientId,
        uri: client?.clientUri,
        logoUri: client?.logoUri,
        firstParty: isFirstParty(client),
      },
    };
    ctx.state.interaction = loaded;
    await next();
  };
}

/** What the loader put on the context. */
export function loadedInteraction(ctx: Context): LoadedInteraction {
  const loaded = ctx.state.interaction as LoadedInteraction | undefined;
  if (!loaded) throw new Error('interaction route without the interaction loader');
  return loaded;
}

/** Saves a changed interaction for the rest of its lifetime. */
export function saveInteraction(interaction: Interaction): Promise<string> {
  return interaction.save(Math.max(1, interaction.exp - Math.floor(Date.now() / 1000)));
}

type InteractionResults = Parameters<Provider['interactionFinished']>[2];

/**
 * Ends the step with its result, as node-oidc-provider's interactionFinished does, on the interaction the
 * loader read: interactionFinished would read the interaction and its session again. The resume endpoint
 * still refuses an interaction whose session ended meanwhile.
 */
export async function finishInteraction(
  ctx: Context,
  result: InteractionResults,
  { mergeWithLastSubmission }: { mergeWithLastSubmission: boolean },
): Promise<void> {
  const { interaction } = loadedInteraction(ctx);
  interaction.result = mergeWithLastSubmission && !('error' in result) ? { ...interaction.lastSubmission, ...result } : result;
  await saveInteraction(interaction);
  ctx.status = 303;
  ctx.redirect(interaction.returnTo);
}
