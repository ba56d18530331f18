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
import type { ProviderRegistry } from '../upstream/index.ts';
import type { Message, MessageParams, Views } from '../views/index.ts';
import { deviceOf, type RefusedAction, refusal } from '../web/index.ts';


export interface Notice {
  kind: 'ok' | 'error';
  text: Message;
}

/** A refused change as the account page shows it: an error notice, with the refusal's status; any other error is thrown on. */
export function refusalNotice(action: RefusedAction, error: unknown, params?: MessageParams): { notice: Notice; status: number } {
  const { text, status } = refusal(action, error, params);
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
  upstream: ProviderRegistry;
  views: Views;
}


/** The pages of the account area, in navigation order, each at its path. */
export const ACCOUNT_PAGES = {
  profile: '/account',
  security: '/account/security',
  devices: '/account/devices',
  activity: '/account/activity',
  delete: '/account/delete',
} as const;
export type AccountPageName = keyof typeof ACCOUNT_PAGES;

export interface RenderOptions {
  notice?: Notice;
  errors?: Record<string, Message>;
  form?: Record<string, string>;
  status?: number;
}

/** The signed-in person and the pages about their account, each with the shared header. */
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

  /** Apps by the names people know them by (client_name), with the address of their home page when they have one. */
  async function clientsOf(clientIds: Iterable<string>): Promise<Map<string, { name: string; uri: string | undefined }>> {
    const clients = new Map<string, { name: string; uri: string | undefined }>();
    for (const clientId of new Set(clientIds)) {
      const client = await provider.Client.find(clientId);
      clients.set(clientId, { name: client?.clientName ?? clientId, uri: client?.clientUri });
    }
    return clients;
  }

  /** What only one page shows. */
  async function contentOf(name: AccountPageName, account: Account, sessionId: string): Promise<Record<string, unknown>> {
    switch (name) {
      case 'profile':
        return { timeZones: TIME_ZONES };
      case 'security': {
        const [identities, twoStep, passkeys] = await Promise.all([
          deps.federation.identitiesOf(account.id),
          deps.secondFactors.status(account.id),
          deps.passkeys?.list(account.id),
        ]);
        return {
          hasPassword: Boolean(account.password_hash),
          // Every provider offered, linked or not, then identities of providers no longer offered (to unlink them).
          providers: [
            ...deps.upstream.all().map((provider) => ({ id: provider.id, name: provider.name, identity: identities.find((identity) => identity.provider === provider.id) })),
            ...identities.filter((identity) => !deps.upstream.get(identity.provider)).map((identity) => ({ id: identity.provider, name: deps.upstream.nameOf(identity.provider), identity })),
          ],
          twoStep,
          passkeys,
          passkeyScripts: Boolean(passkeys),
          mfaRequired: await mfaRequired(account.id),
        };
      }
      case 'devices': {
        const [sessions, apps] = await Promise.all([deps.sessions.list(account.id, { sessionId }), deps.sessions.apps(account.id)]);
        const clients = await clientsOf([...apps.map((app) => app.clientId), ...sessions.flatMap((session) => session.clientIds)]);
        return {
          sessions: sessionsToShow(sessions).map((session) => ({ ...session, device: deviceOf(session.userAgent), appNames: session.clientIds.map((id) => clients.get(id)!.name) })),
          apps: apps.map((app) => ({ ...app, name: clients.get(app.clientId)!.name })),
        };
      }
      case 'activity':
        return { history: await deps.administration.loginHistory(account.id, 10), methodName: deps.upstream.nameOf };
      case 'delete':
        return {};
    }
  }

  /** "Back to <app>": the home page of the last app this browser signed in to, when it has one. */
  async function backToApp(sessionId: string, accountId: string): Promise<{ name: string; uri: string } | undefined> {
    const current = (await deps.sessions.list(accountId, { sessionId })).find((session) => session.current);
    const clients = await clientsOf([...(current?.clientIds ?? [])].reverse());
    // Only a web address becomes a link, whatever a stored client holds.
    for (const client of clients.values()) if (client.uri && /^https?:\/\//i.test(client.uri)) return { name: client.name, uri: client.uri };
    return undefined;
  }

  async function render(ctx: Context, name: AccountPageName, options: RenderOptions = {}) {
    const { account, sessionId } = await signedIn(ctx);
    const [content, back] = await Promise.all([contentOf(name, account, sessionId), backToApp(sessionId, account.id)]);
    views.render(
      ctx,
      'account',
      {
        page: name,
        pages: ACCOUNT_PAGES,
        account,
        zone: account.zoneinfo || 'UTC',
        backToApp: back,
        ...content,
        notice: options.notice,
        errors: options.errors ?? {},
        form: options.form ?? {},
      },
      options.status ?? 200,
    );
  }

  return { signedIn, render, mfaRequired };
}

/** One row a session: the same session listed twice (an index read twice) shows once; two alike sessions stay two. */
function sessionsToShow<T extends { handle: string; current: boolean; lastUsedAt: Date }>(sessions: T[]): T[] {
  const byHandle = new Map<string, T>();
  for (const session of sessions) if (!byHandle.has(session.handle)) byHandle.set(session.handle, session);
  return [...byHandle.values()].sort((a, b) => Number(b.current) - Number(a.current) || b.lastUsedAt.getTime() - a.lastUsedAt.getTime());
}

export type AccountPage = ReturnType<typeof accountPage>;
