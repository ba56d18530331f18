/** Wrong password or unknown email: deliberately one error, so the two cannot be told apart. */
export class InvalidCredentialsError extends Error {
  constructor() {
    super('Invalid email or password');
  }
}

export class AccountDisabledError extends Error {
  constructor() {
    super('This account is disabled');
  }
}

export class DuplicateEmailError extends Error {
  constructor(email: string) {
    super(`An account with the email ${email} already exists`);
  }
}

export class UnknownRoleError extends Error {
  constructor(readonly roles: string[]) {
    super(`Unknown role${roles.length > 1 ? 's' : ''}: ${roles.join(', ')}`);
  }
}

/** Why a password is refused: `reason` names it for a translated message; `message` is English. */
export class WeakPasswordError extends Error {
  constructor(
    readonly reason: 'too-short' | 'too-long' | 'blank' | 'common',
    message: string,
    readonly limit?: number,
  ) {
    super(message);
  }
}

export class InvalidAccountInputError extends Error {}

/** Password sign-in is locked for this email after too many failures; the same whether or not it has an account. */
export class AccountLockedError extends Error {
  constructor(readonly retryAfterSeconds: number) {
    super('Too many failed sign-ins');
  }
}

/** The password was right, but the account must verify its email first. */
export class EmailNotVerifiedError extends Error {
  constructor(readonly accountId: string, readonly email: string) {
    super('Email not verified');
  }
}

/** A mailed link that is unknown, used, expired, or for an address the account no longer has. */
export class InvalidLinkError extends Error {
  constructor() {
    super('This link is no longer valid');
  }
}

export class PasswordMismatchError extends Error {
  constructor() {
    super('The two passwords differ.');
  }
}

export class RegistrationClosedError extends Error {
  constructor() {
    super('Registration is closed');
  }
}

/** The provider does not vouch for the email: nothing may be linked or created from it. */
export class UnverifiedFederatedEmailError extends Error {
  constructor() {
    super('The provider has not verified this email address');
  }
}

export class IdentityInUseError extends Error {
  constructor() {
    super('This account of the provider is already linked to another account here');
  }
}

export class LastSignInMethodError extends Error {
  constructor() {
    super('This is the only way to sign in to the account');
  }
}

export class AccountNotFoundError extends Error {
  constructor() {
    super('No such account');
  }
}

export class RoleNotFoundError extends Error {
  constructor(readonly role: string) {
    super(`No such role: ${role}`);
  }
}

export class BuiltInRoleError extends Error {
  constructor(readonly role: string) {
    super(`${role} is a built-in role`);
  }
}

export class DuplicateRoleError extends Error {
  constructor(readonly role: string) {
    super(`A role named ${role} exists already`);
  }
}

/** The record changed since the caller read it (optimistic concurrency). */
export class StaleUpdateError extends Error {
  constructor() {
    super('The account changed since you read it; read it again and retry');
  }
}

/** A TOTP or recovery code that is wrong, expired, or already used. */
export class WrongSecondFactorCodeError extends Error {
  constructor() {
    super('wrong or used second-factor code');
  }
}

/** Too many wrong second-factor codes for this account. */
export class SecondFactorLockedError extends Error {
  constructor(readonly retryAfterSeconds: number) {
    super('second factor locked');
  }
}

/** An authenticator app is already set up; remove it before setting up another. */
export class TotpAlreadyEnabledError extends Error {
  constructor() {
    super('an authenticator app is already set up');
  }
}

/** MFA is required for this account and this is its only second factor. */
export class SecondFactorRequiredError extends Error {
  constructor() {
    super('a second factor is required for this account');
  }
}

/** A passkey ceremony whose challenge expired, was used already, or belongs to another page or browser. */
export class PasskeyChallengeError extends Error {
  constructor(readonly reason: 'expired' | 'unknown' | 'mismatch') {
    super(`passkey challenge refused: ${reason}`);
  }
}

/** A passkey answer that does not verify, or names a passkey that is unknown or of another account. */
export class PasskeyRejectedError extends Error {
  constructor(readonly reason: 'invalid' | 'unknown' | 'other-account') {
    super(`passkey refused: ${reason}`);
  }
}

/** No passkey with this ID belongs to the account. */
export class PasskeyNotFoundError extends Error {
  constructor() {
    super('no such passkey');
  }
}

/** A passkey needs a name of 1 to 100 characters. */
export class PasskeyNameError extends Error {
  constructor() {
    super('a passkey needs a name of 1 to 100 characters');
  }
}

/** A re-authentication that did not prove who is signed in; the same for a wrong password and a wrong code. */
export class ReauthenticationFailedError extends Error {
  constructor(readonly reason: 'wrong' | 'method-not-allowed' | 'stale' | 'other-identity') {
    super(`re-authentication refused: ${reason}`);
  }
}

/** ADMIN_EMAIL names an account that exists but is no super admin: it is not promoted (anyone may have registered it). */
export class FirstAdminEmailTakenError extends Error {
  constructor(email: string) {
    super(
      `ADMIN_EMAIL ${email} belongs to an existing account that is not a super admin, and no super admin exists. ` +
        'It is not promoted (anyone could have registered that address): set ADMIN_EMAIL to an address without an account.',
    );
  }
}
