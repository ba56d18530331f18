import type { Config } from '../config.ts';
import type { Database } from '../db/index.ts';
import { createLogger } from '../logger.ts';
import { createRetentionJob, type PurgedTable } from '../retention/index.ts';

const described: Record<PurgedTable, string> = {
  login_history: 'sign-in history entries',
  audit_events: 'audit events',
  oidc_models: 'expired sessions, grants and tokens (SQL store)',
  oidc_account_index: 'expired session and grant index entries',
  email_tokens: 'used or expired email links',
  webauthn_challenges: 'expired passkey challenges',
  console_sessions: 'expired admin console sessions',
  reauthentications: 'stale re-authentications',
  webhook_events: 'webhook events older than 30 days, none pending',
};

const kept = (days: number | undefined) => (days === undefined ? 'kept for ever' : `kept ${days} days`);

/** `purge`: the retention job, once, now; prints what it removed from each table. */
export async function purgeCommand(config: Config, withDatabase: <T>(work: (database: Database) => Promise<T>) => Promise<T>): Promise<string> {
  return withDatabase(async (database) => {
    const job = createRetentionJob({ database, policy: config.retention, log: createLogger('silent') });
    const result = await job.run();
    if (!result.ran) return 'Another node is purging now; nothing done. Run it again later.';
    const width = Math.max(...Object.values(result.removed).map((count) => String(count).length));
    return [
      `Removed (sign-in history ${kept(config.retention.loginHistoryDays)}, audit events ${kept(config.retention.auditDays)}):`,
      ...Object.entries(result.removed).map(([table, count]) => `  ${String(count).padStart(width)}  ${described[table as PurgedTable]}  (${table})`),
    ].join('\n');
  });
}
