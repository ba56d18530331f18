import { randomBytes } from 'node:crypto';
import type { Kysely } from 'kysely';

import type { RecordAudit } from '../audit/index.ts';
import type { SecretBox } from '../crypto/index.ts';
import type { DB } from '../db/index.ts';
import { type EventActor, recordEvent } from '../webhooks/index.ts';
import { lockAccount } from './account.repository.ts';
import type { LoginThrottle } from './account.service.ts';
import { SecondFactorLockedError, SecondFactorRequiredError, TotpAlreadyEnabledError, WrongSecondFactorCodeError } from './errors.ts';
import { countPasskeys, deletePasskeysOf } from './passkey.repository.ts';
import {
  acceptTimeStep,
  accountsWithSecondFactor,
  deleteTotp,
  findTotp,
  replaceRecoveryCodes,
  replaceTotpSecret,
  saveUnconfirmedTotp,
  secondFactorCounts,
  totpSecretsNotStartingWith,
  useRecoveryCode,
} from './second-factor.repository.ts';
import type { SecurityNotices } from './security-notice.ts';

/**
 * The one-time password and QR code libraries load when an authenticator app is first set up or
 * checked, not at start: a node whose people use none never needs them in memory.
 */
let otpLibrary: Promise<typeof import('otplib')> | undefined;
const otp = () => (otpLibrary ??= import('otplib'));
let qrLibrary: Promise<typeof import('qrcode')> | undefined;
const qrCodes = () => (qrLibrary ??= import('qrcode'));

/** The authenticator secret is stored sealed, bound to its account so that a copied row does not open elsewhere. */
export function totpSecretSealing(box: SecretBox) {
  const context = (accountId: string) => `totp:${accountId}`;
  return {
    seal: (accountId: string, secret: string) => box.seal(secret, context(accountId)),
    open: (accountId: string, stored: string) => box.open(stored, context(accountId)),
  };
}

/**
 * Seals the secrets stored in plaintext (before SECRETS_KEY existed) and re-seals those of a key that is no
 * longer first in SECRETS_KEY, so that an old key can be dropped once this has run. Returns how many it rewrote.
 */
export async function resealTotpSecrets(db: Kysely<DB>, box: SecretBox): Promise<number> {
  const sealing = totpSecretSealing(box);
  let rewritten = 0;
  for (const row of await totpSecretsNotStartingWith(db, box.currentPrefix)) {
    const plaintext = box.isSealed(row.secret) ? sealing.open(row.account_id, row.secret) : row.secret;
    if (await replaceTotpSecret(db, row.account_id, row.secret, sealing.seal(row.account_id, plaintext))) rewritten += 1;
  }
  return rewritten;
}

/** Whether an account has a second factor to ask for: an authenticator app, or a passkey where passkeys work. */
export function hasUsableSecondFactor(secondFactors: Pick<SecondFactors, 'status'>, passkeysEnabled: boolean) {
  return async (accountId: string): Promise<boolean> => {
    const { totp, passkeys } = await secondFactors.status(accountId);
    return totp || (passkeysEnabled && passkeys > 0);
  };
}

/** Who must have a second factor: nobody, accounts with an admin role, or everyone. */
export type MfaPolicy = 'optional' | 'required-for-admins' | 'required';

const ADMIN_ROLES = new Set(['admin', 'super_admin']);

/** Whether policy makes an account keep a second factor; its roles are read only when the policy depends on them. */
export async function policyRequiresSecondFactor(policy: MfaPolicy, rolesOf: () => Promise<string[]>): Promise<boolean> {
  if (policy !== 'required-for-admins') return policy === 'required';
  return (await rolesOf()).some((role) => ADMIN_ROLES.has(role));
}

/** What the person's app needs: the secret as a QR code and typed by hand. */
export interface TotpEnrollment {
  secret: string;
  uri: string;
  qrDataUri: string;
}

export interface SecondFactorStatus {
  totp: boolean;
  recoveryCodesLeft: number;
  /** How many passkeys the account has: each is a second factor too. */
  passkeys: number;
}

/** `otp` for an authenticator code, `recovery` for a recovery code (both are `amr` "otp" in tokens). */
export type SecondFactorMethod = 'otp' | 'recovery';

