import { execFileSync, spawn } from 'node:child_process';
import { once } from 'node:events';
import { openSync } from 'node:fs';
import { createServer } from 'node:net';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

import { firstParty } from './clients.ts';
import { authorize, type Person } from './load/authorize.ts';
import { Browser, createAgent, send } from './load/http.ts';
import { loadWithFlows } from './load/measure.ts';
import { prepareSide } from './prepare.ts';
import type { LoadSettings, Scenario } from './scenarios.ts';
import { residentMemory, type ResidentMemory, settledMemory } from './servers/resident-memory.ts';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const ENTRY = 'dist/src/main.js';
const START_TIMEOUT_MS = 180_000;
/** Long enough for the sign-in's last writes and a minor garbage collection to settle. */
const SETTLE_MS = 2000;

export interface CompiledMemory {
  entry: string;
  loadSeconds: number;
  ours?: { afterSignInMb?: number | undefined; idleMb: number | undefined; peakMb: number | undefined };
  embedded?: {
    /** The most it held from its start to ready, on a fresh DATA_DIR (every migration runs). */
    firstStartPeakMb: number | undefined;
    /** Started again on the same DATA_DIR: just after one sign-in, and then at rest. */
    afterSignInMb?: number | undefined;
    idleMb: number | undefined;
    peakMb: number | undefined;
  };
}

interface CompiledServer {
  origin: string;
  memory: ResidentMemory;
  stop(): Promise<void>;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

async function freePort(): Promise<number> {
  const server = createServer().listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as { port: number };
  server.close();
  return port;
}

/** `node dist/src/main.js` as production starts it; resolves once /healthz answers. */
async function startCompiled(env: Record<string, string>, logFile: string): Promise<CompiledServer> {
  const port = await freePort();
  const origin = `http://127.0.0.1:${port}`;
  const log = openSync(logFile, 'a');
  const child = spawn(process.execPath, [ENTRY], {
    cwd: root,
    env: { ...env, PORT: String(port), ISSUER: origin, SHUTDOWN_GRACE_SECONDS: '0' },
    stdio: ['ignore', log, log],
  });
  const exited = once(child, 'exit');
  const agent = createAgent(1);
  const deadline = Date.now() + START_TIMEOUT_MS;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`${ENTRY} exited (code ${child.exitCode}); see ${logFile}`);
    if (Date.now() > deadline) throw new Error(`${ENTRY} did not start within ${START_TIMEOUT_MS} ms; see ${logFile}`);
    const ready = await send(agent, new URL('/healthz', origin)).then((response) => response.status === 200, () => false);
    if (ready) break;
    await sleep(100);
  }
  agent.destroy();
  return {
    origin,
    memory: residentMemory(child.pid!),
    async stop() {
      if (child.exitCode === null) child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 15_000);
      await exited;
      clearTimeout(timer);
    },
  };
}

/** One password sign-in in a new browser, with a first-party client (no consent page). */
export async function signInOnce(origin: string, person: Person) {
  const agent = createAgent(1);
  await authorize(new Browser(agent), origin, { clientId: firstParty.id, scope: 'openid email profile' }, person);
  agent.destroy();
}

/** Each scenario for `seconds`, then a sign-in storm as long: the most the server held meanwhile. */
async function peakUnderLoad(server: CompiledServer, person: Person, scenarios: Scenario[], load: LoadSettings & { loginConcurrency: number }) {
  const state = await prepareSide(server.origin, person, {
    sessions: load.browsers,
    accessTokens: 16,
    refreshTokens: load.connections * 3 + 8,
    connections: load.connections,
  });
  server.memory.resetPeak();
  for (const scenario of scenarios) await scenario.run(state, load, person);
  const agent = createAgent(load.loginConcurrency);
  await loadWithFlows(
    async () => void (await authorize(new Browser(agent), server.origin, { clientId: firstParty.id, scope: 'openid' }, person)),
    { concurrency: load.loginConcurrency, seconds: load.seconds },
  );
  agent.destroy();
  state.agent.destroy();
  return server.memory.peakMb();
}

async function idleAfterOneSignIn(server: CompiledServer, person: Person) {
  await signInOnce(server.origin, person);
  await sleep(SETTLE_MS);
  const { afterMb, idleMb } = await settledMemory(server.memory);
  return { afterSignInMb: afterMb, idleMb };
}

/**
 * Resident memory of the compiled server (`npm run build` first) on PostgreSQL + Redis and on the embedded
 * database: idle after start-up and one sign-in, the embedded first start, and the peak under a short load.
 * `environments` are the bench's own for those sides, pointed at a database, prefix and DATA_DIR of their own.
 */
export async function measureCompiled(options: {
  environments: { ours?: Record<string, string>; embedded?: Record<string, string> };
  logDir: string;
  person: Person;
  scenarios: Scenario[];
  load: LoadSettings & { loginConcurrency: number };
}): Promise<CompiledMemory> {
  execFileSync('npm', ['run', '--silent', 'build'], { cwd: root, stdio: 'inherit' });
  const { person, load } = options;
  // The person signs in as the first super admin, created at start (MFA is optional by default).
  const withAdmin = (env: Record<string, string>) => ({ ...env, ADMIN_EMAIL: person.email, ADMIN_PASSWORD: person.password });
  const result: CompiledMemory = { entry: ENTRY, loadSeconds: load.seconds };

  if (options.environments.ours) {
    const server = await startCompiled(withAdmin(options.environments.ours), path.join(options.logDir, 'compiled-ours.log'));
    try {
      const idle = await idleAfterOneSignIn(server, person);
      result.ours = { ...idle, peakMb: await peakUnderLoad(server, person, options.scenarios, load) };
    } finally {
      await server.stop();
    }
  }

  if (options.environments.embedded) {
    const env = withAdmin(options.environments.embedded);
    const logFile = path.join(options.logDir, 'compiled-embedded.log');
    const first = await startCompiled(env, logFile);
    const firstStartPeakMb = first.memory.peakMb();
    await first.stop();
    const server = await startCompiled(env, logFile);
    try {
      const idle = await idleAfterOneSignIn(server, person);
      result.embedded = { firstStartPeakMb, ...idle, peakMb: await peakUnderLoad(server, person, options.scenarios, load) };
    } finally {
      await server.stop();
    }
  }
  return result;
}
