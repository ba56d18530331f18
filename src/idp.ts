import type Koa from 'koa';
import { sql } from 'kysely';
import type Provider from 'oidc-provider';
import type { AdapterConstructor } from 'oidc-provider';

import { createAccountService, createPasswordHasher, type AccountService } from './accounts/index.ts';
import { createApp } from './app.ts';
import type { Config } from './config.ts';
import { hasPendingMigrations, isPostgresUnavailable, migrateToLatest, openDatabase, type Database } from './db/index.ts';
import type { ReadinessCheck } from './http/health.ts';
import { createViews } from './http/views.ts';
import type { Logger } from './logger.ts';
import {
  connectRedis,
  createProvider,
  createRedisAdapter,
  createSqlAdapter,
  guardedAdapter,
  isRedisUnavailable,
  loadSecrets,
  purgeExpiredSqlModels,
  readClientsFile,
  readResourceServersFile,
  waitUntilReady,
  type RedisConnection,
} from './oidc/index.ts';
import { viewsDir } from './paths.ts';

export interface Idp {
  app: Koa;
  provider: Provider;
  database: Database;
  redis: RedisConnection | undefined;
  accounts: AccountService;
  close(): Promise<void>;
}

const PURGE_INTERVAL_MS = 10 * 60 * 1000;
const REDIS_STARTUP_WAIT_MS = 5000;

interface ModelStore {
  adapter: AdapterConstructor;
  redis: RedisConnection | undefined;
  readiness: Record<string, ReadinessCheck>;
  close(): Promise<void>;
}

/** Sessions, grants and tokens: in Redis when configured, else in the SQL database (expired rows purged). */
async function openModelStore(config: Config, database: Database, log: Logger): Promise<ModelStore> {
  if (!config.redis) {
    const purge = setInterval(() => {
      purgeExpiredSqlModels(database.db).catch((err) => log.error({ err }, 'purging expired sessions and tokens failed'));
    }, PURGE_INTERVAL_MS);
    purge.unref();
    return {
      adapter: guardedAdapter(createSqlAdapter(database.db), 'PostgreSQL', isPostgresUnavailable),
      redis: undefined,
      readiness: {},
      close: async () => clearInterval(purge),
    };
  }

  const redis = connectRedis(config.redis);
  let lastError = '';
  redis.on('error', (err: Error) => {
    // ioredis reports every failed reconnect; one line per distinct failure is enough.
    if (err.message !== lastError) log.warn({ reason: err.message }, 'redis connection error');
    lastError = err.message;
  });
  redis.on('ready', () => {
    if (lastError) log.info('redis connection restored');
    lastError = '';
  });
  if (!(await waitUntilReady(redis, REDIS_STARTUP_WAIT_MS))) {
    log.error({ mode: config.redis.mode }, 'redis is not reachable yet; requests answer 503 until it is');
  }
  return {
    adapter: guardedAdapter(createRedisAdapter(redis, { prefix: config.redis.keyPrefix }), 'Redis', isRedisUnavailable),
    redis,
    readiness: { redis: async () => void (await redis.ping()) },
    close: async () => {
      redis.disconnect();
    },
  };
}

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

    const accounts = createAccountService({
      db: database.db,
      hasher: createPasswordHasher(config.argon2),
      passwordPolicy: { minLength: config.passwordMinLength },
    });
    if (config.bootstrapAdmin) {
      const created = await accounts.ensureSuperAdmin(config.bootstrapAdmin);
      if (created) log.info({ email: config.bootstrapAdmin.email }, 'created the first super admin');
    }

    models = await openModelStore(config, database, log);
    const resourceServers = readResourceServersFile(config.resourceServersFile);
    const views = createViews({ dir: viewsDir, cache: config.env === 'production' });
    const provider = createProvider({
      issuer: config.issuer,
      trustProxy: config.trustProxy,
      allowPrivateNetworkRequests: config.allowPrivateNetworkRequests,
      adapter: models.adapter,
      accounts,
      resourceServers,
      secrets,
      clients: readClientsFile(config.clientsFile),
      views,
      log,
    });
    const app = createApp({
      production: config.env === 'production',
      trustProxy: config.trustProxy,
      cookieKeys: secrets.cookieKeys,
      log,
      views,
      provider,
      accounts,
      resourceServers,
      readinessChecks: {
        database: async () => {
          await sql`select 1`.execute(database.db);
          if (await hasPendingMigrations(database.db)) throw new Error('migrations pending');
        },
        ...models.readiness,
      },
    });

    const store = models;
    return {
      app,
      provider,
      database,
      redis: store.redis,
      accounts,
      async close() {
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
