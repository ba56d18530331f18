import type { Context } from 'koa';

import { decodeCookieJson, encodeCookieJson } from './json-cookie.ts';

/**
 * Binds a registration to the browser that made it: the interaction it belongs to and the account it
 * created (for a taken address, an id no account has). Signed, so neither can be changed; its holder still
 * needs the interaction's own cookie to finish the sign-in. A mailed link alone signs no one in.
 */
export interface Registered {
  uid: string;
  accountId: string;
  /** The address typed, for the "check your email" page shown again. */
  email: string;
}

const COOKIE = 'registered';
/** As long as an interaction lives. */
const ONE_HOUR = 60 * 60 * 1000;

/** Path `/`: the page behind the mailed link, outside the interaction's path, must see it too. */
export function keepRegistered(ctx: Context, registered: Registered): void {
  ctx.cookies.set(COOKIE, encodeCookieJson(registered), { signed: true, httpOnly: true, sameSite: 'lax', secure: ctx.secure, path: '/', maxAge: ONE_HOUR });
}

/** The registration this browser made in the interaction `uid`, if any. */
export function registeredIn(ctx: Context, uid: string): Registered | undefined {
  const registered = decodeCookieJson<Registered>(ctx.cookies.get(COOKIE, { signed: true }));
  return registered?.uid === uid && typeof registered.accountId === 'string' && typeof registered.email === 'string' ? registered : undefined;
}

export function forgetRegistered(ctx: Context): void {
  ctx.cookies.set(COOKIE, null, { path: '/' });
}
