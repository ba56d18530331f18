import type { Kysely } from 'kysely';

import type { RecordAudit } from '../audit/index.ts';
import type { DB } from '../db/index.ts';
import { recordEvent } from '../webhooks/index.ts';
import { findAccountByEmail, findAccountById, insertAccount, markEmailVerified, type AccountRow } from './account.repository.ts';
import type { LoginContext, LoginObserver } from './account.service.ts';
import { DEFAULT_ROLE } from './account.service.ts';
import {
  AccountDisabledError,
  IdentityInUseError,
  LastSignInMethodError,
  RegistrationClosedError,
  UnverifiedFederatedEmailError,
} from './errors.ts';
import { deleteIdentity, findIdentity, identitiesOf, insertIdentity, type FederatedIdentityRow } from './federated-identity.repository.ts';
import { grantRoles } from './role.repository.ts';
import type { SecurityNotices } from './security-notice.ts';
import { signedIn } from './sign-in-history.ts';

/** What an upstream provider told us about the person, after its ID token was validated. */
export interface FederatedProfile {
  provider: string;
  subject: string;
  email: string;
  emailVerified: boolean;
  name?: string | undefined;
  givenName?: string | undefined;
  familyName?: string | undefined;
  picture?: string | undefined;
  locale?: string | undefined;
}

export type FederatedSignIn =
  | { kind: 'signed-in'; account: AccountRow; linked: boolean; created: boolean }
  /** A local account has this email but its owner has not proven it (unverified, or set by an admin): the password first. */
  | { kind: 'password-needed'; email: string };

/**
 * Signing in with an external provider without opening a path to account takeover. In order:
 * a known identity signs its account in; a provider-verified email matching a verified local
 * account links to it; a local account whose address is unverified or was set by an admin needs
 * its password once; otherwise a new account is made, unless registration is closed. The owner of
 * an existing account is told of every identity linked to it or removed from it.
 */
export function createFederation(deps: {
  db: Kysely<DB>;
  registrationOpen: boolean;
  notices: SecurityNotices;
  observe?: LoginObserver;
  audit: RecordAudit;
  /** A provider's display name, for the mail that tells the owner (`google` is "Google"). */
  providerName: (id: string) => string;
}) {
  const { db, notices } = deps;

  const ensureActive = (account: AccountRow | undefined): AccountRow => {
    if (!account || account.status !== 'active') throw new AccountDisabledError();
    return account;
  };

  /** Which provider's identity was linked to or removed from the account: the provider by its id. */
  const identityAudit = (accountId: string, action: string, provider: string, ip: string | null | undefined, extra: Record<string, unknown> = {}) =>
    deps.audit({ actorId: accountId, action, targetType: 'account', targetId: accountId, ip: ip ?? null, changes: { provider, ...extra } });

  return {
    async signIn(profile: FederatedProfile, context: LoginContext): Promise<FederatedSignIn> {
      const result = await db.transaction().execute(async (trx): Promise<FederatedSignIn> => {
        const known = await findIdentity(trx, profile.provider, profile.subject);
        if (known) return { kind: 'signed-in', account: ensureActive(await findAccountById(trx, known.account_id)), linked: false, created: false };
        if (!profile.emailVerified) throw new UnverifiedFederatedEmailError();

        const local = await findAccountByEmail(trx, profile.email);
        if (local) {
          ensureActive(local);
          // An address an admin set is no proof the person at the provider owns this account.
          if (!local.email_verified || local.email_admin_asserted) return { kind: 'password-needed', email: local.email };
          await insertIdentity(trx, { provider: profile.provider, subject: profile.subject, accountId: local.id, email: profile.email });
          await recordEvent(trx, { type: 'account.identity_linked', actor: { type: 'account', id: local.id }, accountId: local.id, data: { provider: profile.provider, email: profile.email } });
          return { kind: 'signed-in', account: local, linked: true, created: false };
        }

        if (!deps.registrationOpen) throw new RegistrationClosedError();
        const account = await insertAccount(trx, {
          email: profile.email,
          email_verified: true,
          password_hash: null,
          name: profile.name ?? null,
          given_name: profile.givenName ?? null,
          family_name: profile.familyName ?? null,
          picture: profile.picture ?? null,
          locale: profile.locale ?? null,
        });
        await grantRoles(trx, account.id, [DEFAULT_ROLE]);
        await insertIdentity(trx, { provider: profile.provider, subject: profile.subject, accountId: account.id, email: profile.email });
        const actor = { type: 'account' as const, id: account.id };
        await recordEvent(trx, {
          type: 'account.created',
          actor,
          accountId: account.id,
          data: { email: account.email, email_verified: true, name: account.name, roles: [DEFAULT_ROLE], provider: profile.provider },
        });
        await recordEvent(trx, { type: 'account.identity_linked', actor, accountId: account.id, data: { provider: profile.provider, email: profile.email } });
        return { kind: 'signed-in', account, linked: true, created: true };
      });

      if (result.kind === 'signed-in') {
        await signedIn(db, { accountId: result.account.id, method: profile.provider, ...context });
        if (result.linked) await identityAudit(result.account.id, 'account.identity.linked', profile.provider, context.ip, { created: result.created });
        deps.observe?.loginAttempt('success', profile.provider);
        if (result.linked && !result.created) notices.notify(result.account.id, { kind: 'identity-linked', provider: deps.providerName(profile.provider) });
      }
      return result;
    },

    /**
     * Links an identity to an account whose owner has just proven it (password, or a signed-in
     * session). The provider's verified email for the same address also verifies it here.
     */
    async link(accountId: string, profile: FederatedProfile): Promise<void> {
      const linked = await db.transaction().execute(async (trx) => {
        const existing = await findIdentity(trx, profile.provider, profile.subject);
        if (existing && existing.account_id !== accountId) throw new IdentityInUseError();
        if (existing) return false;
        await deleteIdentity(trx, accountId, profile.provider);
        await insertIdentity(trx, { provider: profile.provider, subject: profile.subject, accountId, email: profile.email });
        if (profile.emailVerified) await markEmailVerified(trx, accountId, profile.email);
        await recordEvent(trx, { type: 'account.identity_linked', actor: { type: 'account', id: accountId }, accountId, data: { provider: profile.provider, email: profile.email } });
        return true;
      });
      if (linked) {
        await identityAudit(accountId, 'account.identity.linked', profile.provider, null);
        notices.notify(accountId, { kind: 'identity-linked', provider: deps.providerName(profile.provider) });
      }
    },

    /** Refuses to remove the last way to sign in (no password and no other identity). */
    async unlink(accountId: string, provider: string): Promise<void> {
      const unlinked = await db.transaction().execute(async (trx) => {
        const account = ensureActive(await findAccountById(trx, accountId));
        const others = (await identitiesOf(trx, accountId)).filter((identity) => identity.provider !== provider);
        if (!account.password_hash && others.length === 0) throw new LastSignInMethodError();
        const deleted = await deleteIdentity(trx, accountId, provider);
        if (deleted) await recordEvent(trx, { type: 'account.identity_unlinked', actor: { type: 'account', id: accountId }, accountId, data: { provider } });
        return deleted;
      });
      if (unlinked) {
        await identityAudit(accountId, 'account.identity.unlinked', provider, null);
        notices.notify(accountId, { kind: 'identity-unlinked', provider: deps.providerName(provider) });
      }
    },

    identitiesOf: (accountId: string): Promise<FederatedIdentityRow[]> => identitiesOf(db, accountId),
  };
}

export type Federation = ReturnType<typeof createFederation>;
