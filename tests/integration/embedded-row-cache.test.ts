import { randomBytes, randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { sql } from 'kysely';
import { afterAll, describe, expect, it, vi } from 'vitest';

import { createSecretBox, newSecretsKey, parseSecretsKeys } from '../../src/crypto/index.ts';
import { DataDirLockedError, migrateToLatest, openDatabase, type Database } from '../../src/db/index.ts';
import { createLogger } from '../../src/logger.ts';
import { liveIndexEntries } from '../../src/oidc/adapters/account-index.ts';
import { DEFERRED_WRITE_DELAY_MS } from '../../src/oidc/adapters/deferred-writes.ts';
import { openModelStore } from '../../src/oidc/index.ts';
import { createPostgresDatabase } from '../support/idp.ts';

const secretBox = createSecretBox(parseSecretsKeys(newSecretsKey('row-cache')));
const log = createLogger('silent');
const [alice, bob] = [randomUUID(), randomUUID()];
const postgresUrl = process.env.TEST_DATABASE_URL;

/** A node: its own database handle and model store, composed as the IdP composes them. */
async function openNode(options: { databaseUrl: string | undefined; dataDir: string }) {
  const database = await openDatabase(options);
  await migrateToLatest(database.db);
  const store = await openModelStore({ redis: undefined, database, secretBox, log });
  return {
    database,
    store,
    adapter: (model: string) => new store.adapter(model),
    async close() {
      await store.close();
      await database.close();
    },
  };
}
type Node = Awaited<ReturnType<typeof openNode>>;

const token = (grantId: string) => {
  const id = randomBytes(16).toString('base64url');
  return { id, payload: { jti: id, kind: 'AccessToken', grantId, accountId: 'a', clientId: 'web-app', scope: 'openid' } };
};

describe('the embedded database keeps its sessions and tokens in memory too', () => {
  const dataDir = mkdtempSync(path.join(tmpdir(), 'idp-row-cache-'));
  let node: Node | undefined;
  afterAll(async () => {
    await node?.close();
    rmSync(dataDir, { recursive: true, force: true });
  });

  it('admits no second node on its data folder, so no other memory can go stale', async () => {
    node = await openNode({ databaseUrl: undefined, dataDir });
    await expect(openDatabase({ databaseUrl: undefined, dataDir })).rejects.toBeInstanceOf(DataDirLockedError);
  });

  it('finds after a restart what it held in memory before: consumed, revoked and destroyed as they were', async () => {
    const grant = randomUUID();
    const [kept, consumed, revoked, destroyed] = [token(randomUUID()), token(randomUUID()), token(grant), token(randomUUID())];
    const tokens = node!.adapter('AccessToken');
    for (const { id, payload } of [kept, consumed, revoked, destroyed]) await tokens.upsert(id, payload, 3600);
    await tokens.consume(consumed.id);
    await tokens.revokeByGrantId(grant);
    await tokens.destroy(destroyed.id);
    const consumedAt = (await tokens.find(consumed.id))?.consumed;
    expect(consumedAt).toBeTypeOf('number');

    await node!.close();
    node = await openNode({ databaseUrl: undefined, dataDir });
    const again = node.adapter('AccessToken');
    expect(await again.find(kept.id)).toEqual(kept.payload);
    expect(await again.find(consumed.id)).toEqual({ ...consumed.payload, consumed: consumedAt });
    expect(await again.find(revoked.id)).toBeUndefined();
    expect(await again.find(destroyed.id)).toBeUndefined();
  });

  it('writes what many requests ask at once as they asked, in order; a row the table refuses fails alone', async () => {
    const tokens = node!.adapter('AccessToken');
    const awkward = 'quote " backslash \\ braces {} comma , é 😀 line\nbreak NULL';
    const many = Array.from({ length: 40 }, (_, n) => {
      const { id, payload } = token(randomUUID());
      return { id, payload: { ...payload, scope: `${awkward} ${n}` } };
    });
    const [rewritten, consumed, consumedToo, destroyed, destroyedToo] = many;
    const refused = token(randomUUID());
    const reborn = token(randomUUID());
    await tokens.upsert(reborn.id, reborn.payload, 3600);
    // Asked for in one turn of the event loop, as by concurrent requests: they share statements.
    const writes = [
      ...many.slice(0, 20).map(({ id, payload }) => tokens.upsert(id, payload, 3600)),
      tokens.upsert(refused.id, { ...refused.payload, scope: 'nul \u0000 in jsonb' }, 3600),
      ...many.slice(20).map(({ id, payload }) => tokens.upsert(id, payload, 3600)),
      tokens.upsert(rewritten!.id, { ...rewritten!.payload, scope: 'second write' }, 3600),
      tokens.consume(consumed!.id),
      tokens.consume(consumedToo!.id),
      tokens.destroy(destroyed!.id),
      tokens.destroy(destroyedToo!.id),
    ];
    // Ended, then written again under the same id: the row's writes reach the table in the order asked.
    writes.push(tokens.destroy(reborn.id), tokens.upsert(reborn.id, { ...reborn.payload, scope: 'written again' }, 3600));
    // Sessions of one person, indexed by account (its own table), saved and half of them ended in the same turn.
    const person = randomUUID();
    const sessions = node!.adapter('Session');
    const sessionIds = Array.from({ length: 10 }, () => randomUUID());
    writes.push(...sessionIds.map((id) => sessions.upsert(id, { jti: id, kind: 'Session', uid: randomUUID(), accountId: person }, 3600)));
    writes.push(...sessionIds.slice(0, 5).map((id) => sessions.destroy(id)));
    const outcomes = await Promise.allSettled(writes);
    expect(outcomes.map((outcome) => outcome.status).filter((status) => status === 'rejected')).toHaveLength(1);
    expect(outcomes[20]?.status).toBe('rejected');

    await node!.close();
    node = await openNode({ databaseUrl: undefined, dataDir });
    const again = node.adapter('AccessToken');
    for (const { id, payload } of many.slice(5)) expect(await again.find(id)).toEqual(payload);
    expect(await again.find(rewritten!.id)).toEqual({ ...rewritten!.payload, scope: 'second write' });
    for (const token of [consumed!, consumedToo!]) expect(await again.find(token.id)).toEqual({ ...token.payload, consumed: expect.any(Number) });
    for (const token of [destroyed!, destroyedToo!]) expect(await again.find(token.id)).toBeUndefined();
    expect(await again.find(refused.id)).toBeUndefined();
    expect(await again.find(reborn.id)).toEqual({ ...reborn.payload, scope: 'written again' });
    expect(await liveIndexEntries(node.database.db, person, 'Session')).toHaveLength(5);
    for (const id of sessionIds.slice(5)) expect(await node.adapter('Session').find(id)).toMatchObject({ accountId: person });
  });

  it('finds a token written under an id it had looked for and not found, as introspection looks in every model', async () => {
    const { id, payload } = token(randomUUID());
    const [accessTokens, refreshTokens] = [node!.adapter('AccessToken'), node!.adapter('RefreshToken')];
    expect(await accessTokens.find(id)).toBeUndefined();
    expect(await accessTokens.find(id)).toBeUndefined();
    await accessTokens.upsert(id, payload, 3600);
    expect(await accessTokens.find(id)).toEqual(payload);
    expect(await refreshTokens.find(id)).toBeUndefined();
    // Still found once more tokens than the memory holds have pushed it out: from the table.
    const others = Array.from({ length: 10_001 }, () => token(randomUUID()));
    await Promise.all(others.map((other) => accessTokens.upsert(other.id, other.payload, 3600)));
    expect(await accessTokens.find(id)).toEqual(payload);
    await accessTokens.destroy(id);
    expect(await accessTokens.find(id)).toBeUndefined();
    await accessTokens.upsert(id, payload, 3600);
    expect(await accessTokens.find(id)).toEqual(payload);
  });

  describe('a sign-in in progress (interactions, codes): each row’s last state reaches the table within a second', () => {
    const inTable = async () => {
      const { rows } = await sql<{ model: string; consumed: boolean }>`
        select model, consumed_at is not null as consumed from oidc_models
        where model in ('Interaction', 'AuthorizationCode') order by model, consumed`.execute(node!.database.db);
      return rows.map(({ model, consumed }) => `${model}${consumed ? ' consumed' : ''}`);
    };
    const signIn = async () => {
      const [interactions, codes] = [node!.adapter('Interaction'), node!.adapter('AuthorizationCode')];
      const grant = randomUUID();
      const newId = () => randomBytes(16).toString('base64url');
      const [kept, ended, redeemed, revoked] = [newId(), newId(), newId(), newId()];
      const interaction = (id: string, step: string) => ({ jti: id, kind: 'Interaction', uid: id, step });
      const code = (id: string, grantId: string) => ({ jti: id, kind: 'AuthorizationCode', grantId, accountId: alice, clientId: 'web-app' });
      await interactions.upsert(kept, interaction(kept, 'login'), 3600);
      await interactions.upsert(kept, interaction(kept, 'consent'), 3600);
      await interactions.upsert(ended, interaction(ended, 'login'), 3600);
      await interactions.destroy(ended);
      await codes.upsert(redeemed, code(redeemed, randomUUID()), 60);
      await codes.consume(redeemed);
      await codes.upsert(revoked, code(revoked, grant), 60);
      await codes.revokeByGrantId(grant);
      // Answered at once as written, though the table has none of it yet.
      expect(await interactions.find(kept)).toEqual(interaction(kept, 'consent'));
      expect(await interactions.find(ended)).toBeUndefined();
      expect(await codes.find(redeemed)).toEqual({ ...code(redeemed, expect.any(String)), consumed: expect.any(Number) });
      expect(await codes.find(revoked)).toBeUndefined();
      const found = async (adapter: (model: string) => { find(id: string): Promise<unknown> }) => ({
        kept: await adapter('Interaction').find(kept),
        ended: await adapter('Interaction').find(ended),
        redeemed: await adapter('AuthorizationCode').find(redeemed),
        revoked: await adapter('AuthorizationCode').find(revoked),
      });
      return { expected: await found(node!.adapter), found };
    };
    const clearTable = () => sql`delete from oidc_models where model in ('Interaction', 'AuthorizationCode')`.execute(node!.database.db);

    it('writes only what is left after a second: the interaction still open and the consumed code', async () => {
      await clearTable();
      const { expected, found } = await signIn();
      expect(await inTable()).toEqual([]);
      await new Promise((resolve) => setTimeout(resolve, DEFERRED_WRITE_DELAY_MS + 500));
      expect(await inTable()).toEqual(['AuthorizationCode consumed', 'Interaction']);
      await node!.close();
      node = await openNode({ databaseUrl: undefined, dataDir });
      expect(await found(node.adapter)).toEqual(expected);
    });

    it('writes them at shutdown, so a restart finds them as they were', async () => {
      await clearTable();
      const { expected, found } = await signIn();
      await node!.close();
      node = await openNode({ databaseUrl: undefined, dataDir });
      expect(await inTable()).toEqual(['AuthorizationCode consumed', 'Interaction']);
      expect(await found(node.adapter)).toEqual(expected);
    });

    it('still answers a row the memory let go of before its write reached the table', async () => {
      vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout'] });
      try {
        await clearTable();
        const interactions = node!.adapter('Interaction');
        const id = randomBytes(16).toString('base64url');
        await interactions.upsert(id, { jti: id, kind: 'Interaction', uid: id }, 3600);
        const tokens = node!.adapter('AccessToken');
        const others = Array.from({ length: 10_001 }, () => token(randomUUID()));
        await Promise.all(others.map((other) => tokens.upsert(other.id, other.payload, 3600)));
        expect(await inTable()).toEqual([]);
        expect(await interactions.find(id)).toMatchObject({ jti: id });
      } finally {
        vi.useRealTimers();
      }
    });
  });

  it('forgets a session once it expires, by id and by uid', async () => {
    const sessions = node!.adapter('Session');
    const [id, uid] = [randomBytes(16).toString('base64url'), randomUUID()];
    await sessions.upsert(id, { jti: id, kind: 'Session', uid, accountId: alice }, 1);
    expect(await sessions.findByUid(uid)).toMatchObject({ jti: id });
    await new Promise((resolve) => setTimeout(resolve, 1100));
    expect(await sessions.find(id)).toBeUndefined();
    expect(await sessions.findByUid(uid)).toBeUndefined();
  });
});

describe.skipIf(!postgresUrl)('two nodes on one PostgreSQL database, sessions and tokens in SQL (no Redis)', () => {
  const nodes: Node[] = [];
  let database: Awaited<ReturnType<typeof createPostgresDatabase>> | undefined;
  afterAll(async () => {
    for (const node of nodes) await node.close();
    await database?.drop();
  });

  it('see at once what the other changed: a consumed, revoked or destroyed token, an updated session', async () => {
    database = await createPostgresDatabase();
    for (let i = 0; i < 2; i += 1) nodes.push(await openNode({ databaseUrl: database.url, dataDir: tmpdir() }));
    const [one, other] = nodes.map((node) => ({ tokens: node.adapter('AccessToken'), sessions: node.adapter('Session') }));
    if (!one || !other) throw new Error('two nodes expected');

    const grant = randomUUID();
    const [consumed, revoked, destroyed] = [token(randomUUID()), token(grant), token(randomUUID())];
    for (const { id, payload } of [consumed, revoked, destroyed]) {
      await one.tokens.upsert(id, payload, 3600);
      // The other node reads each first, as a resource server's introspection would.
      expect(await other.tokens.find(id)).toEqual(payload);
    }
    await one.tokens.consume(consumed.id);
    await one.tokens.revokeByGrantId(grant);
    await one.tokens.destroy(destroyed.id);
    expect((await other.tokens.find(consumed.id))?.consumed).toBeTypeOf('number');
    expect(await other.tokens.find(revoked.id)).toBeUndefined();
    expect(await other.tokens.find(destroyed.id)).toBeUndefined();

    const [id, uid] = [randomBytes(16).toString('base64url'), randomUUID()];
    await one.sessions.upsert(id, { jti: id, kind: 'Session', uid, accountId: alice, authorizations: {} }, 3600);
    expect(await other.sessions.find(id)).toMatchObject({ accountId: alice });
    await other.sessions.upsert(id, { jti: id, kind: 'Session', uid, accountId: bob, authorizations: {} }, 3600);
    expect(await one.sessions.find(id)).toMatchObject({ accountId: bob });
    await other.sessions.destroy(id);
    expect(await one.sessions.findByUid(uid)).toBeUndefined();
  });
});
