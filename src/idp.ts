import type Koa from 'koa';

import { createAccountService, createPasswordHasher, type AccountService } from './accounts/index.ts';
import { createApp } from './app.ts';
import type { Config } from './config.ts';
import { migrateToLatest, openDatabase, type Database } from './db/index.ts';
import { createViews } from './http/views.ts';
import type { Logger } from './logger.ts';
import { purgeExpiredSqlModels } from './oidc/adapters/sql.ts';
import { readClientsFile } from './oidc/clients.ts';
import { createProvider } from './oidc/provider.ts';
import { loadSecrets } from './oidc/secrets.ts';
import { viewsDir } from './paths.ts';

export interface Idp {
  app: Koa;
  database: Database;
  accounts: AccountService;
  close(): Promise<void>;
}

const PURGE_INTERVAL_MS = 10 * 60 * 1000;

/** Opens storage, applies migrations, loads keys and clients, and composes the app. */
export async function createIdp(config: Config, log: Logger): Promise<Idp> {
  const database = await openDatabase({
    ...config,
    onIdleConnectionError: (err) => log.warn({ err }, 'an idle database connection failed'),
  });
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

    const views = createViews({ dir: viewsDir, cache: config.env === 'production' });
    const provider = createProvider({
      issuer: config.issuer,
      trustProxy: config.trustProxy,
      db: database.db,
      accounts,
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
    });

    const purge = setInterval(() => {
      purgeExpiredSqlModels(database.db).catch((err) => log.error({ err }, 'purging expired sessions and tokens failed'));
    }, PURGE_INTERVAL_MS);
    purge.unref();

    return {
      app,
      database,
      accounts,
      async close() {
        clearInterval(purge);
        await database.close();
      },
    };
  } catch (error) {
    await database.close();
    throw error;
  }
}
