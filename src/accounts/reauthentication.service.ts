import type { Kysely } from 'kysely';

import type { RecordAudit } from '../audit/index.ts';
import type { DB } from '../db/index.ts';
import type { Account, AccountService, LoginContext } from './account.service.ts';
import {
  AccountLockedError,
  EmailNotVerifiedError,
  InvalidCredentialsError,
  ReauthenticationFailedError,
  SecondFactorLockedError,
  WrongSecondFactorCodeError,
} from './errors.ts';
import { findIdentity, identitiesOf } from './federated-identity.repository.ts';
import type { Passkeys } from './passkey.service.ts';
import { reauthenticatedWithin, recordReauthentication } from './reauthentication.repository.ts';
import type { SecondFactors } from './second-factor.service.ts';

/** The IdP session a request or token belongs to: its uid and when it signed in (epoch seconds). */
export interface SessionProof {
  uid: string;
  loginTs: number | undefined;
}

/**
 * How this account may prove it is its owner, strongest first: a user-verified passkey; its password with
 * the authenticator code when one is set up; or, without a password, a fresh sign-in at a linked identity provider.
 * With passkeys but no authenticator app, the password alone is not enough: the passkey is the second factor.
 */
export interface ReauthenticationMethods {
  passkey: boolean;
  password: boolean;
  /** The password needs an authenticator or recovery code with it. */
  code: boolean;
  /** Without a password: the ids of the providers whose identities are linked to the account. */
  federated: string[];
}

/** An upstream provider's answer to a re-authentication: who signed in there, and when (`auth_time`). */
export interface FederatedReauthentication {
  provider: string;
  subject: string;
  authTime: number | undefined;
}

/** A sign-in at the provider may be this many seconds older than the request that asked for it (clock skew). */
const CLOCK_SKEW_SECONDS = 5;

/**
 * Sudo mode: sensitive changes of one's own account need a sign-in or re-authentication of the session
 * within `maxAgeSeconds`. Wrong attempts count against the same throttles as a sign-in and are audited.
 */
export function createReauthentication(deps: {
  db: Kysely<DB>;
  accounts: AccountService;
  secondFactors: SecondFactors;
  passkeys: Passkeys | undefined;
  audit: RecordAudit;
  maxAgeSeconds: number;
}) {
  const { db, accounts, secondFactors, passkeys, audit, maxAgeSeconds } = deps;

  async function succeeded(accountId: string, session: SessionProof, method: string, ip: string | null) {
    await recordReauthentication(db, session.uid, accountId);
    await audit({ actorId: accountId, action: 'account.reauthenticate', targetType: 'account', targetId: accountId, ip, changes: { method } });
  }

  const denied = (accountId: string, method: string, reason: string, ip: string | null) =>
    audit({ actorId: accountId, action: 'account.reauthenticate', targetType: 'account', targetId: accountId, outcome: 'denied', ip, changes: { method, reason } });

  async function refused(accountId: string, method: string, reason: ReauthenticationFailedError['reason'], ip: string | null): Promise<never> {
    await denied(accountId, method, reason, ip);
    throw new ReauthenticationFailedError(reason);
  }

  async function methodsOf(account: Account): Promise<ReauthenticationMethods> {
    const status = await secondFactors.status(account.id);
    const passkey = Boolean(passkeys) && status.passkeys > 0;
    const hasPassword = Boolean(account.password_hash);
    return {
      passkey,
      password: hasPassword && (status.totp || !passkey),
      code: status.totp,
      federated: hasPassword ? [] : (await identitiesOf(db, account.id)).map((identity) => identity.provider),
    };
  }

  return {
    maxAgeSeconds,
    methodsOf,

    /** Whether the session signed in or re-authenticated within the window. */
    async isRecent(accountId: string, session: SessionProof): Promise<boolean> {
      // In whole seconds, as node-oidc-provider judges max_age: a sign-in it let through for max_age counts here too.
      if (session.loginTs !== undefined && Math.floor(Date.now() / 1000) - session.loginTs <= maxAgeSeconds) return true;
      return reauthenticatedWithin(db, session.uid, accountId, maxAgeSeconds);
    },

    /**
     * The password, and the code when the account has an authenticator app. A wrong password and a wrong code
     * are the same refusal; each counts where a sign-in's would (the email's lock, the second-factor lock).
     */
    async withPassword(account: Account, session: SessionProof, password: string, code: string, context: LoginContext): Promise<void> {
      const methods = await methodsOf(account);
      if (!methods.password) return refused(account.id, 'password', 'method-not-allowed', context.ip);
      if (!password || (methods.code && !code.trim())) return refused(account.id, 'password', 'wrong', context.ip);
      try {
        await accounts.authenticate(account.email, password, context);
      } catch (error) {
        if (error instanceof InvalidCredentialsError) return refused(account.id, 'password', 'wrong', context.ip);
        if (error instanceof AccountLockedError) await denied(account.id, 'password', 'locked', context.ip);
        // The password was right; whether the address is verified is not this question.
        if (!(error instanceof EmailNotVerifiedError)) throw error;
      }
      if (methods.code) {
        try {
          await secondFactors.verify(account.id, code, context.ip);
        } catch (error) {
          if (error instanceof WrongSecondFactorCodeError) return refused(account.id, 'password', 'wrong', context.ip);
          if (error instanceof SecondFactorLockedError) await denied(account.id, 'password', 'locked', context.ip);
          throw error;
        }
      }
      await succeeded(account.id, session, methods.code ? 'password+otp' : 'password', context.ip);
    },

    async startPasskey(accountId: string, session: SessionProof) {
      if (!passkeys) throw new ReauthenticationFailedError('method-not-allowed');
      return passkeys.startReauthentication(accountId, session.uid);
    },

    /** A user-verified passkey of this account, in a ceremony started by this session. */
    async withPasskey(accountId: string, session: SessionProof, key: string, response: string, ip: string | null): Promise<void> {
      if (!passkeys) return refused(accountId, 'passkey', 'method-not-allowed', ip);
      await passkeys.verifyReauthentication(accountId, session.uid, key, response, ip);
      await succeeded(accountId, session, 'passkey', ip);
    },

    /**
     * A sign-in at an upstream provider, of the identity linked to this account, that happened after `askedAt`
     * (epoch ms). The method audited is the provider's id. A provider that does not say when (GitHub) cannot prove it.
     */
    async withUpstream(account: Account, session: SessionProof, answer: FederatedReauthentication, askedAt: number, ip: string | null): Promise<void> {
      const method = answer.provider;
      if (!(await methodsOf(account)).federated.includes(method)) return refused(account.id, method, 'method-not-allowed', ip);
      const identity = await findIdentity(db, answer.provider, answer.subject);
      if (identity?.account_id !== account.id) return refused(account.id, method, 'other-identity', ip);
      const fresh = answer.authTime !== undefined && answer.authTime >= askedAt / 1000 - CLOCK_SKEW_SECONDS && answer.authTime <= Date.now() / 1000 + CLOCK_SKEW_SECONDS;
      if (!fresh) return refused(account.id, method, 'stale', ip);
      await succeeded(account.id, session, method, ip);
    },
  };
}

export type Reauthentication = ReturnType<typeof createReauthentication>;
