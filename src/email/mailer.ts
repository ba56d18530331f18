import nodemailer from 'nodemailer';

import type { Logger } from '../logger.ts';
import type { DevOutbox } from './outbox.ts';

export interface OutgoingMail {
  to: string;
  subject: string;
  html: string;
  text: string;
}

export interface Mailer {
  send(mail: OutgoingMail): Promise<void>;
  /**
   * Sends after the response: a page that mails only some people (a known address) must
   * answer as fast as one that mails nobody, or its timing tells who has an account.
   */
  sendInBackground(mail: OutgoingMail): void;
  /** Waits for mail still being sent (at shutdown, and in tests). */
  drain(): Promise<void>;
}

export function createMailer(options: {
  smtpUrl: string | undefined;
  from: string;
  outbox: DevOutbox | undefined;
  log: Logger;
}): Mailer {
  const { from, outbox, log } = options;
  const transport = options.smtpUrl ? nodemailer.createTransport(options.smtpUrl) : undefined;
  const pending = new Set<Promise<void>>();

  async function send(mail: OutgoingMail) {
    if (transport) {
      await transport.sendMail({ from, to: mail.to, subject: mail.subject, html: mail.html, text: mail.text });
      log.info({ to: mail.to, subject: mail.subject }, 'mail sent');
    } else if (outbox) {
      outbox.deliver(mail);
    } else {
      throw new Error('no mail transport configured');
    }
  }

  return {
    send,
    sendInBackground(mail) {
      const sending = send(mail)
        .catch((err: Error) => log.error({ to: mail.to, subject: mail.subject, reason: err.message }, 'mail failed'))
        .finally(() => pending.delete(sending));
      pending.add(sending);
    },
    async drain() {
      await Promise.all([...pending]);
    },
  };
}
