import type { Transporter } from 'nodemailer';

import type { Logger } from '../logger.ts';
import type { OutgoingMail } from './outgoing-mail.ts';

export interface Mailer {
  send(mail: OutgoingMail): Promise<void>;
  /**
   * Composes and sends after the response: a page that mails only some people (a known address)
   * must answer as fast, and fail as rarely, as one that mails nobody, or it tells who has an account.
   */
  sendInBackground(compose: () => OutgoingMail | Promise<OutgoingMail>): void;
  /** Waits for mail still being sent (at shutdown, and in tests). */
  drain(): Promise<void>;
}

export function createMailer(options: {
  smtpUrl: string | undefined;
  from: string;
  /** Development only: where mail goes when there is no SMTP server. */
  outbox: { deliver(mail: OutgoingMail): void } | undefined;
  log: Logger;
  onResult?: (outcome: 'sent' | 'failed') => void;
}): Mailer {
  const { from, outbox, log, onResult } = options;
  const { smtpUrl } = options;
  // nodemailer loads with the first mail, not at start: a node that sends none never holds it in memory.
  let transport: Promise<Transporter> | undefined;
  const smtp = (url: string) => (transport ??= import('nodemailer').then((nodemailer) => nodemailer.createTransport(url)));
  const pending = new Set<Promise<void>>();

  async function send(mail: OutgoingMail) {
    if (smtpUrl) {
      try {
        await (await smtp(smtpUrl)).sendMail({ from, to: mail.to, subject: mail.subject, html: mail.html, text: mail.text });
      } catch (error) {
        onResult?.('failed');
        throw new Error(`sending "${mail.subject}" to ${mail.to} failed: ${(error as Error).message}`);
      }
      onResult?.('sent');
      log.info({ to: mail.to, subject: mail.subject }, 'mail sent');
    } else if (outbox) {
      outbox.deliver(mail);
    } else {
      throw new Error('no mail transport configured');
    }
  }

  return {
    send,
    sendInBackground(compose) {
      const sending = Promise.resolve()
        .then(compose)
        .then(send)
        .catch((err: Error) => log.error({ reason: err.message }, 'mail failed'))
        .finally(() => pending.delete(sending));
      pending.add(sending);
    },
    async drain() {
      await Promise.all([...pending]);
    },
  };
}