const RECOVERY_CODES = 10;
/** Codes of the step before and after are accepted too: phones' clocks drift. */
const CLOCK_TOLERANCE_SECONDS = 30;

/** 80 random bits as four groups of four base32 characters, e.g. `7KQM-2DXA-P4ZT-LW9C`. */
function newRecoveryCode(): string {
  const alphabet = 'ABCDEFGHJKLMNPQRSTUVWXYZ23456789';
  const bytes = randomBytes(16);
  const chars = [...bytes].map((byte) => alphabet[byte % alphabet.length]).join('');
  return chars.match(/.{4}/g)!.join('-');
}

export interface SecondFactors {
  status(accountId: string): Promise<SecondFactorStatus>;
  /** Starts setting up an authenticator app (the same secret until confirmed); refused while one is set up. */
  startTotp(accountId: string, label: string): Promise<TotpEnrollment>;
  /** Confirms the app with its first code; returns the recovery codes, shown once. */
  confirmTotp(accountId: string, code: string, ip: string | null): Promise<string[]>;
  /** Checks a code at sign-in: a TOTP code (each accepted once) or an unused recovery code. */
  verify(accountId: string, code: string, ip: string | null): Promise<SecondFactorMethod>;
  regenerateRecoveryCodes(accountId: string, ip: string | null): Promise<string[]>;
  /** The person removes their authenticator; refused when policy requires a second factor and no passkey is left. */
  removeTotp(accountId: string, mfaRequired: boolean, ip: string | null): Promise<void>;
  /** An admin clears every second factor of an account, passkeys too (audited by the admin action). */
  reset(accountId: string, actor?: EventActor): Promise<boolean>;
  withSecondFactor(accountIds: string[]): Promise<Set<string>>;
  /** The code the app shows now (tests and the CLI use it; never exposed over HTTP). */
  currentCode(secret: string): Promise<string>;
}

