import { WeakPasswordError } from './errors.ts';

export const PASSWORD_MAX_LENGTH = 256;

export interface PasswordPolicy {
  minLength: number;
}

/** Throws WeakPasswordError with a message a person can act on. */
export function checkPassword(policy: PasswordPolicy, password: string): void {
  const length = [...password].length;
  if (length < policy.minLength) {
    throw new WeakPasswordError(`The password must be at least ${policy.minLength} characters long.`);
  }
  if (length > PASSWORD_MAX_LENGTH) {
    throw new WeakPasswordError(`The password must be at most ${PASSWORD_MAX_LENGTH} characters long.`);
  }
  if (password.trim().length === 0) {
    throw new WeakPasswordError('The password must not be only spaces.');
  }
}
