import { createHash } from 'node:crypto';
import type { Adapter, AdapterConstructor, AdapterPayload } from 'oidc-provider';

import { BoundedMap } from '../../bounded-map.ts';
import type { SecretBox } from '../../crypto/index.ts';

/**
 * Models whose id is not a bearer value: a client id is public, a grant id is never presented by anyone
 * (tokens name their grant, and the grant index and revokeByGrantId work by it). Every other model's id
 * is one: the value of an opaque access or refresh token, an authorization or device code, the session
 * cookie, an interaction's cookie and URL, a PAR request_uri.
 */
const PLAIN_ID_MODELS = new Set(['Client', 'Grant']);

/**
 * Fields that name another bearer value, or the item's own, and so are stored sealed (SECRETS_KEY):
 * - the id of a Session and a DeviceCode, because node-oidc-provider finds those by uid and by user code
 *   too, and then needs their id back;
 * - an Interaction's session cookie value, device code, PAR id and its own URL (`returnTo` holds its uid).
 */
const SEALED_FIELDS: Record<string, string[]> = {
  Session: ['jti'],
  DeviceCode: ['jti'],
  Interaction: ['returnTo', 'deviceCode', 'parJti', 'session.cookie'],
};

/** The key an item is stored under: the SHA-256 of its id (base64url), for models whose id is a bearer value. */
export function storageKeyOf(model: string, id: string): string {
  return PLAIN_ID_MODELS.has(model) ? id : createHash('sha256').update(id, 'utf8').digest('base64url');
}

type Json = Record<string, unknown>;

const REMEMBERED_KEYS = 10_000;

function mapField(payload: Json, path: string, change: (value: string) => string): Json {
  const [head, ...rest] = path.split('.');
  const value = payload[head!];
  if (rest.length === 0) return typeof value === 'string' ? { ...payload, [head!]: change(value) } : payload;
  if (typeof value !== 'object' || value === null) return payload;
  return { ...payload, [head!]: mapField(value as Json, rest.join('.'), change) };
}

/**
 * node-oidc-provider's models stored under the hash of their id, with no bearer value left in the key,
 * the indexes or the payload: `jti` is dropped (restored on find from the id asked for) or sealed, and
 * so are the fields in SEALED_FIELDS. Who reads the store learns no usable token, code or cookie value.
 * `Inner` sees only storage keys: the account index below it records those, and `endEverythingOf` and
 * the account's session list address items by them (through the inner adapter, not this one).
 */
export function hashedIds(Inner: AdapterConstructor, box: SecretBox): AdapterConstructor {
  // The keys of the ids presented lately: a token or session is looked up again and again.
  const keys = new BoundedMap<string, string>(REMEMBERED_KEYS);
  return class HashedIdAdapter implements Adapter {
    readonly #inner: Adapter;
    readonly #sealed: string[];

    constructor(private readonly model: string) {
      this.#inner = new Inner(model);
      this.#sealed = PLAIN_ID_MODELS.has(model) ? [] : (SEALED_FIELDS[model] ?? []);
    }

    #key(id: string) {
      if (PLAIN_ID_MODELS.has(this.model)) return id;
      let key = keys.get(id);
      if (key === undefined) keys.set(id, (key = storageKeyOf(this.model, id)));
      return key;
    }

    #context(field: string) {
      return `oidc:${this.model}:${field}`;
    }

    #toStored(payload: AdapterPayload): AdapterPayload {
      if (PLAIN_ID_MODELS.has(this.model)) return payload;
      let stored: Json = { ...payload };
      if (!this.#sealed.includes('jti')) delete stored.jti;
      for (const field of this.#sealed) stored = mapField(stored, field, (value) => box.seal(value, this.#context(field)));
      return stored as AdapterPayload;
    }

    /**
     * `id`: the id asked for; a lookup by uid or user code has none, and takes the sealed jti. An item whose
     * sealed fields no listed key opens (its key was removed from SECRETS_KEY too early) is not found, so
     * that the browser holding it starts over instead of failing on every request.
     */
    #fromStored(stored: AdapterPayload | undefined | void, id?: string): AdapterPayload | undefined {
      if (!stored) return undefined;
      if (PLAIN_ID_MODELS.has(this.model)) return stored;
      let payload: Json = { ...stored };
      try {
        for (const field of this.#sealed) payload = mapField(payload, field, (value) => box.open(value, this.#context(field)));
      } catch {
        return undefined;
      }
      if (id !== undefined) payload.jti = id;
      return typeof payload.jti === 'string' ? (payload as AdapterPayload) : undefined;
    }

    async upsert(id: string, payload: AdapterPayload, expiresIn?: number) {
      await this.#inner.upsert(this.#key(id), this.#toStored(payload), expiresIn);
    }
    async find(id: string) {
      return this.#fromStored(await this.#inner.find(this.#key(id)), id);
    }
    async findByUid(uid: string) {
      return this.#fromStored(await this.#inner.findByUid(uid));
    }
    async findByUserCode(userCode: string) {
      return this.#fromStored(await this.#inner.findByUserCode(userCode));
    }
    consume(id: string) {
      return this.#inner.consume(this.#key(id));
    }
    destroy(id: string) {
      return this.#inner.destroy(this.#key(id));
    }
    revokeByGrantId(grantId: string) {
      return this.#inner.revokeByGrantId(grantId);
    }
  };
}
