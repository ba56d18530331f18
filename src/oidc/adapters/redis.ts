import type { Cluster, Redis } from 'ioredis';
import type { Adapter, AdapterPayload } from 'oidc-provider';

import { isGrantable } from './grantable.ts';

/*
 * Keys (the {hash tag} fixes each key's Cluster slot; no command or script touches two keys):
 *   <prefix><Model>:{<id>}               hash: payload (JSON), consumed (epoch seconds)
 *   <prefix><Model>:uid:{<uid>}          string: the item's id
 *   <prefix><Model>:userCode:{<code>}    string: the item's id
 *   <prefix>grant:{<grantId>}            sorted set of "<Model>:<id>" scored by expiry (ms), trimmed on add;
 *                                        token models only (grantable.ts), never an Interaction or Session
 * The item is written first and its index keys then get its absolute expiry (the grant set: its latest member's),
 * all from Redis's clock. If an index write fails, upsert rejects and node-oidc-provider hands out nothing. Needs Redis 6.2+.
 */
export function redisKeys(prefix: string) {
  return {
    item: (model: string, id: string) => `${prefix}${model}:{${id}}`,
    uid: (model: string, uid: string) => `${prefix}${model}:uid:{${uid}}`,
    userCode: (model: string, userCode: string) => `${prefix}${model}:userCode:{${userCode}}`,
    grant: (grantId: string) => `${prefix}grant:{${grantId}}`,
  };
}

const nowMs = `
    local time = redis.call('TIME')
    local now = tonumber(time[1]) * 1000 + math.floor(tonumber(time[2]) / 1000)`;

const scripts = {
  // Returns the payload it replaced and the item's expiry in ms since the epoch (0: none).
  oidcReplaceItem: `${nowMs}
    local previous = redis.call('HGET', KEYS[1], 'payload')
    redis.call('DEL', KEYS[1])
    redis.call('HSET', KEYS[1], 'payload', ARGV[1])
    local expiresAt = 0
    if tonumber(ARGV[2]) > 0 then
      expiresAt = now + tonumber(ARGV[2])
      redis.call('PEXPIREAT', KEYS[1], expiresAt)
    end
    return { previous, expiresAt }`,
  // HSET on a missing key would create one without TTL.
  oidcConsumeItem: `
    if redis.call('EXISTS', KEYS[1]) == 1 then
      redis.call('HSET', KEYS[1], 'consumed', redis.call('TIME')[1])
    end`,
  oidcDeleteItem: `
    local previous = redis.call('HGET', KEYS[1], 'payload')
    redis.call('DEL', KEYS[1])
    return previous`,
  // Trim and expiry happen with the add, so the set stays bounded and lives exactly as long as its last member.
  oidcAddToGrant: `${nowMs}
    local expiresAt = tonumber(ARGV[2])
    redis.call('ZADD', KEYS[1], expiresAt > 0 and expiresAt or '+inf', ARGV[1])
    redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
    if redis.call('ZCOUNT', KEYS[1], '+inf', '+inf') > 0 then
      redis.call('PERSIST', KEYS[1])
    else
      local last = redis.call('ZRANGE', KEYS[1], -1, -1, 'WITHSCORES')[2]
      if last then redis.call('PEXPIREAT', KEYS[1], last) end
    end`,
  oidcTakeGrant: `
    local members = redis.call('ZRANGE', KEYS[1], 0, -1)
    redis.call('DEL', KEYS[1])
    return members`,
};

interface AdapterCommands {
  oidcReplaceItem(key: string, payload: string, ttlMs: number): Promise<[previous: string | null, expiresAt: number]>;
  oidcConsumeItem(key: string): Promise<unknown>;
  oidcDeleteItem(key: string): Promise<string | null>;
  oidcAddToGrant(key: string, member: string, expiresAt: number): Promise<unknown>;
  oidcTakeGrant(key: string): Promise<string[]>;
}

