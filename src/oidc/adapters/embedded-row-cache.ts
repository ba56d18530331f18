import { isGrantable } from './grantable.ts';

/** Enough for every live session, grant and token of a development or small single-node IdP; the oldest go first. */
const MAX_ROWS = 10_000;

/** One oidc_models row as the adapter wrote (or read) it. */
export interface CachedRow {
  /** The payload as stored (JSON), parsed anew for every reader, so that none can change another's copy. */
  payload: string;
  /** Epoch milliseconds; Infinity for an item stored without expiry. */
  expiresAt: number;
  /** Epoch seconds when consumed. */
  consumed?: number;
  grantId?: string;
  uid?: string;
  userCode?: string;
}

export const keyOf = (model: string, id: string) => `${model}\u0000${id}`;

/**
 * The oidc_models rows of the embedded database, in memory, so that finding a session or token costs no
 * statement on PGlite (which runs on the event loop). Invalidation across nodes: there is no other node.
 * The embedded database admits one process (its DATA_DIR lock), this process reaches the table only through
 * the one SQL adapter that owns this cache (one cache per database handle), and that adapter changes the
 * memory first, then the table, for every write (a sign-in's rows a second later, deferred-writes.ts, whose
 * pending rows are answered before the table is asked); so no reader sees the table behind the memory.
 * A row missing here (and not pending) is read from the table; an id the table did not have either is remembered as absent
 * (introspection looks a token up as an access token, client credentials and refresh token at once), until
 * this process writes a row under it: only its own writes can add one.
 */
export class EmbeddedRowCache {
  readonly #rows = new Map<string, CachedRow>();
  readonly #byUid = new Map<string, string>();
  readonly #byUserCode = new Map<string, string>();
  readonly #byGrant = new Map<string, Set<string>>();
  readonly #absent = new Set<string>();
  #writesStarted = 0;
  #writesInFlight = 0;

  /** The live row of `model` and `id`, or undefined when it is not in memory (or has expired). */
  get(model: string, id: string): CachedRow | undefined {
    const key = keyOf(model, id);
    const row = this.#rows.get(key);
    if (row && row.expiresAt <= Date.now()) {
      this.#delete(key);
      return undefined;
    }
    return row;
  }

  /** Whether the table was found without a row of `model` and `id`, and none was written since. */
  isAbsent(model: string, id: string): boolean {
    return this.#absent.has(keyOf(model, id));
  }

  markAbsent(model: string, id: string) {
    this.#absent.add(keyOf(model, id));
    if (this.#absent.size > MAX_ROWS) this.#absent.delete(this.#absent.values().next().value!);
  }

  idByUid(model: string, uid: string): string | undefined {
    return this.#byUid.get(keyOf(model, uid));
  }

  idByUserCode(model: string, userCode: string): string | undefined {
    return this.#byUserCode.get(keyOf(model, userCode));
  }

  set(model: string, id: string, row: CachedRow) {
    const key = keyOf(model, id);
    this.#delete(key);
    this.#absent.delete(key);
    this.#rows.set(key, row);
    if (row.uid) this.#byUid.set(keyOf(model, row.uid), id);
    if (row.userCode) this.#byUserCode.set(keyOf(model, row.userCode), id);
    if (row.grantId && isGrantable(model)) {
      const members = this.#byGrant.get(row.grantId) ?? new Set<string>();
      members.add(key);
      this.#byGrant.set(row.grantId, members);
    }
    if (this.#rows.size > MAX_ROWS) this.#delete(this.#rows.keys().next().value!);
  }

  consume(model: string, id: string, atSeconds: number) {
    const row = this.#rows.get(keyOf(model, id));
    if (row) row.consumed = atSeconds;
  }

  delete(model: string, id: string) {
    this.#delete(keyOf(model, id));
  }

  deleteGrant(grantId: string) {
    for (const key of this.#byGrant.get(grantId) ?? []) this.#delete(key);
    this.#byGrant.delete(grantId);
  }

  /**
   * Runs a write to the table. `inMemory` changes the memory first, so that from this moment no reader sees
   * the old row; if the table refuses the write, the row is forgotten (`forget`) and read from the table again.
   */
  async write<T>(inMemory: () => void, inTable: () => Promise<T>, forget: () => void): Promise<T> {
    this.#writesStarted += 1;
    this.#writesInFlight += 1;
    inMemory();
    try {
      return await inTable();
    } catch (error) {
      forget();
      throw error;
    } finally {
      this.#writesInFlight -= 1;
    }
  }

  /**
   * Reads a row from the table and keeps it, unless a write started meanwhile or was still running when the
   * read began: the read may then have seen the table before that write, and the memory holds the newer state.
   */
  async read<T>(fromTable: () => Promise<T>, keep: (found: T) => void): Promise<T> {
    const quiet = this.#writesInFlight === 0;
    const before = this.#writesStarted;
    const found = await fromTable();
    if (quiet && this.#writesStarted === before) keep(found);
    return found;
  }

  #delete(key: string) {
    const row = this.#rows.get(key);
    if (!row) return;
    this.#rows.delete(key);
    const model = key.slice(0, key.indexOf('\u0000'));
    if (row.uid && this.#byUid.get(keyOf(model, row.uid)) === key.slice(model.length + 1)) this.#byUid.delete(keyOf(model, row.uid));
    if (row.userCode && this.#byUserCode.get(keyOf(model, row.userCode)) === key.slice(model.length + 1)) {
      this.#byUserCode.delete(keyOf(model, row.userCode));
    }
    if (row.grantId) {
      const members = this.#byGrant.get(row.grantId);
      members?.delete(key);
      if (members?.size === 0) this.#byGrant.delete(row.grantId);
    }
  }
}
