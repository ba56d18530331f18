import { sql } from 'kysely';
import { afterAll, describe, expect, it } from 'vitest';

import { createClientRegistry } from '../../src/clients/index.ts';
import { backends, startTestIdp, type TestIdp } from '../support/idp.ts';

/**
 * Each node keeps the clients it has read in memory (src/clients/client-cache.ts); a change made anywhere
 * (another node, the CLI, by hand in SQL) must reach it before it answers for the client again.
 */
const nodes: TestIdp[] = [];
afterAll(async () => {
  for (const node of nodes.reverse()) await node.destroy();
});

/** The admin command line's registry: over the database alone, with no node's memory to tell. */
function registryOver(node: TestIdp) {
  return createClientRegistry(node.idp.database.db, (metadata) => node.idp.provider.Client.validate(metadata as never), { httpsOnly: false, allowPrivateNetwork: true });
}

/** The token endpoint's answer to a client credentials grant: 200, or the OAuth error. */
async function clientCredentials(node: TestIdp, clientId: string, secret: string): Promise<string> {
  const response = await fetch(`${node.listening}/token`, {
    method: 'POST',
    headers: { authorization: `Basic ${Buffer.from(`${clientId}:${secret}`).toString('base64')}`, 'content-type': 'application/x-www-form-urlencoded' },
    body: 'grant_type=client_credentials',
  });
  const body = (await response.json()) as { error?: string };
  return response.ok ? '200' : `${response.status} ${body.error}`;
}

const robot = { client_name: 'Robot', redirect_uris: [], grant_types: ['client_credentials'], response_types: [] };
/** Notices cross a connection to PostgreSQL: a node answers with the change within moments, not within the same tick. */
const soon = { timeout: 3000, interval: 20 };

describe.each(backends)('a client changed outside this node (%s)', (backend) => {
  it('is answered as it is now: its secret rotated, its id changed by hand in SQL, then deleted', async () => {
    const node = await startTestIdp({ backend });
    nodes.push(node);
    const registry = registryOver(node);
    const { client, clientSecret } = await registry.create(robot);
    const id = client.client_id as string;
    expect(await clientCredentials(node, id, clientSecret!)).toBe('200');
    expect(await clientCredentials(node, id, clientSecret!)).toBe('200');

    const rotated = await registry.rotateSecret(id);
    await expect.poll(() => clientCredentials(node, id, clientSecret!), soon).toBe('401 invalid_client');
    expect(await clientCredentials(node, id, rotated)).toBe('200');

    const renamed = `${id}-renamed`;
    await sql`update clients set client_id = ${renamed}, metadata = jsonb_set(metadata, '{client_id}', to_jsonb(${renamed}::text)) where client_id = ${id}`.execute(node.idp.database.db);
    await expect.poll(() => clientCredentials(node, id, rotated), soon).toBe('401 invalid_client');
    expect(await clientCredentials(node, renamed, rotated)).toBe('200');

    await registry.remove(renamed);
    await expect.poll(() => clientCredentials(node, renamed, rotated), soon).toBe('401 invalid_client');
  });
});

const shared = backends.includes('postgres+redis');
describe.skipIf(!shared)('client changes on two nodes sharing PostgreSQL and Redis', () => {
  async function twoNodes() {
    const first = await startTestIdp({ backend: 'postgres+redis' });
    nodes.push(first);
    const second = await startTestIdp({
      backend: 'postgres+redis',
      env: { ISSUER: first.issuer, DATA_DIR: first.dataDir, DATABASE_URL: first.shared.databaseUrl!, REDIS_KEY_PREFIX: first.shared.redisKeyPrefix },
    });
    nodes.push(second);
    return [first, second] as const;
  }

  /** Two nodes, and a client registered through the first that the second has answered for (and so keeps). */
  async function clientKeptBySecondNode() {
    const [first, second] = await twoNodes();
    const registry = registryOver(first);
    const { client, clientSecret } = await registry.create(robot);
    const id = client.client_id as string;
    expect(await clientCredentials(second, id, clientSecret!)).toBe('200');
    return { first, second, registry, id, secret: clientSecret! };
  }

  it("applies one node's change on the other: a rotated secret and a deleted client stop working there too", async () => {
    const { second, registry, id, secret: clientSecret } = await clientKeptBySecondNode();

    const rotated = await registry.rotateSecret(id);
    await expect.poll(() => clientCredentials(second, id, clientSecret), soon).toBe('401 invalid_client');
    expect(await clientCredentials(second, id, rotated)).toBe('200');
    await registry.remove(id);
    await expect.poll(() => clientCredentials(second, id, rotated), soon).toBe('401 invalid_client');
  });

  it('reads every client from the database while it cannot hear of changes, and keeps them again once it can', async () => {
    const { first, second, registry, id, secret: clientSecret } = await clientKeptBySecondNode();

    // The connections that listen for changes are cut (as a network fault or a PostgreSQL restart would).
    const listeners = sql`
      select pg_terminate_backend(pid) from pg_stat_activity
      where datname = current_database() and application_name = 'idp listening on idp_clients'`;
    await listeners.execute(first.idp.database.db);
    await expect.poll(() => second.logs.lines.some((line) => line.msg?.startsWith('not following client changes')), soon).toBe(true);

    // A change the node cannot hear of: it answers from the database.
    const rotated = await registry.rotateSecret(id);
    expect(await clientCredentials(second, id, clientSecret)).toBe('401 invalid_client');
    expect(await clientCredentials(second, id, rotated)).toBe('200');

    await expect.poll(() => second.logs.lines.some((line) => line.msg?.startsWith('following client changes again')), { timeout: 10_000 }).toBe(true);
    expect(await clientCredentials(second, id, rotated)).toBe('200');
    const again = await registry.rotateSecret(id);
    await expect.poll(() => clientCredentials(second, id, rotated), soon).toBe('401 invalid_client');
    expect(await clientCredentials(second, id, again)).toBe('200');
  }, 30_000);
});
