import type { Kysely } from 'kysely';
import { z } from 'zod';

import type { DB } from '../db/index.ts';
import {
  AccountDisabledError,
  DuplicateEmailError,
  InvalidAccountInputError,
  InvalidCredentialsError,
  UnknownRoleError,
} from './errors.ts';
import {
  emailIsTaken,
  findAccountByEmail,
  findAccountById,
  insertAccount,
  markLoggedIn,
  recordLoginAttempt,
  updatePasswordHash,
  type AccountRow,
} from './account.repository.ts';
import type { PasswordHasher } from './password-hasher.ts';
import { checkPassword, type PasswordPolicy } from './password-policy.ts';
import { anyoneHasRole, existingRoleNames, grantRoles, rolesOf } from './role.repository.ts';

export type Account = AccountRow;

export interface LoginContext {
  ip: string | null;
  userAgent: string | null;
}

export interface NewAccount {
  email: string;
  password: string;
  name?: string | undefined;
  roles?: string[] | undefined;
  emailVerified?: boolean | undefined;
}

export const DEFAULT_ROLE = 'user';

export const emailSchema = z.email({ error: 'Enter a valid email address.' }).max(254, 'That email address is too long.');

export interface AccountService {
  authenticate(email: string, password: string, context: LoginContext): Promise<Account>;
  createAccount(input: NewAccount): Promise<Account>;
  /** Active, not deleted accounts only: what may sign in and receive tokens. */
  findActiveAccount(id: string): Promise<Account | undefined>;
  rolesOf(id: string): Promise<string[]>;
  /** Creates a super admin with these credentials unless one exists; true when created. */
  ensureSuperAdmin(credentials: { email: string; password: string }): Promise<boolean>;
}

export function createAccountService(deps: {
  db: Kysely<DB>;
  hasher: PasswordHasher;
  passwordPolicy: PasswordPolicy;
}): AccountService {
  const { db, hasher, passwordPolicy } = deps;

  async function createAccount(input: NewAccount): Promise<Account> {
    const email = emailSchema.safeParse(input.email.trim());
    if (!email.success) throw new InvalidAccountInputError(email.error.issues[0]?.message ?? 'Invalid email address.');
    checkPassword(passwordPolicy, input.password);
    const roles = [...new Set(input.roles?.length ? input.roles : [DEFAULT_ROLE])];
    const passwordHash = await hasher.hash(input.password);

    return db.transaction().execute(async (trx) => {
      const known = await existingRoleNames(trx, roles);
      const unknown = roles.filter((r) => !known.has(r));
      if (unknown.length) throw new UnknownRoleError(unknown);
      if (await emailIsTaken(trx, email.data)) throw new DuplicateEmailError(email.data);
      const account = await insertAccount(trx, {
        email: email.data,
        email_verified: input.emailVerified ?? false,
        password_hash: passwordHash,
        name: input.name?.trim() || null,
      });
      await grantRoles(trx, account.id, roles);
      return account;
    });
  }

  return {
    createAccount,

    async authenticate(email, password, context) {
      const account = await findAccountByEmail(db, email.trim());
      const { valid, needsRehash } = await hasher.verify(account?.password_hash, password);
      if (!account) throw new InvalidCredentialsError();
      if (!valid) {
        await recordLoginAttempt(db, { accountId: account.id, outcome: 'wrong_password', ...context });
        throw new InvalidCredentialsError();
      }
      if (account.status !== 'active') {
        await recordLoginAttempt(db, { accountId: account.id, outcome: 'account_disabled', ...context });
        throw new AccountDisabledError();
      }
      if (needsRehash) await updatePasswordHash(db, account.id, await hasher.hash(password));
      await markLoggedIn(db, account.id);
      await recordLoginAttempt(db, { accountId: account.id, outcome: 'success', ...context });
      return account;
    },

    async findActiveAccount(id) {
      if (!z.uuid().safeParse(id).success) return undefined;
      const account = await findAccountById(db, id);
      return account?.status === 'active' ? account : undefined;
    },

    rolesOf: (id) => rolesOf(db, id),

    async ensureSuperAdmin({ email, password }) {
      if (await anyoneHasRole(db, 'super_admin')) return false;
      await createAccount({ email, password, roles: ['super_admin', DEFAULT_ROLE], emailVerified: true });
      return true;
    },
  };
}