export function createSecondFactors(deps: {
  db: Kysely<DB>;
  issuerName: string;
  throttle: LoginThrottle;
  audit: RecordAudit;
  notices: SecurityNotices;
  /** Encrypts the authenticator secrets in the database (SECRETS_KEY). */
  secretBox: SecretBox;
}): SecondFactors {
  const { db, throttle, audit, notices } = deps;
  const totpSecret = totpSecretSealing(deps.secretBox);

  async function checkTotp(accountId: string, code: string, confirm: boolean): Promise<boolean> {
    const credential = await findTotp(db, accountId);
    if (!credential || Boolean(credential.confirmed_at) === confirm) return false;
    if (!/^\d{6}$/.test(code)) return false;
    const secret = totpSecret.open(accountId, credential.secret);
    const result = await (await otp()).verify({ secret, token: code, epochTolerance: CLOCK_TOLERANCE_SECONDS });
    if (!result.valid) return false;
    // otplib's result type covers HOTP too; a TOTP result has the step that matched.
    const { timeStep } = result as typeof result & { timeStep: number };
    if (!confirm) return acceptTimeStep(db, accountId, timeStep, false);
    return db.transaction().execute(async (trx) => {
      const confirmed = await acceptTimeStep(trx, accountId, timeStep, true);
      if (confirmed) await recordEvent(trx, { type: 'account.second_factor_added', actor: { type: 'account', id: accountId }, accountId, data: { method: 'totp' } });
      return confirmed;
    });
  }

  async function issueRecoveryCodes(accountId: string): Promise<string[]> {
    const codes = Array.from({ length: RECOVERY_CODES }, newRecoveryCode);
    await replaceRecoveryCodes(db, accountId, codes);
    return codes;
  }

  async function failed(accountId: string, ip: string | null, action: string): Promise<never> {
    const locked = await throttle.recordFailure(accountId);
    await audit({ actorId: accountId, action, targetType: 'account', targetId: accountId, outcome: 'denied', ip });
    if (locked) throw new SecondFactorLockedError(locked);
    throw new WrongSecondFactorCodeError();
  }

  async function refuseWhileLocked(accountId: string) {
    const locked = await throttle.lockedFor(accountId);
    if (locked) throw new SecondFactorLockedError(locked);
  }

  return {
    status: (accountId) => secondFactorCounts(db, accountId),

    async startTotp(accountId, label) {
      const existing = await findTotp(db, accountId);
      if (existing?.confirmed_at) throw new TotpAlreadyEnabledError();
      const { generateSecret, generateURI } = await otp();
      const secret = existing ? totpSecret.open(accountId, existing.secret) : generateSecret();
      if (!existing && !(await saveUnconfirmedTotp(db, accountId, totpSecret.seal(accountId, secret)))) throw new TotpAlreadyEnabledError();
      const uri = generateURI({ issuer: deps.issuerName, label, secret });
      const svg = await (await qrCodes()).toString(uri, { type: 'svg', margin: 1 });
      return { secret, uri, qrDataUri: `data:image/svg+xml;base64,${Buffer.from(svg).toString('base64')}` };
    },

    async confirmTotp(accountId, code, ip) {
      await refuseWhileLocked(accountId);
      if (!(await checkTotp(accountId, code.trim(), true))) return failed(accountId, ip, 'mfa.totp.confirm');
      await throttle.clear(accountId);
      await audit({ actorId: accountId, action: 'mfa.totp.enabled', targetType: 'account', targetId: accountId, ip });
      const codes = await issueRecoveryCodes(accountId);
      notices.notify(accountId, { kind: 'totp-enabled' });
      return codes;
    },

    async verify(accountId, code, ip) {
      await refuseWhileLocked(accountId);
      const typed = code.trim();
      let method: SecondFactorMethod | undefined;
      if (await checkTotp(accountId, typed.replace(/\s/g, ''), false)) method = 'otp';
      else if (typed.length > 6 && (await useRecoveryCode(db, accountId, typed))) method = 'recovery';
      if (!method) return failed(accountId, ip, 'mfa.verify');
      await throttle.clear(accountId);
      if (method === 'recovery') {
        await audit({ actorId: accountId, action: 'mfa.recovery_code.used', targetType: 'account', targetId: accountId, ip });
      }
      return method;
    },

    async regenerateRecoveryCodes(accountId, ip) {
      const credential = await findTotp(db, accountId);
      if (!credential?.confirmed_at) throw new WrongSecondFactorCodeError();
      await audit({ actorId: accountId, action: 'mfa.recovery_codes.regenerated', targetType: 'account', targetId: accountId, ip });
      const codes = await issueRecoveryCodes(accountId);
      notices.notify(accountId, { kind: 'recovery-codes-regenerated' });
      return codes;
    },

    async removeTotp(accountId, mfaRequired, ip) {
      const removed = await db.transaction().execute(async (trx) => {
        await lockAccount(trx, accountId);
        if (mfaRequired && (await countPasskeys(trx, accountId)) === 0) return undefined;
        const deleted = await deleteTotp(trx, accountId);
        if (deleted) await recordEvent(trx, { type: 'account.second_factor_removed', actor: { type: 'account', id: accountId }, accountId, data: { method: 'totp' } });
        return deleted;
      });
      if (removed === undefined) {
        await audit({ actorId: accountId, action: 'mfa.totp.removed', targetType: 'account', targetId: accountId, outcome: 'denied', ip, changes: { reason: 'last second factor' } });
        throw new SecondFactorRequiredError();
      }
      if (removed) {
        await audit({ actorId: accountId, action: 'mfa.totp.removed', targetType: 'account', targetId: accountId, ip });
        notices.notify(accountId, { kind: 'totp-removed' });
      }
    },

    async reset(accountId, actor: EventActor = { type: 'system' }) {
      const removed = await db.transaction().execute(async (trx) => {
        const totp = await deleteTotp(trx, accountId);
        const passkeys = await deletePasskeysOf(trx, accountId);
        const methods = [...(totp ? ['totp'] : []), ...(passkeys > 0 ? ['passkey'] : [])];
        if (methods.length) await recordEvent(trx, { type: 'account.second_factor_removed', actor, accountId, data: { methods } });
        return methods.length > 0;
      });
      if (removed) notices.notify(accountId, { kind: 'second-factors-reset' }, { byAdministrator: true });
      return removed;
    },
    withSecondFactor: (accountIds) => accountsWithSecondFactor(db, accountIds),
    currentCode: async (secret) => (await otp()).generate({ secret }),
  };
}
