import { Redis } from 'ioredis';

/**
 * Commands the Redis server has executed since it started (INFO stats), from every client, the commands
 * inside Lua scripts included: per request, exact only when the bench has that Redis to itself (its own
 * redis-server, see bench/run.ts).
 */
export function redisCommandCounter(redisUrl: string) {
  const redis = new Redis(redisUrl);
  return {
    async processed(): Promise<number> {
      const match = /total_commands_processed:(\d+)/.exec(await redis.info('stats'));
      // This INFO is counted too.
      return Number(match?.[1] ?? 0) - 1;
    },
    close: () => redis.disconnect(),
  };
}
