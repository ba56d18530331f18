import { randomBytes, randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Cluster, Redis } from 'ioredis';
import type { Adapter, AdapterConstructor, AdapterPayload } from 'oidc-provider';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { migrateToLatest, openDatabase, type Database } from '../../src/db/index.ts';
import { hashedIds, storageKeyOf } from '../../src/oidc/adapters/hashed-ids.ts';
import { createRedisAdapter, redisKeys } from '../../src/oidc/adapters/redis.ts';
import { createSqlAdapter, flushDeferredWrites } from '../../src/oidc/adapters/sql.ts';
import { createSecretBox, newSecretsKey, parseSecretsKeys } from '../../src/crypto/index.ts';
import { startRedisCluster } from '../support/redis-cluster.ts';
import { hasRedisServer } from '../support/redis-server.ts';

/** The adapters as the IdP composes them: each store under hashedIds, whose ids are bearer values. */
const secretBox = createSecretBox(parseSecretsKeys(newSecretsKey('contract')));

interface OpenBackend {
  Adapter: AdapterConstructor;
  /** Everything the store holds, keys and values, as text. */
  dump(): Promise<string>;
  /** Set for Redis backends, whose storage the contract also inspects directly. */
  redis?: { client: Redis | Cluster; prefix: string };
  close(): Promise<void>;
}

interface Backend {
  name: string;
  kind: 'sql' | 'redis';
  open(): Promise<OpenBackend>;
}

const postgresUrl = process.env.TEST_DATABASE_URL;
const redisUrl = process.env.TEST_REDIS_URL;

async function openSql(database: Database, cleanup: () => Promise<void>, rowsInMemory = false): Promise<OpenBackend> {
  try {
    await migrateToLatest(database.db);
  } catch (error) {
    await database.close();
    await cleanup();
    throw error;
  }
  return {
    Adapter: hashedIds(createSqlAdapter(database.db, { rowsInMemory }), secretBox),
    async dump() {
      // With rows in memory, a sign-in's rows reach the table a second late (deferred-writes.ts): all of them, now.
      await flushDeferredWrites(database.db);
      return JSON.stringify(await database.db.selectFrom('oidc_models').selectAll().execute());
    },
    async close() {
      await database.close();
      await cleanup();
    },
  };
}

/** Every key under the prefix, on every master of a Cluster. */
async function keysUnder(client: Redis | Cluster, prefix: string): Promise<string[]> {
  const nodes = client instanceof Cluster ? client.nodes('master') : [client];
  const keys: string[] = [];
  for (const node of nodes) {
    for await (const batch of node.scanStream({ match: `${prefix}*`, count: 500 })) keys.push(...(batch as string[]));
  }
  return keys;
}

async function openRedis(client: Redis | Cluster, stop: () => Promise<void>): Promise<OpenBackend> {
  const prefix = `idp-test:${randomBytes(6).toString('hex')}:`;
  return {
    Adapter: hashedIds(createRedisAdapter(client, { prefix }), secretBox),
    redis: { client, prefix },
    async dump() {
      const entries: unknown[] = [];
      for (const key of await keysUnder(client, prefix)) {
        const type = await client.type(key);
        const value = type === 'hash' ? await client.hgetall(key) : type === 'zset' ? await client.zrange(key, '0', '-1') : await client.get(key);
        entries.push([key, value]);
      }
      return JSON.stringify(entries);
    },
    async close() {
      try {
        // One DEL per key: a Cluster refuses multi-key commands across slots.
        await Promise.all((await keysUnder(client, prefix)).map((key) => client.del(key)));
      } finally {
        await stop();
      }
    },
  };
}

const backends: Backend[] = [];
const skipped: string[] = [];

backends.push({
  name: 'SQL on PGlite',
  kind: 'sql',
  async open() {
    const dataDir = mkdtempSync(path.join(tmpdir(), 'idp-adapter-'));
    const database = await openDatabase({ databaseUrl: undefined, dataDir });
    return openSql(database, async () => rmSync(dataDir, { recursive: true, force: true }));
  },
});

backends.push({
  name: 'SQL on PGlite, rows also in memory (the embedded default)',
  kind: 'sql',
  async open() {
    const dataDir = mkdtempSync(path.join(tmpdir(), 'idp-adapter-'));
    const database = await openDatabase({ databaseUrl: undefined, dataDir });
    return openSql(database, async () => rmSync(dataDir, { recursive: true, force: true }), true);
  },
});

