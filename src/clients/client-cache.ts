import { BoundedMap } from '../bounded-map.ts';
import type { Database } from '../db/index.ts';
import type { Logger } from '../logger.ts';

/** The channel migration 021 announces every change of a client row on, with the client's id ('' for all). */
export const CLIENT_CHANGES_CHANNEL = 'idp_clients';
/** More clients than this are read from the database again; the longest unused go first. */
const MAX_CLIENTS = 1000;

type Metadata = Record<string, unknown>;

/**
 * The metadata of the clients this node has read, so that a token, introspection or authorization request
 * costs no query for its client. Invalidation across nodes: the database announces every change of a
 * client row (migration 021's trigger, whoever wrote it) and each node forgets that client when the notice
 * comes, milliseconds after the change committed. While this node is not listening (before it started,
 * after its listening connection dropped and until it listens again) nothing is kept and every read goes to
 * the database. A read that began before a notice is not kept, so an answer older than a change never
 * outlives the notice. Clients that do not exist are never kept.
 */
export class ClientCache {
  readonly #entries = new BoundedMap<string, string>(MAX_CLIENTS);
  /** Moves on every notice and every start or stop of listening: a read that saw it move is not kept. */
  #generation = 0;
  #following = false;

  async find(clientId: string, read: (clientId: string) => Promise<Metadata | undefined>): Promise<Metadata | undefined> {
    const kept = this.#following ? this.#entries.get(clientId) : undefined;
    if (kept !== undefined) {
      this.#entries.set(clientId, kept);
      // A copy of its own for every reader, as a read from the database gives.
      return JSON.parse(kept) as Metadata;
    }
    const generation = this.#generation;
    const metadata = await read(clientId);
    if (metadata && this.#following && generation === this.#generation) this.#keep(clientId, JSON.stringify(metadata));
    return metadata;
  }

  /** A client changed (or, with '', possibly every client). */
  changed(clientId: string): void {
    this.#generation += 1;
    if (clientId === '') this.#entries.clear();
    else this.#entries.delete(clientId);
  }

  following(following: boolean): void {
    this.#generation += 1;
    this.#following = following;
    this.#entries.clear();
  }

  #keep(clientId: string, metadata: string) {
    this.#entries.set(clientId, metadata);
  }
}

/** A cache that follows the database's notices of client changes; `stop` before closing the database. */
export function followClientChanges(database: Database, log: Logger): { cache: ClientCache; stop: () => Promise<void> } {
  const cache = new ClientCache();
  let lost = false;
  const stop = database.listen(
    CLIENT_CHANGES_CHANNEL,
    {
      notice: (clientId) => cache.changed(clientId),
      following(following) {
        cache.following(following);
        if (following && lost) log.info('following client changes again: clients are kept in memory');
        lost = !following;
      },
    },
    (err) => {
      // Once per loss, not for every attempt to listen again.
      if (!lost) log.warn({ err }, 'not following client changes: every request reads its client from the database until it is again');
    },
  );
  return { cache, stop };
}
