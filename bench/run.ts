/**
 * `npm run bench`: the baseline, our IdP with node-oidc-provider's models in memory (the host alone), on Postgres
 * and Redis, and on the embedded default, each in a process of its own, under the same load one after the other;
 * then the compiled server's resident memory; prints the tables and writes bench/results/.
 * Settings: BENCH_SECONDS (per side, split over BENCH_ROUNDS alternating rounds), BENCH_WARMUP_SECONDS, BENCH_CONNECTIONS, BENCH_BROWSERS, BENCH_LOGIN_CONCURRENCY,
 * BENCH_SCENARIOS (comma-separated subset of the scenarios, `login` and `memory`: the compiled server) and BENCH_SIDES
 * (of baseline, host, ours, embedded), BENCH_PROFILE=1 (CPU profiles of every side, one folder each), BENCH_POSTGRES_URL, BENCH_REDIS_URL,
 * and the IdP's own ARGON2_* settings. `npm run bench -- --scale` runs bench/scale.ts (the data-size bench) instead.
 */
import { randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Redis } from 'ioredis';
import pg from 'pg';

import { loadConfig } from '../src/config.ts';
import { generateJwks } from '../src/keys/index.ts';
import { benchClients } from './clients.ts';
import { measureCompiled, signInOnce } from './compiled-memory.ts';
import { imageProcessEnv } from './image-env.ts';
import { summarize, type Sample } from './load/measure.ts';
import { loginStorm } from './login-storm.ts';
import { prepareSide, type SideState } from './prepare.ts';
import { hasRedisServer, startRedisServer } from '../tests/support/redis-server.ts';
import { redisCommandCounter } from './redis-commands.ts';
import { redisMemory } from './redis-memory.ts';
import { SIDES, toMarkdown, type Results, type ScenarioResult, type Side } from './report.ts';
import { scenarios } from './scenarios.ts';
import { settledMemory } from './servers/resident-memory.ts';
import { startServer, type ServerProcess } from './servers/spawn.ts';

// `npm run bench -- --scale`: the data-size bench instead (bench/scale.ts).
if (process.argv.includes('--scale')) {
  await import('./scale.ts');
  process.exit(0);
}

const number = (name: string, fallback: number) => Number(process.env[name] ?? fallback);
const list = (name: string) => process.env[name]?.split(',').map((item) => item.trim()).filter(Boolean);

const settings = {
  seconds: number('BENCH_SECONDS', 5),
  warmupSeconds: number('BENCH_WARMUP_SECONDS', 2),
  connections: number('BENCH_CONNECTIONS', 32),
  browsers: number('BENCH_BROWSERS', 16),
  loginConcurrency: number('BENCH_LOGIN_CONCURRENCY', 8),
  rounds: number('BENCH_ROUNDS', 2),
};
const sides = SIDES.filter((side) => list('BENCH_SIDES')?.includes(side) ?? true);
const chosen = list('BENCH_SCENARIOS');
const postgresUrl = process.env.BENCH_POSTGRES_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';
/** Without BENCH_REDIS_URL, a Redis of the bench's own when redis-server is installed: no other client's commands in its counts. */
let redisUrl = process.env.BENCH_REDIS_URL ?? 'redis://127.0.0.1:6379';
const resultsDir = path.join(path.dirname(fileURLToPath(import.meta.url)), 'results');
const person = { email: 'bench@example.com', password: `bench-${randomBytes(12).toString('hex')}` };

const work = mkdtempSync(path.join(os.tmpdir(), 'idp-bench-'));
// Not beside the server logs: every node watches JWKS_FILE's folder, and each log write would wake it.
const configDir = path.join(work, 'config');
const databaseName = `idp_bench_${randomBytes(6).toString('hex')}`;
const redisKeyPrefix = `bench:${randomBytes(6).toString('hex')}:`;
/** Each Postgres side (and the compiled server) has a database of its own: each creates the bench's person. */
const databases = { host: `${databaseName}_host`, ours: databaseName, compiled: `${databaseName}_compiled` };

async function onPostgres(statement: string) {
  const client = new pg.Client({ connectionString: postgresUrl });
  await client.connect();
  try {
    await client.query(statement);
  } finally {
    await client.end();
  }
}

async function deleteRedisKeys() {
  const redis = new Redis(redisUrl);
  let cursor = '0';
  do {
    // The compiled server's prefix starts with the bench's.
    const [next, keys] = await redis.scan(cursor, 'MATCH', `${redisKeyPrefix}*`, 'COUNT', 1000);
    cursor = next;
    if (keys.length) await redis.unlink(...keys);
  } while (cursor !== '0');
  redis.disconnect();
}

