import { setImmediate as nextTurnOfEventLoop } from 'node:timers/promises';
import { parse, type PGlite, protocol } from '@electric-sql/pglite';
import {
  CompiledQuery,
  PostgresAdapter,
  PostgresIntrospector,
  PostgresQueryCompiler,
  type DatabaseConnection,
  type Dialect,
  type Driver,
  type Kysely,
  type QueryResult,
} from 'kysely';
import { prepareValue } from 'pg/lib/utils.js';

/** Waits for the one connection to be free, in order of arrival. */
class ConnectionMutex {
  #tail: Promise<void> = Promise.resolve();

  lock(): Promise<() => void> {
    let release!: () => void;
    const next = new Promise<void>((resolve) => (release = resolve));
    const acquired = this.#tail.then(() => release);
    this.#tail = this.#tail.then(() => next);
    return acquired;
  }
}

function concat(parts: Uint8Array[]): Uint8Array {
  const message = new Uint8Array(parts.reduce((length, part) => length + part.length, 0));
  let offset = 0;
  for (const part of parts) {
    message.set(part, offset);
    offset += part.length;
  }
  return message;
}

/** Distinct statements kept prepared; Kysely builds a few dozen shapes, lists of varying length add some. */
const MAX_PREPARED = 500;

/**
 * PGlite's own `query` calls into Postgres six times per statement (parse, describe, bind, describe,
 * execute, sync), and each call costs more than a simple statement itself. This sends the same extended
 * protocol messages in one call, as node-postgres pipelines them to a server: parameters go as text that
 * Postgres types itself, converted by node-postgres's own `prepareValue` (so a value is sent exactly as on
 * PostgreSQL in production), and rows are read with PGlite's own parsers.
 *
 * A statement with parameters run outside a transaction is also kept prepared under a name, so that Postgres
 * plans it once, not on every run (planning cost more than running, for the lookups of sessions and tokens).
 * Not inside transactions: migrations run in one, and a table they alter would change under a kept plan.
 */
class PGliteConnection implements DatabaseConnection {
  readonly #prepared = new Map<string, string>();
  #names = 0;

  constructor(private readonly pglite: PGlite) {}

  async executeQuery<R>(compiledQuery: CompiledQuery): Promise<QueryResult<R>> {
    const { serialize } = protocol;
    const { sql: text, parameters } = compiledQuery;
    const kept = this.#prepared.get(text);
    // A fresh name each time: a statement whose first run failed may or may not exist under its old one.
    const name = kept ?? (this.#mayKeep(parameters.length) ? `kysely_${(this.#names += 1)}` : undefined);
    const message = concat([
      ...(kept === undefined ? [serialize.parse({ text, name: name ?? '' })] : []),
      serialize.bind({ statement: name ?? '', values: parameters.map((value) => prepareValue(value)) }),
      serialize.describe({ type: 'P' }),
      serialize.execute({}),
      serialize.sync(),
    ]);
    // PGlite answers through promises alone: without this, statements queued by many requests would run one
    // after another in a single turn of the event loop, and timers and sockets would wait for all of them.
    await nextTurnOfEventLoop();
    const { messages } = await this.pglite.execProtocol(message);
    if (kept === undefined && name !== undefined) this.#prepared.set(text, name);
    const [result] = parse.parseResults(messages, this.pglite.parsers);
    const rows = (result?.rows ?? []) as R[];
    const affected = result?.affectedRows;
    return { rows, ...(affected !== undefined ? { numAffectedRows: BigInt(affected) } : {}) };
  }

  #mayKeep(parameterCount: number): boolean {
    return parameterCount > 0 && this.#prepared.size < MAX_PREPARED && !this.pglite.isInTransaction();
  }

  // eslint-disable-next-line require-yield
  async *streamQuery(): AsyncIterableIterator<QueryResult<never>> {
    throw new Error('PGlite does not stream query results');
  }
}

/**
 * PGlite is one database session. Kysely runs a transaction on a connection it holds from
 * BEGIN to COMMIT, so the driver lends that single session to one holder at a time: queries
 * from other requests wait instead of landing inside someone else's transaction.
 */
class PGliteDriver implements Driver {
  readonly #mutex = new ConnectionMutex();
  readonly #connection: PGliteConnection;
  #release: (() => void) | undefined;

  constructor(private readonly pglite: PGlite) {
    this.#connection = new PGliteConnection(pglite);
  }

  async init(): Promise<void> {}

  async acquireConnection(): Promise<DatabaseConnection> {
    this.#release = await this.#mutex.lock();
    return this.#connection;
  }

  async releaseConnection(): Promise<void> {
    const release = this.#release;
    this.#release = undefined;
    release?.();
  }

  async beginTransaction(connection: DatabaseConnection): Promise<void> {
    await connection.executeQuery(CompiledQuery.raw('begin'));
  }

  async commitTransaction(connection: DatabaseConnection): Promise<void> {
    await connection.executeQuery(CompiledQuery.raw('commit'));
  }

  async rollbackTransaction(connection: DatabaseConnection): Promise<void> {
    await connection.executeQuery(CompiledQuery.raw('rollback'));
  }

  async destroy(): Promise<void> {
    await this.pglite.close();
  }
}

export class PGliteDialect implements Dialect {
  constructor(private readonly pglite: PGlite) {}

  createDriver(): Driver {
    return new PGliteDriver(this.pglite);
  }

  createQueryCompiler() {
    return new PostgresQueryCompiler();
  }

  createAdapter() {
    return new PostgresAdapter();
  }

  createIntrospector(db: Kysely<any>) {
    return new PostgresIntrospector(db);
  }
}
