import {
  AccountDisabledError,
  PasskeyChallengeError,
  PasskeyRejectedError,
  SecondFactorLockedError,
  WrongSecondFactorCodeError,
} from '../accounts/index.ts';
import { message, type Message } from '../views/index.ts';
import { minutesUntil } from './forms.ts';

/** What the person reads when a code (TOTP or recovery) is refused; anything else is thrown on. */
export function codeRefusal(error: unknown): { text: Message; status: number } {
  if (error instanceof WrongSecondFactorCodeError) return { text: 'secondFactor.errors.wrong', status: 400 };
  if (error instanceof SecondFactorLockedError) return { text: message('secondFactor.errors.locked', { minutes: minutesUntil(error.retryAfterSeconds) }), status: 429 };
  throw error;
}

/** Why a passkey was not accepted, in words; anything else is not ours to answer. */
export function passkeyRefusal(error: unknown): { text: Message; status: number } {
  if (error instanceof PasskeyChallengeError) return { text: 'passkeys.errors.expired', status: 400 };
  if (error instanceof PasskeyRejectedError) return { text: 'passkeys.errors.rejected', status: 400 };
  if (error instanceof AccountDisabledError) return { text: 'login.errors.disabled', status: 403 };
  return codeRefusal(error);
}
