import { randomUUID } from 'node:crypto';
import type { Kysely } from 'kysely';
import type { Adapter, AdapterConstructor, AdapterPayload } from 'oidc-provider';

import type { DB } from '../db/index.ts';
import type { ClientCache } from './client-cache.ts';
import { deleteClient, findClientMetadata, findClientRow, insertClient, listClientRows, replaceClientMetadata } from './client.repository.ts';
import { checkClientUris, ClientUriError, type ClientUriRules } from './client-uris.ts';
import { hashClientSecret, newClientSecret, symmetricUseOfSecret } from './client-secrets.ts';

export class ClientNotFoundError extends Error {
  constructor() {
    super('No such client');
  }
}

/** Client metadata that breaks one of our rules or node-oidc-provider's; names the field. */
export class InvalidClientError extends Error {
  constructor(
    readonly field: string,
    message: string,
  ) {
    super(message);
  }
}

const withoutSecret = ({ client_secret: _secret, ...metadata }: Record<string, unknown>) => metadata;

/**
 * Relying parties kept in SQL, managed by admins. node-oidc-provider reads them through its Client
 * adapter on every lookup, so changes apply at once. `validate` is node-oidc-provider's own check;
 * `uriRules` are ours for every URI field (src/oidc/client-uris.ts).
 */
export function createClientRegistry(
  db: Kysely<DB>,
  validate: (metadata: Record<string, unknown>) => Promise<void>,
  uriRules: ClientUriRules,
  /** This node's client cache: a change applies here before the call returns (other nodes: migration 021's notice). */
  cache?: ClientCache,
) {
  async function checked(metadata: Record<string, unknown>) {
    try {
      checkClientUris(metadata, uriRules);
    } catch (error) {
      if (error instanceof ClientUriError) throw new InvalidClientError(error.field, error.detail);
      throw error;
    }
    const symmetric = symmetricUseOfSecret(metadata);
    if (symmetric) throw new InvalidClientError(symmetric.field, symmetric.message);
    try {
      await validate(metadata);
    } catch (error) {
      const description = (error as { error_description?: string }).error_description ?? (error as Error).message;
      const field = /^(\w+)/.exec(description)?.[1] ?? 'metadata';
      throw new InvalidClientError(field, description);
    }
    return metadata;
  }

  async function row(clientId: string) {
    const found = await findClientRow(db, clientId);
    if (!found) throw new ClientNotFoundError();
    return found;
  }

  return {
    async list() {
      const rows = await listClientRows(db);
      return rows.map((r) => withoutSecret(r.metadata));
    },

    get: async (clientId: string) => withoutSecret((await row(clientId)).metadata),

    /** Registers a client; a confidential one gets a secret, returned here once and stored only as a hash. */
    async create(input: Record<string, unknown>) {
      const clientId = randomUUID();
      const confidential = input.token_endpoint_auth_method !== 'none';
      const secret = confidential ? newClientSecret() : undefined;
      const metadata = await checked({ ...input, client_id: clientId, ...(secret ? { client_secret: hashClientSecret(secret) } : {}) });
      await insertClient(db, clientId, metadata);
      return { client: withoutSecret(metadata), clientSecret: secret };
    },

    async update(clientId: string, changes: Record<string, unknown>) {
      const current = (await row(clientId)).metadata;
      const metadata = await checked({ ...current, ...changes, client_id: clientId, client_secret: current.client_secret });
      await replaceClientMetadata(db, clientId, metadata);
      cache?.changed(clientId);
      return { before: withoutSecret(current), after: withoutSecret(metadata) };
    },

    async remove(clientId: string) {
      if (!(await deleteClient(db, clientId))) throw new ClientNotFoundError();
      cache?.changed(clientId);
    },

    /** A new secret, returned once and stored only as a hash; the old one stops working at once. */
    async rotateSecret(clientId: string) {
      const current = (await row(clientId)).metadata;
      if (current.token_endpoint_auth_method === 'none') throw new InvalidClientError('token_endpoint_auth_method', 'a public client has no secret');
      const secret = newClientSecret();
      await replaceClientMetadata(db, clientId, { ...current, client_secret: hashClientSecret(secret) });
      cache?.changed(clientId);
      return secret;
    },
  };
}

export type ClientRegistry = ReturnType<typeof createClientRegistry>;

/**
 * node-oidc-provider's Client model answered from the clients table (through `cache` when given), whichever
 * store holds the rest.
 */
export function withClientsFromSql(Inner: AdapterConstructor, db: Kysely<DB>, cache?: ClientCache): AdapterConstructor {
  const read = (id: string) => findClientMetadata(db, id);
  class SqlClients implements Adapter {
    async find(id: string): Promise<AdapterPayload | undefined> {
      return (await (cache ? cache.find(id, read) : read(id))) as AdapterPayload | undefined;
    }
    async upsert() {}
    async findByUid() {
      return undefined;
    }
    async findByUserCode() {
      return undefined;
    }
    async consume() {}
    async destroy() {}
    async revokeByGrantId() {}
  }
  return class {
    constructor(model: string) {
      return model === 'Client' ? new SqlClients() : new Inner(model);
    }
  } as unknown as AdapterConstructor;
}
