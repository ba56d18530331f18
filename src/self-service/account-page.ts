import type { Context } from 'koa';
import type Provider from 'oidc-provider';

import {
  type Account,
  type AccountAdministration,
  type AccountService,
  type Federation,
  type MfaPolicy,
  type Passkeys,
  policyRequiresSecondFactor,
  type SecondFactors,
  TIME_ZONES,
} from '../accounts/index.ts';
import { PageError } from '../http/index.ts';
import { type AccountSessions, currentSession, type SignedInSession } from '../oidc/index.ts';
import type { Message, Views } from '../views/index.ts';
import { deviceOf, type RefusedAction, refusal } from '../web/index.ts';


export interface Notice {
  kind: 'ok' | 'error';
  text: Message;
}

/** A refused change as the account page shows it: an error notice, with the refusal's status; any other error is thrown on. */
export function refusalNotice(action: RefusedAction, error: unknown): { notice: Notice; status: number } {
  const { text, status } = refusal(action, error);
  return { notice: { kind: 'error', text }, status };
}

export interface AccountPageDeps {
  provider: Provider;
  accounts: AccountService;
  administration: AccountAdministration;
  federation: Federation;
  secondFactors: SecondFactors;
  /** Undefined when the issuer cannot have passkeys. */
  passkeys: Passkeys | undefined;
  sessions: AccountSessions;
  mfa: MfaPolicy;
  googleEnabled: boolean;
  views: Views;
}


/** The signed-in person and the one page that shows everything about their account. */
export function accountPage(deps: AccountPageDeps) {
  const { provider, accounts, views } = deps;

  async function signedIn(ctx: Context): Promise<{ account: Account; sessionId: string; session: SignedInSession }> {
    const session = await currentSession(provider, ctx);
    const account = session ? await accounts.findActiveAccount(session.accountId) : undefined;
    if (!session || !account) throw new PageError(401, 'notSignedIn');
    return { account, sessionId: session.sessionId, session };
  }

  /** Whether policy makes this account keep a second factor. */
  async function mfaRequired(accountId: string): Promise<boolean> {
    return policyRequiresSecondFactor(deps.mfa, () => accounts.rolesOf(accountId));
  }

  async function render(ctx: Context, options: { notice?: Notice; errors?: Record<string, Message>; form?: Record<string, string>; status?: number } = {}) {
    const { account, sessionId } = await signedIn(ctx);
    const [identities, twoStep, passkeys, sessions, apps, history] = await Promise.all([
      deps.federation.identitiesOf(account.id),
      deps.secondFactors.status(account.id),
      deps.passkeys?.list(account.id),
      deps.sessions.list(account.id, { sessionId }),
      deps.sessions.apps(account.id),
      deps.administration.loginHistory(account.id, 10),
    ]);
    // Apps by the names people know them by (client_name), not their client ids.
    const names = new Map<string, string>();
    for (const clientId of new Set([...apps.map((app) => app.clientId), ...sessions.flatMap((session) => session.clientIds)])) {
      const client = await provider.Client.find(clientId);
      names.set(clientId, client?.clientName ?? clientId);
    }
    views.render(
      ctx,
      'account',
      {
        account,
        hasPassword: Boolean(account.password_hash),
        googleEnabled: deps.googleEnabled,
        googleIdentity: identities.find((identity) => identity.provider === 'google'),
        twoStep,
        passkeys,
        passkeyScripts: Boolean(passkeys),
        mfaRequired: await mfaRequired(account.id),
        sessions: sessions.map((session) => ({ ...session, device: deviceOf(session.userAgent), appNames: session.clientIds.map((id) => names.get(id)!) })),
        apps: apps.map((app) => ({ ...app, name: names.get(app.clientId)! })),
        history,
        timeZones: TIME_ZONES,
        notice: options.notice,
        errors: options.errors ?? {},
        form: options.form ?? {},
      },
      options.status ?? 200,
    );
  }

  return { signedIn, render, mfaRequired };
}

export type AccountPage = ReturnType<typeof accountPage>;
