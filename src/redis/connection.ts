import { Cluster, Redis, ReplyError, type RedisOptions } from 'ioredis';

import type { RedisSettings } from '../config.ts';

export type RedisConnection = Redis | Cluster;

/**
 * Fail fast while Redis is away (no offline queue, one retry), so requests answer 503 at
 * once instead of hanging; ioredis keeps reconnecting in the background and service resumes.
 */
const failFast: RedisOptions = {
  enableOfflineQueue: false,
  // Commands issued in the same tick (an upsert's index writes, introspection's parallel finds) share one write.
  enableAutoPipelining: true,
  maxRetriesPerRequest: 1,
  connectTimeout: 2000,
  retryStrategy: (attempt) => Math.min(attempt * 200, 2000),
};

function credentials(url: string | undefined): RedisOptions {
  if (!url) return {};
  const parsed = new URL(url);
  const db = Number(parsed.pathname.slice(1) || 0);
  return {
    ...(parsed.username ? { username: decodeURIComponent(parsed.username) } : {}),
    ...(parsed.password ? { password: decodeURIComponent(parsed.password) } : {}),
    ...(db ? { db } : {}),
    ...(parsed.protocol === 'rediss:' ? { tls: {} } : {}),
  };
}

export function connectRedis(settings: RedisSettings): RedisConnection {
  switch (settings.mode) {
    case 'standalone':
      return new Redis(settings.url, failFast);
    case 'cluster':
      return new Cluster(settings.nodes, {
        enableOfflineQueue: false,
        enableAutoPipelining: true,
        clusterRetryStrategy: (attempt) => Math.min(attempt * 200, 2000),
        redisOptions: { ...failFast, ...credentials(settings.url) },
      });
    case 'sentinel':
      return new Redis({ ...failFast, ...credentials(settings.url), sentinels: settings.sentinels, name: settings.name });
  }
}

/** Resolves true once connected, false after the timeout (the connection keeps trying). */
export function waitUntilReady(redis: RedisConnection, timeoutMs: number): Promise<boolean> {
  if (redis.status === 'ready') return Promise.resolve(true);
  return new Promise((resolve) => {
    const timer = setTimeout(() => {
      redis.off('ready', onReady);
      resolve(false);
    }, timeoutMs);
    const onReady = () => {
      clearTimeout(timer);
      resolve(true);
    };
    redis.once('ready', onReady);
  });
}

const unavailableReplies = /^(CLUSTERDOWN|LOADING|MASTERDOWN|TRYAGAIN|READONLY)\b/;

/** Connection failures and "not serving now" replies; any other reply error is a bug, not an outage. */
export function isRedisUnavailable(error: unknown): boolean {
  if (error instanceof ReplyError) return unavailableReplies.test((error as Error).message);
  return error instanceof Error;
}
