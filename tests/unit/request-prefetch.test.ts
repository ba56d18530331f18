import type { Adapter, AdapterPayload } from 'oidc-provider';
// node-oidc-provider's request context (Provider.ctx), entered here the way it enters it for each request.
import als from 'oidc-provider/lib/helpers/als.js';
import { DummyDriver, Kysely, PostgresAdapter, PostgresIntrospector, PostgresQueryCompiler } from 'kysely';
import { describe, expect, it } from 'vitest';

import type { AccountVersions } from '../../src/accounts/index.ts';
import type { DB } from '../../src/db/index.ts';
import { prefetchingAdapter, prefetchingVersions } from '../../src/oidc/request-prefetch.ts';

/** A store in memory that records each read it answers. */
function recordingStore() {
  const items = new Map<string, AdapterPayload>();
  const reads: string[] = [];
  const Store = class implements Adapter {
    constructor(private readonly model: string) {}
    async upsert(id: string, payload: AdapterPayload) {
      items.set(`${this.model}:${id}`, payload);
    }
    async find(id: string) {
      reads.push(`${this.model}:${id}`);
      return items.get(`${this.model}:${id}`);
    }
    async findByUid(uid: string) {
      reads.push(`${this.model}:uid:${uid}`);
      return [...items.entries()].find(([key, item]) => key.startsWith(`${this.model}:`) && item.uid === uid)?.[1];
    }
    async findByUserCode() {
      return undefined;
    }
    async consume() {}
    async destroy(id: string) {
      items.delete(`${this.model}:${id}`);
    }
    async revokeByGrantId() {}
  };
  return { Store, reads };
}

/** A request to `route` (userinfo unless said), as node-oidc-provider's context holds it. */
const inRequest = <T>(work: () => Promise<T>, route = 'userinfo') => als.run({ oidc: { route } }, work);

async function seeded() {
  const { Store, reads } = recordingStore();
  const accounts: string[] = [];
  const Adapter = prefetchingAdapter(Store, (token) => accounts.push(String(token.accountId)));
  await new Adapter('Session').upsert('session-id', { uid: 'session-uid', accountId: 'a1' } as AdapterPayload);
  await new Adapter('Grant').upsert('grant-1', { accountId: 'a1', clientId: 'rp', exp: 1 } as AdapterPayload);
  await new Adapter('AccessToken').upsert('token-1', { accountId: 'a1', grantId: 'grant-1', sessionUid: 'session-uid', expiresWithSession: true } as AdapterPayload);
  return { Adapter, reads, accounts };
}

describe('reads a presented token starts', () => {
  it('reads the token, its session and its grant together, each once, within the request', async () => {
    const { Adapter, reads, accounts } = await seeded();
    await inRequest(async () => {
      expect(await new Adapter('AccessToken').find('token-1')).toMatchObject({ grantId: 'grant-1' });
      // Started with the token, before anyone asked for them.
      expect(reads).toEqual(['AccessToken:token-1', 'Session:uid:session-uid', 'Grant:grant-1']);
      expect(accounts).toEqual(['a1']);
      expect(await new Adapter('Session').findByUid('session-uid')).toMatchObject({ accountId: 'a1' });
      expect(await new Adapter('Grant').find('grant-1')).toMatchObject({ clientId: 'rp' });
      expect(reads).toHaveLength(3);
      // Used once: a second read of the grant goes to the store.
      await new Adapter('Grant').find('grant-1');
      expect(reads).toHaveLength(4);
    });
  });

  it('never answers another request, nor a read after a write of the same model in this one', async () => {
    const { Adapter, reads } = await seeded();
    await inRequest(() => new Adapter('AccessToken').find('token-1'));
    await inRequest(async () => {
      await new Adapter('Grant').find('grant-1');
      expect(reads.filter((read) => read === 'Grant:grant-1')).toHaveLength(2);
    });

    await inRequest(async () => {
      await new Adapter('AccessToken').find('token-1');
      await new Adapter('Grant').destroy('grant-1');
      expect(await new Adapter('Grant').find('grant-1')).toBeUndefined();
      await new Adapter('Session').destroy('session-id');
      expect(await new Adapter('Session').findByUid('session-uid')).toBeUndefined();
    });
  });

  it('reads no account version for introspection, which reads no account', async () => {
    const { Adapter, reads, accounts } = await seeded();
    await inRequest(() => new Adapter('AccessToken').find('token-1'), 'introspection');
    expect(reads).toEqual(['AccessToken:token-1', 'Session:uid:session-uid', 'Grant:grant-1']);
    expect(accounts).toEqual([]);
  });

  it('starts nothing outside a protocol request, nor for a token that ends without its session', async () => {
    const { Adapter, reads } = await seeded();
    await new Adapter('AccessToken').find('token-1');
    expect(reads).toEqual(['AccessToken:token-1']);
    await new Adapter('AccessToken').upsert('token-2', { accountId: 'a1', grantId: 'grant-1', sessionUid: 'session-uid' } as AdapterPayload);
    await inRequest(() => new Adapter('AccessToken').find('token-2'));
    expect(reads.slice(1)).toEqual(['AccessToken:token-2', 'Grant:grant-1']);
  });
});

describe('the account version read with a presented token', () => {
  /** Versions that count their reads, behind a database whose statements go nowhere (only their shape matters). */
  function countedVersions() {
    let reads = 0;
    let version = 1;
    const inner = {
      plugin: { transformQuery: ({ node }: { node: unknown }) => node, transformResult: async ({ result }: { result: unknown }) => result },
      current: async () => {
        reads += 1;
        return `v${version}`;
      },
    } as unknown as AccountVersions;
    const versions = prefetchingVersions(inner);
    const db = new Kysely<DB>({
      dialect: {
        createAdapter: () => new PostgresAdapter(),
        createDriver: () => new DummyDriver(),
        createIntrospector: (kysely) => new PostgresIntrospector(kysely),
        createQueryCompiler: () => new PostgresQueryCompiler(),
      },
      plugins: [versions.plugin],
    });
    return { versions, db, reads: () => reads, change: () => (version += 1) };
  }

  it('is used by the request once, and kept past a read of an account but not past a write of one', async () => {
    const { versions, db, reads, change } = countedVersions();
    await inRequest(async () => {
      versions.prefetch('a1');
      await db.selectFrom('accounts').selectAll().where('id', '=', 'a1').execute();
      expect(await versions.current('a1')).toBe('v1');
      expect(reads()).toBe(1);
    });

    await inRequest(async () => {
      versions.prefetch('a1');
      change();
      await db.updateTable('accounts').set({ name: 'Renamed' }).where('id', '=', 'a1').execute();
      // Read again after the write: the version the write made, not the one prefetched before it.
      expect(await versions.current('a1')).toBe('v2');
      expect(reads()).toBe(3);
    });
  });
});
