import type { Kysely } from 'kysely';
import { z } from 'zod';

import type { RecordAudit } from '../audit/index.ts';
import type { DB, LoginOutcome } from '../db/index.ts';
import { type EventActor, recordEvent } from '../webhooks/index.ts';
import {
  AccountDisabledError,
  AccountLockedError,
  EmailNotVerifiedError,
  DuplicateEmailError,
  FirstAdminEmailTakenError,
  InvalidAccountInputError,
  InvalidCredentialsError,
  UnknownRoleError,
} from './errors.ts';
import {
  emailIsTaken,
  findAccountByEmail,
  findAccountById,
  insertAccount,
  updatePasswordHash,
  type AccountRow,
} from './account.repository.ts';
import type { AccountVersions } from './account-versions.ts';
import { activeAccountCache } from './active-account-cache.ts';
import type { PasswordHasher } from './password-hasher.ts';
import { checkPassword, type PasswordPolicy } from './password-policy.ts';
import { anyoneHasRole, existingRoleNames, grantRoles, rolesOf } from './role.repository.ts';
import { signedIn, signInRefused } from './sign-in-history.ts';

export type Account = AccountRow;

export interface LoginContext {
  ip: string | null;
  userAgent: string | null;
}

export interface NewAccount {
  email: string;
  /** null: no password yet (an invitation; the person sets one from a mailed link). */
  password: string | null;
  name?: string | undefined;
  roles?: string[] | undefined;
  emailVerified?: boolean | undefined;
  /** An admin set the address, not its owner: not trusted for linking another provider until the owner proves it. */
  emailAdminAsserted?: boolean | undefined;
  /** Who makes it, for the `account.created` event (the IdP itself when unset). */
  actor?: EventActor | undefined;
}

export const DEFAULT_ROLE = 'user';

/** Built once: making a zod schema costs more than using it, and this one runs on every token request. */
const accountIdSchema = z.uuid();

/** Where sign-in outcomes are counted (metrics). */
export interface LoginObserver {
  loginAttempt(outcome: LoginOutcome, method: string): void;
  lockout(): void;
}

/** Counts failed password sign-ins per email (known or not) and locks after too many. */
export interface LoginThrottle {
  /** Seconds until password sign-in unlocks for this key, or 0. */
  lockedFor(key: string): Promise<number>;
  /** Records a failure; returns the seconds locked if this failure locked the key, else 0. */
  recordFailure(key: string): Promise<number>;
  clear(key: string): Promise<void>;
}

export const emailSchema = z.email({ error: 'Enter a valid email address.' }).max(254, 'That email address is too long.');

/**
 * `knownDevice`: whether the browser signing in has signed in to this account before. The right
 * password from such a browser passes the email lock (which others' guesses may have set); from
 * anywhere else the lock holds.
 */
export interface PasswordSignInOptions {
  knownDevice?(accountId: string): boolean;
}

export interface AccountService {
  authenticate(email: string, password: string, context: LoginContext, options?: PasswordSignInOptions): Promise<Account>;
  createAccount(input: NewAccount): Promise<Account>;
  /**
   * The sign-in that ends a registration: the person chose the password in this very interaction, so it is
   * not asked again once the email is confirmed. Recorded like a password sign-in; undefined (nothing
   * recorded) while the account is unverified, disabled or unknown.
   */
  signInRegistered(accountId: string, context: LoginContext): Promise<Account | undefined>;
  /** Active, not deleted accounts only: what may sign in and receive tokens. */
  findActiveAccount(id: string): Promise<Account | undefined>;
  rolesOf(id: string): Promise<string[]>;
  /** Creates a super admin with these credentials unless one exists; true when created. */
  ensureSuperAdmin(credentials: { email: string; password: string }): Promise<boolean>;
  /** Whether any account has the super_admin role (the start-up summary says how to make the first). */
  superAdminExists(): Promise<boolean>;
}

/** PostgreSQL's unique_violation: a row inserted by a concurrent transaction since this one checked. */
function isUniqueViolation(error: unknown): boolean {
  return (error as { code?: unknown } | null)?.code === '23505';
}