const databaseUrlOf = (name: string) => {
  const url = new URL(postgresUrl);
  url.pathname = `/${name}`;
  return url.toString();
};

function serverEnvironments(): Record<Side, Record<string, string>> {
  const jwksFile = path.join(configDir, 'jwks.json');
  const clientsFile = path.join(configDir, 'clients.json');
  const common: Record<string, string> = {
    PATH: process.env.PATH ?? '',
    ...imageProcessEnv(),
    ...Object.fromEntries(Object.entries(process.env).filter(([name]) => name.startsWith('ARGON2_')) as [string, string][]),
    JWKS_FILE: jwksFile,
    COOKIE_KEYS: randomBytes(32).toString('base64url'),
    SECRETS_KEY: `bench:${randomBytes(32).toString('base64')}`,
    CLIENTS_FILE: clientsFile,
    LOG_LEVEL: 'info',
    // The limits stay in the code; the bench raises them, as a deployment behind a busy NAT would.
    RATE_LIMIT_IP_TOKEN: '10000000',
    RATE_LIMIT_IP_LOGIN: '1000000',
    BENCH_EMAIL: person.email,
    BENCH_PASSWORD: person.password,
  };
  // Required in production; nothing in the bench sends mail. Metrics recorded, as by a deployment that serves them
  // (production without METRICS_PORT records none).
  const production = { ...common, NODE_ENV: 'production', SMTP_URL: 'smtp://127.0.0.1:9', METRICS_PORT: '0' };
  return {
    baseline: { ...common, NODE_ENV: 'development', DATA_DIR: path.join(work, 'baseline') },
    // bench/servers/ours.ts keeps node-oidc-provider's models (and the rate-limit counters) in its memory.
    host: { ...production, DATA_DIR: path.join(work, 'host'), DATABASE_URL: databaseUrlOf(databases.host), BENCH_MODEL_STORE: 'memory' },
    ours: {
      ...production,
      DATA_DIR: path.join(work, 'ours'),
      DATABASE_URL: databaseUrlOf(databases.ours),
      REDIS_URL: redisUrl,
      REDIS_KEY_PREFIX: redisKeyPrefix,
    },
    // The embedded default is a development mode: production refuses it.
    embedded: { ...common, NODE_ENV: 'development', DATA_DIR: path.join(work, 'embedded') },
  };
}

