import type { AdapterConstructor, AdapterPayload } from 'oidc-provider';

import { type ClientCache, followClientChanges, withClientsFromSql } from '../clients/index.ts';
import type { RedisSettings } from '../config.ts';
import type { SecretBox } from '../crypto/index.ts';
import { type Database, isPostgresUnavailable } from '../db/index.ts';
import type { ReadinessCheck } from '../http/index.ts';
import type { Logger } from '../logger.ts';
import { connectRedis, isRedisUnavailable, type RedisConnection, waitUntilReady } from '../redis/index.ts';
import { indexedByAccount } from './adapters/account-index.ts';
import { guardedAdapter } from './adapters/guarded.ts';
import { hashedIds } from './adapters/hashed-ids.ts';
import { createRedisAdapter } from './adapters/redis.ts';
import { createSqlAdapter, flushDeferredWrites } from './adapters/sql.ts';
import { prefetchingAdapter } from './request-prefetch.ts';

const REDIS_STARTUP_WAIT_MS = 5000;

export interface ModelStore {
  /** For node-oidc-provider: addressed by the ids it uses, stored under their hashes. */
  adapter: AdapterConstructor;
  /** Addressed by storage key, as the account index records items (ending sessions and grants of an account). */
  byStorageKey: AdapterConstructor;
  redis: RedisConnection | undefined;
  /** The clients this node has read (src/clients/client-cache.ts). */
  clients: ClientCache;
  readiness: Record<string, ReadinessCheck>;
  close(): Promise<void>;
}

interface ModelStoreOptions {
  /** Undefined: the models live in the SQL database. */
  redis: RedisSettings | undefined;
  database: Database;
  secretBox: SecretBox;
  log: Logger;
  /** Set (by the bench only): the models live in this store of the process, whatever `redis` says. */
  inProcess?: AdapterConstructor | undefined;
  /** Reads to start as soon as a presented token is read, beside its session and grant (request-prefetch.ts). */
  readsWithToken?: (token: AdapterPayload) => void;
}

/** Sessions, grants and tokens: in Redis when configured, else in the SQL database (expired rows purged by src/retention). */
export async function openModelStore({ redis: settings, database, secretBox, log, inProcess, readsWithToken }: ModelStoreOptions): Promise<ModelStore> {
  /** The one chain of decorators over the raw store; its failures answer 503 while the store is unreachable. */
  const clients = followClientChanges(database, log);
  const adapters = (store: AdapterConstructor, name: string, isUnavailable: (error: unknown) => boolean) => {
    const indexed = indexedByAccount(store, database.db, { batched: database.embedded });
    return {
      adapter: guardedAdapter(prefetchingAdapter(withClientsFromSql(hashedIds(indexed, secretBox), database.db, clients.cache), readsWithToken), name, isUnavailable),
      byStorageKey: guardedAdapter(indexed, name, isUnavailable),
      clients: clients.cache,
    };
  };

  if (inProcess) {
    return { ...adapters(inProcess, 'memory', () => false), redis: undefined, readiness: {}, close: clients.stop };
  }

  if (!settings) {
    return {
      ...adapters(createSqlAdapter(database.db, { rowsInMemory: database.embedded }), 'PostgreSQL', isPostgresUnavailable),
      redis: undefined,
      readiness: {},
      close: async () => {
        await flushDeferredWrites(database.db);
        await clients.stop();
      },
    };
  }

  const redis = await openRedis(settings, log);
  return {
    ...adapters(createRedisAdapter(redis, { prefix: settings.keyPrefix }), 'Redis', isRedisUnavailable),
    redis,
    readiness: { redis: async () => void (await redis.ping()) },
    close: async () => {
      redis.disconnect();
      await clients.stop();
    },
  };
}

/** Connects, logging each distinct failure once; start goes on when Redis is not up yet (requests answer 503 until it is). */
async function openRedis(settings: RedisSettings, log: Logger): Promise<RedisConnection> {
  const redis = connectRedis(settings);
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
    log.error({ mode: settings.mode }, 'redis is not reachable yet; requests answer 503 until it is');
  }
  return redis;
}
