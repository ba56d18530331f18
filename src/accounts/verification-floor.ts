import { setTimeout as sleep } from 'node:timers/promises';
import { type Kysely, sql } from 'kysely';

import type { DB } from '../db/index.ts';

/**
 * The least wall time a failed password verification takes, so that a wrong password for an imported
 * hash slower than ours (bcrypt cost 12, pbkdf2 at 600,000 rounds) is answered no later than one for
 * an unknown email. The wait is a timer, not CPU: a floor of 300 ms costs no hashing thread.
 */
export interface VerificationFloor {
  /** Resolves once the floor has passed since `startedAt` (a `performance.now()`). */
  pad(startedAt: number): Promise<void>;
  /** A hash that is not our argon2id took `ms` to check on this node: the floor rises to it. */
  observe(ms: number): void;
  /** The floor from a fresh measurement of the stored hashes: it may fall (hashes were replaced). */
  set(ms: number): void;
  readonly ms: number;
}

export function createVerificationFloor(): VerificationFloor {
  let floorMs = 0;
  return {
    get ms() {
      return floorMs;
    },
    async pad(startedAt) {
      const left = startedAt + floorMs - performance.now();
      if (left > 0) await sleep(left);
    },
    observe(ms) {
      floorMs = Math.max(floorMs, ms);
    },
    set(ms) {
      floorMs = ms;
    },
  };
}

/** Often enough that a hash replaced at sign-in stops costing everyone soon after. */
export const FLOOR_REFRESH_MS = 5 * 60_000;

export interface FloorRefresh {
  /** Measures again now (after an import on this node); never rejects. */
  refresh(): Promise<void>;
  /** No more refreshes; resolves when the one under way (if any) is done. */
  stop(): Promise<void>;
}

/**
 * Keeps `floor` at the slowest check among the stored hashes that are not ours: one hash per cost
 * signature (format and parameters, salt and digest stripped) is checked against a random password by
 * `measure` (0 for our own argon2id), at start-up in the background, every FLOOR_REFRESH_MS, and on
 * `refresh()`. A database holding only our hashes has a floor of 0 and pays nothing.
 *
 * Across nodes: each node measures the database itself, on its own hardware, so no floor is shared or
 * stored. Users imported through another node (or the CLI) are picked up at this node's next refresh,
 * or sooner by the first check of such a hash here (`observe` in the hasher), whichever comes first.
 */
export function keepVerificationFloorCurrent(deps: {
  db: Kysely<DB>;
  floor: VerificationFloor;
  measure: (storedHash: string) => Promise<number>;
  onError: (error: unknown) => void;
}): FloorRefresh {
  const { db, floor, measure, onError } = deps;
  let stopped = false;
  let last: Promise<void> = Promise.resolve();

  const measureAll = async () => {
    if (stopped) return;
    try {
      let slowest = 0;
      for (const hash of await oneHashPerCostSignature(db)) slowest = Math.max(slowest, await measure(hash));
      floor.set(slowest);
    } catch (error) {
      onError(error);
    }
  };
  const refresh = () => (last = last.then(measureAll));
  const timer = setInterval(() => void refresh(), FLOOR_REFRESH_MS).unref();
  void refresh();

  return {
    refresh,
    async stop() {
      stopped = true;
      clearInterval(timer);
      await last;
    },
  };
}

/**
 * bcrypt's cost is its first 6 characters (`$2b$12`); every other format we read ends in `$salt$digest`
 * (passlib, Werkzeug, Django, argon2 PHC), so what is left without them is format and parameters.
 */
async function oneHashPerCostSignature(db: Kysely<DB>): Promise<string[]> {
  const signature = sql`case when password_hash like '$2%' then substr(password_hash, 1, 6) else regexp_replace(password_hash, ${'\\$[^$]*\\$[^$]*$'}, '') end`;
  const rows = await db
    .selectFrom('accounts')
    .select((eb) => eb.fn.min('password_hash').as('hash'))
    .where('password_hash', 'is not', null)
    .where('deleted_at', 'is', null)
    .groupBy(signature)
    .execute();
  return rows.flatMap((row) => (row.hash ? [row.hash] : []));
}
