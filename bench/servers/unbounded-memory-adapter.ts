import type { AdapterConstructor } from 'oidc-provider';

/**
 * node-oidc-provider's own in-memory adapter keeps at most 1000 entries (an LRU) and so evicts live
 * tokens under load. The baseline uses that same adapter class over this store, which keeps every entry
 * until it expires.
 */
class UnboundedStore {
  readonly #entries = new Map<string, { value: unknown; expiresAt: number }>();

  get(key: string): unknown {
    const entry = this.#entries.get(key);
    if (!entry) return undefined;
    if (entry.expiresAt <= Date.now()) {
      this.#entries.delete(key);
      return undefined;
    }
    return entry.value;
  }

  set(key: string, value: unknown, options?: { maxAge?: number }) {
    this.#entries.set(key, { value, expiresAt: options?.maxAge === undefined ? Infinity : Date.now() + options.maxAge });
  }

  delete(key: string) {
    this.#entries.delete(key);
  }
}

type MemoryAdapterClass = new (model: string, store: UnboundedStore, clockTolerance?: number) => object;

export async function unboundedMemoryAdapter(): Promise<AdapterConstructor> {
  // Not among the package's public exports; the path is stable across 9.x.
  const module = (await import('oidc-provider/lib/adapters/memory_adapter.js' as string)) as { default: MemoryAdapterClass };
  const MemoryAdapter = module.default;
  const store = new UnboundedStore();
  return class {
    constructor(model: string) {
      return new MemoryAdapter(model, store);
    }
  } as unknown as AdapterConstructor;
}
