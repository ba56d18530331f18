import { randomUUID } from 'node:crypto';

import type { Logger } from '../logger.ts';
import type { OutgoingMail } from './outgoing-mail.ts';

export interface StoredMail extends OutgoingMail {
  id: string;
  at: Date;
}

const KEPT = 100;

/**
 * Development only: mail is kept in memory and listed at /dev/outbox. The log line points to
 * the message there, not to the links inside it, which carry one-time tokens.
 */
export class DevOutbox {
  readonly #mails: StoredMail[] = [];

  constructor(
    private readonly issuer: string,
    private readonly log: Logger,
  ) {}

  deliver(mail: OutgoingMail): void {
    const stored = { ...mail, id: randomUUID(), at: new Date() };
    this.#mails.unshift(stored);
    this.#mails.length = Math.min(this.#mails.length, KEPT);
    this.log.info({ to: mail.to, subject: mail.subject, read: `${this.issuer}/dev/outbox/${stored.id}` }, 'mail kept in the development outbox');
  }

  /** Newest first. */
  list(): readonly StoredMail[] {
    return this.#mails;
  }

  find(id: string): StoredMail | undefined {
    return this.#mails.find((mail) => mail.id === id);
  }
}