export function createAccountService(deps: {
  db: Kysely<DB>;
  hasher: PasswordHasher;
  passwordPolicy: PasswordPolicy;
  loginThrottle?: LoginThrottle;
  requireVerifiedEmail?: boolean;
  /** Security events (a lockout) and the first super admin of ADMIN_EMAIL go to the audit log. */
  audit?: RecordAudit;
  observe?: LoginObserver;
  /** Set (with Redis): active accounts are kept in memory, checked against their version in Redis on every use. */
  versions?: AccountVersions;
}): AccountService {
  const { db, hasher, passwordPolicy, loginThrottle, requireVerifiedEmail = false, audit, observe } = deps;
  const findKept = deps.versions && activeAccountCache(db, deps.versions);

  async function createAccount(input: NewAccount): Promise<Account> {
    const email = emailSchema.safeParse(input.email.trim());
    if (!email.success) throw new InvalidAccountInputError(email.error.issues[0]?.message ?? 'Invalid email address.');
    if (input.password !== null) checkPassword(passwordPolicy, input.password);
    const roles = [...new Set(input.roles?.length ? input.roles : [DEFAULT_ROLE])];
    const passwordHash = input.password === null ? null : await hasher.hash(input.password);

    return db.transaction().execute(async (trx) => {
      const known = await existingRoleNames(trx, roles);
      const unknown = roles.filter((r) => !known.has(r));
      if (unknown.length) throw new UnknownRoleError(unknown);
      if (await emailIsTaken(trx, email.data)) throw new DuplicateEmailError(email.data);
      const account = await insertAccount(trx, {
        email: email.data,
        email_verified: input.emailVerified ?? false,
        email_admin_asserted: input.emailAdminAsserted ?? false,
        password_hash: passwordHash,
        name: input.name?.trim() || null,
      });
      await grantRoles(trx, account.id, roles);
      await recordEvent(trx, {
        type: 'account.created',
        actor: input.actor ?? { type: 'system' },
        accountId: account.id,
        data: { email: account.email, email_verified: account.email_verified, name: account.name, roles },
      });
      return account;
    });
  }

  return {
    createAccount,

    async authenticate(email, password, context, options = {}) {
      const key = email.trim().toLowerCase();
      const account = await findAccountByEmail(db, key);
      const record = (outcome: Exclude<LoginOutcome, 'success'>) => {
        observe?.loginAttempt(outcome, 'password');
        return signInRefused(db, { accountId: account?.id ?? null, outcome, ...context });
      };

      const lockedFor = (await loginThrottle?.lockedFor(key)) ?? 0;
      // Unknown emails and unknown browsers get the same quick refusal: nothing tells the two apart.
      const ownersDevice = lockedFor > 0 && account !== undefined && options.knownDevice?.(account.id) === true;
      if (lockedFor > 0 && !ownersDevice) {
        await record('locked_out');
        throw new AccountLockedError(lockedFor);
      }

      const { valid, needsRehash } = await hasher.verify(account?.password_hash, password);
      if (ownersDevice && !valid) {
        // The owner's browser, a wrong password: recorded, and the lock stands.
        await record('wrong_password');
        throw new AccountLockedError(lockedFor);
      }
      if (!account || !valid) {
        await record(account ? 'wrong_password' : 'unknown_account');
        const lockedNow = (await loginThrottle?.recordFailure(key)) ?? 0;
        if (lockedNow > 0) {
          observe?.lockout();
          await audit?.({ actorId: null, action: 'account.lockout', targetType: 'account', targetId: account?.id, ip: context.ip, changes: { lockedSeconds: lockedNow } });
          if (account) await recordEvent(db, { type: 'account.locked', actor: { type: 'system' }, accountId: account.id, data: { locked_seconds: lockedNow, ip: context.ip } });
          throw new AccountLockedError(lockedNow);
        }
        throw new InvalidCredentialsError();
      }
      // Passing the lock from the owner's browser leaves it standing for everyone else.
      if (!ownersDevice) await loginThrottle?.clear(key);
      if (account.status !== 'active') {
        await record('account_disabled');
        throw new AccountDisabledError();
      }
      if (requireVerifiedEmail && !account.email_verified) {
        await record('email_unverified');
        throw new EmailNotVerifiedError(account.id, account.email);
      }
      if (needsRehash) await updatePasswordHash(db, account.id, await hasher.hash(password));
      observe?.loginAttempt('success', 'password');
      await signedIn(db, { accountId: account.id, ...context });
      return account;
    },

    async signInRegistered(accountId, context) {
      if (!accountIdSchema.safeParse(accountId).success) return undefined;
      const account = await findAccountById(db, accountId);
      if (account?.status !== 'active' || !account.email_verified) return undefined;
      observe?.loginAttempt('success', 'password');
      await signedIn(db, { accountId: account.id, ...context });
      return account;
    },

    async findActiveAccount(id) {
      if (!accountIdSchema.safeParse(id).success) return undefined;
      if (findKept) return findKept(id);
      const account = await findAccountById(db, id);
      return account?.status === 'active' ? account : undefined;
    },

    rolesOf: (id) => rolesOf(db, id),

    async ensureSuperAdmin({ email, password }) {
      if (await anyoneHasRole(db, 'super_admin')) return false;
      const roles = ['super_admin', DEFAULT_ROLE];
      let account: Account;
      try {
        account = await createAccount({ email, password, roles, emailVerified: true, actor: { type: 'system' } });
      } catch (error) {
        // Another node (or a bootstrap job) starting at the same moment created it first: not an error.
        if (!(error instanceof DuplicateEmailError || isUniqueViolation(error))) throw error;
        if (await anyoneHasRole(db, 'super_admin')) return false;
        throw new FirstAdminEmailTakenError(email);
      }
      await audit?.({ actorId: null, actorKind: 'startup', action: 'users.create', targetType: 'account', targetId: account.id, changes: { email: account.email, roles } });
      return true;
    },

    superAdminExists: () => anyoneHasRole(db, 'super_admin'),
  };
}
