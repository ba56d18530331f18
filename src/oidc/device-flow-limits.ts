import type { Context, Middleware } from 'koa';
import type { KoaContextWithOIDC } from 'oidc-provider';

import { DEVICE_POLL_INTERVAL_SECONDS, type RateLimits } from '../http/index.ts';
import { message, type Views } from '../views/index.ts';

const DEVICE_CODE_GRANT = 'urn:ietf:params:oauth:grant-type:device_code';
/** node-oidc-provider's session cookie: its value names the browser session a code was typed in. */
const SESSION_COOKIE = '_session';

/** ctx.state flag, set by the code page when node-oidc-provider found no device code for what was typed. */
export const WRONG_USER_CODE = 'wrongUserCode';

/**
 * The device flow's pace (RFC 8628): the device learns its polling interval and is told
 * `slow_down` when it polls sooner; wrong user codes are limited per IP and per browser session,
 * and while locked no code is looked up at all, so a right guess looks like a wrong one.
 * node-oidc-provider middleware (provider.use): it sees the request before and the answer after.
 */
export function deviceFlowLimits(deps: { rateLimits: Pick<RateLimits, 'userCodes' | 'pollTooSoon'>; views: Views }): Middleware {
  const { rateLimits, views } = deps;
  const minutes = (seconds: number) => Math.max(1, Math.ceil(seconds / 60));

  return async (ctx, next) => {
    const typingCode = ctx.method === 'POST' && ctx.path === '/device';
    if (typingCode) {
      const lockedFor = await rateLimits.userCodes.lockedFor(ctx.ip, ctx.cookies.get(SESSION_COOKIE));
      if (lockedFor > 0) {
        ctx.set('Retry-After', String(lockedFor));
        return views.render(ctx as Context, 'error', {
          title: 'device.title',
          message: message('device.errors.tooMany', { minutes: minutes(lockedFor) }),
        }, 429);
      }
    }

    await next();

    const { oidc } = ctx as unknown as Partial<KoaContextWithOIDC>;
    if (typingCode && ctx.state[WRONG_USER_CODE]) {
      await rateLimits.userCodes.recordWrong(ctx.ip, ctx.cookies.get(SESSION_COOKIE));
    } else if (oidc?.route === 'device_authorization' && ctx.status === 200) {
      (ctx.body as Record<string, unknown>).interval = DEVICE_POLL_INTERVAL_SECONDS;
    } else if (oidc?.route === 'token' && oidc.params?.grant_type === DEVICE_CODE_GRANT) {
      const pending = (ctx.body as { error?: string } | undefined)?.error === 'authorization_pending';
      if (pending && (await rateLimits.pollTooSoon(String(oidc.params.device_code)))) {
        ctx.body = { error: 'slow_down', error_description: `poll at most every ${DEVICE_POLL_INTERVAL_SECONDS} seconds` };
      }
    }
  };
}
