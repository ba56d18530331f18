import type { Kysely } from 'kysely';

/**
 * Who acted when no account did: `cli` (npm run admin) or `startup` (the first super admin of
 * ADMIN_EMAIL). Null for an account (actor_id) or the system reacting to a request (a lockout).
 */
export async function up(db: Kysely<any>): Promise<void> {
  await db.schema.alterTable('audit_events').addColumn('actor_kind', 'text').execute();
}
