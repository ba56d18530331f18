/** A failure the person can act on: shown as a readable page with this status. */
export class PageError extends Error {
  constructor(
    readonly status: number,
    readonly title: string,
    message: string,
  ) {
    super(message);
  }
}

export class CsrfError extends PageError {
  constructor() {
    super(403, 'This form has expired', 'Go back, reload the page and try again.');
  }
}
