import { sql, type ExpressionBuilder, type Kysely } from 'kysely';

import type { DB } from '../db/index.ts';
import { findAccountByEmail } from './account.repository.ts';
import { emailSchema } from './account.service.ts';
import { deleteLinksToOldAddress } from './email-token.repository.ts';
import {
  AccountNotFoundError,
  BuiltInRoleError,
  DuplicateEmailError,
  DuplicateRoleError,
  InvalidAccountInputError,
  RoleNotFoundError,
  StaleUpdateError,
} from './errors.ts';
import { identitiesOf } from './federated-identity.repository.ts';
import { rolesOf } from './role.repository.ts';

export interface AccountListQuery {
  search?: string | undefined;
  role?: string | undefined;
  status?: 'active' | 'disabled' | 'deleted' | undefined;
  page: number;
  perPage: number;
}

export interface ProfileChanges {
  email?: string | undefined;
  name?: string | null | undefined;
  given_name?: string | null | undefined;
  family_name?: string | null | undefined;
  picture?: string | null | undefined;
  locale?: string | null | undefined;
  zoneinfo?: string | null | undefined;
  metadata?: Record<string, unknown> | undefined;
}

const publicColumns = [
  'id',
  'email',
  'email_verified',
  'name',
  'given_name',
  'family_name',
  'picture',
  'locale',
  'zoneinfo',
  'metadata',
  'status',
  'created_at',
  'updated_at',
  'last_login_at',
  'deleted_at',
] as const;

/** Whether the account has a second factor, a confirmed authenticator app or a passkey (admins see who has one). */
const secondFactor = (eb: ExpressionBuilder<DB, 'accounts'>) =>
  eb
    .or([
      eb.exists(eb.selectFrom('totp_credentials').select('account_id').whereRef('totp_credentials.account_id', '=', 'accounts.id').where('confirmed_at', 'is not', null)),
      eb.exists(eb.selectFrom('webauthn_credentials').select('account_id').whereRef('webauthn_credentials.account_id', '=', 'accounts.id')),
    ])
    .as('second_factor');

