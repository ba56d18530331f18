import type Router from '@koa/router';
import type { default as Koa, Middleware } from 'koa';
import { sql } from 'kysely';
import type { AdapterConstructor } from 'oidc-provider';
import type Provider from 'oidc-provider';

import {
  type AccountAdministration,
  type AccountLifecycle,
  type AccountService,
  accountVersions,
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
  createVerificationFloor,
  type Federation,
  hasUsableSecondFactor,
  keepVerificationFloorCurrent,
  type Passkeys,
  relyingPartyOf,
  resealTotpSecrets,
  type SecondFactors,
  type SelfService,
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
import { createApp, createMetricsApp } from './app.ts';
import { auditRecorder } from './audit/index.ts';
import {
  adminApiServer,
  checkClientIds,
  checkClients,
  createClientRegistry,
  privilegesOf,
  readClientsFile,
  readResourceServersFile,
} from './clients/index.ts';
import { type Config, metricsServedOn } from './config.ts';
import { createSecretBox } from './crypto/index.ts';
import { type Database, hasPendingMigrations, migrateDatabase, openDatabase } from './db/index.ts';
import { createMailer, createMessages, DevOutbox, type Mailer } from './email/index.ts';
import {
  createMetrics,
  createRateLimits,
  currentRequest,
  devOutboxRoutes,
  limiterStoreFor,
  type Metrics,
  type ReadinessCheck,
  unservedMetrics,
} from './http/index.ts';
import { interactionRoutes, signInCompletion, upstreamCallbackRoute } from './interactions/index.ts';
import { liveJwks, loadSecrets } from './keys/index.ts';
import type { Logger } from './logger.ts';
import {
  type AccountSessions,
  accountSessions,
  createProvider,
  endEverythingOf,
  openModelStore,
  prefetchingVersions,
  type PrefetchingVersions,
  recordProviderEvents,
  replaceProviderSigningKeys,
  revokeGrantsOfClient,
} from './oidc/index.ts';
import { viewsDir } from './paths.ts';
import type { RedisConnection } from './redis/index.ts';
import { createRetentionJob, type RetentionJob } from './retention/index.ts';
import { accountApiRoutes, accountClient, accountPage, accountPageRoutes, accountSignIn, homeRoutes, mailedLinkRoutes } from './self-service/index.ts';
import { configuredProviders, createManagedProviders, createProviderRegistry, type ManagedProviders, providersVersion } from './upstream/index.ts';
import { deviceOf } from './web/index.ts';
import { createViews, type Views } from './views/index.ts';
import { countPendingDeliveries, createWebhookSubscriptions, type DeliveryWorker, eventRecorder, startDeliveryWorker, type WebhookSubscriptions } from './webhooks/index.ts';

export interface Idp {
  app: Koa;
  /** Set when METRICS_PORT is: the app that serves /metrics there. */
  metricsApp: Koa | undefined;
  provider: Provider;
  database: Database;
  redis: RedisConnection | undefined;
  accounts: AccountService;
  administration: AccountAdministration;
  lifecycle: AccountLifecycle;
  selfService: SelfService;
  federation: Federation;
  sessions: AccountSessions;
  secondFactors: SecondFactors;
  /** Undefined when the issuer's host is an IP address (WebAuthn needs a domain name). */
  passkeys: Passkeys | undefined;
  mailer: Mailer;
  /** Removes old sign-in history and audit events and expired rows; runs on its own every ten minutes. */
  retention: RetentionJob;
  /** Webhook subscriptions, and this node's delivery worker. */
  webhooks: WebhookSubscriptions;
  webhookWorker: DeliveryWorker;
  /** The node is stopping: from now on /readyz answers 503 (everything else is still served). */
  startDraining(): void;
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

/** Not settings: hooks for the bench (`npm run bench`), never set by `npm start`. */
export interface IdpOptions {
  /**
   * node-oidc-provider's models in this store instead of Redis or SQL, and the rate-limit counters in
   * memory: one process alone, so that the bench can measure the host apart from the store.
   */
  inProcessModelStore?: AdapterConstructor;
}

/**
 * The one composition root, in four steps: open the stores (and migrate), create the services and the
 * OpenID provider, create the routers of our pages and APIs, and hand them to the host (src/app.ts).
 */
export async function createIdp(config: Config, log: Logger, options: IdpOptions = {}): Promise<Idp> {
  const stores = await openStores(config, log, options);
  let draining = false;
  try {
    const services = await createServices(config, log, stores);
    const oidc = await createOidcProvider(config, log, stores, services);
    const app = createApp({
      production: config.env === 'production',
      brand: config.brand,
      issuer: config.issuer,
      trustProxy: config.trustProxy,
      cookieKeys: stores.secrets.cookieKeys,
      log,
      views: services.views,
      metrics: services.metrics,
      metricsOnMainPort: metricsServedOn(config) === 'main port',
      jwksMaxAge: config.jwksMaxAge,
      readinessChecks: {
        ...stores.readiness,
        node: async () => {
          if (draining) throw new Error('shutting down');
        },
      },
      rateLimits: services.rateLimits,
      routers: createRouters(config, stores, services, oidc),
      beforeRouting: [keepProvidersCurrent(services.managedProviders, log)],
      provider: oidc.provider,
    });
    // Last: nothing after them can fail with the worker and the retention job running.
    const webhookWorker = startDeliveryWorker({
      db: stores.database.db,
      secretBox: stores.secretBox,
      settings: { ...config.webhooks, allowPrivateNetwork: config.allowPrivateNetworkRequests },
      log,
      observe: services.metrics,
    });
    const retention = createRetentionJob({ database: stores.database, policy: config.retention, log, observe: services.metrics });
    retention.start();
    return {
      app,
      metricsApp: metricsServedOn(config) === 'metrics port' ? createMetricsApp(services.metrics) : undefined,
      provider: oidc.provider,
      database: stores.database,
      redis: stores.models.redis,
      accounts: services.accounts,
      administration: services.administration,
      lifecycle: services.lifecycle,
      selfService: services.selfService,
      federation: services.federation,
      sessions: services.sessions,
      secondFactors: services.secondFactors,
      passkeys: services.passkeys,
      mailer: services.mailer,
      retention,
      webhooks: services.webhooks,
      webhookWorker,
      startDraining() {
        draining = true;
      },
      async close() {
        await retention.stop();
        await webhookWorker.stop();
        await services.mailer.drain();
        await services.verificationFloor.stop();
        await stores.close();
      },
    };
  } catch (error) {
    await stores.close();
    throw error;
  }
}

type Stores = Awaited<ReturnType<typeof openStores>>;
type Services = Awaited<ReturnType<typeof createServices>>;
type Oidc = Awaited<ReturnType<typeof createOidcProvider>>;

/** The database (migrated), the keys, and where node-oidc-provider's models and the rate-limit counters live. */
async function openStores(config: Config, log: Logger, { inProcessModelStore }: IdpOptions) {
  const database = await openDatabase({
    ...config,
    onIdleConnectionError: (err) => log.warn({ err }, 'an idle database connection failed'),
  });
  try {
    const applied = await migrateDatabase(database);
    if (applied.length) log.info({ migrations: applied }, 'migrations applied');

    const secrets = await loadSecrets(config);
    if (secrets.generated) log.warn({ dataDir: config.dataDir }, 'using generated development keys kept in DATA_DIR');
    if (!config.databaseUrl) log.warn({ dataDir: config.dataDir }, 'using the embedded development database');
    const secretBox = createSecretBox(secrets.secretsKeys);
    const resealed = await resealTotpSecrets(database.db, secretBox);
    if (resealed) log.info({ resealed }, 'authenticator secrets encrypted with the current SECRETS_KEY');

    // Reading a presented token starts the read of its account's version too (src/oidc/request-prefetch.ts).
    let versions: PrefetchingVersions | undefined;
    const models = await openModelStore({
      redis: config.redis,
      database,
      secretBox,
      log,
      inProcess: inProcessModelStore,
      readsWithToken: (token) => {
        if (typeof token.accountId === 'string') versions?.prefetch(token.accountId);
      },
    });
    // With Redis, every write of an account row through this database moves the account's version there,
    // so that nodes may keep accounts in memory (src/accounts/account-versions.ts); on the embedded database,
    // the one process that can open it keeps the versions itself, as does the bench's host side (one process).
    const where = models.redis && config.redis ? { redis: models.redis, prefix: config.redis.keyPrefix } : database.embedded || inProcessModelStore ? 'in-process' : undefined;
    versions = where && prefetchingVersions(accountVersions(where));
    const limiters = inProcessModelStore
      ? ({ kind: 'memory' } as const)
      : limiterStoreFor(database, config.redis && models.redis && { client: models.redis, keyPrefix: config.redis.keyPrefix });
    const readiness: Record<string, ReadinessCheck> = {
      database: async () => {
        await sql`select 1`.execute(database.db);
        if (await hasPendingMigrations(database.db)) throw new Error('migrations pending');
      },
      ...models.readiness,
    };
    // Last, so that nothing above can fail with the file watched.
    const signingKeys = liveJwks(config.jwks, secrets.jwks, {
      changed: (kids) => log.info({ kids }, 'signing keys changed in JWKS_FILE'),
      refused: (err) => log.error({ err }, 'JWKS_FILE changed but cannot be used; the signing keys stay as they were'),
    });
    return {
      database: versions ? { ...database, db: database.db.withPlugin(versions.plugin) } : database,
      versions,
      secrets,
      signingKeys,
      secretBox,
      models,
      limiters,
      readiness,
      async close() {
        signingKeys.close();
        await models.close();
        await database.close();
      },
    };
  } catch (error) {
    await database.close();
    throw error;
  }
}

/** Accounts and everything around them: mail, views, metrics, rate limits, second factors, federation, self-service. */
async function createServices(config: Config, log: Logger, { database, secretBox, models, limiters, versions }: Stores) {
  const { db } = database;
  const audit = auditRecorder(db);
  const metrics = metricsServedOn(config) === 'nowhere' ? unservedMetrics() : await createMetrics();
  if (database.pool) metrics.watchPool(database.pool);
  metrics.watchWebhookBacklog(() => countPendingDeliveries(db));
  const recordEvent = eventRecorder(db, (err, type) => log.warn({ err, type }, 'could not record a webhook event'));
  const rateLimits = createRateLimits(limiters, config.rateLimits);
  const views = createViews({ dir: viewsDir, reloadChanged: config.env !== 'production', brand: config.brand, passwordMinLength: config.passwordMinLength });
  const { outbox, ...mail } = createMail(config, log, views, metrics);
  const notices = createSecurityNotices({ db, ...mail, origin: () => changeOrigin(views) });
  const secondFactors = createSecondFactors({
    db,
    issuerName: new URL(config.issuer).host,
    throttle: rateLimits.secondFactorThrottle,
    audit,
    notices,
    secretBox,
  });
  const relyingParty = relyingPartyOf(config.issuer, config.brand.productName);
  if (!relyingParty) log.warn({ issuer: config.issuer }, 'passkeys are off: WebAuthn needs an issuer with a domain name, not an IP address');
  const passkeys = relyingParty ? createPasskeys({ db, relyingParty, throttle: rateLimits.secondFactorThrottle, audit, notices }) : undefined;
  const floor = createVerificationFloor();
  const hasher = createPasswordHasher(config.argon2, config.argon2Concurrency, floor);
  const verificationFloor = keepVerificationFloorCurrent({
    db,
    floor,
    measure: hasher.legacyCheckMs,
    onError: (err) => log.warn({ err }, 'could not measure the imported password hashes; the sign-in timing floor stays as it was'),
  });
  const passwordPolicy = { minLength: config.passwordMinLength };
  const accounts = createAccountService({
    db,
    hasher,
    passwordPolicy,
    loginThrottle: rateLimits.loginThrottle,
    requireVerifiedEmail: config.requireVerifiedEmail,
    audit,
    observe: metrics,
    versions,
  });
  if (config.bootstrapAdmin) {
    const created = await accounts.ensureSuperAdmin(config.bootstrapAdmin);
    if (created) log.info({ email: config.bootstrapAdmin.email }, 'created the first super admin');
  }

  // Upstream identity providers: a bad entry, or an issuer of IDENTITY_PROVIDERS_FILE that does not answer,
  // stops the start, naming the entry. Google from GOOGLE_* is asked when first used, as it always was.
  const providerEntries = configuredProviders(config);
  const upstream = createProviderRegistry(config.issuer, providerEntries);
  await upstream.checkReachable(providerEntries.filter((entry) => !(config.google && entry.id === 'google')).map((entry) => entry.id));
  // Those of the admin API and console join them; every node follows their changes (managed-providers.service.ts).
  const managedProviders = createManagedProviders({
    db,
    secretBox,
    registry: upstream,
    fileEntries: providerEntries,
    version: providersVersion(models.redis && config.redis ? { redis: models.redis, prefix: config.redis.keyPrefix } : database.embedded ? 'in-process' : { db }),
    issuer: config.issuer,
    production: config.env === 'production',
    onUnusable: (provider, reason) => log.warn({ provider, reason }, 'a stored identity provider cannot be used; it is not offered'),
  });
  const resealedProviders = await managedProviders.resealSecrets();
  if (resealedProviders) log.info({ resealed: resealedProviders }, 'identity provider secrets encrypted with the current SECRETS_KEY');
  await managedProviders.load();

  /** Disable, delete and reset all come here: every session, grant, token and admin console session ends. */
  const endEverything = async (accountId: string) => {
    const ended = await endEverythingOf(db, models.byStorageKey, accountId);
    const consoleSessions = await deleteConsoleSessionsOf(db, accountId);
    log.info({ accountId, ended, consoleSessions }, 'ended every session and grant of the account');
    if (ended) {
      await recordEvent({ type: 'session.ended', actor: { type: 'system' }, accountId, data: { reason: 'all_sessions_ended' } });
      await recordEvent({ type: 'grant.revoked', actor: { type: 'system' }, accountId, data: { reason: 'all_grants_revoked' } });
    }
  };
  return {
    audit,
    metrics,
    rateLimits,
    views,
    outbox,
    mailer: mail.mailer,
    notices,
    accounts,
    verificationFloor,
    secondFactors,
    passkeys,
    endEverything,
    federation: createFederation({ db, registrationOpen: config.registration === 'open', notices, observe: metrics, audit, providerName: upstream.nameOf }),
    upstream,
    managedProviders,
    lifecycle: createAccountLifecycle({
      db,
      hasher,
      passwordPolicy,
      ...mail,
      endEverythingOf: endEverything,
      loginThrottle: rateLimits.loginThrottle,
      audit,
      notices,
    }),
    administration: createAccountAdministration(db),
    selfService: createSelfService({ db, hasher, passwordPolicy, ...mail, audit, notices, endEverythingOf: endEverything }),
    sessions: accountSessions(db, models.byStorageKey, recordEvent),
    recordEvent,
    webhooks: createWebhookSubscriptions({ db, secretBox, allowPrivateNetwork: config.allowPrivateNetworkRequests, overlapMs: config.webhooks.secretOverlapMs }),
    reauthentication: createReauthentication({ db, accounts, secondFactors, passkeys, audit, maxAgeSeconds: config.reauthMaxAge }),
  };
}

/** Sign-in and account pages offer the providers every node has now (checked at most once a second). */
function keepProvidersCurrent(providers: ManagedProviders, log: Logger): Middleware {
  return async (ctx, next) => {
    if (ctx.path.startsWith('/interaction/') || ctx.path.startsWith('/account')) {
      try {
        await providers.keepCurrent();
      } catch (err) {
        log.warn({ err }, 'could not read whether the identity providers changed; this node offers the ones it has');
      }
    }
    await next();
  };
}

/** Real mail when SMTP_URL is set, else the development outbox; the messages and the links they carry. */
function createMail(config: Config, log: Logger, views: Views, metrics: Metrics) {
  const outbox = config.smtpUrl ? undefined : new DevOutbox(config.issuer, log);
  if (outbox) log.warn('no SMTP_URL: mail goes to the development outbox at /dev/outbox');
  const mailer = createMailer({ smtpUrl: config.smtpUrl, from: config.mailFrom, outbox, log, onResult: metrics.mail });
  const messages = createMessages({ viewsDir, catalogues: views.catalogues, brand: config.brand, issuer: config.issuer });
  return { outbox, mailer, messages, links: mailedLinks(config.issuer) };
}

/** The links our mail carries. */
const mailedLinks = (issuer: string) => ({
  verifyEmail: (token: string) => `${issuer}/account/verify-email?token=${token}`,
  resetPassword: (token: string) => `${issuer}/account/reset-password?token=${token}`,
  confirmEmailChange: (token: string) => `${issuer}/account/confirm-email?token=${token}`,
  forgotPassword: () => `${issuer}/account/forgot-password`,
  account: () => `${issuer}/account`,
});

/** Where a security notice says the change came from: the request being handled, if any. */
function changeOrigin(views: Views) {
  const ctx = currentRequest();
  return ctx && { ip: ctx.ip, ...deviceOf(ctx.get('user-agent') || null), locale: views.locale(ctx) };
}

/** node-oidc-provider with its clients (built in, admin console, clients file) and resource servers. */
async function createOidcProvider(config: Config, log: Logger, { secrets, signingKeys, models }: Stores, services: Services) {
  const { accounts, secondFactors, passkeys } = services;
  const adminApiResource = adminApiServer(config.issuer);
  const resourceServers = [adminApiResource, ...readResourceServersFile(config.resourceServersFile)];
  const clientUriRules = {
    httpsOnly: config.env === 'production',
    allowPrivateNetwork: config.allowPrivateNetworkRequests,
    ownOrigin: new URL(config.issuer).origin,
  };
  const fileClients = readClientsFile(config.clientsFile);
  const ownClients = [...builtInClients(adminApiResource.indicator), consoleClient(config.issuer, secrets.cookieKeys), accountClient(config.issuer)];
  checkClientIds(config.clientsFile, fileClients, ownClients.map((client) => client.client_id));
  const provider = createProvider({
    issuer: config.issuer,
    clientUriRules,
    adapter: models.adapter,
    accounts,
    resourceServers,
    secrets,
    clients: [...ownClients, ...fileClients],
    views: services.views,
    log,
    metrics: services.metrics,
    rateLimits: services.rateLimits,
    deviceStepUp: {
      resources: resourceServers.filter((server) => server.privileged),
      hasSecondFactor: hasUsableSecondFactor(secondFactors, Boolean(passkeys)),
    },
  });
  await checkClients(config.clientsFile, fileClients, (metadata) => provider.Client.validate(metadata));
  recordProviderEvents(provider, services.recordEvent);
  signingKeys.onChange((jwks) => replaceProviderSigningKeys(provider, jwks));
  // JWKS_FILE changed while the services were created: the provider was made with the set read at start.
  if (signingKeys.current() !== secrets.jwks) replaceProviderSigningKeys(provider, signingKeys.current());
  /** DPoP proof ids seen at our resource servers, in the store every node shares. */
  const replay = { unique: (namespace: string, jti: string, expiresAt: number) => provider.ReplayDetection.unique(namespace, jti, expiresAt) };
  return { provider, replay, adminApiResource, resourceServers, clientUriRules, fileClients };
}

/** Our pages and APIs, in the order a request meets them. */
function createRouters(config: Config, stores: Stores, services: Services, oidc: Oidc): Router[] {
  const routers = [
    homeRoutes({ issuer: config.issuer, views: services.views }),
    ...interactionRouters(config, stores, services, oidc),
    ...selfServiceRouters(config, services, oidc),
    ...adminRouters(config, stores, services, oidc),
  ];
  if (services.outbox) routers.push(devOutboxRoutes(services.outbox, services.views));
  return routers;
}

/** Sign-in: login, registration, upstream identity providers, second factor and consent. */
function interactionRouters(config: Config, { secrets }: Stores, services: Services, { provider, resourceServers }: Oidc): Router[] {
  const { accounts, secondFactors, passkeys, views } = services;
  const completion = signInCompletion({ provider, accounts, secondFactors, passkeys, mfa: config.mfa, views, resourceServers });
  return [
    // The providers' callback first: its path would otherwise match the interaction router's /interaction/:uid.
    upstreamCallbackRoute(services.upstream),
    interactionRoutes({
      provider,
      accounts,
      lifecycle: services.lifecycle,
      federation: services.federation,
      upstream: services.upstream,
      rateLimits: services.rateLimits,
      registrationOpen: config.registration === 'open',
      views,
      resourceServers,
      completion,
      cookieKeys: secrets.cookieKeys,
      devOutbox: Boolean(services.outbox),
      sessions: services.sessions,
    }),
  ];
}

/** The person's own pages and API, and the pages behind the links we mail. */
function selfServiceRouters(config: Config, services: Services, { provider, replay }: Oidc): Router[] {
  const { accounts, administration, federation, upstream, secondFactors, passkeys, sessions, selfService, reauthentication, rateLimits, views } = services;
  const page = accountPage({
    provider,
    accounts,
    administration,
    federation,
    secondFactors,
    passkeys,
    sessions,
    mfa: config.mfa,
    upstream,
    views,
  });
  const signIn = accountSignIn({ issuer: config.issuer });
  return [
    mailedLinkRoutes({ upstream, lifecycle: services.lifecycle, rateLimits, views, devOutbox: Boolean(services.outbox) }),
    accountApiRoutes({ provider, accounts, selfService, sessions, issuer: config.issuer, replay, reauthentication }),
    signIn.router,
    accountPageRoutes({ page, selfService, federation, upstream, secondFactors, passkeys, sessions, views, reauthentication, rateLimits, signInWhenSignedOut: signIn.signInWhenSignedOut }),
  ];
}

/** The admin API (bearer tokens for the admin resource server) and the admin console. */
function adminRouters(config: Config, { database, secrets, signingKeys, models }: Stores, services: Services, oidc: Oidc): Router[] {
  const { accounts, administration, rateLimits } = services;
  const { provider, resourceServers } = oidc;
  const actions = createAdminActions({
    database,
    accounts,
    administration,
    clients: createClientRegistry(database.db, (metadata) => provider.Client.validate(metadata as never), oidc.clientUriRules, models.clients),
    lifecycle: services.lifecycle,
    secondFactors: services.secondFactors,
    audit: services.audit,
    notices: services.notices,
    endEverythingOf: services.endEverything,
    usersImported: () => void services.verificationFloor.refresh(),
    revokeGrantsOfClient: (clientId) => revokeGrantsOfClient(database.db, models.byStorageKey, clientId),
    clientPrivileges: (metadata) => privilegesOf(metadata, new Map(resourceServers.map((server) => [server.indicator, server]))),
    webhooks: services.webhooks,
    identityProviders: services.managedProviders,
  });
  const auth = adminBearerAuth({
    issuer: config.issuer,
    server: oidc.adminApiResource,
    signingKeys: signingKeys.publicKeys,
    clients: provider.Client,
    replay: oidc.replay,
    accounts,
    administration,
  });
  const session = createConsoleSession({ issuer: config.issuer, cookieKeys: secrets.cookieKeys, db: database.db, accounts });
  return [adminApiRoutes({ auth, actions, rateLimits }), adminConsoleRoutes({ actions, administration, session, fileClients: oidc.fileClients, views: services.views, provider, sessions: services.sessions, issuer: config.issuer })];
}
