import { randomBytes } from 'node:crypto';
import type {
  AuthenticationResponseJSON,
  PublicKeyCredentialCreationOptionsJSON,
  PublicKeyCredentialRequestOptionsJSON,
  RegistrationResponseJSON,
} from '@simplewebauthn/server';
import type { Kysely } from 'kysely';

import type { RecordAudit } from '../audit/index.ts';
import type { DB, WebauthnPurpose } from '../db/index.ts';
import { recordEvent } from '../webhooks/index.ts';
import { findAccountById, lockAccount } from './account.repository.ts';
import type { LoginContext, LoginThrottle } from './account.service.ts';
import {
  AccountDisabledError,
  PasskeyChallengeError,
  PasskeyNameError,
  PasskeyNotFoundError,
  PasskeyRejectedError,
  SecondFactorLockedError,
  SecondFactorRequiredError,
} from './errors.ts';
import {
  countPasskeys,
  deletePasskey,
  findPasskey,
  insertPasskey,
  type PasskeyRow,
  passkeysOf,
  recordPasskeyUse,
  renamePasskey,
  saveChallenge,
  takeChallenge,
} from './passkey.repository.ts';
import { findTotp } from './second-factor.repository.ts';
import { signedIn, signInRefused } from './sign-in-history.ts';
import type { SecurityNotices } from './security-notice.ts';

/** Who we are to authenticators: the issuer's host (RP ID), its origin, and the product name. */
export interface PasskeyRelyingParty {
  id: string;
  origin: string;
  name: string;
}

/** The issuer's host and origin. WebAuthn needs a domain name: an IP address cannot be an RP ID. */
export function relyingPartyOf(issuer: string, name: string): PasskeyRelyingParty | undefined {
  const url = new URL(issuer);
  const isIpAddress = /^\d+\.\d+\.\d+\.\d+$/.test(url.hostname) || url.hostname.startsWith('[');
  return isIpAddress ? undefined : { id: url.hostname, origin: url.origin, name };
}

export interface PasskeySummary {
  id: string;
  name: string;
  createdAt: Date;
  lastUsedAt: Date | null;
}

/** What the browser needs to run a ceremony, and the key the browser keeps (in a cookie) to finish it. */
export interface Ceremony<Options> {
  key: string;
  options: Options;
}

/**
 * The WebAuthn library loads at the first ceremony, not at start: with its certificate and ASN.1
 * parsers it is the largest module a node loads, and most nodes' people never use a passkey.
 */
let webauthnLibrary: Promise<typeof import('@simplewebauthn/server')> | undefined;
const webauthn = () => (webauthnLibrary ??= import('@simplewebauthn/server'));

export const NAME_MAX_LENGTH = 100;
/** A ceremony must finish within this time; its challenge is then refused. */
export const CHALLENGE_TTL_MS = 5 * 60 * 1000;

const summary = (row: PasskeyRow): PasskeySummary => ({ id: row.id, name: row.name, createdAt: new Date(row.created_at), lastUsedAt: row.last_used_at ? new Date(row.last_used_at) : null });
const base64url = (bytes: Uint8Array) => Buffer.from(bytes).toString('base64url');
const credentialOf = (row: PasskeyRow) => ({ id: row.id, publicKey: new Uint8Array(Buffer.from(row.public_key, 'base64url')), counter: Number(row.counter), transports: row.transports });

function checkedName(name: string): string {
  const trimmed = name.trim();
  if (!trimmed || trimmed.length > NAME_MAX_LENGTH) throw new PasskeyNameError();
  return trimmed;
}

/** The browser's answer as a form field (JSON); undefined for anything else. */
function parsed<T>(response: string): T | undefined {
  try {
    const value = JSON.parse(response) as unknown;
    if (value && typeof value === 'object' && typeof (value as { id?: unknown }).id === 'string') return value as T;
  } catch {
    // not JSON: no answer
  }
  return undefined;
}

