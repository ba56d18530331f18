import Router from '@koa/router';
import type Provider from 'oidc-provider';

import type { AccountLifecycle, AccountService, Federation } from '../accounts/index.ts';
import type { ResourceServer } from '../clients/index.ts';
import type { AccountSessions } from '../oidc/index.ts';
import { csrfProtection, formBody, type RateLimits } from '../http/index.ts';
import type { ProviderRegistry } from '../upstream/index.ts';
import type { Views } from '../views/index.ts';
import { consentStep } from './consent-step.ts';
import { expiredInteraction } from './expired-interaction.ts';
import { federationStep } from './federation-step.ts';
import { interactionLoader } from './interaction-loader.ts';
import { knownDevices } from './known-devices.ts';
import { loginPage } from './login-page.ts';
import { loginStep } from './login-step.ts';
import { passkeyStep } from './passkey-step.ts';
import { promptPage } from './prompt-page.ts';
import { checkEmailPage, registerStep } from './register-step.ts';
import type { SignInCompletion } from './second-factor-step.ts';
import { switchAccountRoute } from './switch-account.ts';

/** /interaction/<uid>/...: every step of signing in and consenting, each route behind the one interaction loader. */
export function interactionRoutes(deps: {
  provider: Provider;
  accounts: AccountService;
  lifecycle: AccountLifecycle;
  federation: Federation;
  upstream: ProviderRegistry;
  rateLimits: RateLimits;
  registrationOpen: boolean;
  views: Views;
  resourceServers: ResourceServer[];
  completion: SignInCompletion;
  cookieKeys: string[];
  /** Mail goes to the development outbox: the "check your email" page points there. */
  devOutbox: boolean;
  sessions: Pick<AccountSessions, 'endById'>;
}): Router {
  const { completion } = deps;
  const load = interactionLoader(deps.provider);
  const login = loginPage({ views: deps.views, registrationOpen: deps.registrationOpen, upstream: deps.upstream, passkeys: completion.passkeysEnabled });
  const consent = consentStep({ ...deps, load });
  const devices = knownDevices(deps.cookieKeys);
  const checkEmail = checkEmailPage(deps.views, deps.devOutbox);

  const router = new Router({ prefix: '/interaction/:uid' });
  router.use(expiredInteraction, formBody(), csrfProtection());
  router.use(
    completion.routes(load).routes(),
    promptPage({ load, loginPage: login, consent }).routes(),
    loginStep({ ...deps, load, loginPage: login, devices, checkEmail }).routes(),
    passkeyStep({ ...deps, load, loginPage: login }).routes(),
    federationStep({ ...deps, load, loginPage: login }).routes(),
    registerStep({ ...deps, load, devices, checkEmail }).routes(),
    consent.router.routes(),
    switchAccountRoute({ ...deps, load }).routes(),
  );
  return router;
}
