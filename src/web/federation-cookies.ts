import type { Context } from 'koa';

import type { FederatedProfile } from '../accounts/index.ts';
import type { UpstreamChecks } from '../upstream/index.ts';
import { decodeCookieJson, encodeCookieJson } from './json-cookie.ts';

/**
 * Where a round trip to an upstream provider (`provider`, its id) started: a sign-in (an interaction),
 * linking or re-authenticating from the account page.
 */
export type UpstreamFlow = { provider: string; checks: UpstreamChecks } & (
  | { mode: 'login'; uid: string }
  | { mode: 'link'; accountId: string }
  | { mode: 'reauth'; accountId: string; sessionUid: string; askedAt: number; returnTo: string }
);

const FLOW_COOKIE = 'upstream_flow';
const PENDING_COOKIE = 'upstream_pending';
const TEN_MINUTES = 10 * 60 * 1000;


const cookieOptions = (ctx: Context, path: string) =>
  ({ signed: true, httpOnly: true, sameSite: 'lax', secure: ctx.secure, path, maxAge: TEN_MINUTES }) as const;

/** Signed and httpOnly: state, nonce and PKCE verifier never leave the server readable or forgeable. */
export function keepFlow(ctx: Context, flow: UpstreamFlow): void {
  ctx.cookies.set(FLOW_COOKIE, encodeCookieJson(flow), cookieOptions(ctx, '/'));
}

/** The flow, once: the cookie is cleared as it is read. */
export function takeFlow(ctx: Context): UpstreamFlow | undefined {
  const flow = decodeCookieJson<UpstreamFlow>(ctx.cookies.get(FLOW_COOKIE, { signed: true }));
  ctx.cookies.set(FLOW_COOKIE, null, { path: '/' });
  return flow;
}

/** An upstream identity waiting for its local account's password before it may be linked. */
export function keepPendingLink(ctx: Context, uid: string, profile: FederatedProfile): void {
  ctx.cookies.set(PENDING_COOKIE, encodeCookieJson(profile), cookieOptions(ctx, `/interaction/${uid}`));
}

export function takePendingLink(ctx: Context, uid: string): FederatedProfile | undefined {
  const profile = decodeCookieJson<FederatedProfile>(ctx.cookies.get(PENDING_COOKIE, { signed: true }));
  if (profile) ctx.cookies.set(PENDING_COOKIE, null, { path: `/interaction/${uid}` });
  return profile;
}

/** The flow, left in place: the fixed callback only forwards the browser to where the flow is taken. */
export function peekFlow(ctx: Context): UpstreamFlow | undefined {
  return decodeCookieJson<UpstreamFlow>(ctx.cookies.get(FLOW_COOKIE, { signed: true }));
}
