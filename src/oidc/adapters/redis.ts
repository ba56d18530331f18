import type { Cluster, Redis } from 'ioredis';
import type { Adapter, AdapterPayload } from 'oidc-provider';

import { isGrantable } from './grantable.ts';

/*
 * Keys (the {hash tag} fixes each key's Cluster slot; in a Cluster no command or script touches two keys):
 *   <prefix><Model>:{<id>}               hash: payload (JSON), consumed (epoch seconds)
 *   <prefix><Model>:uid:{<uid>}          string: the item's id
 *   <prefix><Model>:userCode:{<code>}    string: the item's id
 *   <prefix>grant:{<grantId>}            sorted set of "<Model>:<id>" scored by expiry (ms), trimmed on add;
 *                                        token models only (grantable.ts), never an Interaction or Session
 * An upsert sends the item and its index keys in one pipeline (one round trip): each gets the item's TTL, counted by
 * Redis when it runs the command, and the grant set lives as long as its latest member. Index keys name their item and
 * every lookup checks that the item it finds carries them, so an index key briefly outliving its item is harmless.
 * If any write fails, upsert rejects and node-oidc-provider hands out nothing. Needs Redis 6.2+.
 * Outside a Cluster, a lookup by uid or user code reads the index key and the item in one script (one round trip);
 * in a Cluster the two keys live in different slots, so it takes two.
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
  // Returns the payload it replaced (its indexes may need dropping).
  oidcReplaceItem: `
    local previous = redis.call('HGET', KEYS[1], 'payload')
    redis.call('DEL', KEYS[1])
    redis.call('HSET', KEYS[1], 'payload', ARGV[1])
    if tonumber(ARGV[2]) > 0 then redis.call('PEXPIRE', KEYS[1], ARGV[2]) end
    return previous`,
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
    local ttl = tonumber(ARGV[2])
    redis.call('ZADD', KEYS[1], ttl > 0 and now + ttl or '+inf', ARGV[1])
    redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
    if redis.call('ZCOUNT', KEYS[1], '+inf', '+inf') > 0 then
      redis.call('PERSIST', KEYS[1])
    else
      local last = redis.call('ZRANGE', KEYS[1], -1, -1, 'WITHSCORES')[2]
      if last then redis.call('PEXPIREAT', KEYS[1], last) end
    end`,
  // Not for a Cluster: it reads the item key it finds (ARGV[1] .. id .. '}'), which it could not declare.
  oidcFindByIndex: `
    local id = redis.call('GET', KEYS[1])
    if not id then return false end
    return { id, redis.call('HMGET', ARGV[1] .. id .. '}', 'payload', 'consumed') }`,
  oidcTakeGrant: `
    local members = redis.call('ZRANGE', KEYS[1], 0, -1)
    redis.call('DEL', KEYS[1])
    return members`,
};

interface AdapterCommands {
  oidcReplaceItem(key: string, payload: string, ttlMs: number): Promise<string | null>;
  oidcConsumeItem(key: string): Promise<unknown>;
  oidcDeleteItem(key: string): Promise<string | null>;
  oidcAddToGrant(key: string, member: string, ttlMs: number): Promise<unknown>;
  oidcTakeGrant(key: string): Promise<string[]>;
  oidcFindByIndex(key: string, itemKeyStart: string): Promise<[id: string, [payload: string | null, consumed: string | null]] | null>;
}

/** node-oidc-provider's models in Redis (standalone, Sentinel or Cluster), expired by Redis TTL. */
export function createRedisAdapter(redis: Redis | Cluster, options: { prefix?: string } = {}) {
  const prefix = options.prefix ?? 'idp:';
  if (/[{}]/.test(prefix)) throw new Error(`The Redis key prefix must not contain braces: ${prefix}`);
  const keys = redisKeys(prefix);

  for (const [name, lua] of Object.entries(scripts)) redis.defineCommand(name, { lua, numberOfKeys: 1 });
  const client = redis as (Redis | Cluster) & AdapterCommands;
  const inCluster = redis.isCluster;

  const parse = (payload: string | null | undefined, consumed: string | null | undefined): AdapterPayload | undefined => {
    if (!payload) return undefined;
    const parsed: AdapterPayload = JSON.parse(payload);
    return consumed ? { ...parsed, consumed: Number(consumed) } : parsed;
  };

  /** The item an index key names, or undefined. */
  async function findByIndex(model: string, indexKey: string): Promise<AdapterPayload | undefined> {
    if (inCluster) {
      const id = await client.get(indexKey);
      if (!id) return undefined;
      const { payload, consumed } = await client.hgetall(keys.item(model, id));
      return parse(payload, consumed);
    }
    const found = await client.oidcFindByIndex(indexKey, keys.item(model, '').slice(0, -1));
    return found ? parse(...found[1]) : undefined;
  }

  const setIndex = (key: string, id: string, ttlMs: number) => (ttlMs > 0 ? client.set(key, id, 'PX', ttlMs) : client.set(key, id));

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
      // Issued in the same tick, so auto-pipelining sends them together. The item goes first: on one server, the TTLs
      // counted after its own end no sooner than it does.
      const [previous] = await Promise.all([
        client.oidcReplaceItem(keys.item(this.model, id), JSON.stringify(payload), ttlMs),
        payload.grantId && isGrantable(this.model) ? client.oidcAddToGrant(keys.grant(payload.grantId), `${this.model}:${id}`, ttlMs) : undefined,
        payload.uid ? setIndex(keys.uid(this.model, payload.uid), id, ttlMs) : undefined,
        payload.userCode ? setIndex(keys.userCode(this.model, payload.userCode), id, ttlMs) : undefined,
      ]);
      if (previous) await dropIndexes(this.model, id, JSON.parse(previous), payload);
    }

    async find(id: string): Promise<AdapterPayload | undefined> {
      const { payload, consumed } = await client.hgetall(keys.item(this.model, id));
      return parse(payload, consumed);
    }

    async findByUid(uid: string): Promise<AdapterPayload | undefined> {
      const found = await findByIndex(this.model, keys.uid(this.model, uid));
      return found?.uid === uid ? found : undefined;
    }

    async findByUserCode(userCode: string): Promise<AdapterPayload | undefined> {
      const found = await findByIndex(this.model, keys.userCode(this.model, userCode));
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