if (postgresUrl) {
  backends.push({
    name: 'SQL on PostgreSQL',
    kind: 'sql',
    async open() {
      const name = `idp_test_${randomBytes(6).toString('hex')}`;
      const admin = async (statement: string) => {
        const client = new pg.Client({ connectionString: postgresUrl });
        await client.connect();
        try {
          await client.query(statement);
        } finally {
          await client.end();
        }
      };
      await admin(`create database ${name}`);
      const url = new URL(postgresUrl);
      url.pathname = `/${name}`;
      const database = await openDatabase({ databaseUrl: url.toString(), dataDir: tmpdir() });
      return openSql(database, () => admin(`drop database if exists ${name} with (force)`));
    },
  });
} else {
  skipped.push('SQL on PostgreSQL: TEST_DATABASE_URL is not set');
}

if (redisUrl) {
  backends.push({
    name: 'Redis',
    kind: 'redis',
    async open() {
      const client = new Redis(redisUrl);
      return openRedis(client, async () => void (await client.quit()));
    },
  });
} else {
  skipped.push('Redis: TEST_REDIS_URL is not set');
}

if (hasRedisServer || process.env.CI === 'true') {
  backends.push({
    name: 'Redis Cluster',
    kind: 'redis',
    async open() {
      if (!hasRedisServer) throw new Error('redis-server is not on the PATH, and CI requires the Redis Cluster backend');
      const { cluster, stop } = await startRedisCluster();
      return openRedis(cluster, stop);
    },
  });
} else {
  skipped.push('Redis Cluster: redis-server is not on the PATH');
}

for (const reason of skipped) console.warn(`Adapter contract skips ${reason}.`);

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const newId = () => randomUUID();
const nowSeconds = () => Math.floor(Date.now() / 1000);

