import Koa from 'koa';
import { sql } from 'kysely';
import type Provider from 'oidc-provider';

import {
  type AccountService,
  createAccountAdministration,
  createAccountLifecycle,
  createAccountService,
  createFederation,
  createPasskeys,
  createPasswordHasher,
  createReauthentication,
  createSecondFactors,
  createSecurityNotices,
  createSelfService,
  hasUsableSecondFactor,
  type Passkeys,
  relyingPartyOf,
  resealTotpSecrets,
  type SecondFactors,
} from './accounts/index.ts';
import {
  adminApiRoutes,
  adminBearerAuth,
  adminConsoleRoutes,
  consoleClient,
  createAdminActions,
  createConsoleSession,
  deleteConsoleSessionsOf,
} from './admin/index.ts';
import { createApp } from './app.ts';
import { auditRecorder } from './audit/index.ts';
import {
  adminApiServer,
  checkClients,
  createClientRegistry,
  privilegesOf,
  readClientsFile,
  readResourceServersFile,
} from './clients/index.ts';
import type { Config } from './config.ts';
import { createSecretBox } from './crypto/index.ts';
import { type Database, hasPendingMigrations, migrateToLatest, openDatabase } from './db/index.ts';
import { createMailer, createMessages, DevOutbox, type Mailer } from './email/index.ts';
import { createMetrics, createRateLimits, currentRequest, limiterStoreFor } from './http/index.ts';
import { signInCompletion } from './interactions/index.ts';
import { loadSecrets, publicKeysOf } from './keys/index.ts';
import type { Logger } from './logger.ts';
import { accountSessions, createProvider, endEverythingOf, type ModelStore, openModelStore, revokeGrantsOfClient } from './oidc/index.ts';
import { viewsDir } from './paths.ts';
import type { RedisConnection } from './redis/index.ts';
import { accountApiRoutes, accountPage, accountPageRoutes, deviceOf } from './self-service/index.ts';
import { createGoogleClient } from './upstream/index.ts';
import { createViews } from './views/index.ts';

export interface Idp {
  app: Koa;
  /** Set when METRICS_PORT is: the app that serves /metrics there. */
  metricsApp: Koa | undefined;
  provider: Provider;
  database: Database;
  redis: RedisConnection | undefined;
  accounts: AccountService;
  secondFactors: SecondFactors;
  /** Undefined when the issuer's host is an IP address (WebAuthn needs a domain name). */
  passkeys: Passkeys | undefined;
  mailer: Mailer;
  close(): Promise<void>;
}

/**
 * Our own command-line client for the admin API: public, PKCE, loopback redirects on any port (RFC 8252),
 * device flow. First-party, but the admin API still needs the person's consent each time.
 */
const builtInClients = (adminApi: string) => [
  {
    client_id: 'admin-cli',
    client_name: 'Admin CLI',
    application_type: 'native' as const,
    token_endpoint_auth_method: 'none' as const,
    redirect_uris: ['http://127.0.0.1/callback', 'http://[::1]/callback'],
    grant_types: ['authorization_code', 'refresh_token', 'urn:ietf:params:oauth:grant-type:device_code'],
    response_types: ['code' as const],
    first_party: true,
    allowed_resources: { [adminApi]: ['admin'] },
  },
];

