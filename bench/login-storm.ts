import { firstParty } from './clients.ts';
import { authorize, type Person } from './load/authorize.ts';
import { Browser, createAgent } from './load/http.ts';
import { loadWithFlows, summarize, type Measurement } from './load/measure.ts';
import type { ServerProcess } from './servers/spawn.ts';

export interface LoginResult {
  logins: Measurement;
  argon2PerSecond: number;
  /** Event-loop lag of the IdP process during the measured storm. */
  lag: { p50Ms: number; p99Ms: number; maxMs: number };
  /** CPU time of the IdP process (every thread) per completed sign-in in the storm, and per hash in the raw argon2 run. */
  cpu: { perSignInMs: number; argon2PerHashMs: number };
}

/**
 * Full password sign-ins, each in a new browser (authorize → sign-in page → form post with CSRF → code), against
 * argon2.verify back to back with the same parameters and concurrency in the IdP's own process, measured first.
 */
export async function loginStorm(
  server: ServerProcess,
  person: Person,
  options: { concurrency: number; seconds: number; warmupSeconds: number },
): Promise<LoginResult> {
  const argon2 = await server.ask(
    { type: 'argon2', concurrency: options.concurrency, durationMs: options.seconds * 1000 },
    'argon2',
  );
  const agent = createAgent(options.concurrency);
  const signIn = async () => {
    await authorize(new Browser(agent), server.origin, { clientId: firstParty.id, scope: 'openid email profile' }, person);
  };
  await loadWithFlows(signIn, { concurrency: options.concurrency, seconds: options.warmupSeconds });
  server.tell({ type: 'lag-start' });
  server.tell({ type: 'cpu-start' });
  const logins = summarize([await loadWithFlows(signIn, { concurrency: options.concurrency, seconds: options.seconds })]);
  const { cpuMs } = await server.ask({ type: 'cpu-stop' }, 'cpu');
  const { type: _type, ...lag } = await server.ask({ type: 'lag-stop' }, 'lag');
  agent.destroy();
  return {
    logins,
    argon2PerSecond: argon2.perSecond,
    lag,
    cpu: { perSignInMs: cpuMs / Math.max(1, logins.completed), argon2PerHashMs: argon2.cpuMs / Math.max(1, argon2.count) },
  };
}
