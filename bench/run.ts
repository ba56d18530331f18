/**
 * `npm run bench`: the baseline, our IdP on Postgres and Redis, and our IdP on the embedded default, each in
 * a process of its own, under the same load one after the other; prints the table and writes bench/results/.
 * Settings: BENCH_SECONDS (per side, split over BENCH_ROUNDS alternating rounds), BENCH_WARMUP_SECONDS, BENCH_CONNECTIONS, BENCH_BROWSERS, BENCH_LOGIN_CONCURRENCY,
 * BENCH_SCENARIOS and BENCH_SIDES (comma-separated subsets), BENCH_PROFILE=1 (CPU profiles of our IdP),
 * BENCH_POSTGRES_URL, BENCH_REDIS_URL, and the IdP's own ARGON2_* settings.
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
import { summarize, type Sample } from './load/measure.ts';
import { loginStorm } from './login-storm.ts';
import { prepareSide, type SideState } from './prepare.ts';
import { toMarkdown, type Results, type ScenarioResult, type Side } from './report.ts';
import { scenarios } from './scenarios.ts';
import { startServer, type ServerProcess } from './servers/spawn.ts';

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
const sides = (list('BENCH_SIDES') ?? ['baseline', 'ours', 'embedded']) as Side[];
const chosen = list('BENCH_SCENARIOS');
const postgresUrl = process.env.BENCH_POSTGRES_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';
const redisUrl = process.env.BENCH_REDIS_URL ?? 'redis://127.0.0.1:6379';
const resultsDir = path.join(path.dirname(fileURLToPath(import.meta.url)), 'results');
const person = { email: 'bench@example.com', password: `bench-${randomBytes(12).toString('hex')}` };

const work = mkdtempSync(path.join(os.tmpdir(), 'idp-bench-'));
const databaseName = `idp_bench_${randomBytes(6).toString('hex')}`;
const redisKeyPrefix = `bench:${randomBytes(6).toString('hex')}:`;

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
    const [next, keys] = await redis.scan(cursor, 'MATCH', `${redisKeyPrefix}*`, 'COUNT', 1000);
    cursor = next;
    if (keys.length) await redis.unlink(...keys);
  } while (cursor !== '0');
  redis.disconnect();
}

function serverEnvironments(): Record<Side, Record<string, string>> {
  const jwksFile = path.join(work, 'jwks.json');
  const clientsFile = path.join(work, 'clients.json');
  const common: Record<string, string> = {
    PATH: process.env.PATH ?? '',
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
  const databaseUrl = new URL(postgresUrl);
  databaseUrl.pathname = `/${databaseName}`;
  return {
    baseline: { ...common, NODE_ENV: 'development', DATA_DIR: path.join(work, 'baseline') },
    ours: {
      ...common,
      NODE_ENV: 'production',
      DATA_DIR: path.join(work, 'ours'),
      DATABASE_URL: databaseUrl.toString(),
      REDIS_URL: redisUrl,
      REDIS_KEY_PREFIX: redisKeyPrefix,
      // Required in production; nothing in the bench sends mail.
      SMTP_URL: 'smtp://127.0.0.1:9',
    },
    // The embedded default is a development mode: production refuses it.
    embedded: { ...common, NODE_ENV: 'development', DATA_DIR: path.join(work, 'embedded') },
  };
}

async function main() {
  writeFileSync(path.join(work, 'jwks.json'), JSON.stringify(await generateJwks()));
  writeFileSync(path.join(work, 'clients.json'), JSON.stringify(benchClients));
  mkdirSync(resultsDir, { recursive: true });
  const profileDir = process.env.BENCH_PROFILE ? path.join(resultsDir, 'profiles') : undefined;
  if (sides.includes('ours')) await onPostgres(`create database ${databaseName}`);

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
        servers.set(side, await startServer(script, { env: environments[side], logFile, ...(side !== 'baseline' && profileDir ? { profileDir } : {}) }));
      }),
    );
    const failed = started.find((outcome) => outcome.status === 'rejected');
    if (failed) throw failed.reason;

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
    }

    const results: ScenarioResult[] = [];
    for (const scenario of scenarios.filter((s) => !chosen || chosen.includes(s.id))) {
      const result: ScenarioResult = { id: scenario.id, title: scenario.title, unit: scenario.unit, target: scenario.target, sides: {} };
      for (const side of sides) await scenario.run(states.get(side)!, { ...settings, seconds: settings.warmupSeconds }, person);
      // Rounds alternate the sides, so that noise from elsewhere on the machine hits each of them alike.
      const samples = new Map<Side, Sample[]>(sides.map((side) => [side, []]));
      for (let round = 0; round < settings.rounds; round += 1) {
        for (const side of sides) {
          const sample = await scenario.run(states.get(side)!, { ...settings, seconds: settings.seconds / settings.rounds }, person);
          if (sample.firstError) console.warn(`${scenario.id} ${side}: ${sample.firstError}`);
          samples.get(side)!.push(sample);
        }
      }
      for (const side of sides) {
        const measured = summarize(samples.get(side)!);
        result.sides[side] = measured;
        console.log(`${scenario.id.padEnd(18)} ${side.padEnd(9)} ${measured.perSecond.toFixed(1).padStart(8)} ${scenario.unit}  p50 ${measured.p50Ms.toFixed(1)} ms  p99 ${measured.p99Ms.toFixed(1)} ms${measured.failures ? `  ${measured.failures} failed` : ''}`);
      }
      results.push(result);
    }

    const login: Results['login'] = {};
    if (!chosen || chosen.includes('login')) {
      for (const side of sides) {
        if (side === 'baseline') continue;
        login[side] = await loginStorm(servers.get(side)!, person, {
          concurrency: settings.loginConcurrency,
          seconds: settings.seconds,
          warmupSeconds: settings.warmupSeconds,
        });
        const { logins, argon2PerSecond, lag } = login[side];
        console.log(`login              ${side.padEnd(9)} ${logins.perSecond.toFixed(1).padStart(8)} sign-ins/s (argon2 ${argon2PerSecond.toFixed(1)}/s)  lag p99 ${lag.p99Ms.toFixed(1)} ms${logins.failures ? `  ${logins.failures} failed` : ''}`);
      }
    }

    const cpus = os.cpus();
    const output: Results = {
      finishedAt: new Date().toISOString(),
      machine: { node: process.version, cpus: cpus.length, cpuModel: cpus[0]?.model.trim() ?? 'unknown' },
      settings: { ...settings, argon2: { ...loadConfig({ ...process.env, DATABASE_URL: undefined }).argon2 } },
      scenarios: results,
      login,
      loginTargets: { ratio: 0.9, lagP99Ms: 20 },
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
    if (sides.includes('ours')) {
      await onPostgres(`drop database if exists ${databaseName} with (force)`);
      await deleteRedisKeys();
    }
    if (!finished) console.error(`server logs kept in ${work}`);
    else if (!process.env.BENCH_KEEP_LOGS) rmSync(work, { recursive: true, force: true });
  }
}

main().catch((error) => {
  console.error(error);
  process.exitCode = 1;
});