/** Opens storage, applies migrations, loads keys and clients, and composes the app. */
export async function createIdp(config: Config, log: Logger): Promise<Idp> {
  const database = await openDatabase({
    ...config,
    onIdleConnectionError: (err) => log.warn({ err }, 'an idle database connection failed'),
  });
  let models: ModelStore | undefined;
  try {
    const applied = await migrateToLatest(database.db);
    if (applied.length) log.info({ migrations: applied }, 'migrations applied');

    const secrets = await loadSecrets(config);
    if (secrets.generated) log.warn({ dataDir: config.dataDir }, 'using generated development keys kept in DATA_DIR');
    if (!config.databaseUrl) log.warn({ dataDir: config.dataDir }, 'using the embedded development database');
    const secretBox = createSecretBox(secrets.secretsKeys);
    const resealed = await resealTotpSecrets(database.db, secretBox);
    if (resealed) log.info({ resealed }, 'authenticator secrets encrypted with the current SECRETS_KEY');

    models = await openModelStore({ redis: config.redis, database, secretBox, log });
    const audit = auditRecorder(database.db);
    const metrics = createMetrics();
    if (database.pool) metrics.watchPool(database.pool);
    const limiters = limiterStoreFor(database, config.redis && models.redis && { client: models.redis, keyPrefix: config.redis.keyPrefix });
    const rateLimits = createRateLimits(limiters, config.rateLimits);
    const outbox = config.smtpUrl ? undefined : new DevOutbox(config.issuer, log);
    if (outbox) log.warn('no SMTP_URL: mail goes to the development outbox at /dev/outbox');
    const mailer = createMailer({ smtpUrl: config.smtpUrl, from: config.mailFrom, outbox, log, onResult: metrics.mail });
    const views = createViews({ dir: viewsDir, cache: config.env === 'production', brand: config.brand, passwordMinLength: config.passwordMinLength });
    const messages = createMessages({ viewsDir, catalogues: views.catalogues, productName: config.brand.productName, primaryColor: config.brand.primaryColor });
    /** The links our mail carries. */
    const links = {
      verifyEmail: (token: string) => `${config.issuer}/account/verify-email?token=${token}`,
      resetPassword: (token: string) => `${config.issuer}/account/reset-password?token=${token}`,
      confirmEmailChange: (token: string) => `${config.issuer}/account/confirm-email?token=${token}`,
      forgotPassword: () => `${config.issuer}/account/forgot-password`,
      account: () => `${config.issuer}/account`,
    };
    const notices = createSecurityNotices({
      db: database.db,
      mailer,
      messages,
      links,
      origin: () => {
        const ctx = currentRequest();
        return ctx && { ip: ctx.ip, ...deviceOf(ctx.get('user-agent') || null), locale: views.locale(ctx) };
      },
    });
    const secondFactors = createSecondFactors({
      db: database.db,
      issuerName: new URL(config.issuer).host,
      throttle: rateLimits.secondFactorThrottle,
      audit,
      notices,
      secretBox,
    });
    const relyingParty = relyingPartyOf(config.issuer, config.brand.productName);
    if (!relyingParty) log.warn({ issuer: config.issuer }, 'passkeys are off: WebAuthn needs an issuer with a domain name, not an IP address');
    const passkeys = relyingParty
      ? createPasskeys({ db: database.db, relyingParty, throttle: rateLimits.secondFactorThrottle, audit, notices })
      : undefined;
    const hasher = createPasswordHasher(config.argon2, config.argon2Concurrency);
    const passwordPolicy = { minLength: config.passwordMinLength };
    const accounts = createAccountService({
      db: database.db,
      hasher,
      passwordPolicy,
      loginThrottle: rateLimits.loginThrottle,
      requireVerifiedEmail: config.requireVerifiedEmail,
      audit,
      observe: metrics,
    });
    if (config.bootstrapAdmin) {
      const created = await accounts.ensureSuperAdmin(config.bootstrapAdmin);
      if (created) log.info({ email: config.bootstrapAdmin.email }, 'created the first super admin');
    }

    const byStorageKey = models.byStorageKey;
    /** Disable, delete and reset all come here: every session, grant, token and admin console session ends. */
    const endEverything = async (accountId: string) => {
      const ended = await endEverythingOf(database.db, byStorageKey, accountId);
      const consoleSessions = await deleteConsoleSessionsOf(database.db, accountId);
      log.info({ accountId, ended, consoleSessions }, 'ended every session and grant of the account');
    };
    const federation = createFederation({
      db: database.db,
      registrationOpen: config.registration === 'open',
      notices,
      observe: metrics,
    });
    const google = config.google ? createGoogleClient(config.google, `${config.issuer}/interaction/callback/google`) : undefined;
    const lifecycle = createAccountLifecycle({
      db: database.db,
      hasher,
      passwordPolicy,
      mailer,
      messages,
      links,
      endEverythingOf: endEverything,
      loginThrottle: rateLimits.loginThrottle,
      audit,
      notices,
    });
    const adminApiResource = adminApiServer(config.issuer);
    const adminApi = adminApiResource.indicator;
    const resourceServers = [adminApiResource, ...readResourceServersFile(config.resourceServersFile)];
    const administration = createAccountAdministration(database.db);
    const clientUriRules = {
      httpsOnly: config.env === 'production',
      allowPrivateNetwork: config.allowPrivateNetworkRequests,
      ownOrigin: new URL(config.issuer).origin,
    };
    const fileClients = readClientsFile(config.clientsFile);
    const provider = createProvider({
      issuer: config.issuer,
      clientUriRules,
      adapter: models.adapter,
      accounts,
      resourceServers,
      secrets,
      clients: [...builtInClients(adminApi), consoleClient(config.issuer, secrets.cookieKeys), ...fileClients],
      views,
      log,
      metrics,
      rateLimits,
      deviceStepUp: {
        resources: resourceServers.filter((server) => server.privileged),
        hasSecondFactor: hasUsableSecondFactor(secondFactors, Boolean(passkeys)),
      },
    });
    /** DPoP proof ids seen at our resource servers, in the store every node shares. */
    const proofReplay = { unique: (namespace: string, jti: string, expiresAt: number) => provider.ReplayDetection.unique(namespace, jti, expiresAt) };
    await checkClients(config.clientsFile, fileClients, (metadata) => provider.Client.validate(metadata));
    const adminActions = createAdminActions({
      database,
      accounts,
      administration,
      clients: createClientRegistry(database.db, (metadata) => provider.Client.validate(metadata as never), clientUriRules),
      lifecycle,
      secondFactors,
      audit,
      notices,
      endEverythingOf: endEverything,
      revokeGrantsOfClient: (clientId) => revokeGrantsOfClient(database.db, byStorageKey, clientId),
      clientPrivileges: (metadata) => privilegesOf(metadata, new Map(resourceServers.map((server) => [server.indicator, server]))),
    });
    const selfService = createSelfService({
      db: database.db,
      hasher,
      passwordPolicy,
      mailer,
      messages,
      links,
      audit,
      notices,
      endEverythingOf: endEverything,
    });
    const sessions = accountSessions(database.db, byStorageKey);
    const reauthentication = createReauthentication({ db: database.db, accounts, secondFactors, passkeys, audit, maxAgeSeconds: config.reauthMaxAge });
    const page = accountPage({
      provider,
      accounts,
      administration,
      federation,
      secondFactors,
      passkeys,
      sessions,
      mfa: config.mfa,
      googleEnabled: Boolean(google),
      views,
    });
    const app = createApp({
      production: config.env === 'production',
      brand: config.brand,
      issuer: config.issuer,
      trustProxy: config.trustProxy,
      cookieKeys: secrets.cookieKeys,
      log,
      views,
      provider,
      accounts,
      lifecycle,
      federation,
      google,
      rateLimits,
      registrationOpen: config.registration === 'open',
      outbox,
      resourceServers,
      completion: signInCompletion({ provider, accounts, secondFactors, passkeys, mfa: config.mfa, views }),
      accountPages: accountPageRoutes({ page, selfService, federation, google, secondFactors, passkeys, sessions, views, reauthentication, rateLimits }),
      accountApi: accountApiRoutes({ provider, accounts, selfService, sessions, issuer: config.issuer, replay: proofReplay, reauthentication }),
      adminApi: adminApiRoutes({
        auth: adminBearerAuth({
          issuer: config.issuer,
          server: adminApiResource,
          signingKeys: publicKeysOf(secrets.jwks),
          clients: provider.Client,
          replay: proofReplay,
          accounts,
          administration,
        }),
        actions: adminActions,
        rateLimits,
      }),
      adminConsole: adminConsoleRoutes({
        actions: adminActions,
        administration,
        session: createConsoleSession({ issuer: config.issuer, cookieKeys: secrets.cookieKeys, db: database.db, accounts }),
        views,
      }),
      metrics,
      metricsOnMainPort: config.metricsPort === undefined,
      readinessChecks: {
        database: async () => {
          await sql`select 1`.execute(database.db);
          if (await hasPendingMigrations(database.db)) throw new Error('migrations pending');
        },
        ...models.readiness,
      },
    });

    const store = models;
    let metricsApp: Koa | undefined;
    if (config.metricsPort !== undefined) {
      metricsApp = new Koa();
      metricsApp.use(metrics.routes().routes());
    }

    return {
      app,
      metricsApp,
      provider,
      database,
      redis: store.redis,
      accounts,
      secondFactors,
      passkeys,
      mailer,
      async close() {
        await mailer.drain();
        await store.close();
        await database.close();
      },
    };
  } catch (error) {
    await models?.close();
    await database.close();
    throw error;
  }
}
