import type { Adapter, AdapterConstructor, AdapterPayload } from 'oidc-provider';

import { guardStore } from '../../db/index.ts';

/** Wraps every adapter call so an unreachable store surfaces as StoreUnavailableError (HTTP 503). */
export function guardedAdapter(
  Inner: AdapterConstructor,
  store: string,
  isUnavailable: (error: unknown) => boolean,
): AdapterConstructor {
  return class GuardedAdapter implements Adapter {
    readonly #inner: Adapter;

    constructor(model: string) {
      this.#inner = new Inner(model);
    }

    #guard<T>(operation: () => Promise<T>): Promise<T> {
      return guardStore(store, isUnavailable, operation);
    }

    upsert(id: string, payload: AdapterPayload, expiresIn?: number) {
      return this.#guard(() => this.#inner.upsert(id, payload, expiresIn));
    }
    find(id: string) {
      return this.#guard(() => this.#inner.find(id));
    }
    findByUid(uid: string) {
      return this.#guard(() => this.#inner.findByUid(uid));
    }
    findByUserCode(userCode: string) {
      return this.#guard(() => this.#inner.findByUserCode(userCode));
    }
    consume(id: string) {
      return this.#guard(() => this.#inner.consume(id));
    }
    destroy(id: string) {
      return this.#guard(() => this.#inner.destroy(id));
    }
    revokeByGrantId(grantId: string) {
      return this.#guard(() => this.#inner.revokeByGrantId(grantId));
    }
  };
}