async function main() {
  const ownRedis = !process.env.BENCH_REDIS_URL && hasRedisServer ? await startRedisServer(work) : undefined;
  if (ownRedis) redisUrl = `redis://127.0.0.1:${ownRedis.port}`;
  mkdirSync(configDir);
  writeFileSync(path.join(configDir, 'jwks.json'), JSON.stringify(await generateJwks()));
  writeFileSync(path.join(configDir, 'clients.json'), JSON.stringify(benchClients));
  mkdirSync(resultsDir, { recursive: true });
  const profileDir = process.env.BENCH_PROFILE ? path.join(resultsDir, 'profiles') : undefined;
  const measureMemory = !chosen || chosen.includes('memory');
  const compiledSides = measureMemory ? sides.filter((side) => side === 'ours' || side === 'embedded') : [];
  const usedDatabases = [
    ...(sides.includes('host') ? [databases.host] : []),
    ...(sides.includes('ours') ? [databases.ours] : []),
    ...(compiledSides.includes('ours') ? [databases.compiled] : []),
  ];
  for (const name of usedDatabases) await onPostgres(`create database ${name}`);

  const environments = serverEnvironments();
  const servers = new Map<Side, ServerProcess>();
  const states = new Map<Side, SideState>();
  let finished = false;
  try {
    console.log(`starting ${sides.join(', ')} (logs in ${work})`);
    const started = await Promise.allSettled(
      sides.map(async (side) => {
        const script = side === 'baseline' ? 'baseline' : 'ours';
        const logFile = path.join(work, `${side}.log`);
        servers.set(side, await startServer(script, { env: environments[side], logFile, ...(profileDir ? { profileDir: path.join(profileDir, side) } : {}) }));
      }),
    );
    const failed = started.find((outcome) => outcome.status === 'rejected');
    if (failed) throw failed.reason;

    const memory: Results['memory'] = {};
    // Each side signs in once, then they all come to rest in the same wait.
    const resting: Promise<void>[] = [];
    for (const side of sides) {
      const server = servers.get(side)!;
      const startPeakMb = server.memory.peakMb();
      // The baseline's interactions sign in by themselves; a second more for the sign-in's last writes.
      await signInOnce(server.origin, person);
      await new Promise((resolve) => setTimeout(resolve, 1000));
      resting.push(
        settledMemory(server.memory).then(({ afterMb, idleMb }) => {
          memory[side] = { startPeakMb, afterSignInMb: afterMb, idleMb, peakMb: undefined };
        }),
      );
    }
    await Promise.all(resting);
    /** The most each side held under load so far. */
    const notePeak = (side: Side, peakMb: number | undefined) => {
      const noted = memory[side]!;
      if (peakMb !== undefined) noted.peakMb = Math.max(noted.peakMb ?? 0, peakMb);
      return peakMb;
    };

    let redis: Results['redis'];
    for (const side of sides) {
      const started = performance.now();
      const counts = {
        sessions: settings.browsers,
        accessTokens: 16,
        // Each window can strand one refresh token per connection (in flight when it closes).
        refreshTokens: settings.connections * 3 + 8,
        connections: settings.connections,
      };
      states.set(side, await prepareSide(servers.get(side)!.origin, person, counts));
      console.log(`prepared ${side} in ${Math.round(performance.now() - started)} ms`);
      if (side === 'ours') redis = await redisMemory(redisUrl, redisKeyPrefix);
    }

    // Only with a Redis of the bench's own is the count of commands the IdP's alone.
    const redisCommands = ownRedis && sides.includes('ours') ? redisCommandCounter(redisUrl) : undefined;
    const results: ScenarioResult[] = [];
    for (const scenario of scenarios.filter((s) => !chosen || chosen.includes(s.id))) {
      const result: ScenarioResult = {
        id: scenario.id,
        title: scenario.title,
        unit: scenario.unit,
        target: scenario.targets.ours,
        targets: scenario.targets,
        sides: {},
      };
      for (const side of sides) await scenario.run(states.get(side)!, { ...settings, seconds: settings.warmupSeconds }, person);
      for (const side of sides) servers.get(side)!.memory.resetPeak();
      // Rounds alternate the sides, so that noise from elsewhere on the machine hits each of them alike.
      const samples = new Map<Side, Sample[]>(sides.map((side) => [side, []]));
      let oursRedisCommands = 0;
      const cpuMs = new Map<Side, number | undefined>(sides.map((side) => [side, 0]));
      for (let round = 0; round < settings.rounds; round += 1) {
        for (const side of sides) {
          const before = side === 'ours' ? await redisCommands?.processed() : undefined;
          const cpuBefore = servers.get(side)!.cpuMs();
          const sample = await scenario.run(states.get(side)!, { ...settings, seconds: settings.seconds / settings.rounds }, person);
          const cpuAfter = servers.get(side)!.cpuMs();
          const used = cpuMs.get(side);
          cpuMs.set(side, used === undefined || cpuBefore === undefined || cpuAfter === undefined ? undefined : used + cpuAfter - cpuBefore);
          if (before !== undefined) oursRedisCommands += (await redisCommands!.processed()) - before;
          if (sample.firstError) console.warn(`${scenario.id} ${side}: ${sample.firstError}`);
          samples.get(side)!.push(sample);
        }
      }
      const roundRates = (side: Side) => samples.get(side)!.map((sample) => summarize([sample]).perSecond);
      const baselineRates = sides.includes('baseline') ? roundRates('baseline') : undefined;
      for (const side of sides) {
        const summary = summarize(samples.get(side)!);
        const measured = {
          ...summary,
          peakRssMb: notePeak(side, servers.get(side)!.memory.peakMb()),
          cpuUsPerRequest: perRequestUs(cpuMs.get(side), summary.completed),
          ...(side === 'ours' && redisCommands && summary.completed ? { redisCommandsPerRequest: oursRedisCommands / summary.completed } : {}),
          ...(baselineRates && side !== 'baseline' ? { roundRatios: roundRates(side).map((rate, round) => rate / baselineRates[round]!) } : {}),
        };
        result.sides[side] = measured;
        console.log(`${scenario.id.padEnd(18)} ${side.padEnd(9)} ${measured.perSecond.toFixed(1).padStart(8)} ${scenario.unit}  p50 ${measured.p50Ms.toFixed(1)} ms  p99 ${measured.p99Ms.toFixed(1)} ms  RSS ${megabytes(measured.peakRssMb)}  CPU ${measured.cpuUsPerRequest?.toFixed(0) ?? '—'} µs${measured.roundRatios ? `  rounds ${measured.roundRatios.map((ratio) => ratio.toFixed(2)).join(' ')}x` : ''}${measured.failures ? `  ${measured.failures} failed` : ''}`);
      }
      results.push(result);
    }

    const login: Results['login'] = {};
    if (!chosen || chosen.includes('login')) {
      for (const side of sides) {
        if (side === 'baseline') continue;
        const server = servers.get(side)!;
        server.memory.resetPeak();
        login[side] = await loginStorm(server, person, {
          concurrency: settings.loginConcurrency,
          seconds: settings.seconds,
          warmupSeconds: settings.warmupSeconds,
        });
        notePeak(side, server.memory.peakMb());
        const { logins, argon2PerSecond, lag, cpu } = login[side];
        console.log(`login              ${side.padEnd(9)} ${logins.perSecond.toFixed(1).padStart(8)} sign-ins/s (argon2 ${argon2PerSecond.toFixed(1)}/s)  CPU ${cpu.perSignInMs.toFixed(1)} ms per sign-in, ${cpu.argon2PerHashMs.toFixed(1)} ms per hash  lag p99 ${lag.p99Ms.toFixed(1)} ms${logins.failures ? `  ${logins.failures} failed` : ''}`);
      }
    }

    redisCommands?.close();
    for (const state of states.values()) state.agent.destroy();
    states.clear();
    await Promise.all([...servers.values()].map((server) => server.stop()));
    servers.clear();
    let compiled: Results['compiled'];
    if (compiledSides.length) {
      const environments = serverEnvironments();
      compiled = await measureCompiled({
        environments: {
          ...(compiledSides.includes('ours')
            ? { ours: { ...environments.ours, DATABASE_URL: databaseUrlOf(databases.compiled), REDIS_KEY_PREFIX: `${redisKeyPrefix}compiled:` } }
            : {}),
          ...(compiledSides.includes('embedded') ? { embedded: { ...environments.embedded, DATA_DIR: path.join(work, 'compiled-embedded') } } : {}),
        },
        logDir: work,
        person,
        scenarios: scenarios.filter((s) => !chosen || chosen.includes(s.id)),
        load: { ...settings, seconds: settings.seconds / settings.rounds },
      });
      console.log(`compiled           ${JSON.stringify({ ours: compiled.ours, embedded: compiled.embedded })}`);
    }

    const cpus = os.cpus();
    const output: Results = {
      finishedAt: new Date().toISOString(),
      machine: { node: process.version, cpus: cpus.length, cpuModel: cpus[0]?.model.trim() ?? 'unknown' },
      settings: { ...settings, argon2: { ...loadConfig({ ...process.env, DATABASE_URL: undefined }).argon2 }, processEnv: imageProcessEnv() },
      scenarios: results,
      login,
      loginTargets: { ratio: 0.8, lagP99Ms: 20, nonArgon2Share: 0.25 },
      memory,
      compiled,
      memoryTargets: { compiledIdleMb: 120, embeddedIdleMb: 200, embeddedPeakMb: 300 },
      redis,
    };
    const markdown = toMarkdown(output);
    console.log(`\n${markdown}`);
    writeFileSync(path.join(resultsDir, 'latest.md'), markdown);
    writeFileSync(path.join(resultsDir, 'latest.json'), `${JSON.stringify(output, null, 2)}\n`);
    console.log(`written to ${path.relative(process.cwd(), resultsDir)}/latest.md and latest.json`);
    finished = true;
  } finally {
    for (const state of states.values()) state.agent.destroy();
    await Promise.all([...servers.values()].map((server) => server.stop()));
    for (const name of usedDatabases) await onPostgres(`drop database if exists ${name} with (force)`);
    if (ownRedis) await ownRedis.stop();
    else if (sides.includes('ours') || compiledSides.includes('ours')) await deleteRedisKeys();
    if (!finished) console.error(`server logs kept in ${work}`);
    else if (!process.env.BENCH_KEEP_LOGS) rmSync(work, { recursive: true, force: true });
  }
}

const megabytes = (value: number | undefined) => (value === undefined ? '—' : `${Math.round(value)} MB`);
const perRequestUs = (cpuMs: number | undefined, completed: number) => (cpuMs === undefined || !completed ? undefined : (cpuMs * 1000) / completed);

main().catch((error) => {
  console.error(error);
  process.exitCode = 1;
});
