import { randomUUID } from 'node:crypto';

import type { Kysely, Transaction } from 'kysely';

import type { RecordAudit } from '../audit/index.ts';
import type { DB } from '../db/index.ts';
import type { Mailer, Messages } from '../email/index.ts';
import { recordEvent } from '../webhooks/index.ts';
import { emailIsTaken, findAccountByEmail, findAccountById, insertAccount, markEmailVerified, updatePasswordHash } from './account.repository.ts';
import { DEFAULT_ROLE, emailSchema, type LoginThrottle } from './account.service.ts';
import { issueEmailToken, findLiveEmailToken, useEmailToken } from './email-token.repository.ts';
import { InvalidAccountInputError, InvalidLinkError, PasswordMismatchError } from './errors.ts';
import { deleteIdentity, identitiesOf } from './federated-identity.repository.ts';
import { deletePasskey, passkeysOf } from './passkey.repository.ts';
import type { PasswordHasher } from './password-hasher.ts';
import { checkPassword, type PasswordPolicy } from './password-policy.ts';
import { grantRoles } from './role.repository.ts';
import type { SecurityNotices } from './security-notice.ts';

const VERIFY_TTL_SECONDS = 24 * 60 * 60;
const RESET_TTL_SECONDS = 60 * 60;
const INVITATION_TTL_SECONDS = 7 * 24 * 60 * 60;

export interface LifecycleLinks {
  verifyEmail(token: string): string;
  resetPassword(token: string): string;
  forgotPassword(): string;
}

export interface Registration {
  email: string;
  name?: string | undefined;
  password: string;
  passwordConfirmation: string;
  /** Where to continue once the email is verified: an interaction path. */
  returnTo: string | null;
  /** The language of the request, for the mail it causes. */
  locale?: string | undefined;
}

/** What else signs the account in, shown on the reset page so its owner can drop what they do not recognise. */
export interface SignInMethodsToReview {
  passkeys: Array<{ id: string; name: string; createdAt: Date }>;
  identities: Array<{ provider: string; email: string | null }>;
}

/** What the person ticked to keep on the reset page: passkey ids and providers. Everything else goes. */
export interface KeptSignInMethods {
  passkeys: string[];
  identities: string[];
}

/** Deletes the account's passkeys and identities that are not in `keep`; returns the names of what went. */
async function removeUnkept(trx: Transaction<DB>, accountId: string, keep: KeptSignInMethods) {
  const removed = { passkeys: [] as string[], identities: [] as string[] };
  for (const passkey of await passkeysOf(trx, accountId)) {
    if (!keep.passkeys.includes(passkey.id) && (await deletePasskey(trx, accountId, passkey.id))) removed.passkeys.push(passkey.name);
  }
  for (const identity of await identitiesOf(trx, accountId)) {
    if (!keep.identities.includes(identity.provider) && (await deleteIdentity(trx, accountId, identity.provider))) removed.identities.push(identity.provider);
  }
  return removed;
}

/**
 * Registration, email verification and password reset. Mail goes out in the account's stored
 * language, else in that of the request that caused it (`locale`), else in English. Every answer that could tell whether an
 * address has an account is the same either way; the mail that differs goes out in the background.
 */
