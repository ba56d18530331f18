import { readFileSync } from 'node:fs';
import path from 'node:path';

import { projectRoot } from '../paths.ts';
import { WeakPasswordError } from './errors.ts';

export const PASSWORD_MAX_LENGTH = 256;

export interface PasswordPolicy {
  minLength: number;
}

let commonPasswords: Set<string> | undefined;

/** The shipped list of the most common passwords (config/common-passwords.txt), loaded once. */
function isCommon(password: string): boolean {
  commonPasswords ??= new Set(
    readFileSync(path.join(projectRoot, 'config', 'common-passwords.txt'), 'utf8')
      .split('\n')
      .filter((line) => line && !line.startsWith('#'))
      .map((line) => line.trim().toLowerCase()),
  );
  return commonPasswords.has(password.toLowerCase());
}

/** Throws WeakPasswordError with a message a person can act on. */
export function checkPassword(policy: PasswordPolicy, password: string): void {
  const length = [...password].length;
  if (length < policy.minLength) {
    throw new WeakPasswordError('too-short', `The password must be at least ${policy.minLength} characters long.`, policy.minLength);
  }
  if (length > PASSWORD_MAX_LENGTH) {
    throw new WeakPasswordError('too-long', `The password must be at most ${PASSWORD_MAX_LENGTH} characters long.`, PASSWORD_MAX_LENGTH);
  }
  if (password.trim().length === 0) {
    throw new WeakPasswordError('blank', 'The password must not be only spaces.');
  }
  if (isCommon(password)) {
    throw new WeakPasswordError('common', 'This password is one of the most common ones and easy to guess. Choose another.');
  }
}
