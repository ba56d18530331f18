import type { Kysely, Updateable } from 'kysely';

import { diff, type RecordAudit } from '../audit/index.ts';
import type { AccountsTable, DB } from '../db/index.ts';
import type { Mailer, Messages } from '../email/index.ts';
import { recordEvent } from '../webhooks/index.ts';
import {
  findAccountByEmail,
  findAccountById,
  markEmailVerified,
  softDeleteAccount,
  updateAccount,
  updatePasswordHash,
} from './account.repository.ts';
import { emailSchema } from './account.service.ts';
import { deleteLinksToOldAddress, findLiveEmailToken, issueEmailToken, useEmailToken } from './email-token.repository.ts';
import { InvalidAccountInputError, InvalidCredentialsError, InvalidLinkError, PasswordMismatchError } from './errors.ts';
import type { PasswordHasher } from './password-hasher.ts';
import { checkPassword, type PasswordPolicy } from './password-policy.ts';
import { PROFILE_FIELDS, type ProfileFields } from './profile-schema.ts';
import type { SecurityNotices } from './security-notice.ts';

const EMAIL_CHANGE_TTL_SECONDS = 24 * 60 * 60;

/** Who acts on their own account, from where (for the audit log), in which language (for the mail it causes). */
export interface Self {
  accountId: string;
  ip: string | null;
  locale?: string | undefined;
}

/**
 * What a signed-in person changes of their own account: profile, password, email address,
 * and deleting it. Each change that matters for security is audited and told to the owner by a
 * security notice; the routes let it through only after a recent authentication (sudo mode, see
 * `Reauthentication`), which is the proof of who asks.
 */
