import type { Middleware } from 'koa';
import { errors } from 'oidc-provider';

import { PageError } from '../http/index.ts';

/** A missing, expired or tampered interaction: node-oidc-provider's SessionNotFound, as a readable page. */
export const expiredInteraction: Middleware = async (ctx, next) => {
  ctx.set('Cache-Control', 'no-store');
  try {
    await next();
  } catch (error) {
    if (error instanceof errors.SessionNotFound) {
      throw new PageError(400, 'interactionExpired');
    }
    throw error;
  }
};
