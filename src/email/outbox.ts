import { randomUUID } from 'node:crypto';
import Router from '@koa/router';

import { PageError } from '../http/errors.ts';
import type { Views } from '../http/views.ts';
import type { Logger } from '../logger.ts';
import type { OutgoingMail } from './mailer.ts';

interface StoredMail extends OutgoingMail {
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

  routes(views: Views): Router {
    const router = new Router({ prefix: '/dev/outbox' });
    router.get('/', (ctx) => views.render(ctx, 'dev-outbox', { mails: this.#mails }));
    router.get('/:id', (ctx) => {
      const mail = this.#mails.find((m) => m.id === ctx.params.id);
      if (!mail) throw new PageError(404, 'noSuchMail');
      const links = [...mail.text.matchAll(/https?:\/\/\S+/g)].map((match) => match[0]);
      views.render(ctx, 'dev-outbox-message', { mail, links });
    });
    return router;
  }
}
