import type { Context } from 'koa';
import type { Kysely } from 'kysely';
import Provider, { errors, type ClientMetadata, type Configuration, type KoaContextWithOIDC } from 'oidc-provider';

import type { AccountService } from '../accounts/index.ts';
import type { DB } from '../db/index.ts';
import type { Views } from '../http/views.ts';
import type { Logger } from '../logger.ts';
import { createSqlAdapter } from './adapters/sql.ts';
import { claimsOf, scopeClaims } from './claims.ts';
import type { Secrets } from './secrets.ts';

export interface ProviderOptions {
  issuer: string;
  trustProxy: boolean;
  db: Kysely<DB>;
  accounts: AccountService;
  secrets: Secrets;
  clients: ClientMetadata[];
  views: Views;
  log: Logger;
}

const MINUTE = 60;
const HOUR = 60 * MINUTE;
const DAY = 24 * HOUR;

/** Client metadata of ours: `first_party: true` skips the consent page (our own apps). */
const extraClientMetadata: Configuration['extraClientMetadata'] = {
  properties: ['first_party'],
  validator(_ctx, key, value) {
    if (key === 'first_party' && value !== undefined && typeof value !== 'boolean') {
      throw new errors.InvalidClientMetadata('first_party must be a boolean');
    }
  },
};

/**
 * Reuses the grant the person already gave this client; for first-party clients, grants
 * what they ask for without a consent page.
 */
async function loadExistingGrant(ctx: KoaContextWithOIDC) {
  const { oidc } = ctx;
  const client = oidc.client!;
  const session = oidc.session!;
  const grantId = (oidc.result?.consent as { grantId?: string } | undefined)?.grantId ?? session.grantIdFor(client.clientId);
  const firstParty = (client as unknown as { first_party?: boolean }).first_party === true;

  let grant = grantId ? await oidc.provider.Grant.find(grantId) : undefined;
  if (!firstParty) return grant;

  grant ??= new oidc.provider.Grant({ clientId: client.clientId, accountId: session.accountId! });
  const scope = [...oidc.requestParamScopes].join(' ');
  if (scope) grant.addOIDCScope(scope);
  await grant.save();
  return grant;
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
  const { accounts, views, log } = options;

  const configuration: Configuration = {
    adapter: createSqlAdapter(options.db),
    clients: options.clients,
    jwks: options.secrets.jwks as Configuration['jwks'],
    cookies: {
      keys: options.secrets.cookieKeys,
      long: { httpOnly: true, sameSite: 'lax' },
      short: { httpOnly: true, sameSite: 'lax' },
    },
    async findAccount(_ctx, sub) {
      const account = await accounts.findActiveAccount(sub);
      if (!account) return undefined;
      return {
        accountId: account.id,
        claims: async () => claimsOf(account, await accounts.rolesOf(account.id)) as { sub: string },
      };
    },
    claims: Object.fromEntries(Object.entries(scopeClaims).map(([scope, claims]) => [scope, [...claims]])),
    scopes: ['openid', 'offline_access', 'email', 'profile', 'roles'],
    responseTypes: ['code'],
    pkce: { required: (_ctx, client) => client.clientAuthMethod === 'none' },
    rotateRefreshToken: true,
    extraClientMetadata,
    loadExistingGrant,
    interactions: { url: (_ctx, interaction) => `/interaction/${interaction.uid}` },
    clientBasedCORS(_ctx, origin, client) {
      return (client.redirectUris ?? []).some((uri) => new URL(uri).origin === origin);
    },
    features: {
      devInteractions: { enabled: false },
      // A client revokes only its own tokens.
      revocation: {
        enabled: true,
        allowedPolicy: async (_ctx, client, token) => token.clientId === client.clientId,
      },
      // Resource servers are confidential clients and may introspect any token; a public client only its own.
      introspection: {
        enabled: true,
        allowedPolicy: async (_ctx, client, token) => client.clientAuthMethod !== 'none' || token.clientId === client.clientId,
      },
      clientCredentials: { enabled: true },
      userinfo: { enabled: true },
      rpInitiatedLogout: {
        enabled: true,
        async logoutSource(ctx, form) {
          views.render(ctx as unknown as Context, 'logout', { form, host: ctx.host });
        },
        async postLogoutSuccessSource(ctx) {
          const client = ctx.oidc.client;
          views.render(ctx as unknown as Context, 'logged-out', { clientName: client?.clientName ?? client?.clientId });
        },
      },
    },
    async renderError(ctx, out) {
      views.render(ctx as unknown as Context, 'error', {
        title: 'Sign-in could not continue',
        message: 'The application that sent you here made a request we cannot accept. Go back to it and try again.',
        oauthError: out.error,
        oauthErrorDescription: out.error_description,
      }, ctx.status);
    },
    ttl: {
      AccessToken: HOUR,
      AuthorizationCode: MINUTE,
      ClientCredentials: 10 * MINUTE,
      IdToken: HOUR,
      Interaction: HOUR,
      DeviceCode: 10 * MINUTE,
      Grant: 30 * DAY,
      Session: 14 * DAY,
      RefreshToken(ctx, token, client) {
        // Public clients hold refresh tokens where they are easier to steal: give them less time.
        return client.clientAuthMethod === 'none' ? DAY : 30 * DAY;
      },
    },
  };

  const provider = new Provider(options.issuer, configuration);
  provider.proxy = options.trustProxy;

  provider.on('server_error', (ctx, err) => {
    (ctx.state.log ?? log).error({ err }, 'oidc server_error');
  });
  for (const event of errorEvents) {
    // One handler for every "<endpoint>.error" event; their types differ only in name.
    (provider as unknown as NodeJS.EventEmitter).on(event, (ctx: KoaContextWithOIDC, err: Error & { error?: string; error_description?: string; error_detail?: string }) => {
      (ctx.state.log ?? log).warn(
        { event, error: err.error ?? err.name, description: err.error_description, detail: err.error_detail },
        'oidc request refused',
      );
    });
  }
  return provider;
}
