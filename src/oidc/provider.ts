import type { Context } from 'koa';
import Provider, {
  errors,
  interactionPolicy,
  type AdapterConstructor,
  type ClientMetadata,
  type Configuration,
  type KoaContextWithOIDC,
} from 'oidc-provider';

import type { AccountService } from '../accounts/index.ts';
import {
  AllowedResourcesError,
  allowedScopes,
  checkAllowedResources,
  checkClientUriField,
  CLIENT_URI_FIELDS,
  ClientUriError,
  type ClientUriRules,
  compareHashedClientSecrets,
  type ResourceServer,
  tokenLifetimes,
} from '../clients/index.ts';
import { guardStore, isPostgresUnavailable, StoreUnavailableError } from '../db/index.ts';
import type { Metrics, RateLimits } from '../http/index.ts';
import type { Secrets } from '../keys/index.ts';
import type { Logger } from '../logger.ts';
import type { Views } from '../views/index.ts';
import { ACR, requestsMultiFactor } from './acr.ts';
import { claimsOf, scopeClaims } from './claims.ts';
import { introspectionPolicy, pkceRequired } from './client-policies.ts';
import { deviceFlowLimits } from './device-flow-limits.ts';
import { deviceFlowPages } from './device-flow-pages.ts';
import { deviceStepUp } from './device-step-up.ts';
import { isFirstParty } from './first-party.ts';
import { guardedFetch } from './guarded-fetch.ts';
import { pushedRequestOfItsClient } from './pushed-request-client.ts';
import { providerSigningKeys } from './scheduled-signing-key.ts';
import { upstreamSignIns } from './upstream-sign-ins.ts';

export interface ProviderOptions {
  issuer: string;
  /**
   * Client URIs: https only in production; `allowPrivateNetwork` lets outgoing requests (back-channel
   * logout, client JWKS) reach loopback and private addresses. Both at registration and at fetch time.
   */
  clientUriRules: ClientUriRules;
  /** Where sessions, grants and tokens live (SQL or Redis), already guarded for outages. */
  adapter: AdapterConstructor;
  accounts: Pick<AccountService, 'findActiveAccount' | 'rolesOf'>;
  resourceServers: ResourceServer[];
  secrets: Secrets;
  clients: ClientMetadata[];
  views: Views;
  log: Logger;
  metrics: Pick<Metrics, 'tokenIssued' | 'grantSucceeded' | 'oidcError'>;
  /** The device flow's limits: wrong user codes, polling pace. */
  rateLimits: Pick<RateLimits, 'userCodes' | 'pollTooSoon'>;
  /** APIs a device gets only after the second factor, when the account has one (the admin API). */
  deviceStepUp: { resources: ResourceServer[]; hasSecondFactor(accountId: string): Promise<boolean> };
}

/**
 * Client metadata of ours: `first_party: true` skips the consent page (our own apps, never for a
 * privileged API); `allowed_resources` names the APIs and scopes the client may obtain tokens for;
 * `pkce_optional: true` lets a legacy confidential client use the code flow without PKCE. Every URI
 * field is checked here too (src/oidc/client-uris.ts), so file, database and built-in clients meet
 * the same rules.
 */
function extraClientMetadata(servers: ReadonlyMap<string, ResourceServer>, clientUriRules: ClientUriRules): Configuration['extraClientMetadata'] {
  return {
    properties: ['first_party', 'allowed_resources', 'pkce_optional', ...CLIENT_URI_FIELDS],
    validator(_ctx, key, value, metadata) {
      if (CLIENT_URI_FIELDS.includes(key)) {
        try {
          return checkClientUriField(key, value, metadata, clientUriRules);
        } catch (error) {
          if (error instanceof ClientUriError) throw new errors.InvalidClientMetadata(error.message);
          throw error;
        }
      }
      if ((key === 'first_party' || key === 'pkce_optional') && value !== undefined && typeof value !== 'boolean') {
        throw new errors.InvalidClientMetadata(`${key} must be a boolean`);
      }
      if (key === 'pkce_optional' && value === true && metadata.token_endpoint_auth_method === 'none') {
        throw new errors.InvalidClientMetadata('pkce_optional is only for confidential clients; a public client always uses PKCE');
      }
      if (key === 'allowed_resources') {
        try {
          checkAllowedResources(value, servers);
        } catch (error) {
          if (error instanceof AllowedResourcesError) throw new errors.InvalidClientMetadata(error.message);
          throw error;
        }
      }
    },
  };
}

