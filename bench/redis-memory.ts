import { Redis } from 'ioredis';

/** Keys of one kind under the bench's prefix: how many, and the bytes Redis holds for them (MEMORY USAGE). */
export interface KeyKind {
  keys: number;
  bytes: number;
  /** Sorted sets only (the grant index): their members, together. */
  members?: number;
}

export interface RedisMemory {
  /** By kind: `Session`, `Session:uid`, `RefreshToken`, `grant`, ... (the adapter's key layout, src/oidc/adapters/redis.ts). */
  kinds: Record<string, KeyKind>;
  /** A signed-in browser's session and its uid index. */
  perSessionBytes: number | undefined;
  /** A refresh token and its entry in its grant's index (that set's bytes shared among its members). */
  perRefreshTokenBytes: number | undefined;
}

/**
 * `bench:abc:Session:uid:{…}` → `Session:uid`; an account's version `bench:abc:{account-version}:<id>` → `account-version`;
 * a rate-limit counter `bench:abc:rate:ip-login:<ip>` → `rate:ip-login`.
 */
const kindOf = (key: string, prefix: string) => {
  const name = key.slice(prefix.length);
  if (name.startsWith('{')) return name.slice(1, name.indexOf('}'));
  return name.includes('{') ? name.replace(/:?\{.*$/, '') : name.split(':').slice(0, 2).join(':');
};

const average = (kind: KeyKind | undefined) => (kind?.keys ? kind.bytes / kind.keys : undefined);

/** Every key under `prefix`, measured exactly (MEMORY USAGE … SAMPLES 0 counts every field of a hash or set). */
export async function redisMemory(redisUrl: string, prefix: string): Promise<RedisMemory> {
  const redis = new Redis(redisUrl);
  try {
    const kinds: Record<string, KeyKind> = {};
    let cursor = '0';
    do {
      const [next, keys] = await redis.scan(cursor, 'MATCH', `${prefix}*`, 'COUNT', 1000);
      cursor = next;
      for (const key of keys) {
        const kind = (kinds[kindOf(key, prefix)] ??= { keys: 0, bytes: 0 });
        kind.keys += 1;
        kind.bytes += Number(await redis.memory('USAGE', key, 'SAMPLES', 0)) || 0;
        if (kindOf(key, prefix) === 'grant') kind.members = (kind.members ?? 0) + (await redis.zcard(key));
      }
    } while (cursor !== '0');
    const session = average(kinds.Session);
    const refreshToken = average(kinds.RefreshToken);
    const grant = kinds.grant?.members ? kinds.grant.bytes / kinds.grant.members : 0;
    return {
      kinds,
      perSessionBytes: session === undefined ? undefined : session + (average(kinds['Session:uid']) ?? 0),
      perRefreshTokenBytes: refreshToken === undefined ? undefined : refreshToken + grant,
    };
  } finally {
    redis.disconnect();
  }
}
