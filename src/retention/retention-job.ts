import { setTimeout as delay } from 'node:timers/promises';
import type { Kysely } from 'kysely';

import type { Database, DB } from '../db/index.ts';
import type { Logger } from '../logger.ts';
import {
  deleteDeadRows,
  deleteOldHistory,
  type ExpiringTable,
  type HistoryTable,
  limitStatementTime,
  releasePurgeLock,
  resetStatementTime,
  tryPurgeLock,
} from './purge.repository.ts';

/** Days sign-in history and audit events are kept; undefined: for ever. */
export interface RetentionPolicy {
  loginHistoryDays: number | undefined;
  auditDays: number | undefined;
}

export type PurgedTable = HistoryTable | ExpiringTable;
export type PurgeCounts = Record<PurgedTable, number>;

export type PurgeResult =
  /** `stopped`: the node began shutting down and the run ended after its current batch. */
  | { ran: true; removed: PurgeCounts; stopped: boolean }
  /** Another node holds the purge lock and is purging now. */
  | { ran: false };

export interface RetentionObserver {
  rowsPurged(table: PurgedTable, count: number): void;
  retentionRun(outcome: 'done' | 'skipped' | 'failed'): void;
}

export interface RetentionJobOptions {
  database: Pick<Database, 'db' | 'embedded'>;
  policy: RetentionPolicy;
  log: Logger;
  observe?: RetentionObserver;
  /** Rows one statement deletes. */
  batchSize?: number;
  /** Pause between two statements, for requests to go first (on the embedded database they share one session). */
  pauseMs?: number;
  /** PostgreSQL cancels one of our statements that runs longer (the run fails; the next run goes on). */
  statementTimeoutMs?: number;
}

const EXPIRING_TABLES: ExpiringTable[] = [
  'oidc_models',
  'oidc_account_index',
  'email_tokens',
  'webauthn_challenges',
  'console_sessions',
  'reauthentications',
  'webhook_events',
];

/** Every node tries; the purge lock lets one of them run. */
export const RETENTION_INTERVAL_MS = 10 * 60 * 1000;
/** The first run waits for start-up to settle. */
const FIRST_RUN_DELAY_MS = 60 * 1000;

const noneRemoved = (): PurgeCounts => ({
  login_history: 0,
  audit_events: 0,
  oidc_models: 0,
  oidc_account_index: 0,
  email_tokens: 0,
  webauthn_challenges: 0,
  console_sessions: 0,
  reauthentications: 0,
  webhook_events: 0,
});

export type RetentionJob = ReturnType<typeof createRetentionJob>;

/**
 * Removes sign-in history and audit events older than the policy keeps them, and the dead rows of the tables
 * that hold expiring things, in small batches with a pause between them. On PostgreSQL one node at a time runs
 * it (a session advisory lock on one pinned connection, released however the run ends, and by PostgreSQL if
 * the node dies); the embedded database admits one process.
 */
export function createRetentionJob({ database, policy, log, observe, batchSize = 1000, pauseMs = 10, statementTimeoutMs = 5000 }: RetentionJobOptions) {
  let current: Promise<PurgeResult> | undefined;
  let stopping = false;
  let timer: NodeJS.Timeout | undefined;

  /** Deletes batch after batch while a batch comes back full, until the node stops. */
  async function inBatches(table: PurgedTable, removed: PurgeCounts, batch: () => Promise<number>): Promise<void> {
    while (!stopping) {
      const deleted = await batch();
      removed[table] += deleted;
      if (deleted) observe?.rowsPurged(table, deleted);
      if (deleted < batchSize) return;
      await delay(pauseMs);
    }
  }

  async function purge(db: Kysely<DB>): Promise<PurgeCounts> {
    const removed = noneRemoved();
    const history: [HistoryTable, number | undefined][] = [
      ['login_history', policy.loginHistoryDays],
      ['audit_events', policy.auditDays],
    ];
    for (const [table, days] of history) {
      if (days === undefined) continue;
      let from: Date | undefined;
      await inBatches(table, removed, async () => {
        const batch = await deleteOldHistory(db, table, { days, from, size: batchSize });
        from = batch.next;
        return batch.deleted;
      });
    }
    for (const table of EXPIRING_TABLES) await inBatches(table, removed, () => deleteDeadRows(db, table, batchSize));
    return removed;
  }

  async function underPurgeLock(): Promise<PurgeResult> {
    if (database.embedded) return { ran: true, removed: await purge(database.db), stopped: stopping };
    return database.db.connection().execute(async (connection) => {
      if (!(await tryPurgeLock(connection))) return { ran: false };
      try {
        await limitStatementTime(connection, { statementMs: statementTimeoutMs, lockMs: Math.min(1000, statementTimeoutMs) });
        return { ran: true, removed: await purge(connection), stopped: stopping };
      } finally {
        try {
          await resetStatementTime(connection);
        } finally {
          await releasePurgeLock(connection);
        }
      }
    });
  }

  async function runOnce(): Promise<PurgeResult> {
    const started = performance.now();
    try {
      const result = await underPurgeLock();
      observe?.retentionRun(result.ran ? 'done' : 'skipped');
      if (result.ran) {
        log.info({ removed: result.removed, stopped: result.stopped, ms: Math.round(performance.now() - started) }, 'retention: old history and expired rows removed');
      } else {
        log.debug('retention: another node is purging now');
      }
      return result;
    } catch (err) {
      observe?.retentionRun('failed');
      log.error({ err }, 'retention: purging old history and expired rows failed; the next run goes on');
      throw err;
    }
  }

  let scheduled = false;
  function scheduleNext(ms: number) {
    clearTimeout(timer);
    if (!scheduled || stopping) return;
    timer = setTimeout(() => void run().catch(() => undefined), ms);
    timer.unref();
  }

  /** One run now (the next scheduled one is then ten minutes after it); while one is under way in this process, that one. */
  function run(): Promise<PurgeResult> {
    current ??= runOnce().finally(() => {
      current = undefined;
      scheduleNext(RETENTION_INTERVAL_MS);
    });
    return current;
  }

  return {
    run,
    /** Runs every ten minutes, the first time after `firstRunMs` (a minute). */
    start(firstRunMs = FIRST_RUN_DELAY_MS) {
      scheduled = true;
      scheduleNext(firstRunMs);
    },
    /** No run starts any more; a run under way ends after its current batch. */
    async stop() {
      stopping = true;
      clearTimeout(timer);
      await current?.catch(() => undefined);
    },
  };
}
