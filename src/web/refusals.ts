import {
  AccountDisabledError,
  AccountLockedError,
  IdentityInUseError,
  InvalidAccountInputError,
  InvalidCredentialsError,
  LastSignInMethodError,
  PasskeyChallengeError,
  PasskeyNameError,
  PasskeyNotFoundError,
  PasskeyRejectedError,
  PasswordMismatchError,
  ReauthenticationFailedError,
  RegistrationClosedError,
  SecondFactorLockedError,
  SecondFactorRequiredError,
  TotpAlreadyEnabledError,
  UnverifiedFederatedEmailError,
  WeakPasswordError,
  WrongSecondFactorCodeError,
} from '../accounts/index.ts';
import { GoogleSignInError, GoogleUnavailableError } from '../upstream/index.ts';
import { message, type Message } from '../views/index.ts';

/** A domain error as the person reads it on one of our pages. */
export interface Refusal {
  status: number;
  text: Message;
  /** The form field the words belong beside; none: above the form. */
  field?: string;
  /** A lock: when to try again. */
  retryAfterSeconds?: number;
}

/** Whole minutes until a lock ends, at least one: "try again in N minutes". */
const minutesUntil = (seconds: number) => Math.max(1, Math.ceil(seconds / 60));

/** One domain error in words; undefined for any other error. */
type Rule = (error: unknown) => Refusal | undefined;

const when =
  <E extends Error>(type: abstract new (...args: never[]) => E, refusal: (error: E) => Refusal): Rule =>
  (error) =>
    error instanceof type ? refusal(error) : undefined;

// Each error's words, once. Where the same error reads differently on the sign-in pages and the account page,
// each has its own rule.
const accountDisabled = when(AccountDisabledError, () => ({ status: 403, text: 'login.errors.disabled' }));
const accountLocked = when(AccountLockedError, (error) => ({
  status: 429,
  text: message('login.errors.locked', { minutes: minutesUntil(error.retryAfterSeconds) }),
  retryAfterSeconds: error.retryAfterSeconds,
}));
const wrongCredentials = when(InvalidCredentialsError, () => ({ status: 400, text: 'login.errors.wrongCredentials' }));
const wrongCurrentPassword = when(InvalidCredentialsError, () => ({ status: 400, text: 'account.errors.wrongPassword', field: 'current_password' }));
const weakPassword = when(WeakPasswordError, (error) => ({
  status: 400,
  text: message(`fields.newPassword.${error.reason}`, { limit: error.limit ?? '' }),
  field: 'password',
}));
const passwordMismatch = when(PasswordMismatchError, () => ({ status: 400, text: 'fields.passwordConfirmation.differs', field: 'password_confirmation' }));
const invalidEmail = when(InvalidAccountInputError, () => ({ status: 400, text: 'fields.email.invalid', field: 'email' }));

const wrongCode = when(WrongSecondFactorCodeError, () => ({ status: 400, text: 'secondFactor.errors.wrong' }));
const codeLocked = when(SecondFactorLockedError, (error) => ({
  status: 429,
  text: message('secondFactor.errors.locked', { minutes: minutesUntil(error.retryAfterSeconds) }),
}));
const passkeyExpired = when(PasskeyChallengeError, () => ({ status: 400, text: 'passkeys.errors.expired' }));
const passkeyRejected = when(PasskeyRejectedError, () => ({ status: 400, text: 'passkeys.errors.rejected' }));
const reauthFailed = when(ReauthenticationFailedError, (error) => ({ status: 400, text: error.reason === 'stale' ? 'reauth.errors.stale' : 'reauth.errors.wrong' }));

const googleFailed = when(GoogleSignInError, (error) =>
  error.reason === 'cancelled'
    ? { status: 400, text: 'login.errors.googleCancelled' }
    : error.reason === 'hosted-domain'
      ? { status: 403, text: 'login.errors.googleHostedDomain' }
      : { status: 400, text: 'login.errors.googleFailed' },
);
const googleUnavailable = when(GoogleUnavailableError, () => ({ status: 503, text: 'login.errors.googleUnavailable' }));
const googleUnverified = when(UnverifiedFederatedEmailError, () => ({ status: 403, text: 'login.errors.googleUnverified' }));
const googleNoAccount = when(RegistrationClosedError, () => ({ status: 403, text: 'login.errors.googleNoAccount' }));
const googleInUse = when(IdentityInUseError, () => ({ status: 409, text: 'login.errors.googleInUse' }));