export function createAccountLifecycle(deps: {
  db: Kysely<DB>;
  hasher: PasswordHasher;
  passwordPolicy: PasswordPolicy;
  mailer: Mailer;
  messages: Messages;
  links: LifecycleLinks;
  /** Ends every session and revokes every grant and token of the account. */
  endEverythingOf(accountId: string): Promise<void>;
  audit: RecordAudit;
  notices: SecurityNotices;
  /** A completed reset proves the owner: it lifts the email's sign-in lock. */
  loginThrottle: Pick<LoginThrottle, 'clear'>;
}) {
  const { db, hasher, passwordPolicy, mailer, messages, links, audit, notices } = deps;

  function validEmail(raw: string): string {
    const email = emailSchema.safeParse(raw.trim());
    if (!email.success) throw new InvalidAccountInputError(email.error.issues[0]?.message ?? 'Enter a valid email address.');
    return email.data;
  }

  function checkNewPassword(password: string, confirmation: string) {
    checkPassword(passwordPolicy, password);
    if (password !== confirmation) throw new PasswordMismatchError();
  }

  /** Issues the token now (inside the caller's transaction); the message is composed when sent. */
  async function verificationMail(account: { id: string; email: string; locale: string | null }, returnTo: string | null, locale: string | undefined, trx: Kysely<DB> = db) {
    const { id: accountId, email } = account;
    const token = await issueEmailToken(trx, { accountId, purpose: 'verify_email', email, returnTo, ttlSeconds: VERIFY_TTL_SECONDS });
    return () => messages.verifyEmail({ email, languages: [account.locale, locale] }, links.verifyEmail(token));
  }

  return {
    /**
     * Creates the account and mails a verification link; for a taken address, mails its owner a notice instead.
     * Returns the new account's id, or for a taken address a made-up one that no account has: the caller binds
     * it to the registering browser without learning which case it was.
     */
    async register(input: Registration): Promise<{ accountId: string }> {
      const email = validEmail(input.email);
      checkNewPassword(input.password, input.passwordConfirmation);
      // Hashing before the existence check keeps both outcomes equally slow.
      const passwordHash = await hasher.hash(input.password);
      const { accountId, mail } = await db.transaction().execute(async (trx) => {
        if (await emailIsTaken(trx, email)) {
          const owner = await findAccountByEmail(trx, email);
          const notice = () => messages.registrationAttempt({ email, languages: [owner?.locale, input.locale] }, links.forgotPassword());
          return { accountId: randomUUID(), mail: notice };
        }
        const account = await insertAccount(trx, { email, password_hash: passwordHash, name: input.name?.trim() || null });
        await grantRoles(trx, account.id, [DEFAULT_ROLE]);
        await recordEvent(trx, {
          type: 'account.created',
          actor: { type: 'account', id: account.id },
          accountId: account.id,
          data: { email: account.email, email_verified: false, name: account.name, roles: [DEFAULT_ROLE] },
        });
        return { accountId: account.id, mail: await verificationMail(account, input.returnTo, input.locale, trx) };
      });
      mailer.sendInBackground(mail);
      return { accountId };
    },

    /** Mails a new verification link to an unverified account; silently does nothing otherwise. */
    async resendVerification(email: string, returnTo: string | null, locale?: string): Promise<void> {
      const account = await findAccountByEmail(db, email.trim());
      if (!account || account.email_verified || account.status !== 'active') return;
      mailer.sendInBackground(await verificationMail(account, returnTo, locale));
    },

    /** Uses a verification link; returns where to continue. */
    async verifyEmail(token: string): Promise<{ accountId: string; email: string; returnTo: string | null }> {
      return db.transaction().execute(async (trx) => {
        const used = await useEmailToken(trx, token, 'verify_email');
        if (!used || !(await markEmailVerified(trx, used.account_id, used.email))) throw new InvalidLinkError();
        await recordEvent(trx, { type: 'account.email_verified', actor: { type: 'account', id: used.account_id }, accountId: used.account_id, data: { email: used.email } });
        return { accountId: used.account_id, email: used.email, returnTo: used.return_to };
      });
    },

    async verificationLinkIsLive(token: string): Promise<boolean> {
      return (await findLiveEmailToken(db, token, 'verify_email')) !== undefined;
    },

    /** Mails a reset link when the address has an active account. Answers the same either way. */
    async requestPasswordReset(rawEmail: string, returnTo: string | null, locale?: string): Promise<void> {
      const email = validEmail(rawEmail);
      const account = await findAccountByEmail(db, email);
      if (!account || account.status !== 'active') return;
      const token = await issueEmailToken(db, {
        accountId: account.id,
        purpose: 'reset_password',
        email: account.email,
        returnTo,
        ttlSeconds: RESET_TTL_SECONDS,
      });
      mailer.sendInBackground(() => messages.resetPassword({ email: account.email, languages: [account.locale, locale] }, links.resetPassword(token)));
    },

    /** Mails a new account (made by an admin, without a password) a link to choose one; it works for 7 days. */
    async invite(accountId: string): Promise<void> {
      const account = await findAccountById(db, accountId);
      if (!account) return;
      const token = await issueEmailToken(db, {
        accountId: account.id,
        purpose: 'reset_password',
        email: account.email,
        returnTo: null,
        ttlSeconds: INVITATION_TTL_SECONDS,
      });
      mailer.sendInBackground(() => messages.invitation({ email: account.email, languages: [account.locale] }, links.resetPassword(token)));
    },

    /** The passkeys and linked identities of the link's account while the link is live; undefined when it is not. */
    async resetLinkReview(token: string): Promise<SignInMethodsToReview | undefined> {
      const row = await findLiveEmailToken(db, token, 'reset_password');
      if (!row) return undefined;
      const [passkeys, identities] = await Promise.all([passkeysOf(db, row.account_id), identitiesOf(db, row.account_id)]);
      return {
        passkeys: passkeys.map(({ id, name, created_at }) => ({ id, name, createdAt: new Date(created_at) })),
        identities: identities.map(({ provider, email }) => ({ provider, email })),
      };
    },

    /**
     * Sets the new password from a reset link, which also proves the address; removes every passkey
     * and linked identity the person did not keep (one planted by whoever took the account must not
     * outlive the reset); then ends every session and grant of the account and tells its owner.
     * Returns where to continue.
     */
    async resetPassword(token: string, password: string, confirmation: string, keep: KeptSignInMethods): Promise<{ returnTo: string | null }> {
      checkNewPassword(password, confirmation);
      const passwordHash = await hasher.hash(password);
      const used = await db.transaction().execute(async (trx) => {
        const row = await useEmailToken(trx, token, 'reset_password');
        const account = row && (await findAccountById(trx, row.account_id));
        if (!row || !account || account.status !== 'active') throw new InvalidLinkError();
        await updatePasswordHash(trx, account.id, passwordHash);
        await markEmailVerified(trx, account.id, row.email);
        const removed = await removeUnkept(trx, account.id, keep);
        await recordEvent(trx, {
          type: 'account.password_reset',
          actor: { type: 'account', id: account.id },
          accountId: account.id,
          data: { removed_passkeys: removed.passkeys, removed_identities: removed.identities },
        });
        return { ...row, removed, accountEmail: account.email };
      });
      const accountId = used.account_id;
      await deps.loginThrottle.clear(used.accountEmail);
      await deps.endEverythingOf(accountId);
      await audit({ actorId: accountId, action: 'account.password-reset', targetType: 'account', targetId: accountId });
      for (const passkey of used.removed.passkeys) {
        await audit({ actorId: accountId, action: 'mfa.passkey.removed', targetType: 'account', targetId: accountId, changes: { name: passkey, reason: 'password reset' } });
      }
      for (const provider of used.removed.identities) {
        await audit({ actorId: accountId, action: 'account.identity.removed', targetType: 'account', targetId: accountId, changes: { provider, reason: 'password reset' } });
      }
      notices.notify(accountId, { kind: 'password-reset', removed: used.removed });
      return { returnTo: used.return_to };
    },
  };
}

export type AccountLifecycle = ReturnType<typeof createAccountLifecycle>;
