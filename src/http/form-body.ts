import { bodyParser } from '@koa/bodyparser';
import type { Middleware } from 'koa';

import { checkedBody, refusedBody } from './request-body.ts';

/** Parses urlencoded forms only, and refuses bodies over 16 KiB with a 413. */
export function formBody(): Middleware {
  return checkedBody(bodyParser({ enableTypes: ['form'], formLimit: '16kb', encoding: 'utf-8', onError: refusedBody }) as Middleware);
}
