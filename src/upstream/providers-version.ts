import type { Kysely } from 'kysely';

import type { DB } from '../db/index.ts';
import type { RedisConnection } from '../redis/index.ts';
import { providerRowsStamp } from './identity-provider.repository.ts';

/**
 * The version of the managed providers, which moves on every change, so that each node sees a change made
 * on another without a restart: a node compares it with the version it loaded (src/upstream/managed-providers.service.ts).
 */
export interface ProvidersVersion {
  read(): Promise<string>;
  /** After a change was written. */
  bump(): Promise<void>;
}

/**
 * Where the version lives: with Redis a counter there, shared by every node (INCR on a change); on the
 * embedded database a counter in this process, the only one that can open DATA_DIR; on PostgreSQL without
 * Redis the rows themselves (a digest of every id and updated_at), which every node reads alike.
 */
export function providersVersion(where: { redis: RedisConnection; prefix: string } | 'in-process' | { db: Kysely<DB> }): ProvidersVersion {
  if (where === 'in-process') {
    let counter = 0;
    return {
      read: async () => String(counter),
      bump: async () => {
        counter += 1;
      },
    };
  }
  if ('db' in where) return { read: () => providerRowsStamp(where.db), bump: async () => {} };
  const key = `${where.prefix}identity-providers:version`;
  return {
    read: async () => (await where.redis.get(key)) ?? '0',
    bump: async () => {
      await where.redis.incr(key);
    },
  };
}