export function createSelfService(deps: {
  db: Kysely<DB>;
  hasher: PasswordHasher;
  passwordPolicy: PasswordPolicy;
  mailer: Mailer;
  messages: Messages;
  links: { confirmEmailChange(token: string): string; forgotPassword(): string };
  audit: RecordAudit;
  notices: SecurityNotices;
  /** Ends every session and revokes every grant and token of the account. */
  endEverythingOf(accountId: string): Promise<void>;
}) {
  const { db, hasher, mailer, messages, links, audit, notices } = deps;

  async function accountOf(accountId: string, from: Kysely<DB> = db) {
    const account = await findAccountById(from, accountId);
    if (!account || account.status !== 'active' || account.deleted_at) throw new InvalidCredentialsError();
    return account;
  }

  /** Changing the password also takes the current one, when there is one; without, the recent authentication alone is the proof. */
  async function confirmCurrentPassword(account: { password_hash: string | null }, password: string) {
    if (!account.password_hash) return;
    const { valid } = await hasher.verify(account.password_hash, password);
    if (!valid) throw new InvalidCredentialsError();
  }

  return {
    async updateProfile(self: Self, fields: ProfileFields) {
      const changes: Updateable<AccountsTable> = Object.fromEntries(PROFILE_FIELDS.filter((column) => fields[column] !== undefined).map((column) => [column, fields[column] || null]));
      const { after, changed } = await db.transaction().execute(async (trx) => {
        const before = await accountOf(self.accountId, trx);
        if (Object.keys(changes).length) await updateAccount(trx, self.accountId, changes);
        const after = await accountOf(self.accountId, trx);
        const changed = diff(
          Object.fromEntries(PROFILE_FIELDS.map((column) => [column, before[column]])),
          Object.fromEntries(PROFILE_FIELDS.map((column) => [column, after[column]])),
        );
        if (Object.keys(changed).length) {
          await recordEvent(trx, { type: 'account.updated', actor: { type: 'account', id: self.accountId }, accountId: self.accountId, data: { changes: changed } });
        }
        return { after, changed };
      });
      if (Object.keys(changed).length) await audit({ actorId: self.accountId, action: 'account.profile.update', targetType: 'account', targetId: self.accountId, ip: self.ip, changes: changed });
      return after;
    },

    /** Sets a new password; the current one is required (when there is one). */
    async changePassword(self: Self, current: string, password: string, confirmation: string) {
      const account = await accountOf(self.accountId);
      await confirmCurrentPassword(account, current);
      checkPassword(deps.passwordPolicy, password);
      if (password !== confirmation) throw new PasswordMismatchError();
      const passwordHash = await hasher.hash(password);
      await db.transaction().execute(async (trx) => {
        await updatePasswordHash(trx, account.id, passwordHash);
        await recordEvent(trx, { type: 'account.password_changed', actor: { type: 'account', id: account.id }, accountId: account.id });
      });
      await audit({ actorId: account.id, action: 'account.password.change', targetType: 'account', targetId: account.id, ip: self.ip });
      notices.notify(account.id, { kind: 'password-changed' });
    },

    /**
     * Mails a confirmation link to the new address and a notice to the current one. When another
     * account has the new address, its owner is told instead: the answer here is the same.
     */
    async requestEmailChange(self: Self, rawEmail: string) {
      const account = await accountOf(self.accountId);
      const parsed = emailSchema.safeParse(rawEmail.trim());
      if (!parsed.success) throw new InvalidAccountInputError(parsed.error.issues[0]?.message ?? 'Enter a valid email address.');
      const email = parsed.data;
      if (email.toLowerCase() === account.email.toLowerCase()) throw new InvalidAccountInputError('That is already your email address.');
      const owner = await findAccountByEmail(db, email);
      if (owner) {
        mailer.sendInBackground(() => messages.registrationAttempt({ email: owner.email, languages: [owner.locale, self.locale] }, links.forgotPassword()));
      } else {
        const token = await issueEmailToken(db, { accountId: account.id, purpose: 'change_email', email, returnTo: null, ttlSeconds: EMAIL_CHANGE_TTL_SECONDS });
        mailer.sendInBackground(() => messages.confirmEmailChange({ email, languages: [account.locale, self.locale] }, links.confirmEmailChange(token)));
      }
      notices.notify(account.id, { kind: 'email-change-requested', email });
      await audit({ actorId: account.id, action: 'account.email.change-requested', targetType: 'account', targetId: account.id, ip: self.ip });
    },

    async emailChangeLinkIsLive(token: string): Promise<boolean> {
      return (await findLiveEmailToken(db, token, 'change_email')) !== undefined;
    },

    /** Uses the link: the new address becomes the account's, verified. */
    async confirmEmailChange(token: string): Promise<{ email: string }> {
      const changed = await db.transaction().execute(async (trx) => {
        const row = await useEmailToken(trx, token, 'change_email');
        const account = row && (await findAccountById(trx, row.account_id));
        if (!row || !account || account.status !== 'active' || account.deleted_at) throw new InvalidLinkError();
        if (await findAccountByEmail(trx, row.email)) throw new InvalidLinkError();
        await updateAccount(trx, account.id, { email: row.email });
        await markEmailVerified(trx, account.id, row.email);
        await deleteLinksToOldAddress(trx, account.id);
        await recordEvent(trx, { type: 'account.email_changed', actor: { type: 'account', id: account.id }, accountId: account.id, data: { changes: { email: [account.email, row.email] }, email_verified: true } });
        return { accountId: account.id, from: account.email, email: row.email };
      });
      await audit({ actorId: changed.accountId, action: 'account.email.change', targetType: 'account', targetId: changed.accountId, changes: { email: [changed.from, changed.email] } });
      return { email: changed.email };
    },

    /** Soft delete: the account can no longer sign in, every session and grant ends; an admin can restore it. */
    async deleteAccount(self: Self) {
      const account = await accountOf(self.accountId);
      await db.transaction().execute(async (trx) => {
        await softDeleteAccount(trx, account.id);
        await recordEvent(trx, { type: 'account.deleted', actor: { type: 'account', id: account.id }, accountId: account.id });
      });
      await deps.endEverythingOf(account.id);
      await audit({ actorId: account.id, action: 'account.delete', targetType: 'account', targetId: account.id, ip: self.ip });
    },
  };
}

export type SelfService = ReturnType<typeof createSelfService>;
