import { sql, type Kysely } from 'kysely';

/** node-oidc-provider's models (sessions, grants, codes, tokens...) when Redis is not configured. */
export async function up(db: Kysely<any>): Promise<void> {
  await db.schema
    .createTable('oidc_models')
    .addColumn('model', 'text', (c) => c.notNull())
    .addColumn('id', 'text', (c) => c.notNull())
    .addColumn('payload', 'jsonb', (c) => c.notNull())
    .addColumn('grant_id', 'text')
    .addColumn('user_code', 'text')
    .addColumn('uid', 'text')
    .addColumn('expires_at', 'timestamptz')
    .addColumn('consumed_at', 'timestamptz')
    .addPrimaryKeyConstraint('oidc_models_pkey', ['model', 'id'])
    .execute();
  await sql`create index oidc_models_grant_idx on oidc_models (grant_id) where grant_id is not null`.execute(db);
  await sql`create index oidc_models_uid_idx on oidc_models (model, uid) where uid is not null`.execute(db);
  await sql`create index oidc_models_user_code_idx on oidc_models (model, user_code) where user_code is not null`.execute(db);
  await sql`create index oidc_models_expires_idx on oidc_models (expires_at) where expires_at is not null`.execute(db);
}