const linkingGoogleFailed = when(GoogleSignInError, (error) => ({
  status: 400,
  text: error.reason === 'cancelled' ? 'account.notices.googleCancelled' : 'account.notices.googleFailed',
}));
const reauthGoogleFailed = when(GoogleSignInError, () => ({ status: 400, text: 'account.notices.googleFailed' }));
const accountGoogleUnavailable = when(GoogleUnavailableError, () => ({ status: 503, text: 'account.notices.googleUnavailable' }));
const accountGoogleInUse = when(IdentityInUseError, () => ({ status: 409, text: 'account.notices.googleInUse' }));
const lastSignInMethod = when(LastSignInMethodError, () => ({ status: 409, text: 'account.notices.lastMethod' }));
const passkeyName = when(PasskeyNameError, () => ({ status: 400, text: 'account.notices.passkeyName' }));
const passkeyNotAdded = when(PasskeyRejectedError, () => ({ status: 400, text: 'account.notices.passkeyNotAdded' }));
const passkeyGone = when(PasskeyNotFoundError, () => ({ status: 404, text: 'account.notices.passkeyGone' }));
const lastSecondFactor = when(SecondFactorRequiredError, () => ({ status: 409, text: 'account.notices.lastSecondFactor' }));
const appAlreadyOn = when(TotpAlreadyEnabledError, () => ({ status: 409, text: 'account.notices.twoStepAlreadyOn' }));
const noAppForCodes = when(WrongSecondFactorCodeError, () => ({ status: 409, text: 'account.notices.twoStepOff' }));
const appRequired = when(SecondFactorRequiredError, () => ({ status: 409, text: 'account.notices.twoStepRequired' }));

const code = [wrongCode, codeLocked];
const passkey = [passkeyExpired, passkeyRejected, accountDisabled, ...code];
const reauth = [reauthFailed, accountLocked, ...passkey];

/** What the person was doing, and the refusals it can meet: the first rule that knows the error answers. */
const refusalsOf = {
  // The sign-in pages (an interaction).
  signInPassword: [wrongCredentials, accountLocked, accountDisabled],
  signInGoogleStart: [googleUnavailable],
  signInGoogle: [googleFailed, googleUnavailable, googleUnverified, googleNoAccount, accountDisabled, googleInUse],
  registration: [weakPassword, passwordMismatch, invalidEmail],
  /** A passkey's answer, to sign in, as a second factor or to re-authenticate. */
  passkey,
  /** An authenticator app's code or a recovery code. */
  code,
  // The account page and the pages behind mailed links.
  passwordChange: [wrongCurrentPassword, weakPassword, passwordMismatch],
  passwordReset: [weakPassword, passwordMismatch],
  emailAddress: [invalidEmail],
  googleStart: [accountGoogleUnavailable],
  googleLink: [accountGoogleInUse, linkingGoogleFailed, accountGoogleUnavailable],
  googleUnlink: [lastSignInMethod],
  reauth,
  reauthGoogle: [reauthGoogleFailed, accountGoogleUnavailable, ...reauth],
  passkeyAdd: [passkeyName, passkeyNotAdded, ...passkey],
  passkeyRename: [passkeyName, passkeyGone],
  passkeyRemove: [passkeyGone, lastSecondFactor],
  appSetup: [appAlreadyOn],
  recoveryCodes: [noAppForCodes],
  appRemoval: [appRequired],
} satisfies Record<string, Rule[]>;

export type RefusedAction = keyof typeof refusalsOf;

/** The one mapping of domain errors to our pages: what the person reads when `action` was refused; any other error is thrown on. */
export function refusal(action: RefusedAction, error: unknown): Refusal {
  for (const rule of refusalsOf[action]) {
    const known = rule(error);
    if (known) return known;
  }
  throw error;
}

/** A refusal as a form's errors: beside its field, or above the form. */
export const formErrorOf = (known: Refusal): Record<string, Message> => ({ [known.field ?? 'form']: known.text });