/** The privileged APIs (the admin API) this request asks for, with the scopes asked there. */
function privilegedRequested(ctx: KoaContextWithOIDC, servers: ReadonlyMap<string, ResourceServer>): Record<string, string[]> {
  const requested: Record<string, string[]> = {};
  for (const [indicator, resourceServer] of Object.entries(ctx.oidc.resourceServers ?? {})) {
    if (!servers.get(indicator)?.privileged) continue;
    const offered = new Set(String(resourceServer.scope ?? '').split(' '));
    requested[indicator] = [...ctx.oidc.requestParamScopes].filter((scope) => offered.has(scope));
  }
  return requested;
}

/**
 * Reuses the grant the person already gave this client; for first-party clients, grants what they
 * ask for without a consent page, except a privileged API (and offline access next to one).
 */
function existingGrantLoader(servers: ReadonlyMap<string, ResourceServer>) {
  return async function loadExistingGrant(ctx: KoaContextWithOIDC) {
    const { oidc } = ctx;
    const client = oidc.client!;
    const session = oidc.session!;
    const grantId = (oidc.result?.consent as { grantId?: string } | undefined)?.grantId ?? session.grantIdFor(client.clientId);
    const firstParty = isFirstParty(client);

    let grant = grantId ? await oidc.provider.Grant.find(grantId) : undefined;
    if (!firstParty) return grant;

    grant ??= new oidc.provider.Grant({ clientId: client.clientId, accountId: session.accountId! });
    const privileged = Object.keys(privilegedRequested(ctx, servers)).length > 0;
    const requested = [...oidc.requestParamScopes].filter((scope) => !(privileged && scope === 'offline_access'));
    if (requested.length) grant.addOIDCScope(requested.join(' '));
    for (const [indicator, resourceServer] of Object.entries(oidc.resourceServers ?? {})) {
      if (servers.get(indicator)?.privileged) continue;
      const offered = new Set(String(resourceServer.scope ?? '').split(' '));
      const scopes = requested.filter((scope) => offered.has(scope));
      if (scopes.length) grant.addResourceScope(indicator, scopes.join(' '));
    }
    await grant.save();
    return grant;
  };
}

/**
 * The default prompts, plus: a signed-in person whose session has one factor is asked for a second
 * when the client requests it, or when a device asks for a privileged API (`deviceNeedsSecondFactor`);
 * a request for a privileged API always shows the consent page (so a silent, prompt=none request for
 * one answers consent_required).
 */
function interactionPrompts(
  servers: ReadonlyMap<string, ResourceServer>,
  deviceNeedsSecondFactor: (ctx: KoaContextWithOIDC) => Promise<boolean>,
) {
  const prompts = interactionPolicy.base();
  prompts.get('login')!.checks.add(
    new interactionPolicy.Check('second_factor_requested', 'the client requested a second factor', 'login_required', async (ctx) => {
      const { oidc } = ctx;
      if (!oidc.session?.accountId || oidc.session.acr === ACR.multiFactor) return interactionPolicy.Check.NO_NEED_TO_PROMPT;
      if (requestsMultiFactor(oidc.params?.acr_values) || (await deviceNeedsSecondFactor(ctx))) return interactionPolicy.Check.REQUEST_PROMPT;
      return interactionPolicy.Check.NO_NEED_TO_PROMPT;
    }),
  );
  prompts.get('consent')!.checks.add(
    new interactionPolicy.Check(
      'privileged_resource',
      'a privileged API is requested',
      'consent_required',
      (ctx) => {
        if (ctx.oidc.result?.consent) return interactionPolicy.Check.NO_NEED_TO_PROMPT;
        const requested = privilegedRequested(ctx, servers);
        return Object.keys(requested).length ? interactionPolicy.Check.REQUEST_PROMPT : interactionPolicy.Check.NO_NEED_TO_PROMPT;
      },
      (ctx) => ({ privilegedResources: privilegedRequested(ctx, servers) }),
    ),
  );
  return prompts;
}

const errorEvents = [
  'authorization.error',
  'backchannel.error',
  'discovery.error',
  'end_session.error',
  'grant.error',
  'introspection.error',
  'jwks.error',
  'pushed_authorization_request.error',
  'revocation.error',
  'userinfo.error',
] as const;

