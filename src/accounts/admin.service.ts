import type { Kysely, Updateable } from 'kysely';

import { diff } from '../audit/index.ts';
import type { AccountsTable, DB } from '../db/index.ts';
import { type EventActor, recordEvent } from '../webhooks/index.ts';
import { type AccountListQuery, emailsOfAccounts, findAccountOverview, findPublicAccount, listAccounts, loginHistoryOf } from './account-query.repository.ts';
import { findAccountByEmail, restoreAccount, setAccountStatus, softDeleteAccount, updateAccount } from './account.repository.ts';
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
import { deleteRole, findRole, grantRoles, highestRankOf, insertRole, listRoles, revokeRole, rolesOf } from './role.repository.ts';

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

/** What an administrator may read and change of accounts and roles. Who may do it is the admin room's rule. */
export function createAccountAdministration(db: Kysely<DB>) {
  async function getAccount(id: string) {
    const account = await findAccountOverview(db, id);
    if (!account) throw new AccountNotFoundError();
    return { ...account, roles: await rolesOf(db, id) };
  }

  async function requireRole(name: string) {
    const role = await findRole(db, name);
    if (!role) throw new RoleNotFoundError(name);
    return role;
  }

  return {
    getAccount,

    listAccounts: (query: AccountListQuery) => listAccounts(db, query),

    /** Email addresses by account id, for the accounts that still exist (deleted or not). */
    emailsOf: (ids: string[]) => emailsOfAccounts(db, [...new Set(ids)]),

    /** Applies the changes when `expectedVersion` (updated_at in ms) is still current; returns before and after. */
    async updateProfile(id: string, changes: ProfileChanges, expectedVersion: number | undefined, actor: EventActor = { type: 'system' }) {
      return db.transaction().execute(async (trx) => {
        const before = await findPublicAccount(trx, id, { forUpdate: true });
        if (!before) throw new AccountNotFoundError();
        if (expectedVersion !== undefined && new Date(before.updated_at).getTime() !== expectedVersion) throw new StaleUpdateError();
        const { metadata, ...fields } = changes;
        const values: Updateable<AccountsTable> = { ...fields };
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
        if (metadata !== undefined) values.metadata = JSON.stringify(metadata);
        await updateAccount(trx, id, values);
        const after = await findPublicAccount(trx, id);
        if (!after) throw new AccountNotFoundError();
        const changed = diff(before, after);
        const { email, ...others } = changed;
        if (email) await recordEvent(trx, { type: 'account.email_changed', actor, accountId: id, data: { changes: { email }, email_verified: after.email_verified } });
        delete others.email_verified;
        delete others.email_admin_asserted;
        delete others.updated_at;
        if (Object.keys(others).length) await recordEvent(trx, { type: 'account.updated', actor, accountId: id, data: { changes: others } });
        return { before, after };
      });
    },

    async setStatus(id: string, status: 'active' | 'disabled', actor: EventActor = { type: 'system' }) {
      await db.transaction().execute(async (trx) => {
        if (!(await setAccountStatus(trx, id, status))) throw new AccountNotFoundError();
        await recordEvent(trx, { type: status === 'disabled' ? 'account.disabled' : 'account.enabled', actor, accountId: id });
      });
    },

    /** Deleting is `account.deleted`; restoring the account is `account.enabled` with `restored: true`. */
    async setDeleted(id: string, deleted: boolean, actor: EventActor = { type: 'system' }) {
      await db.transaction().execute(async (trx) => {
        if (!(await (deleted ? softDeleteAccount(trx, id) : restoreAccount(trx, id)))) throw new AccountNotFoundError();
        await recordEvent(trx, deleted ? { type: 'account.deleted', actor, accountId: id } : { type: 'account.enabled', actor, accountId: id, data: { restored: true } });
      });
    },

    async grantRole(id: string, role: string, actor: EventActor = { type: 'system' }) {
      await getAccount(id);
      await requireRole(role);
      await db.transaction().execute(async (trx) => {
        const before = await rolesOf(trx, id);
        await grantRoles(trx, id, [role]);
        if (!before.includes(role)) await recordEvent(trx, { type: 'account.role_granted', actor, accountId: id, data: { role } });
      });
    },

    async revokeRole(id: string, role: string, actor: EventActor = { type: 'system' }) {
      await getAccount(id);
      await requireRole(role);
      await db.transaction().execute(async (trx) => {
        const before = await rolesOf(trx, id);
        await revokeRole(trx, id, role);
        if (before.includes(role)) await recordEvent(trx, { type: 'account.role_revoked', actor, accountId: id, data: { role } });
      });
    },

    loginHistory: async (id: string, limit = 50) => {
      await getAccount(id);
      return loginHistoryOf(db, id, limit);
    },

    identities: async (id: string) => {
      await getAccount(id);
      return (await identitiesOf(db, id)).map(({ provider, subject, email, linked_at }) => ({ provider, subject, email, linked_at }));
    },

    listRoles: () => listRoles(db),

    async createRole(name: string, description: string) {
      if (await findRole(db, name)) throw new DuplicateRoleError(name);
      return insertRole(db, name, description);
    },

    async deleteRole(name: string) {
      const role = await requireRole(name);
      if (role.rank !== null) throw new BuiltInRoleError(name);
      await deleteRole(db, name);
    },

    /** Highest built-in rank among the roles (0 when none): what the account may do to others. */
    rankOf: (id: string): Promise<number> => highestRankOf(db, id),
  };
}

export type AccountAdministration = ReturnType<typeof createAccountAdministration>;
