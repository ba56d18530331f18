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

/** The IdP session of this browser, if any. */
export async function currentSession(provider: Provider, ctx: Context): Promise<SignedInSession | undefined> {
  const sessionId = ctx.cookies.get(provider.cookieName('session'), { signed: true });
  if (!sessionId) return undefined;
  return signedIn(await provider.Session.find(sessionId));
}

/** The IdP session a token was issued in, by the uid the token names. */
export async function sessionByUid(provider: Provider, uid: string): Promise<SignedInSession | undefined> {
  return signedIn(await provider.Session.findByUid(uid));
}
