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

export class WeakPasswordError extends Error {}

export class InvalidAccountInputError extends Error {}
