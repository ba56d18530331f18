import type { CachedRow } from './embedded-row-cache.ts';
import { isGrantable } from './grantable.ts';

/**
 * The models of a sign-in in progress: an Interaction lives from the authorization request to its resume, a code
 * or a pushed request until the client redeems it, an upstream sign-in until the provider calls back; each is
 * written two or three times and ended within a second, and losing one costs a sign-in that starts again.
 */
export const deferredModels: ReadonlySet<string> = new Set(['Interaction', 'AuthorizationCode', 'PushedAuthorizationRequest', 'UpstreamSignIn']);

/** How long a row's writes gather in memory before its last state goes to the table. */
export const DEFERRED_WRITE_DELAY_MS = 1000;

/** A row's last state: the row, or null once destroyed. */
export interface DeferredRow {
  model: string;
  id: string;
  row: CachedRow | null;
}

/**
 * The embedded database's writes of the deferred models, held for DEFERRED_WRITE_DELAY_MS and then written as each
 * row's last state: an Interaction saved twice and destroyed costs one delete shared with every other sign-in of
 * that second instead of three statements; a code saved and consumed, one row of a shared upsert. (PGlite runs each
 * statement on the event loop, at a fixed cost several times a row's.) Until its write has reached the table a row's
 * state is answered from here, so no reader sees the table behind. The price, said in docs/ARCHITECTURE.md: a crash
 * (not a shutdown, which writes them) loses the sign-ins of its last second, which start again.
 */
export class DeferredWrites {
  readonly #pending = new Map<string, DeferredRow>();
  #timer: NodeJS.Timeout | undefined;
  #flushing: Promise<void> = Promise.resolve();

  /** `write` takes rows' last states to the table, and answers those it could not write. */
  constructor(private readonly write: (rows: DeferredRow[]) => Promise<DeferredRow[]>, private readonly onRefused: (row: DeferredRow) => void) {}

  /** The row's state not yet in the table: a row, null when destroyed, undefined when the table is current. */
  get(key: string): CachedRow | null | undefined {
    return this.#pending.get(key)?.row;
  }

  set(key: string, model: string, id: string, row: CachedRow | null) {
    this.#pending.set(key, { model, id, row });
    this.#timer ??= setTimeout(() => void this.flush(), DEFERRED_WRITE_DELAY_MS).unref();
  }

  /** Ends the pending rows of a revoked grant, as the table's rows of it are deleted. */
  revokeGrant(grantId: string) {
    for (const [key, pending] of this.#pending) {
      if (pending.row?.grantId === grantId && isGrantable(pending.model)) this.#pending.set(key, { ...pending, row: null });
    }
  }

  /** Writes every pending row now (and waits for a flush already running); at shutdown, before the database closes. */
  flush(): Promise<void> {
    clearTimeout(this.#timer);
    this.#timer = undefined;
    const batch = [...this.#pending];
    this.#flushing = this.#flushing.then(async () => {
      if (batch.length === 0) return;
      const refused = new Set(await this.write(batch.map(([, pending]) => pending)));
      for (const [key, pending] of batch) {
        // A row written again meanwhile stays pending with its newer state.
        if (this.#pending.get(key) !== pending) continue;
        this.#pending.delete(key);
        if (refused.has(pending)) this.onRefused(pending);
      }
    });
    return this.#flushing;
  }
}
