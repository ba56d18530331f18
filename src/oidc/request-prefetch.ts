import Provider, { type Adapter, type AdapterConstructor, type AdapterPayload } from 'oidc-provider';

import { changedAccount, type AccountVersions } from '../accounts/index.ts';

/**
 * Reads one protocol request is about to make, started together. A bearer token names what the endpoint reads
 * next, one after the other: its session (when the token ends with it), its grant and its account's version.
 * Started together as soon as the token is read, they cost one round trip to the store instead of three.
 *
 * A prefetched read belongs to the request that started it (node-oidc-provider's request context) and is used
 * at most once, by the read it stands for; a write to that model or account in the same request drops it.
 * So no read is answered by one older than the request, and no request sees another's: nothing outlives a
 * revocation, a logout or a disabled account any more than without it.
 */
const prefetchedByRequest = new WeakMap<object, Map<string, Promise<unknown>>>();

function prefetchedOfThisRequest(create: boolean): Map<string, Promise<unknown>> | undefined {
  const ctx = Provider.ctx as object | undefined;
  if (!ctx) return undefined;
  let prefetched = prefetchedByRequest.get(ctx);
  if (!prefetched && create) prefetchedByRequest.set(ctx, (prefetched = new Map()));
  return prefetched;
}

function prefetch(key: string, read: () => Promise<unknown>): void {
  const prefetched = prefetchedOfThisRequest(true);
  if (!prefetched || prefetched.has(key)) return;
  const reading = read();
  // Not used (the request failed before it got there): its failure is nobody's to handle.
  reading.catch(() => undefined);
  prefetched.set(key, reading);
}

function take<T>(key: string): Promise<T> | undefined {
  const prefetched = prefetchedOfThisRequest(false);
  const reading = prefetched?.get(key);
  if (reading) prefetched!.delete(key);
  return reading as Promise<T> | undefined;
}

function forget(keyStart: string): void {
  const prefetched = prefetchedOfThisRequest(false);
  if (!prefetched) return;
  for (const key of prefetched.keys()) if (key.startsWith(keyStart)) prefetched.delete(key);
}

/** Tokens presented as bearer values to userinfo, introspection, the token endpoint (refresh) and resource servers. */
const PRESENTED_TOKENS = new Set(['AccessToken', 'RefreshToken']);
/** Endpoints that read the token's account after it (introspection reads only the session and the grant). */
const READS_ACCOUNT = new Set(['userinfo', 'token']);

/** The node-oidc-provider route of the request this runs in (its async context), if any. */
export const currentRoute = () => (Provider.ctx as { oidc?: { route?: string } } | undefined)?.oidc?.route;

/**
 * node-oidc-provider's models, where reading a presented token starts the reads of its session and grant, and
 * `readsWithToken` (its account's version), for the rest of the request to find (see above).
 */
export function prefetchingAdapter(Inner: AdapterConstructor, readsWithToken: (token: AdapterPayload) => void = () => undefined): AdapterConstructor {
  const sessions = new Inner('Session');
  const grants = new Inner('Grant');

  return class PrefetchingAdapter implements Adapter {
    readonly #inner: Adapter;
    constructor(private readonly model: string) {
      this.#inner = new Inner(model);
    }

    async find(id: string) {
      const prefetched = this.model === 'Grant' ? take<AdapterPayload | undefined>(`Grant:${id}`) : undefined;
      const found = await (prefetched ?? this.#inner.find(id));
      if (found && PRESENTED_TOKENS.has(this.model)) {
        if (found.expiresWithSession && typeof found.sessionUid === 'string') {
          const uid = found.sessionUid;
          prefetch(`Session:uid:${uid}`, () => sessions.findByUid(uid));
        }
        if (typeof found.grantId === 'string') {
          const grantId = found.grantId;
          prefetch(`Grant:${grantId}`, () => grants.find(grantId));
        }
        if (READS_ACCOUNT.has(currentRoute() ?? '')) readsWithToken(found);
      }
      return found;
    }
    findByUid(uid: string) {
      const prefetched = this.model === 'Session' ? take<AdapterPayload | undefined>(`Session:uid:${uid}`) : undefined;
      return prefetched ?? this.#inner.findByUid(uid);
    }
    findByUserCode(userCode: string) {
      return this.#inner.findByUserCode(userCode);
    }
    upsert(id: string, payload: AdapterPayload, expiresIn?: number) {
      forget(`${this.model}:`);
      return this.#inner.upsert(id, payload, expiresIn);
    }
    consume(id: string) {
      forget(`${this.model}:`);
      return this.#inner.consume(id);
    }
    destroy(id: string) {
      forget(`${this.model}:`);
      return this.#inner.destroy(id);
    }
    revokeByGrantId(grantId: string) {
      forget(`${this.model}:`);
      return this.#inner.revokeByGrantId(grantId);
    }
  };
}

/**
 * Account versions whose read can start with the token's (`prefetch`); a write of an account in the same request
 * drops what was prefetched, so the request reads the version anew.
 */
export function prefetchingVersions(versions: AccountVersions) {
  const keyOf = (accountId: string) => `account-version:${accountId}`;
  const accountWrites = new WeakSet<object>();
  return {
    ...versions,
    plugin: {
      // Dropped when an account write starts and again when it is done: a read started in between is not kept either.
      transformQuery(args: Parameters<AccountVersions['plugin']['transformQuery']>[0]) {
        if (changedAccount(args.node)) {
          accountWrites.add(args.queryId);
          forget('account-version:');
        }
        return versions.plugin.transformQuery(args);
      },
      async transformResult(args: Parameters<AccountVersions['plugin']['transformResult']>[0]) {
        const result = await versions.plugin.transformResult(args);
        if (accountWrites.has(args.queryId)) forget('account-version:');
        return result;
      },
    },
    prefetch(accountId: string) {
      prefetch(keyOf(accountId), () => versions.current(accountId));
    },
    current(accountId: string) {
      return take<string | undefined>(keyOf(accountId)) ?? versions.current(accountId);
    },
  };
}

export type PrefetchingVersions = ReturnType<typeof prefetchingVersions>;
