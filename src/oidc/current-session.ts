import type { Context } from 'koa';
import type Provider from 'oidc-provider';

/** An IdP session (node-oidc-provider's) with a person signed in: its id (the cookie's value), its uid, who, and since when. */
export interface SignedInSession {
  sessionId: string;
  /** What tokens name the session by (`sessionUid`); never the cookie's value. */
  uid: string;
  accountId: string;
  /** When the person last signed in within this session (epoch seconds). */
  loginTs: number | undefined;
}

const signedIn = (session: InstanceType<Provider['Session']> | undefined): SignedInSession | undefined =>
  session?.accountId ? { sessionId: session.jti, uid: session.uid, accountId: session.accountId, loginTs: session.loginTs } : undefined;

/**
 * The IdP session of this browser, if any. Given our context (no `ctx.oidc`), `Session.get` reads the
 * signed cookie through `provider.createContext(ctx.req, ctx.res)` itself and keeps our `ctx.secure`
 * (the issuer's https, also behind a proxy) for the cookie library's signature refresh. It only
 * loads: without a live session it returns an unsaved one with no account, and writes no cookie.
 */
export async function currentSession(provider: Provider, ctx: Context): Promise<SignedInSession | undefined> {
  return signedIn(await provider.Session.get(ctx));
}

/** The IdP session a token was issued in, by the uid the token names. */
export async function sessionByUid(provider: Provider, uid: string): Promise<SignedInSession | undefined> {
  return signedIn(await provider.Session.findByUid(uid));
}
