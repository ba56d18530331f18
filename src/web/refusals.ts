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
import { UpstreamSignInError, UpstreamUnavailableError } from '../upstream/index.ts';
import { message, type Message, type MessageParams } from '../views/index.ts';

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

const upstreamFailed = when(UpstreamSignInError, (error) =>
  error.reason === 'cancelled'
    ? { status: 400, text: 'login.errors.upstreamCancelled' }
    : error.reason === 'hosted-domain'
      ? { status: 403, text: 'login.errors.upstreamHostedDomain' }
      : { status: 400, text: 'login.errors.upstreamFailed' },
);
/** 424 Failed Dependency, not a 5xx: this IdP is up and its other sign-in methods work; the upstream is not (#21). */
const upstreamUnavailable = when(UpstreamUnavailableError, () => ({ status: 424, text: 'login.errors.upstreamUnavailable' }));
const upstreamUnverified = when(UnverifiedFederatedEmailError, () => ({ status: 403, text: 'login.errors.upstreamUnverified' }));
const upstreamNoAccount = when(RegistrationClosedError, () => ({ status: 403, text: 'login.errors.upstreamNoAccount' }));
const upstreamInUse = when(IdentityInUseError, () => ({ status: 409, text: 'login.errors.upstreamInUse' }));

const linkingUpstreamFailed = when(UpstreamSignInError, (error) => ({
  status: 400,
  text: error.reason === 'cancelled' ? 'account.notices.upstreamCancelled' : 'account.notices.upstreamFailed',
}));
const reauthUpstreamFailed = when(UpstreamSignInError, () => ({ status: 400, text: 'account.notices.upstreamFailed' }));
const accountUpstreamUnavailable = when(UpstreamUnavailableError, () => ({ status: 424, text: 'account.notices.upstreamUnavailable' }));
const accountUpstreamInUse = when(IdentityInUseError, () => ({ status: 409, text: 'account.notices.upstreamInUse' }));
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
  signInUpstreamStart: [upstreamUnavailable],
  signInUpstream: [upstreamFailed, upstreamUnavailable, upstreamUnverified, upstreamNoAccount, accountDisabled, upstreamInUse],
  registration: [weakPassword, passwordMismatch, invalidEmail],
  /** A passkey's answer, to sign in, as a second factor or to re-authenticate. */
  passkey,
  /** An authenticator app's code or a recovery code. */
  code,
  // The account page and the pages behind mailed links.
  passwordChange: [wrongCurrentPassword, weakPassword, passwordMismatch],
  passwordReset: [weakPassword, passwordMismatch],
  emailAddress: [invalidEmail],
  upstreamStart: [accountUpstreamUnavailable],
  upstreamLink: [accountUpstreamInUse, linkingUpstreamFailed, accountUpstreamUnavailable],
  upstreamUnlink: [lastSignInMethod],
  reauth,
  reauthUpstream: [reauthUpstreamFailed, accountUpstreamUnavailable, ...reauth],
  passkeyAdd: [passkeyName, passkeyNotAdded, ...passkey],
  passkeyRename: [passkeyName, passkeyGone],
  passkeyRemove: [passkeyGone, lastSecondFactor],
  appSetup: [appAlreadyOn],
  recoveryCodes: [noAppForCodes],
  appRemoval: [appRequired],
} satisfies Record<string, Rule[]>;

export type RefusedAction = keyof typeof refusalsOf;

/**
 * The one mapping of domain errors to our pages: what the person reads when `action` was refused; any other error is thrown on.
 * `params` fill the words' blanks (`{provider}`: which identity provider the person was using).
 */
export function refusal(action: RefusedAction, error: unknown, params?: MessageParams): Refusal {
  for (const rule of refusalsOf[action]) {
    const known = rule(error);
    if (known) return params ? { ...known, text: withParams(known.text, params) } : known;
  }
  throw error;
}

const withParams = (text: Message, params: MessageParams): Message =>
  typeof text === 'string' ? message(text, params) : message(text.key, { ...params, ...text.params });

/** A refusal as a form's errors: beside its field, or above the form. */
export const formErrorOf = (known: Refusal): Record<string, Message> => ({ [known.field ?? 'form']: known.text });
