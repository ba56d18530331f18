import { createHmac } from 'node:crypto';
import type { Context } from 'koa';

const COOKIE = 'known_device';
const MAX_AGE_MS = 180 * 24 * 60 * 60 * 1000;
/** Accounts one browser remembers; the oldest is forgotten first. */
const MAX_ACCOUNTS = 10;

/**
 * A browser that has signed in to an account with its password before. Such a browser may still
 * try the password while the account's email is locked by someone else's guesses (finding 5:
 * a lock must not lock out the owner). The cookie holds, for each account, a tag only the server
 * can make (an HMAC of the account id under a cookie key), so it names no account to its reader
 * and cannot be made for another; it is also signed, httpOnly and sent to the interaction pages only.
 */
export interface KnownDevices {
  /** Whether this browser signed in to the account before. */
  knows(ctx: Context, accountId: string): boolean;
  /** Remembers the account in this browser (after a successful password sign-in). */
  remember(ctx: Context, accountId: string): void;
}

export function knownDevices(cookieKeys: string[]): KnownDevices {
  // Every key verifies, the first one tags, as for signed cookies: a key rotation forgets no device.
  const tagsOf = (accountId: string) =>
    cookieKeys.map((key) => createHmac('sha256', key).update(`known-device:${accountId}`).digest('base64url').slice(0, 22));
  const read = (ctx: Context) => (ctx.cookies.get(COOKIE, { signed: true }) ?? '').split('.').filter(Boolean);

  return {
    knows(ctx, accountId) {
      const stored = new Set(read(ctx));
      return tagsOf(accountId).some((tag) => stored.has(tag));
    },
    remember(ctx, accountId) {
      const own = new Set(tagsOf(accountId));
      const others = read(ctx).filter((tag) => !own.has(tag));
      const tags = [...others, tagsOf(accountId)[0]!].slice(-MAX_ACCOUNTS);
      ctx.cookies.set(COOKIE, tags.join('.'), {
        signed: true,
        httpOnly: true,
        sameSite: 'lax',
        secure: ctx.secure,
        path: '/interaction',
        maxAge: MAX_AGE_MS,
        overwrite: true,
      });
    },
  };
}
