/** At most this many rows in one statement. */
const MAX_ROWS_PER_STATEMENT = 16;

/** The statement that writes a batch of one kind of write (upserts, deletes...), whatever its length. */
export type BatchStatement<Item> = (items: Item[]) => Promise<unknown>;

interface Pending {
  /** A write of a batchable kind, of the row under `key`; or (kind undefined) any other write, run on its own. */
  kind?: string;
  key?: string;
  item?: unknown;
  run?: () => Promise<unknown>;
  resolve(): void;
  reject(error: unknown): void;
}

/**
 * The embedded database's writes of node-oidc-provider's models, in the order they were asked for, with writes of
 * one kind that come one after another (upserts, say) sent as one statement. PGlite runs every statement on the
 * event loop, and a statement's fixed cost (parse, plan, commit) is several times a row's: under load the rows of
 * many requests share one. Each caller's promise settles when its own row's statement has, as before: nothing is
 * acknowledged before it is in the table, and a row the table refuses fails its own write only. A batch starts on
 * the next turn of the event loop after the first write is asked for, or when the previous batch ends, so a lone
 * write waits no longer than it did.
 */
export class BatchedWrites<Kinds extends object> {
  readonly #queue: Pending[] = [];
  #flushing = false;

  constructor(private readonly statements: { [K in keyof Kinds]: BatchStatement<Kinds[K]> }) {}

  /** A write of `kind` of the row under `key`. */
  write<K extends keyof Kinds & string>(kind: K, key: string, item: Kinds[K]): Promise<void> {
    return this.#enqueue({ kind, key, item });
  }

  /** Any other write, after every write asked for before it and before those asked for after it. */
  run(write: () => Promise<unknown>): Promise<void> {
    return this.#enqueue({ run: write });
  }

  #enqueue(work: Pick<Pending, 'kind' | 'key' | 'item' | 'run'>): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      this.#queue.push({ ...work, resolve, reject });
      if (!this.#flushing) {
        this.#flushing = true;
        setImmediate(() => void this.#flush());
      }
    });
  }

  async #flush() {
    while (this.#queue.length > 0) {
      const batch = this.#queue.splice(0);
      let next = 0;
      while (next < batch.length) {
        const first = batch[next]!;
        if (first.kind === undefined) {
          await settle([first], first.run!);
          next += 1;
          continue;
        }
        // Consecutive writes of one kind to distinct rows: PostgreSQL changes a row at most once per statement.
        const statement: Pending[] = [];
        const keys = new Set<string>();
        for (let item = batch[next]; item?.kind === first.kind && !keys.has(item.key!) && statement.length < MAX_ROWS_PER_STATEMENT; item = batch[next]) {
          keys.add(item.key!);
          statement.push(item);
          next += 1;
        }
        const write = this.statements[first.kind as keyof Kinds] as BatchStatement<unknown>;
        try {
          await write(statement.map((pending) => pending.item));
          for (const pending of statement) pending.resolve();
        } catch {
          // One row the table refuses (a payload PostgreSQL cannot store) must not fail the others: each on its own.
          for (const pending of statement) await settle([pending], () => write([pending.item]));
        }
      }
    }
    this.#flushing = false;
  }
}

async function settle(items: Pending[], write: () => Promise<unknown>): Promise<void> {
  try {
    await write();
    for (const item of items) item.resolve();
  } catch (error) {
    for (const item of items) item.reject(error);
  }
}
