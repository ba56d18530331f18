import type pg from 'pg';

import type { Database } from '../db/index.ts';
import type { RedisConnection } from '../redis/index.ts';

/** Where counters live: shared by every node in Redis or Postgres; in memory for the single embedded process. */
export type LimiterStore =
  | { kind: 'redis'; client: RedisConnection; keyPrefix: string }
  | { kind: 'postgres'; pool: pg.Pool }
  | { kind: 'memory' };

/** Rate-limit counters go where every node sees them: Redis, else Postgres; memory only for the one embedded process. */
export function limiterStoreFor(database: Database, redis: { client: RedisConnection; keyPrefix: string } | undefined): LimiterStore {
  if (redis) return { kind: 'redis', ...redis };
  if (database.pool) return { kind: 'postgres', pool: database.pool };
  return { kind: 'memory' };
}