export interface Passkeys {
  readonly relyingParty: PasskeyRelyingParty;
  list(accountId: string): Promise<PasskeySummary[]>;
  startRegistration(account: { id: string; email: string; name: string | null }): Promise<Ceremony<PublicKeyCredentialCreationOptionsJSON>>;
  /** Verifies the authenticator's answer and keeps the passkey under `name`. */
  finishRegistration(accountId: string, key: string, response: string, name: string, ip: string | null): Promise<PasskeySummary>;
  rename(accountId: string, id: string, name: string, ip: string | null): Promise<void>;
  /** Refused when policy requires a second factor and this is the account's last one. */
  remove(accountId: string, id: string, mfaRequired: boolean, ip: string | null): Promise<void>;
  /** The second step: one of this account's passkeys. */
  startSecondFactor(accountId: string, interactionUid: string): Promise<Ceremony<PublicKeyCredentialRequestOptionsJSON>>;
  verifySecondFactor(accountId: string, interactionUid: string, key: string, response: string, ip: string | null): Promise<void>;
  /** Re-authentication in a session: one of this account's passkeys, user-verified. */
  startReauthentication(accountId: string, sessionUid: string): Promise<Ceremony<PublicKeyCredentialRequestOptionsJSON>>;
  verifyReauthentication(accountId: string, sessionUid: string, key: string, response: string, ip: string | null): Promise<void>;
  /** Signing in without a password: any passkey the authenticator holds for us, user-verified. */
  startPasswordless(interactionUid: string): Promise<Ceremony<PublicKeyCredentialRequestOptionsJSON>>;
  /** Returns the account the passkey belongs to. */
  verifyPasswordless(interactionUid: string, key: string, response: string, context: LoginContext): Promise<string>;
}

