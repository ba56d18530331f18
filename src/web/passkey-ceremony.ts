import type { Context } from 'koa';

import { CHALLENGE_TTL_MS, type Ceremony } from '../accounts/index.ts';

/**
 * The browser's half of a passkey ceremony: a random key to the challenge kept on the server,
 * in a signed, httpOnly cookie, so that only the browser that started a ceremony can finish it.
 */
const COOKIE = 'passkey_ceremony';

/** Keeps the ceremony's key and answers the script with the options for the authenticator. */
export function startCeremony(ctx: Context, ceremony: Ceremony<unknown>): void {
  ctx.cookies.set(COOKIE, ceremony.key, { signed: true, httpOnly: true, sameSite: 'lax', secure: ctx.secure, path: '/', maxAge: CHALLENGE_TTL_MS });
  ctx.set('Cache-Control', 'no-store');
  ctx.type = 'json';
  ctx.body = ceremony.options;
}

/** The key, once ('' when there is none): the cookie is cleared as it is read. */
export function takeCeremonyKey(ctx: Context): string {
  const key = ctx.cookies.get(COOKIE, { signed: true }) ?? '';
  ctx.cookies.set(COOKIE, null, { path: '/' });
  return key;
}

/** The authenticator's answer the script put in the form (JSON), or '' when the form came without it. */
export function passkeyAnswer(ctx: Context): string {
  const value = (ctx.request.body as Record<string, unknown> | undefined)?.response;
  return typeof value === 'string' ? value : '';
}
