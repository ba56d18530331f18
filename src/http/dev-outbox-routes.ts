import Router from '@koa/router';

import type { DevOutbox } from '../email/index.ts';
import type { Views } from '../views/index.ts';
import { PageError } from './errors.ts';

/** Development only: the mail kept in the outbox, listed at /dev/outbox with the links each message carries. */
export function devOutboxRoutes(outbox: DevOutbox, views: Views): Router {
  const router = new Router({ prefix: '/dev/outbox' });
  router.get('/', (ctx) => views.render(ctx, 'dev-outbox', { mails: outbox.list() }));
  router.get('/:id', (ctx) => {
    const mail = outbox.find(ctx.params.id ?? '');
    if (!mail) throw new PageError(404, 'noSuchMail');
    const links = [...mail.text.matchAll(/https?:\/\/\S+/g)].map((match) => match[0]);
    views.render(ctx, 'dev-outbox-message', { mail, links });
  });
  return router;
}
