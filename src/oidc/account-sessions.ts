import { createHash } from 'node:crypto';
import type { Kysely } from 'kysely';
import type { AdapterConstructor, AdapterPayload } from 'oidc-provider';

import type { DB } from '../db/index.ts';
import type { RecordEvent } from '../webhooks/index.ts';
import { liveIndexEntries } from './adapters/account-index.ts';
import { storageKeyOf } from './adapters/hashed-ids.ts';

/** One place a person is signed in: a browser's IdP session, and the apps it signed in to. */
export interface SessionView {
  /** Names the session in URLs and forms; the session id itself is the cookie's value and never leaves. */
  handle: string;
  current: boolean;
  ip: string | null;
  userAgent: string | null;
  signedInAt: Date;
  lastUsedAt: Date;
  clientIds: string[];
}

/** An app the person authorized: what it may ask for, until revoked. */
export interface AuthorizedApp {
  clientId: string;
  scopes: string[];
  authorizedAt: Date | null;
}

/** Of a session's storage key (what the index records). */
const handleOf = (sessionId: string) => createHash('sha256').update(sessionId).digest('base64url').slice(0, 22);
type Authorizations = Record<string, { grantId?: string }>;

/**
 * The signed-in person's sessions and authorized apps, read through the index and the model store.
 * `Adapter` addresses items by storage key, as the index records them; the session ids this takes
 * (a browser's cookie value) are turned into theirs.
 */
export function accountSessions(db: Kysely<DB>, Adapter: AdapterConstructor, record: RecordEvent = async () => undefined) {
  const sessions = new Adapter('Session');
  const grants = new Adapter('Grant');
  // Either adapter removes every token of a grant, whatever its model, in one call.
  const tokens = new Adapter('AccessToken');

  const live = (accountId: string, model: 'Session' | 'Grant') => liveIndexEntries(db, accountId, model);

  async function revokeGrant(grantId: string) {
    await tokens.revokeByGrantId(grantId);
    await grants.destroy(grantId);
  }

  async function endSession(sessionId: string, payload: AdapterPayload | void | undefined) {
    for (const { grantId } of Object.values((payload?.authorizations ?? {}) as Authorizations)) {
      if (grantId) await revokeGrant(grantId);
    }
    await sessions.destroy(sessionId);
  }

  return {
    /** `current`: the session of this browser (by id) or of this token (by uid). */
    async list(accountId: string, current: { sessionId?: string; sessionUid?: string | undefined } = {}): Promise<SessionView[]> {
      const views: SessionView[] = [];
      const currentKey = current.sessionId === undefined ? undefined : storageKeyOf('Session', current.sessionId);
      for (const row of await live(accountId, 'Session')) {
        const payload = await sessions.find(row.id);
        if (!payload || payload.accountId !== accountId) continue;
        views.push({
          handle: handleOf(row.id),
          current: row.id === currentKey || (current.sessionUid !== undefined && payload.uid === current.sessionUid),
          ip: row.ip,
          userAgent: row.user_agent,
          signedInAt: typeof payload.loginTs === 'number' ? new Date(payload.loginTs * 1000) : new Date(row.created_at),
          lastUsedAt: new Date(row.seen_at),
          clientIds: Object.keys((payload.authorizations ?? {}) as Authorizations),
        });
      }
      return views;
    },

    /** Ends a browser's session by its id (the cookie's value), as signing out would, and revokes the grants it gave. */
    async endById(sessionId: string): Promise<void> {
      const key = storageKeyOf('Session', sessionId);
      await endSession(key, await sessions.find(key));
    },

    /** Ends one session of the account and revokes the grants (refresh tokens included) it gave. */
    async end(accountId: string, handle: string): Promise<boolean> {
      const row = (await live(accountId, 'Session')).find((candidate) => handleOf(candidate.id) === handle);
      if (!row) return false;
      await endSession(row.id, await sessions.find(row.id));
      await record({ type: 'session.ended', actor: { type: 'account', id: accountId }, accountId, data: { reason: 'ended_by_owner', sessions: 1 } });
      return true;
    },

    /** Ends every session of the account but `keepSessionId`, and revokes every grant but that session's. */
    async endOthers(accountId: string, keepSessionId: string | undefined): Promise<number> {
      const keptKey = keepSessionId ? storageKeyOf('Session', keepSessionId) : undefined;
      const kept = keptKey ? await sessions.find(keptKey) : undefined;
      const keptGrants = new Set(Object.values((kept?.authorizations ?? {}) as Authorizations).map((entry) => entry.grantId));
      let ended = 0;
      for (const row of await live(accountId, 'Session')) {
        if (row.id === keptKey) continue;
        await sessions.destroy(row.id);
        ended += 1;
      }
      for (const row of await live(accountId, 'Grant')) {
        if (!keptGrants.has(row.id)) await revokeGrant(row.id);
      }
      if (ended) await record({ type: 'session.ended', actor: { type: 'account', id: accountId }, accountId, data: { reason: 'other_sessions_ended_by_owner', sessions: ended } });
      return ended;
    },

    async apps(accountId: string): Promise<AuthorizedApp[]> {
      const byClient = new Map<string, AuthorizedApp>();
      for (const row of await live(accountId, 'Grant')) {
        const grant = await grants.find(row.id);
        if (!grant || grant.accountId !== accountId || typeof grant.clientId !== 'string') continue;
        const scopes = String((grant.openid as { scope?: string } | undefined)?.scope ?? '').split(' ').filter(Boolean);
        const app = byClient.get(grant.clientId) ?? { clientId: grant.clientId, scopes: [], authorizedAt: typeof grant.iat === 'number' ? new Date(grant.iat * 1000) : null };
        app.scopes = [...new Set([...app.scopes, ...scopes])];
        byClient.set(grant.clientId, app);
      }
      return [...byClient.values()];
    },

    /** Revokes everything the account granted this client: its tokens stop working, and it must ask again. */
    async revokeApp(accountId: string, clientId: string): Promise<boolean> {
      let revoked = false;
      for (const row of await live(accountId, 'Grant')) {
        const grant = await grants.find(row.id);
        if (grant?.accountId !== accountId || grant.clientId !== clientId) continue;
        await revokeGrant(row.id);
        revoked = true;
      }
      if (revoked) await record({ type: 'grant.revoked', actor: { type: 'account', id: accountId }, accountId, data: { client_id: clientId, reason: 'revoked_by_owner' } });
      return revoked;
    },
  };
}

export type AccountSessions = ReturnType<typeof accountSessions>;