/** node-oidc-provider's models in Redis (standalone, Sentinel or Cluster), expired by Redis TTL. */
export function createRedisAdapter(redis: Redis | Cluster, options: { prefix?: string } = {}) {
  const prefix = options.prefix ?? 'idp:';
  if (/[{}]/.test(prefix)) throw new Error(`The Redis key prefix must not contain braces: ${prefix}`);
  const keys = redisKeys(prefix);

  for (const [name, lua] of Object.entries(scripts)) redis.defineCommand(name, { lua, numberOfKeys: 1 });
  const client = redis as (Redis | Cluster) & AdapterCommands;

  const setIndex = (key: string, id: string, expiresAt: number) =>
    expiresAt > 0 ? client.set(key, id, 'PXAT', expiresAt) : client.set(key, id);

  /** Removes the index entries of `stored` that `current` (the payload now in place, if any) no longer uses. */
  async function dropIndexes(model: string, id: string, stored: AdapterPayload, current?: AdapterPayload) {
    const removals: Promise<unknown>[] = [];
    if (stored.uid && stored.uid !== current?.uid) removals.push(client.del(keys.uid(model, stored.uid)));
    if (stored.userCode && stored.userCode !== current?.userCode) {
      removals.push(client.del(keys.userCode(model, stored.userCode)));
    }
    if (isGrantable(model) && stored.grantId && stored.grantId !== current?.grantId) {
      removals.push(client.zrem(keys.grant(stored.grantId), `${model}:${id}`));
    }
    await Promise.all(removals);
  }

  async function deleteItem(model: string, id: string) {
    const stored = await client.oidcDeleteItem(keys.item(model, id));
    if (stored) await dropIndexes(model, id, JSON.parse(stored));
  }

  return class RedisAdapter implements Adapter {
    constructor(private readonly model: string) {}

    async upsert(id: string, payload: AdapterPayload, expiresIn?: number): Promise<void> {
      const ttlMs = expiresIn ? Math.max(1, Math.round(expiresIn * 1000)) : 0;
      const [previous, expiresAt] = await client.oidcReplaceItem(keys.item(this.model, id), JSON.stringify(payload), ttlMs);
      await Promise.all([
        payload.grantId && isGrantable(this.model) ? client.oidcAddToGrant(keys.grant(payload.grantId), `${this.model}:${id}`, expiresAt) : undefined,
        payload.uid ? setIndex(keys.uid(this.model, payload.uid), id, expiresAt) : undefined,
        payload.userCode ? setIndex(keys.userCode(this.model, payload.userCode), id, expiresAt) : undefined,
        previous ? dropIndexes(this.model, id, JSON.parse(previous), payload) : undefined,
      ]);
    }

    async find(id: string): Promise<AdapterPayload | undefined> {
      const { payload, consumed } = await client.hgetall(keys.item(this.model, id));
      if (!payload) return undefined;
      const parsed: AdapterPayload = JSON.parse(payload);
      return consumed ? { ...parsed, consumed: Number(consumed) } : parsed;
    }

    async findByUid(uid: string): Promise<AdapterPayload | undefined> {
      const id = await client.get(keys.uid(this.model, uid));
      const found = id ? await this.find(id) : undefined;
      return found?.uid === uid ? found : undefined;
    }

    async findByUserCode(userCode: string): Promise<AdapterPayload | undefined> {
      const id = await client.get(keys.userCode(this.model, userCode));
      const found = id ? await this.find(id) : undefined;
      return found?.userCode === userCode ? found : undefined;
    }

    async consume(id: string): Promise<void> {
      await client.oidcConsumeItem(keys.item(this.model, id));
    }

    async destroy(id: string): Promise<void> {
      await deleteItem(this.model, id);
    }

    async revokeByGrantId(grantId: string): Promise<void> {
      const members = await client.oidcTakeGrant(keys.grant(grantId));
      await Promise.all(
        members.map((member) => {
          const colon = member.indexOf(':');
          const model = member.slice(0, colon);
          // Sets written before only tokens were indexed may still name an Interaction or Session: leave them be.
          return isGrantable(model) ? deleteItem(model, member.slice(colon + 1)) : undefined;
        }),
      );
    }
  };
}
