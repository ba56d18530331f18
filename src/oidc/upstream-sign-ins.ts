import type { Middleware } from 'koa';
import type { AdapterConstructor, AdapterPayload, KoaContextWithOIDC } from 'oidc-provider';

/** Where the records live in the model store, beside the sessions they describe. */
const MODEL = 'UpstreamSignIn';

/** What a code or refresh token says of the sign-in it came from. */
interface SignInOfToken {
  sessionUid?: string | undefined;
  authTime?: number | undefined;
  amr?: string[] | undefined;
}

/**
 * Which upstream identity provider a session's sign-in went through, for the ID token's `idp` claim (as
 * Keycloak and Entra ID name it). node-oidc-provider keeps only the account, `amr`, `acr` and time of a
 * sign-in, so the provider is recorded beside the session, in the same store, under its uid: the sign-in
 * step puts it in the interaction's result (`login.idp`), and `recorder`, once node-oidc-provider has resumed
 * the authorization and saved the session, writes it with the sign-in's time. A token names the session and
 * the time of its sign-in: a later sign-in of the same session by another method removes the record, and a
 * token of an earlier sign-in (another time) finds none of its own.
 */
export function upstreamSignIns(Adapter: AdapterConstructor, ttlSeconds: number) {
  const store = new Adapter(MODEL);

  const recorder: Middleware = async (ctx, next) => {
    await next();
    const { oidc } = ctx as unknown as Partial<KoaContextWithOIDC>;
    if (oidc?.route !== 'resume') return;
    const login = oidc.result?.login as { idp?: unknown; amr?: unknown } | undefined;
    const session = oidc.session as { uid?: string; loginTs?: number } | undefined;
    if (!login || !session?.uid || !session.loginTs) return;
    // A second factor asked of a session signed in upstream (a step-up) keeps that first factor, and its provider.
    const idp = typeof login.idp === 'string' ? login.idp : Array.isArray(login.amr) && login.amr.includes('fed') ? await providerOfSession(session.uid) : undefined;
    // A sign-in by another method replaces the session's record too (its time alone could be the same second).
    if (idp) await store.upsert(session.uid, { idp, loginTs: session.loginTs } as AdapterPayload, ttlSeconds);
    else await store.destroy(session.uid);
  };

  async function providerOfSession(sessionUid: string): Promise<string | undefined> {
    const found = (await store.find(sessionUid)) as { idp?: unknown } | undefined;
    return typeof found?.idp === 'string' ? found.idp : undefined;
  }

  return {
    recorder,
    /** The provider of the sign-in a code or refresh token came from; undefined for any other sign-in. */
    async of(token: SignInOfToken | undefined): Promise<string | undefined> {
      if (!token?.sessionUid || !token.amr?.includes('fed')) return undefined;
      const found = (await store.find(token.sessionUid)) as { idp?: unknown; loginTs?: unknown } | undefined;
      return found && found.loginTs === token.authTime && typeof found.idp === 'string' ? found.idp : undefined;
    },
  };
}
