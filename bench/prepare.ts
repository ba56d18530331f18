import type { Agent } from 'node:http';

import { basicAuth, webApp } from './clients.ts';
import { authorize, exchangeCode, type Person } from './load/authorize.ts';
import { Browser, createAgent, send } from './load/http.ts';

/** What the measured scenarios of one side need, made before any window opens. */
export interface SideState {
  origin: string;
  agent: Agent;
  /** Browsers signed in, with consent given to the web app: the SSO round trips start from these. */
  sessions: Browser[];
  /** Access tokens of the web app (for userinfo and introspection). */
  accessTokens: string[];
  /** Unused refresh tokens; a rotation takes one and puts back the one it receives. */
  refreshTokens: string[];
}

async function inBatches<T>(count: number, parallel: number, make: (index: number) => Promise<T>): Promise<T[]> {
  const made: T[] = [];
  for (let start = 0; start < count; start += parallel) {
    const batch = Array.from({ length: Math.min(parallel, count - start) }, (_, i) => make(start + i));
    made.push(...(await Promise.all(batch)));
  }
  return made;
}

export async function prepareSide(
  origin: string,
  person: Person,
  counts: { sessions: number; accessTokens: number; refreshTokens: number; connections: number },
): Promise<SideState> {
  const agent = createAgent(Math.max(counts.sessions, counts.connections));
  const parallel = 8;
  const sessions = await inBatches(counts.sessions, parallel, async () => {
    const browser = new Browser(agent);
    await authorize(browser, origin, { clientId: webApp.id, scope: 'openid email profile' }, person);
    return browser;
  });
  const accessTokens = await inBatches(counts.accessTokens, parallel, async (i) => {
    const code = await authorize(sessions[i % sessions.length]!, origin, { clientId: webApp.id, scope: 'openid email profile' }, person);
    return (await exchangeCode(agent, origin, webApp, code)).access_token;
  });
  // offline_access is granted only with prompt=consent, so each refresh token costs a consent round.
  const refreshTokens = await inBatches(counts.refreshTokens, parallel, async (i) => {
    const request = { clientId: webApp.id, scope: 'openid offline_access', prompt: 'consent' };
    const code = await authorize(sessions[i % sessions.length]!, origin, request, person);
    const tokens = await exchangeCode(agent, origin, webApp, code);
    if (!tokens.refresh_token) throw new Error('no refresh token was issued');
    return tokens.refresh_token;
  });
  // The introspection scenario counts answers, not their content: check once that they say "active".
  const introspection = await send(agent, new URL('/token/introspection', origin), {
    method: 'POST',
    headers: { authorization: basicAuth(webApp), 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({ token: accessTokens[0]! }).toString(),
  });
  if (!(JSON.parse(introspection.body) as { active?: boolean }).active) throw new Error(`introspection: ${introspection.body}`);
  return { origin, agent, sessions, accessTokens, refreshTokens };
}
