import type { Context } from 'koa';

import type { ProviderRegistry } from '../upstream/index.ts';
import type { Views } from '../views/index.ts';
import { loadedInteraction } from './interaction-loader.ts';

/** The login page of the loaded interaction: shown first, and again with what went wrong by each way of signing in. */
export type LoginPage = (ctx: Context, data: Record<string, unknown>, status?: number) => void;

/** The buttons of the upstream providers offered now (the list can change while the IdP runs). */
export const offeredProviders = (upstream: ProviderRegistry) => upstream.all().map(({ id, name, icon }) => ({ id, name, icon }));

export function loginPage(deps: { views: Views; registrationOpen: boolean; upstream: ProviderRegistry; passkeys: boolean }): LoginPage {
  return (ctx, data, status = 200) => {
    const { interaction, client } = loadedInteraction(ctx);
    deps.views.render(
      ctx,
      'login',
      {
        uid: interaction.uid,
        client,
        errors: {},
        registrationOpen: deps.registrationOpen,
        providers: offeredProviders(deps.upstream),
        passkey: deps.passkeys,
        passkeyScripts: deps.passkeys,
        ...data,
      },
      status,
    );
  };
}