export function createProvider(options: ProviderOptions): Provider {
  const { accounts, views, log, metrics } = options;
  const resourceServers = new Map(options.resourceServers.map((server) => [server.indicator, server]));
  const fromPostgres = <T>(operation: () => Promise<T>) => guardStore('PostgreSQL', isPostgresUnavailable, operation);
  const signIns = upstreamSignIns(options.adapter, tokenLifetimes.Session);

  const configuration: Configuration = {
    adapter: options.adapter,
    clients: options.clients,
    fetch: guardedFetch(options.clientUriRules.allowPrivateNetwork),
    jwks: { keys: providerSigningKeys(options.secrets.jwks) },
    cookies: {
      keys: options.secrets.cookieKeys,
      long: { httpOnly: true, sameSite: 'lax' },
      short: { httpOnly: true, sameSite: 'lax' },
    },
    async findAccount(_ctx, sub, token) {
      const account = await fromPostgres(() => accounts.findActiveAccount(sub));
      if (!account) return undefined;
      return {
        accountId: account.id,
        // Roles cost a query of their own: read them only when the scope or the claims asked for release them.
        async claims(use, scope, claims) {
          const wantsRoles = scope.split(' ').includes('roles') || Object.hasOwn(claims ?? {}, 'roles');
          const [roles, idp] = await Promise.all([
            wantsRoles ? fromPostgres(() => accounts.rolesOf(account.id)) : undefined,
            // The ID token names the upstream provider of the sign-in its code or refresh token came from.
            use === 'id_token' ? signIns.of(token as Parameters<typeof signIns.of>[0]) : undefined,
          ]);
          return claimsOf(account, roles, idp) as { sub: string };
        },
      };
    },
    // Claims of the granted scopes go in the ID token too (roles, email, profile), not only in userinfo.
    conformIdTokenClaims: false,
    /** Access tokens of a grant that includes the `roles` scope carry the person's roles (for JWT resource servers). */
    async extraTokenClaims(ctx, token) {
      const { accountId, grantId } = token as { accountId?: string; grantId?: string };
      if (!accountId || !grantId) return undefined;
      // The token endpoint has loaded this grant already; reading it again would cost a round trip per token.
      const loaded = ctx.oidc.entities.Grant;
      const grant = loaded?.jti === grantId ? loaded : await ctx.oidc.provider.Grant.find(grantId);
      if (!grant?.getOIDCScope().split(' ').includes('roles')) return undefined;
      return { roles: await fromPostgres(() => accounts.rolesOf(accountId)) };
    },
    claims: Object.fromEntries(Object.entries(scopeClaims).map(([scope, claims]) => [scope, [...claims]])),
    // API scopes must be known here too, or clients registered with them are refused.
    // `account`: the person's own profile and sessions through /account/api (src/self-service/api-routes.ts).
    scopes: ['openid', 'offline_access', 'email', 'profile', 'roles', 'account', ...options.resourceServers.flatMap((server) => server.scopes)],
    responseTypes: ['code'],
    // The languages of our pages, which ui_locales picks from.
    discovery: { ui_locales_supported: views.catalogues.locales },
    pkce: { required: pkceRequired },
    rotateRefreshToken: true,
    extraClientMetadata: extraClientMetadata(resourceServers, options.clientUriRules),
    loadExistingGrant: existingGrantLoader(resourceServers),
    interactions: {
      url: (_ctx, interaction) => `/interaction/${interaction.uid}`,
      policy: interactionPrompts(resourceServers, deviceStepUp(options.deviceStepUp.resources, options.deviceStepUp.hasSecondFactor)),
    },
    acrValues: [ACR.singleFactor, ACR.multiFactor],
    clientBasedCORS(_ctx, origin, client) {
      return (client.redirectUris ?? []).some((uri) => new URL(uri).origin === origin);
    },
    features: {
      devInteractions: { enabled: false },
      // Our keys sign through it so that a published key starts signing at its time without a restart.
      externalSigningSupport: { enabled: true, ack: 'experimental-01' },
      // A client revokes only its own tokens.
      revocation: {
        enabled: true,
        allowedPolicy: async (_ctx, client, token) => token.clientId === client.clientId,
      },
      introspection: { enabled: true, allowedPolicy: introspectionPolicy(options.resourceServers) },
      backchannelLogout: { enabled: true },
      pushedAuthorizationRequests: { enabled: true },
      dPoP: { enabled: true },
      deviceFlow: { enabled: true, ...deviceFlowPages(views, options.resourceServers) },
      resourceIndicators: {
        enabled: true,
        // A client that named one API at authorization gets its tokens for that API without naming it again.
        useGrantedResource: async () => true,
        // Only the APIs and scopes the client's registration allows (allowed_resources).
        async getResourceServerInfo(ctx, indicator, client) {
          const server = resourceServers.get(indicator);
          if (!server) throw new errors.InvalidTarget();
          if (server.personFacing && ctx.oidc.params?.grant_type === 'client_credentials') {
            throw new errors.InvalidTarget('this resource server acts for people: client credentials are not accepted');
          }
          const scopes = allowedScopes(client, server);
          if (!scopes.length) throw new errors.InvalidTarget('this client may not obtain tokens for this resource server');
          return {
            scope: scopes.join(' '),
            audience: server.indicator,
            accessTokenTTL: server.accessTokenTTL,
            accessTokenFormat: 'jwt',
            jwt: { sign: { alg: 'RS256' } },
          };
        },
      },
      clientCredentials: { enabled: true },
      userinfo: { enabled: true },
      rpInitiatedLogout: {
        enabled: true,
        async logoutSource(ctx, form) {
          views.render(ctx as unknown as Context, 'logout', { form });
        },
        async postLogoutSuccessSource(ctx) {
          const client = ctx.oidc.client;
          views.render(ctx as unknown as Context, 'logged-out', { clientName: client?.clientName ?? client?.clientId });
        },
      },
    },
    async renderError(ctx, out, error) {
      if (ctx.status === 503) {
        views.render(ctx as unknown as Context, 'error', { title: 'errors.unavailable.title', message: 'errors.unavailable.message' }, 503);
        ctx.set('Retry-After', '30');
        return;
      }
      // A sign-in that cannot go on (its interaction or session ended meanwhile) is not the application's mistake.
      const expired = error instanceof errors.SessionNotFound;
      views.render(ctx as unknown as Context, 'error', {
        title: expired ? 'errors.sessionExpired.title' : 'errors.oauth.title',
        message: expired ? 'errors.sessionExpired.message' : 'errors.oauth.message',
        oauthError: out.error,
        oauthErrorDescription: out.error_description,
      }, ctx.status);
    },
    ttl: {
      // A resource server's own accessTokenTTL wins (node-oidc-provider's default does the same).
      AccessToken: (_ctx, token) => token.resourceServer?.accessTokenTTL ?? tokenLifetimes.AccessToken,
      AuthorizationCode: tokenLifetimes.AuthorizationCode,
      ClientCredentials: (_ctx, token) => token.resourceServer?.accessTokenTTL ?? tokenLifetimes.ClientCredentials,
      IdToken: tokenLifetimes.IdToken,
      Interaction: tokenLifetimes.Interaction,
      DeviceCode: tokenLifetimes.DeviceCode,
      Grant: tokenLifetimes.Grant,
      Session: tokenLifetimes.Session,
      RefreshToken(_ctx, _token, client) {
        return client.clientAuthMethod === 'none' ? tokenLifetimes.PublicClientRefreshToken : tokenLifetimes.RefreshToken;
      },
    },
  };

  const provider = new Provider(options.issuer, configuration);
  provider.use(pushedRequestOfItsClient(views));
  provider.use(signIns.recorder);
  provider.use(deviceFlowLimits({ rateLimits: options.rateLimits, views }));
  compareHashedClientSecrets(provider);

  // Opaque tokens are "saved", JWTs only "issued": either counts once.
  for (const model of ['access_token', 'authorization_code', 'refresh_token', 'client_credentials', 'device_code']) {
    for (const event of ['saved', 'issued']) {
      (provider as unknown as NodeJS.EventEmitter).on(`${model}.${event}`, (token: { kind?: string; consumed?: unknown; iat?: number }) => {
        if (event === 'saved' && token.consumed) return;
        metrics.tokenIssued(token.kind ?? model);
      });
    }
  }
  provider.on('grant.success', (ctx) => metrics.grantSucceeded(String(ctx.oidc.params?.grant_type ?? 'unknown')));

  provider.on('server_error', (ctx, err) => {
    const requestLog = ctx.state.log ?? log;
    if (err instanceof StoreUnavailableError) {
      requestLog.error({ reason: err.message, cause: (err.cause as Error | undefined)?.message }, 'store unavailable');
    } else {
      requestLog.error({ err }, 'oidc server_error');
    }
  });
  for (const event of errorEvents) {
    // One handler for every "<endpoint>.error" event; their types differ only in name.
    (provider as unknown as NodeJS.EventEmitter).on(event, (ctx: KoaContextWithOIDC, err: Error & { error?: string; error_description?: string; error_detail?: string }) => {
      metrics.oidcError(event, err.error ?? err.name);
      (ctx.state.log ?? log).warn(
        { event, error: err.error ?? err.name, description: err.error_description, detail: err.error_detail },
        'oidc request refused',
      );
    });
  }
  return provider;
}
