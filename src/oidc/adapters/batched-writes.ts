/** At most this many rows in one statement. */
const MAX_ROWS_PER_STATEMENT = 16;

/** The statement that writes a batch of one kind of write (upserts, deletes...), whatever its length. */
export type BatchStatement<Item> = (items: Item[]) => Promise<unknown>;

/** One statement for each kind of write. */
export type BatchStatements<Kinds> = { [K in keyof Kinds]: BatchStatement<Kinds[K]> };

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
 * The embedded database's writes (node-oidc-provider's models, the account index), each row's in the order they
 * were asked for, with the writes of one kind (upserts, say) to distinct rows sent as one statement. PGlite runs
 * every statement on the event loop, and a statement's fixed cost (parse, plan, commit) is several times a row's:
 * under load the rows of many requests share one. Each caller's promise settles when its own row's statement has,
 * as before: nothing is acknowledged before it is in the table, and a row the table refuses fails its own write
 * only. A batch starts on the next turn of the event loop after the first write is asked for, or when the previous
 * batch ends, so a lone write waits no longer than it did.
 */
export class BatchedWrites<Kinds extends object> {
  readonly #queue: Pending[] = [];
  #flushing = false;

  constructor(private readonly statements: BatchStatements<Kinds>) {}

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
      for (const wave of waves(this.#queue.splice(0))) {
        if (wave[0]!.kind === undefined) {
          await settle(wave, wave[0]!.run!);
          continue;
        }
        for (const [kind, items] of byKind(wave)) {
          for (let start = 0; start < items.length; start += MAX_ROWS_PER_STATEMENT) {
            await this.#write(kind, items.slice(start, start + MAX_ROWS_PER_STATEMENT));
          }
        }
      }
    }
    this.#flushing = false;
  }

  async #write(kind: string, statement: Pending[]) {
    const write = this.statements[kind as keyof Kinds] as BatchStatement<unknown>;
    try {
      await write(statement.map((pending) => pending.item));
      for (const pending of statement) pending.resolve();
    } catch {
      // One row the table refuses (a payload PostgreSQL cannot store) must not fail the others: each on its own.
      for (const pending of statement) await settle([pending], () => write([pending.item]));
    }
  }
}

/**
 * The writes in the order they must reach the table: each write of a row after that row's earlier writes, and
 * every other write (`run`) alone, after all asked before it and before all asked after it. Writes of distinct
 * rows may go in any order (concurrent requests never had theirs ordered), so each wave gathers as many as it
 * can: every row at most once.
 */
function waves(pending: Pending[]): Pending[][] {
  const result: Pending[][] = [];
  const waveOfRow = new Map<string, number>();
  let first = 0;
  for (const item of pending) {
    if (item.kind === undefined) {
      result.push([item]);
      first = result.length;
      continue;
    }
    const wave = Math.max(first, (waveOfRow.get(item.key!) ?? -1) + 1);
    (result[wave] ??= []).push(item);
    waveOfRow.set(item.key!, wave);
  }
  return result;
}

function byKind(wave: Pending[]): Map<string, Pending[]> {
  const kinds = new Map<string, Pending[]>();
  for (const item of wave) {
    const items = kinds.get(item.kind!);
    if (items) items.push(item);
    else kinds.set(item.kind!, [item]);
  }
  return kinds;
}

async function settle(items: Pending[], write: () => Promise<unknown>): Promise<void> {
  try {
    await write();
    for (const item of items) item.resolve();
  } catch (error) {
    for (const item of items) item.reject(error);
  }
}

/** One column of a batch, as the array a statement unnests. */
export const columnOf = <T, K extends keyof T>(items: T[], name: K): T[K][] => items.map((item) => item[name]);

/**
 * Runs `write` once for each model among `keys`, with its ids (and its items, in the same order): a statement
 * with `model = $1 and id = any($2)` is an index condition on a (model, id) key, whichever plan PostgreSQL keeps
 * for it (a join with the arrays leaves the plan to its estimate of their length).
 */
export async function eachModel<T extends { model: string; id: string }>(
  keys: T[],
  write: (model: string, ids: string[], items: T[]) => Promise<unknown>,
): Promise<void> {
  const byModel = new Map<string, T[]>();
  for (const key of keys) byModel.set(key.model, [...(byModel.get(key.model) ?? []), key]);
  for (const [model, items] of byModel) await write(model, items.map((item) => item.id), items);
}