/** What an administrator may read and change of accounts and roles. Who may do it is the admin room's rule. */
export function createAccountAdministration(db: Kysely<DB>) {
  async function getAccount(id: string) {
    const account = await db.selectFrom('accounts').select(publicColumns).select(secondFactor).where('id', '=', id).executeTakeFirst();
    if (!account) throw new AccountNotFoundError();
    return { ...account, roles: await rolesOf(db, id) };
  }

  async function requireRole(name: string) {
    const role = await db.selectFrom('roles').selectAll().where('name', '=', name).executeTakeFirst();
    if (!role) throw new RoleNotFoundError(name);
    return role;
  }

  return {
    getAccount,

    async listAccounts(query: AccountListQuery) {
      let base = db.selectFrom('accounts');
      if (query.search) {
        const pattern = `%${query.search.replace(/[\\%_]/g, (c) => `\\${c}`)}%`;
        base = base.where((eb) => eb.or([eb('email', 'ilike', pattern), eb('name', 'ilike', pattern)]));
      }
      if (query.status === 'deleted') base = base.where('deleted_at', 'is not', null);
      else {
        base = base.where('deleted_at', 'is', null);
        if (query.status) base = base.where('status', '=', query.status);
      }
      if (query.role) {
        const role = query.role;
        base = base.where((eb) =>
          eb.exists(eb.selectFrom('account_roles').select('account_id').whereRef('account_roles.account_id', '=', 'accounts.id').where('role_name', '=', role)),
        );
      }
      const { total } = await base.select((eb) => eb.fn.countAll<string>().as('total')).executeTakeFirstOrThrow();
      const items = await base
        .select(publicColumns)
        .select(secondFactor)
        .orderBy('created_at', 'desc')
        .orderBy('id')
        .limit(query.perPage)
        .offset((query.page - 1) * query.perPage)
        .execute();
      return { items, total: Number(total), page: query.page, perPage: query.perPage };
    },

    /** Applies the changes when `expectedVersion` (updated_at in ms) is still current; returns before and after. */
    async updateProfile(id: string, changes: ProfileChanges, expectedVersion: number | undefined) {
      return db.transaction().execute(async (trx) => {
        const before = await trx.selectFrom('accounts').select(publicColumns).where('id', '=', id).forUpdate().executeTakeFirst();
        if (!before) throw new AccountNotFoundError();
        if (expectedVersion !== undefined && new Date(before.updated_at).getTime() !== expectedVersion) throw new StaleUpdateError();
        const values: Record<string, unknown> = { ...changes };
        if (changes.email !== undefined) {
          const email = emailSchema.safeParse(changes.email);
          if (!email.success) throw new InvalidAccountInputError('email: Enter a valid email address.');
          const owner = await findAccountByEmail(trx, email.data);
          if (owner && owner.id !== id) throw new DuplicateEmailError(email.data);
          if (email.data.toLowerCase() !== before.email.toLowerCase()) {
            Object.assign(values, { email_verified: false, email_admin_asserted: true });
            await deleteLinksToOldAddress(trx, id);
          }
        }
        if (changes.metadata !== undefined) values.metadata = JSON.stringify(changes.metadata);
        await trx.updateTable('accounts').set({ ...values, updated_at: sql`clock_timestamp()` }).where('id', '=', id).execute();
        const after = await trx.selectFrom('accounts').select(publicColumns).where('id', '=', id).executeTakeFirstOrThrow();
        return { before, after };
      });
    },

    async setStatus(id: string, status: 'active' | 'disabled') {
      const result = await db
        .updateTable('accounts')
        .set({ status, updated_at: sql`clock_timestamp()` })
        .where('id', '=', id)
        .where('deleted_at', 'is', null)
        .executeTakeFirst();
      if (result.numUpdatedRows === 0n) throw new AccountNotFoundError();
    },

    async setDeleted(id: string, deleted: boolean) {
      const result = await db
        .updateTable('accounts')
        .set({ deleted_at: deleted ? sql`now()` : null, updated_at: sql`clock_timestamp()` })
        .where('id', '=', id)
        .where('deleted_at', deleted ? 'is' : 'is not', null)
        .executeTakeFirst();
      if (result.numUpdatedRows === 0n) throw new AccountNotFoundError();
    },

    async grantRole(id: string, role: string) {
      await getAccount(id);
      await requireRole(role);
      await db.insertInto('account_roles').values({ account_id: id, role_name: role }).onConflict((oc) => oc.doNothing()).execute();
    },

    async revokeRole(id: string, role: string) {
      await getAccount(id);
      await requireRole(role);
      await db.deleteFrom('account_roles').where('account_id', '=', id).where('role_name', '=', role).execute();
    },

    loginHistory: async (id: string, limit = 50) => {
      await getAccount(id);
      return db.selectFrom('login_history').select(['at', 'ip', 'user_agent', 'outcome', 'method']).where('account_id', '=', id).orderBy('id', 'desc').limit(limit).execute();
    },

    identities: async (id: string) => {
      await getAccount(id);
      return (await identitiesOf(db, id)).map(({ provider, subject, email, linked_at }) => ({ provider, subject, email, linked_at }));
    },

    listRoles: () => db.selectFrom('roles').selectAll().orderBy('rank', (ob) => ob.desc().nullsLast()).orderBy('name').execute(),

    async createRole(name: string, description: string) {
      if (await db.selectFrom('roles').select('name').where('name', '=', name).executeTakeFirst()) throw new DuplicateRoleError(name);
      return db.insertInto('roles').values({ name, description, rank: null }).returningAll().executeTakeFirstOrThrow();
    },

    async deleteRole(name: string) {
      const role = await requireRole(name);
      if (role.rank !== null) throw new BuiltInRoleError(name);
      await db.deleteFrom('roles').where('name', '=', name).execute();
    },

    /** Highest built-in rank among the roles (0 when none): what the account may do to others. */
    async rankOf(id: string): Promise<number> {
      const row = await db
        .selectFrom('account_roles')
        .innerJoin('roles', 'roles.name', 'account_roles.role_name')
        .select((eb) => eb.fn.max('roles.rank').as('rank'))
        .where('account_roles.account_id', '=', id)
        .executeTakeFirst();
      return Number(row?.rank ?? 0);
    },
  };
}

export type AccountAdministration = ReturnType<typeof createAccountAdministration>;