describe.each(backends)('adapter contract: $name', (backend) => {
  let opened: OpenBackend;
  const adapter = (model: string): Adapter => new opened.Adapter(model);

  beforeAll(async () => {
    opened = await backend.open();
  });

  afterAll(async () => {
    await opened?.close();
  });

  it('finds what it stored, nested objects intact', async () => {
    const tokens = adapter('AccessToken');
    const id = newId();
    const payload: AdapterPayload = {
      jti: id,
      kind: 'AccessToken',
      accountId: 'account-1',
      clientId: 'web-app',
      scope: 'openid email',
      claims: { userinfo: { email: { essential: true } }, id_token: { auth_time: null } },
      extra: { nested: { list: [1, 'two', { three: 3 }], flag: false } },
    };
    await tokens.upsert(id, payload, 60);
    expect(await tokens.find(id)).toEqual(payload);
  });

  it('answers undefined for an unknown id', async () => {
    expect(await adapter('AccessToken').find(newId())).toBeUndefined();
    expect(await adapter('Session').findByUid(newId())).toBeUndefined();
    expect(await adapter('DeviceCode').findByUserCode('NONE-SUCH')).toBeUndefined();
  });

  it('overwrites on upsert and forgets that the old item was consumed', async () => {
    const codes = adapter('AuthorizationCode');
    const id = newId();
    await codes.upsert(id, { jti: id, kind: 'AuthorizationCode', scope: 'openid', accountId: 'a' }, 60);
    await codes.consume(id);
    expect((await codes.find(id))?.consumed).toBeTypeOf('number');

    await codes.upsert(id, { jti: id, kind: 'AuthorizationCode', scope: 'openid profile' }, 60);
    expect(await codes.find(id)).toEqual({ jti: id, kind: 'AuthorizationCode', scope: 'openid profile' });
  });

  it('finds a Session by uid and a DeviceCode by user code, each within its model', async () => {
    const sessionId = newId();
    const uid = newId();
    await adapter('Session').upsert(sessionId, { jti: sessionId, kind: 'Session', uid, accountId: 'a' }, 60);
    expect(await adapter('Session').findByUid(uid)).toMatchObject({ jti: sessionId, uid });
    expect(await adapter('Interaction').findByUid(uid)).toBeUndefined();

    const deviceId = newId();
    const userCode = randomBytes(4).toString('hex').toUpperCase();
    await adapter('DeviceCode').upsert(deviceId, { jti: deviceId, kind: 'DeviceCode', userCode, clientId: 'tv' }, 60);
    expect(await adapter('DeviceCode').findByUserCode(userCode)).toMatchObject({ jti: deviceId, userCode });
    expect(await adapter('AccessToken').findByUserCode(userCode)).toBeUndefined();
  });

  it('finds a Session only by its current uid after the uid changed', async () => {
    const sessions = adapter('Session');
    const id = newId();
    const [oldUid, newUid] = [newId(), newId()];
    await sessions.upsert(id, { jti: id, kind: 'Session', uid: oldUid }, 60);
    await sessions.upsert(id, { jti: id, kind: 'Session', uid: newUid }, 60);
    expect(await sessions.findByUid(oldUid)).toBeUndefined();
    expect(await sessions.findByUid(newUid)).toMatchObject({ jti: id, uid: newUid });
  });

  it('marks an item consumed with the current epoch seconds and keeps the rest', async () => {
    const codes = adapter('AuthorizationCode');
    const id = newId();
    const payload = { jti: id, kind: 'AuthorizationCode', accountId: 'a', grantId: newId(), scope: 'openid' };
    await codes.upsert(id, payload, 60);
    const before = nowSeconds();
    await codes.consume(id);
    const after = nowSeconds();

    const found = await codes.find(id);
    expect(found).toMatchObject(payload);
    expect(Number.isInteger(found?.consumed)).toBe(true);
    expect(found?.consumed).toBeGreaterThanOrEqual(before - 1);
    expect(found?.consumed).toBeLessThanOrEqual(after + 1);
  });

  it('does not make a missing item findable by consuming it', async () => {
    const codes = adapter('AuthorizationCode');
    const id = newId();
    await codes.consume(id);
    expect(await codes.find(id)).toBeUndefined();
  });

  it('destroys an item together with its uid and user code', async () => {
    const sessionId = newId();
    const uid = newId();
    await adapter('Session').upsert(sessionId, { jti: sessionId, kind: 'Session', uid }, 60);
    await adapter('Session').destroy(sessionId);
    expect(await adapter('Session').find(sessionId)).toBeUndefined();
    expect(await adapter('Session').findByUid(uid)).toBeUndefined();

    const devices = adapter('DeviceCode');
    const deviceId = newId();
    const userCode = randomBytes(4).toString('hex').toUpperCase();
    const grantId = newId();
    await devices.upsert(deviceId, { jti: deviceId, kind: 'DeviceCode', userCode, grantId }, 60);
    await devices.destroy(deviceId);
    expect(await devices.find(deviceId)).toBeUndefined();
    expect(await devices.findByUserCode(userCode)).toBeUndefined();
    await expect(devices.destroy(deviceId), 'destroying twice').resolves.toBeUndefined();
    await expect(devices.revokeByGrantId(grantId), 'revoking the grant of a destroyed item').resolves.toBeUndefined();
  });

  it('keeps an item stored without expiresIn until it is destroyed', async () => {
    const clients = adapter('Client');
    const id = newId();
    await clients.upsert(id, { client_id: id, redirect_uris: ['https://rp.example/cb'] });
    expect(await clients.find(id)).toEqual({ client_id: id, redirect_uris: ['https://rp.example/cb'] });
    await clients.destroy(id);
    expect(await clients.find(id)).toBeUndefined();
  });

  it('revokes every item of a grant, whatever its model, and nothing of another grant', async () => {
    const models = ['AccessToken', 'RefreshToken', 'AuthorizationCode'] as const;
    const [revoked, kept] = [newId(), newId()];
    const items = models.flatMap((model) => [revoked, kept].map((grantId) => ({ model, grantId, id: newId() })));
    for (const { model, grantId, id } of items) {
      await adapter(model).upsert(id, { jti: id, kind: model, grantId, accountId: 'a' }, 60);
    }
    const deviceId = newId();
    const userCode = randomBytes(4).toString('hex').toUpperCase();
    await adapter('DeviceCode').upsert(deviceId, { jti: deviceId, kind: 'DeviceCode', userCode, grantId: revoked }, 60);
    const sessionId = newId();
    await adapter('Session').upsert(sessionId, { jti: sessionId, kind: 'Session', uid: newId() }, 60);

    await adapter('RefreshToken').revokeByGrantId(revoked);
    for (const { model, grantId, id } of items) {
      const found = await adapter(model).find(id);
      if (grantId === revoked) expect(found, `${model} of the revoked grant`).toBeUndefined();
      else expect(found, `${model} of the other grant`).toMatchObject({ jti: id, grantId: kept });
    }
    expect(await adapter('DeviceCode').find(deviceId)).toBeUndefined();
    expect(await adapter('DeviceCode').findByUserCode(userCode)).toBeUndefined();
    expect(await adapter('Session').find(sessionId)).toMatchObject({ jti: sessionId });

    // node-oidc-provider calls it once per token model: the later calls find nothing left and must not fail.
    for (const model of models) await adapter(model).revokeByGrantId(revoked);
    expect(await adapter('AccessToken').find(items.find((item) => item.grantId === kept)!.id)).toBeDefined();
  });

  it('revokes only the tokens of a grant: its grant, pending interaction and session stay', async () => {
    // As node-oidc-provider's reference adapter: only AccessToken, AuthorizationCode, RefreshToken, DeviceCode,
    // BackchannelAuthenticationRequest and PreAuthorizedCode belong to a grant. An Interaction that names the grant
    // (a second authorization of the same client) must survive the grant's revocation, or the sign-in in progress breaks.
    const grantId = newId();
    const tokenId = newId();
    await adapter('AccessToken').upsert(tokenId, { jti: tokenId, kind: 'AccessToken', grantId }, 60);
    const interactionId = newId();
    await adapter('Interaction').upsert(interactionId, { jti: interactionId, kind: 'Interaction', grantId, uid: newId() }, 60);
    const sessionId = newId();
    const sessionUid = newId();
    await adapter('Session').upsert(sessionId, { jti: sessionId, kind: 'Session', grantId, uid: sessionUid, accountId: 'a' }, 60);
    await adapter('Grant').upsert(grantId, { jti: grantId, kind: 'Grant', accountId: 'a', clientId: 'web-app' }, 60);

    for (const model of ['AccessToken', 'RefreshToken', 'AuthorizationCode']) await adapter(model).revokeByGrantId(grantId);

    expect(await adapter('AccessToken').find(tokenId), 'the grant\'s token').toBeUndefined();
    expect(await adapter('Interaction').find(interactionId), 'the pending interaction').toMatchObject({ jti: interactionId, grantId });
    expect(await adapter('Session').find(sessionId), 'the session').toMatchObject({ jti: sessionId });
    expect(await adapter('Session').findByUid(sessionUid), 'the session by uid').toMatchObject({ jti: sessionId });
    expect(await adapter('Grant').find(grantId), 'the grant itself (destroyed separately)').toMatchObject({ jti: grantId });
  });

  it('keeps models apart: one id under two models is two items', async () => {
    const id = newId();
    await adapter('AccessToken').upsert(id, { jti: id, kind: 'AccessToken', scope: 'a' }, 60);
    await adapter('RefreshToken').upsert(id, { jti: id, kind: 'RefreshToken', scope: 'b' }, 60);
    expect(await adapter('AccessToken').find(id)).toMatchObject({ kind: 'AccessToken', scope: 'a' });

    await adapter('AccessToken').consume(id);
    await adapter('AccessToken').destroy(id);
    expect(await adapter('AccessToken').find(id)).toBeUndefined();
    expect(await adapter('RefreshToken').find(id)).toEqual({ jti: id, kind: 'RefreshToken', scope: 'b' });
  });

  it('stops finding items once they expire, by id, uid or user code', async () => {
    const sessionId = newId();
    const uid = newId();
    const deviceId = newId();
    const userCode = randomBytes(4).toString('hex').toUpperCase();
    const tokenId = newId();
    await adapter('Session').upsert(sessionId, { jti: sessionId, kind: 'Session', uid }, 1);
    await adapter('DeviceCode').upsert(deviceId, { jti: deviceId, kind: 'DeviceCode', userCode }, 1);
    await adapter('AccessToken').upsert(tokenId, { jti: tokenId, kind: 'AccessToken' }, 1);
    const longLivedId = newId();
    await adapter('AccessToken').upsert(longLivedId, { jti: longLivedId, kind: 'AccessToken' }, 60);
    expect(await adapter('AccessToken').find(tokenId)).toBeDefined();

    await sleep(1200);
    expect(await adapter('Session').find(sessionId)).toBeUndefined();
    expect(await adapter('Session').findByUid(uid)).toBeUndefined();
    expect(await adapter('DeviceCode').find(deviceId)).toBeUndefined();
    expect(await adapter('DeviceCode').findByUserCode(userCode)).toBeUndefined();
    expect(await adapter('AccessToken').find(tokenId)).toBeUndefined();
    expect(await adapter('AccessToken').find(longLivedId)).toBeDefined();
  });

  it('keeps no bearer id in the store, in keys, indexes or payloads, and answers with them all the same', async () => {
    const [tokenId, sessionId, deviceId, interactionId, parId] = [newId(), newId(), newId(), newId(), newId()];
    const [uid, grantId] = [newId(), newId()];
    const userCode = randomBytes(4).toString('hex').toUpperCase();
    await adapter('AccessToken').upsert(tokenId, { jti: tokenId, kind: 'AccessToken', grantId, accountId: 'a' }, 60);
    await adapter('Session').upsert(sessionId, { jti: sessionId, kind: 'Session', uid, accountId: 'a' }, 60);
    await adapter('DeviceCode').upsert(deviceId, { jti: deviceId, kind: 'DeviceCode', userCode, grantId }, 60);
    const interaction = {
      jti: interactionId,
      kind: 'Interaction',
      returnTo: `https://idp.example/auth/${interactionId}`,
      session: { accountId: 'a', uid, cookie: sessionId },
      deviceCode: deviceId,
      parJti: parId,
    };
    await adapter('Interaction').upsert(interactionId, interaction, 60);
    await adapter('PushedAuthorizationRequest').upsert(parId, { jti: parId, kind: 'PushedAuthorizationRequest' }, 60);

    const stored = await opened.dump();
    for (const [name, id] of Object.entries({ tokenId, sessionId, deviceId, interactionId, parId })) {
      expect(stored, `${name} appears in the store`).not.toContain(id);
    }
    expect(stored).toContain(storageKeyOf('AccessToken', tokenId));
    expect(stored).toContain(storageKeyOf('Interaction', interactionId));

    expect(await adapter('AccessToken').find(tokenId)).toMatchObject({ jti: tokenId, grantId });
    expect(await adapter('Session').findByUid(uid)).toMatchObject({ jti: sessionId, uid });
    expect(await adapter('DeviceCode').findByUserCode(userCode)).toMatchObject({ jti: deviceId, userCode });
    expect(await adapter('Interaction').find(interactionId)).toEqual(interaction);
    // The hash is not an id: presented as one, it finds nothing.
    expect(await adapter('AccessToken').find(storageKeyOf('AccessToken', tokenId))).toBeUndefined();
  });

  if (backend.kind === 'redis') describe('Redis storage', () => {
    const storage = () => opened.redis!;

    it('keeps the grant index to live members, expiring no sooner than its longest-lived one', async () => {
      const { client, prefix } = storage();
      const tokens = adapter('AccessToken');
      const grantId = newId();
      const grantKey = redisKeys(prefix).grant(grantId);
      const shortLived = Array.from({ length: 50 }, () => newId());
      await Promise.all(shortLived.map((id) => tokens.upsert(id, { jti: id, grantId }, 1)));
      const longLived = newId();
      await adapter('RefreshToken').upsert(longLived, { jti: longLived, grantId }, 120);
      expect(await client.zcard(grantKey)).toBe(51);

      await sleep(1200);
      const fresh = newId();
      await tokens.upsert(fresh, { jti: fresh, grantId }, 30);
      const members = await client.zrange(grantKey, '0', '-1');
      expect(members.sort()).toEqual([`AccessToken:${storageKeyOf('AccessToken', fresh)}`, `RefreshToken:${storageKeyOf('RefreshToken', longLived)}`].sort());
      // Read the set's TTL first: it must not be shorter than the longest-lived member's, read after.
      const grantTtl = await client.pttl(grantKey);
      expect(grantTtl).toBeGreaterThanOrEqual(await client.pttl(redisKeys(prefix).item('RefreshToken', storageKeyOf('RefreshToken', longLived))));
      expect(grantTtl).toBeLessThanOrEqual(120_000);
    });

    it('leaves no key without a TTL, and nothing of a destroyed item', async () => {
      const { client, prefix } = storage();
      const keys = redisKeys(prefix);
      const devices = adapter('DeviceCode');
      const id = newId();
      const userCode = randomBytes(4).toString('hex').toUpperCase();
      const [uid, grantId] = [newId(), newId()];
      await devices.upsert(id, { jti: id, kind: 'DeviceCode', userCode, uid, grantId }, 60);
      await devices.consume(id);
      const consumedTtl = await client.pttl(keys.item('DeviceCode', storageKeyOf('DeviceCode', id)));
      expect(consumedTtl).toBeGreaterThan(0);

      await devices.consume(newId());
      await adapter('Session').destroy(newId());
      await devices.destroy(id);
      expect(await client.exists(keys.item('DeviceCode', storageKeyOf('DeviceCode', id)))).toBe(0);
      expect(await client.exists(keys.uid('DeviceCode', uid))).toBe(0);
      expect(await client.exists(keys.userCode('DeviceCode', userCode))).toBe(0);
      expect(await client.zscore(keys.grant(grantId), `DeviceCode:${storageKeyOf('DeviceCode', id)}`)).toBeNull();

      const withoutTtl: string[] = [];
      for (const key of await keysUnder(client, prefix)) {
        if ((await client.pttl(key)) === -1) withoutTtl.push(key);
      }
      expect(withoutTtl).toEqual([]);
    });
  });
});
