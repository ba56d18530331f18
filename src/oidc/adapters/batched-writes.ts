/** At most this many rows in one INSERT (8 parameters each). */
const MAX_ROWS_PER_STATEMENT = 64;

interface Pending<Row> {
  /** An upsert of one row, under its key; or any other write, run on its own. */
  upsert?: { key: string; row: Row };
  run?: () => Promise<unknown>;
  resolve(): void;
  reject(error: unknown): void;
}

/**
 * The embedded database's writes of node-oidc-provider's models, in the order they were asked for, with the
 * upserts that come one after another sent as one multi-row statement. PGlite runs every statement on the event
 * loop, and a statement's fixed cost (parse, plan, commit) is several times a row's: under load the rows of many
 * requests share one. Each caller's promise settles when its own row's statement has, as before: nothing is
 * acknowledged before it is in the table, and a row the table refuses fails its own write only. A batch starts on the next turn of the event loop after the first
 * write is asked for, or when the previous batch ends, so a lone write waits no longer than it did.
 */
export class BatchedWrites<Row> {
  readonly #queue: Pending<Row>[] = [];
  #flushing = false;

  constructor(private readonly upsertRows: (rows: Row[]) => Promise<unknown>) {}

  upsert(key: string, row: Row): Promise<void> {
    return this.#enqueue({ upsert: { key, row } });
  }

  /** Any other write (consume, delete), after every write asked for before it. */
  run(write: () => Promise<unknown>): Promise<void> {
    return this.#enqueue({ run: write });
  }

  #enqueue(work: Omit<Pending<Row>, 'resolve' | 'reject'>): Promise<void> {
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
        if (!first.upsert) {
          await settle([first], first.run!);
          next += 1;
          continue;
        }
        // Consecutive upserts of distinct rows: PostgreSQL refuses to update one row twice in one statement.
        const statement: Pending<Row>[] = [];
        const keys = new Set<string>();
        for (let item = batch[next]; item?.upsert && !keys.has(item.upsert.key) && statement.length < MAX_ROWS_PER_STATEMENT; item = batch[next]) {
          keys.add(item.upsert.key);
          statement.push(item);
          next += 1;
        }
        try {
          await this.upsertRows(statement.map((item) => item.upsert!.row));
          for (const item of statement) item.resolve();
        } catch {
          // One row the table refuses (a payload PostgreSQL cannot store) must not fail the others: each on its own.
          for (const item of statement) await settle([item], () => this.upsertRows([item.upsert!.row]));
        }
      }
    }
    this.#flushing = false;
  }
}

async function settle<Row>(items: Pending<Row>[], write: () => Promise<unknown>): Promise<void> {
  try {
    await write();
    for (const item of items) item.resolve();
  } catch (error) {
    for (const item of items) item.reject(error);
  }
}