export function createPasskeys(deps: { db: Kysely<DB>; relyingParty: PasskeyRelyingParty; throttle: LoginThrottle; audit: RecordAudit; notices: SecurityNotices }): Passkeys {
  const { db, relyingParty, throttle, audit, notices } = deps;

  async function newCeremony<Options extends { challenge: string }>(
    options: Options,
    purpose: WebauthnPurpose,
    accountId: string | null,
    interactionUid: string | null,
  ): Promise<Ceremony<Options>> {
    const key = randomBytes(32).toString('base64url');
    await saveChallenge(db, key, { challenge: options.challenge, purpose, accountId, interactionUid, expiresAt: new Date(Date.now() + CHALLENGE_TTL_MS) });
    return { key, options };
  }

  /** The challenge the browser's key stands for, used up; refused (and audited) when it is not this ceremony's or is too old. */
  async function challengeFor(key: string, purpose: WebauthnPurpose, accountId: string | null, interactionUid: string | null, ip: string | null): Promise<string> {
    const row = key ? await takeChallenge(db, key) : undefined;
    const reason = !row
      ? 'unknown'
      : row.purpose !== purpose || row.account_id !== accountId || row.interaction_uid !== interactionUid
        ? 'mismatch'
        : new Date(row.expires_at).getTime() <= Date.now()
          ? 'expired'
          : undefined;
    if (!reason) return row!.challenge;
    await audit({ actorId: accountId, action: 'mfa.passkey.challenge', targetType: 'account', targetId: accountId ?? undefined, outcome: 'denied', ip, changes: { purpose, reason } });
    throw new PasskeyChallengeError(reason);
  }

  async function refuseWhileLocked(accountId: string) {
    const locked = await throttle.lockedFor(accountId);
    if (locked) throw new SecondFactorLockedError(locked);
  }

  /** A refused sign-in with a passkey: counted against the account like a wrong code, and audited. */
  async function refused(accountId: string | null, reason: PasskeyRejectedError['reason'], ip: string | null, purpose: WebauthnPurpose): Promise<never> {
    await audit({ actorId: accountId, action: 'mfa.passkey.verify', targetType: 'account', targetId: accountId ?? undefined, outcome: 'denied', ip, changes: { purpose, reason } });
    const locked = accountId ? await throttle.recordFailure(accountId) : 0;
    if (locked) throw new SecondFactorLockedError(locked);
    throw new PasskeyRejectedError(reason);
  }

  /** Checks the signature over the challenge with the stored key; records the use. */
  async function verifyAssertion(passkey: PasskeyRow, response: AuthenticationResponseJSON, challenge: string, requireUserVerification: boolean): Promise<boolean> {
    const { verifyAuthenticationResponse } = await webauthn();
    try {
      const { verified, authenticationInfo } = await verifyAuthenticationResponse({
        response,
        expectedChallenge: challenge,
        expectedOrigin: relyingParty.origin,
        expectedRPID: relyingParty.id,
        credential: credentialOf(passkey),
        requireUserVerification,
      });
      return verified && (await recordPasskeyUse(db, passkey.id, authenticationInfo.newCounter));
    } catch {
      // A malformed answer, a wrong signature, a counter that went backwards: all the same refusal.
      return false;
    }
  }

  /**
   * A ceremony with one of this account's passkeys, bound to an interaction (the second step) or a session (a
   * re-authentication). A re-authentication is the whole proof, so its passkey must verify the user.
   */
  async function startForAccount(accountId: string, ceremonyUid: string, purpose: 'second_factor' | 'reauthenticate') {
    const passkeys = await passkeysOf(db, accountId);
    const { generateAuthenticationOptions } = await webauthn();
    const options = await generateAuthenticationOptions({
      rpID: relyingParty.id,
      allowCredentials: passkeys.map((row) => ({ id: row.id, transports: row.transports })),
      userVerification: purpose === 'reauthenticate' ? 'required' : 'preferred',
      timeout: CHALLENGE_TTL_MS,
    });
    return newCeremony(options, purpose, accountId, ceremonyUid);
  }

  async function verifyForAccount(accountId: string, ceremonyUid: string, purpose: 'second_factor' | 'reauthenticate', key: string, response: string, ip: string | null) {
    await refuseWhileLocked(accountId);
    const challenge = await challengeFor(key, purpose, accountId, ceremonyUid, ip);
    const answer = parsed<AuthenticationResponseJSON>(response);
    if (!answer) return refused(accountId, 'invalid', ip, purpose);
    const passkey = await findPasskey(db, answer.id);
    if (!passkey) return refused(accountId, 'unknown', ip, purpose);
    if (passkey.account_id !== accountId) return refused(accountId, 'other-account', ip, purpose);
    if (!(await verifyAssertion(passkey, answer, challenge, purpose === 'reauthenticate'))) return refused(accountId, 'invalid', ip, purpose);
    await throttle.clear(accountId);
  }

  return {
    relyingParty,

    list: async (accountId) => (await passkeysOf(db, accountId)).map(summary),

    async startRegistration(account) {
      const existing = await passkeysOf(db, account.id);
      const { generateRegistrationOptions } = await webauthn();
      const options = await generateRegistrationOptions({
        rpName: relyingParty.name,
        rpID: relyingParty.id,
        userName: account.email,
        userDisplayName: account.name ?? account.email,
        // The user handle a discoverable passkey returns at sign-in: the account's ID.
        userID: new TextEncoder().encode(account.id),
        attestationType: 'none',
        excludeCredentials: existing.map((row) => ({ id: row.id, transports: row.transports })),
        authenticatorSelection: { residentKey: 'preferred', userVerification: 'preferred' },
        timeout: CHALLENGE_TTL_MS,
      });
      return newCeremony(options, 'register', account.id, null);
    },

    async finishRegistration(accountId, key, response, name, ip) {
      const label = checkedName(name);
      const challenge = await challengeFor(key, 'register', accountId, null, ip);
      const answer = parsed<RegistrationResponseJSON>(response);
      const { verifyRegistrationResponse } = await webauthn();
      let verification;
      try {
        if (!answer) throw new PasskeyRejectedError('invalid');
        verification = await verifyRegistrationResponse({
          response: answer,
          expectedChallenge: challenge,
          expectedOrigin: relyingParty.origin,
          expectedRPID: relyingParty.id,
          requireUserVerification: false,
        });
      } catch {
        verification = { verified: false as const };
      }
      const credential = verification.registrationInfo?.credential;
      const saved =
        verification.verified &&
        credential &&
        (await db.transaction().execute(async (trx) => {
          const inserted = await insertPasskey(trx, {
            id: credential.id,
            accountId,
            publicKey: base64url(credential.publicKey),
            counter: credential.counter,
            transports: credential.transports ?? [],
            name: label,
          });
          if (inserted) {
            await recordEvent(trx, { type: 'account.second_factor_added', actor: { type: 'account', id: accountId }, accountId, data: { method: 'passkey', name: label } });
          }
          return inserted;
        }));
      if (!saved) {
        await audit({ actorId: accountId, action: 'mfa.passkey.added', targetType: 'account', targetId: accountId, outcome: 'denied', ip });
        throw new PasskeyRejectedError('invalid');
      }
      await audit({ actorId: accountId, action: 'mfa.passkey.added', targetType: 'account', targetId: accountId, ip, changes: { name: label } });
      notices.notify(accountId, { kind: 'passkey-added', name: label });
      return summary((await findPasskey(db, credential.id))!);
    },

    async rename(accountId, id, name, ip) {
      const label = checkedName(name);
      const before = await findPasskey(db, id);
      if (before?.account_id !== accountId || !(await renamePasskey(db, accountId, id, label))) throw new PasskeyNotFoundError();
      await audit({ actorId: accountId, action: 'mfa.passkey.renamed', targetType: 'account', targetId: accountId, ip, changes: { name: [before.name, label] } });
    },

    async remove(accountId, id, mfaRequired, ip) {
      let name: string | undefined;
      try {
        await db.transaction().execute(async (trx) => {
          await lockAccount(trx, accountId);
          const passkey = await findPasskey(trx, id);
          if (passkey?.account_id !== accountId || !(await deletePasskey(trx, accountId, id))) throw new PasskeyNotFoundError();
          name = passkey.name;
          const othersLeft = (await countPasskeys(trx, accountId)) > 0 || Boolean((await findTotp(trx, accountId))?.confirmed_at);
          if (mfaRequired && !othersLeft) throw new SecondFactorRequiredError();
          await recordEvent(trx, { type: 'account.second_factor_removed', actor: { type: 'account', id: accountId }, accountId, data: { method: 'passkey', name } });
        });
      } catch (error) {
        if (error instanceof SecondFactorRequiredError) {
          await audit({ actorId: accountId, action: 'mfa.passkey.removed', targetType: 'account', targetId: accountId, outcome: 'denied', ip, changes: { name, reason: 'last second factor' } });
        }
        throw error;
      }
      await audit({ actorId: accountId, action: 'mfa.passkey.removed', targetType: 'account', targetId: accountId, ip, changes: { name } });
      notices.notify(accountId, { kind: 'passkey-removed', name: name! });
    },

    startSecondFactor: (accountId, interactionUid) => startForAccount(accountId, interactionUid, 'second_factor'),
    verifySecondFactor: (accountId, interactionUid, key, response, ip) => verifyForAccount(accountId, interactionUid, 'second_factor', key, response, ip),
    startReauthentication: (accountId, sessionUid) => startForAccount(accountId, sessionUid, 'reauthenticate'),
    verifyReauthentication: (accountId, sessionUid, key, response, ip) => verifyForAccount(accountId, sessionUid, 'reauthenticate', key, response, ip),

    async startPasswordless(interactionUid) {
      const { generateAuthenticationOptions } = await webauthn();
      const options = await generateAuthenticationOptions({ rpID: relyingParty.id, userVerification: 'required', timeout: CHALLENGE_TTL_MS });
      return newCeremony(options, 'passwordless', null, interactionUid);
    },

    async verifyPasswordless(interactionUid, key, response, context) {
      const challenge = await challengeFor(key, 'passwordless', null, interactionUid, context.ip);
      const answer = parsed<AuthenticationResponseJSON>(response);
      if (!answer) return refused(null, 'invalid', context.ip, 'passwordless');
      const passkey = await findPasskey(db, answer.id);
      if (!passkey) return refused(null, 'unknown', context.ip, 'passwordless');
      const accountId = passkey.account_id;
      await refuseWhileLocked(accountId);
      // A discoverable passkey names its account: it must be the one the passkey is registered to.
      const userHandle = answer.response?.userHandle;
      if (userHandle && Buffer.from(userHandle, 'base64url').toString('utf8') !== accountId) return refused(accountId, 'other-account', context.ip, 'passwordless');
      if (!(await verifyAssertion(passkey, answer, challenge, true))) return refused(accountId, 'invalid', context.ip, 'passwordless');
      await throttle.clear(accountId);
      const account = await findAccountById(db, accountId);
      if (account?.status !== 'active') {
        await signInRefused(db, { accountId, outcome: 'account_disabled', method: 'passkey', ...context });
        throw new AccountDisabledError();
      }
      await signedIn(db, { accountId, method: 'passkey', ...context });
      return accountId;
    },
  };
}
