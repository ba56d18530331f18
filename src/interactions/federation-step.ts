import Router from '@koa/router';
import type { Context } from 'koa';

import type { Federation } from '../accounts/index.ts';
import { PageError } from '../http/index.ts';
import type { ProviderRegistry, UpstreamProvider } from '../upstream/index.ts';
import type { Message } from '../views/index.ts';
import { keepFlow, keepPendingLink, refusal, takeFlow } from '../web/index.ts';
import { type InteractionLoader, loadedInteraction } from './interaction-loader.ts';
import type { LoginPage } from './login-page.ts';
import type { SignInCompletion } from './second-factor-step.ts';

/** Off to the provider, remembering state, nonce and PKCE verifier; a provider that does not answer is words on the login page. */
export async function sendToProvider(ctx: Context, provider: UpstreamProvider, loginPage: LoginPage, loginHint?: string): Promise<void> {
  try {
    const { url, checks } = await provider.start(loginHint ? { loginHint } : {});
    keepFlow(ctx, { mode: 'login', provider: provider.id, uid: loadedInteraction(ctx).interaction.uid, checks });
    ctx.status = 303;
    ctx.redirect(url.href);
  } catch (error) {
    const { text, status } = refusal('signInUpstreamStart', error, { provider: provider.name });
    ctx.state.log.warn({ provider: provider.id, reason: (error as Error).message }, 'upstream provider unavailable');
    return loginPage(ctx, { errors: { form: text } }, status);
  }
}

/** "Continue with <provider>": off to the upstream identity provider, and back with the person's identity there. */
export function federationStep(deps: {
  load: InteractionLoader;
  loginPage: LoginPage;
  upstream: ProviderRegistry;
  federation: Federation;
  completion: SignInCompletion;
}): Router {
  const { load, loginPage, upstream, federation, completion } = deps;
  const router = new Router();

  // Refused before any interaction is loaded: there is no such provider here, whatever the interaction.
  const known = (ctx: Context) => {
    const provider = upstream.get(String(ctx.params.provider));
    if (!provider) throw new PageError(404, 'upstreamUnavailable', undefined, { provider: String(ctx.params.provider).slice(0, 40) });
    return provider;
  };

  router.post('/federated/:provider', (ctx, next) => (known(ctx), next()), load('login'), (ctx) => sendToProvider(ctx, known(ctx), loginPage));

  router.get('/federated/:provider/callback', load('login'), async (ctx) => {
    const { interaction } = loadedInteraction(ctx);
    const provider = upstream.get(String(ctx.params.provider));
    const flow = takeFlow(ctx);
    const providerName = provider?.name ?? String(ctx.params.provider).slice(0, 40);
    const refuse = (status: number, text: Message, reason: string) => {
      ctx.state.log.warn({ provider: provider?.id, reason }, 'upstream sign-in refused');
      return loginPage(ctx, { errors: { form: text } }, status);
    };
    if (!provider || flow?.mode !== 'login' || flow.provider !== provider.id || flow.uid !== interaction.uid) {
      return refuse(400, { key: 'login.errors.upstreamUnmatched', params: { provider: providerName } }, 'no matching flow');
    }

    try {
      const profile = await provider.finish(ctx.search, flow.checks);
      const { authTime: _authTime, ...identity } = profile;
      const result = await federation.signIn(identity, { ip: ctx.ip, userAgent: ctx.get('user-agent') || null });
      if (result.kind === 'password-needed') {
        keepPendingLink(ctx, interaction.uid, identity);
        return loginPage(ctx, { email: result.email, errors: { form: { key: 'login.errors.upstreamPasswordNeeded', params: { provider: provider.name } } } }, 409);
      }
      return await completion.afterFirstFactor(ctx, interaction, result.account.id, { fed: provider.id });
    } catch (error) {
      const { text, status } = refusal('signInUpstream', error, { provider: provider.name });
      return refuse(status, text, (error as Error).message);
    }
  });

  return router;
}
