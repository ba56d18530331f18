import type { MessageParams } from '../views/index.ts';

/**
 * A failure the person can act on: shown as a readable page with this status. Its words are
 * `errors.<page>.title` and `errors.<page>.message` of the message catalogue; `detail`, when
 * given, is shown instead of the message (text from elsewhere, such as an admin refusal).
 */
export class PageError extends Error {
  constructor(
    readonly status: number,
    readonly page: string,
    readonly detail?: string,
    readonly params?: MessageParams,
  ) {
    super(detail ? `${page}: ${detail}` : page);
  }
}

export class CsrfError extends PageError {
  constructor() {
    super(403, 'formExpired');
  }
}
