import type { CompiledMemory } from './compiled-memory.ts';
import type { LoginResult } from './login-storm.ts';
import type { Measurement } from './load/measure.ts';
import type { RedisMemory } from './redis-memory.ts';

/** In the order of the table: bare node-oidc-provider, our host over the same in-memory store, then our stores. */
export const SIDES = ['baseline', 'host', 'ours', 'embedded'] as const;
export type Side = (typeof SIDES)[number];
export type IdpSide = Exclude<Side, 'baseline'>;

export const sideNames: Record<Side, string> = {
  baseline: 'Baseline (bare node-oidc-provider, memory)',
  host: 'Host (ours, node-oidc-provider in memory)',
  ours: 'Ours (Postgres + Redis)',
  embedded: 'Ours (embedded PGlite)',
};

const columnNames: Record<Side, string> = { baseline: 'Baseline', host: 'Host (memory)', ours: 'Ours PG+Redis', embedded: 'Embedded' };
const ratioNames: Record<IdpSide, string> = { host: 'Host/baseline', ours: 'Ours/baseline', embedded: 'Embedded/baseline' };

/** One side in one scenario, with the most resident memory its server held during the measured windows. */
export interface SideMeasurement extends Measurement {
  peakRssMb?: number | undefined;
  /** PostgreSQL + Redis side, when the bench runs a Redis of its own: commands per request (per flow for the SSO round trip). */
  redisCommandsPerRequest?: number | undefined;
  /** CPU time of the server process (every thread) per request (per flow for the SSO round trip), in µs, over the measured windows. */
  cpuUsPerRequest?: number | undefined;
  /** The side's rate over the baseline's in each round (the two measured back to back): how far one round can be trusted. */
  roundRatios?: number[] | undefined;
}

export interface ScenarioResult {
  id: string;
  title: string;
  unit: string;
  /** Ours (Postgres + Redis) over the baseline must reach this; the same as `targets.ours`. */
  target: number | undefined;
  /** Each side of ours over the baseline must reach this (undefined: no target, shown for reference). */
  targets: Partial<Record<IdpSide, number>>;
  sides: Partial<Record<Side, SideMeasurement>>;
}

/** Resident memory of one side's server (run through tsx, as the bench runs it). */
export interface SideMemory {
  /** The most it held while starting (the embedded side starts on a fresh DATA_DIR: every migration runs). */
  startPeakMb?: number | undefined;
  /** Just after start-up and one sign-in. */
  afterSignInMb?: number | undefined;
  /** Then at rest, once V8's memory reducer has run. */
  idleMb: number | undefined;
  /** The most it held under the bench's load (every scenario and the sign-in storm). */
  peakMb: number | undefined;
}

export interface Results {
  finishedAt: string;
  machine: { node: string; cpus: number; cpuModel: string };
  settings: { seconds: number; warmupSeconds: number; rounds: number; connections: number; browsers: number; loginConcurrency: number; argon2: Record<string, number>; processEnv?: Record<string, string> };
  scenarios: ScenarioResult[];
  login: Partial<Record<IdpSide, LoginResult>>;
  /** Targets for logins (ratio to raw argon2, CPU of everything but argon2 as a share of argon2's) and for the event-loop lag during the storm. */
  loginTargets: { ratio: number; lagP99Ms: number; nonArgon2Share: number };
  memory: Partial<Record<Side, SideMemory>>;
  /** The compiled server (`node dist/src/main.js`), as production runs it. */
  compiled?: CompiledMemory | undefined;
  memoryTargets: { compiledIdleMb: number; embeddedIdleMb: number; embeddedPeakMb: number };
  /** Redis memory of the Postgres + Redis side after its preparation (sessions, tokens, refresh tokens). */
  redis?: RedisMemory | undefined;
}

const rate = (value: number) => (value >= 100 ? Math.round(value).toString() : value.toFixed(1));
const ms = (value: number) => (value >= 10 ? Math.round(value).toString() : value.toFixed(1));
const mb = (value: number | undefined) => (value === undefined ? '—' : Math.round(value).toString());
const kb = (bytes: number | undefined) => (bytes === undefined ? '—' : `${(bytes / 1024).toFixed(1)} KiB`);

export function ratioOf(result: ScenarioResult, side: IdpSide): number | undefined {
  const baseline = result.sides.baseline?.perSecond;
  const ours = result.sides[side]?.perSecond;
  return baseline && ours !== undefined ? ours / baseline : undefined;
}

/** " (0.70–0.80)": the lowest and highest ratio of a single round, when there were several. */
export function roundSpread(m: SideMeasurement | undefined): string {
  const ratios = m?.roundRatios;
  if (!ratios || ratios.length < 2) return '';
  return ` (${Math.min(...ratios).toFixed(2)}–${Math.max(...ratios).toFixed(2)})`;
}

function cells(m: SideMeasurement | undefined): string[] {
  if (!m) return ['—', '—', '—', '—'];
  const failed = m.failures ? ` (${m.failures} failed)` : '';
  return [`${rate(m.perSecond)}${failed}`, ms(m.p50Ms), ms(m.p99Ms), mb(m.peakRssMb)];
}

const verdict = (value: number | undefined, target: number | undefined) =>
  target === undefined || value === undefined ? '—' : value >= target ? 'met' : 'missed';

/** "≥ 0.90x: met", or a dash when there is no target. */
const targetCell = (value: number | undefined, target: number | undefined) =>
  target === undefined ? '—' : `≥ ${target.toFixed(2)}x: ${verdict(value, target)}`;

/** "118 (≤ 120: met)"; to a tenth where rounding would hide which side of the limit it is on ("120.3 (≤ 120: missed)"). */
const limitCell = (value: number | undefined, limit: number) =>
  value === undefined ? '—' : `${Math.round(value) === limit ? value.toFixed(1) : mb(value)} (≤ ${limit}: ${value <= limit ? 'met' : 'missed'})`;

function protocolTable(results: Results): string[] {
  const header = ['Scenario', 'Unit'];
  const align = ['---', '---'];
  for (const side of SIDES) {
    header.push(columnNames[side], 'p50', 'p99', 'RSS MB');
    align.push('---:', '---:', '---:', '---:');
    if (side !== 'baseline') {
      header.push(ratioNames[side], 'Target');
      align.push('---:', '---');
    }
    if (side === 'ours') {
      header.push('Redis cmds');
      align.push('---:');
    }
  }
  const lines = [`| ${header.join(' | ')} |`, `| ${align.join(' | ')} |`];
  for (const result of results.scenarios) {
    const row = [result.title, result.unit];
    for (const side of SIDES) {
      row.push(...cells(result.sides[side]));
      if (side === 'baseline') continue;
      const ratio = ratioOf(result, side);
      row.push(ratio === undefined ? '—' : `${ratio.toFixed(2)}x${roundSpread(result.sides[side])}`, targetCell(ratio, result.targets[side]));
      if (side === 'ours') {
        const commands = result.sides.ours?.redisCommandsPerRequest;
        row.push(commands === undefined ? '—' : commands.toFixed(1));
      }
    }
    lines.push(`| ${row.join(' | ')} |`);
  }
  return lines;
}

/**
 * CPU per request of each side, and the baseline's over each side's: how many of the side's requests one core
 * serves for each of the baseline's. Unlike requests per second, it does not depend on whether the load generator
 * kept the server busy.
 */
function cpuTable(results: Results): string[] {
  const measured = SIDES.filter((side) => results.scenarios.some((result) => result.sides[side]?.cpuUsPerRequest !== undefined));
  if (!measured.length) return [];
  const header = ['Scenario'];
  for (const side of measured) header.push(`${columnNames[side]} µs`, ...(side === 'baseline' ? [] : [`${ratioNames[side]}`]));
  const lines = [
    `CPU per request: user and system time of each server process (every thread; PostgreSQL's and Redis's own processes not counted)`,
    `over the measured windows, per request (per round trip for SSO). The ratio is the baseline's CPU per request over the side's.`,
    '',
    `| ${header.join(' | ')} |`,
    `| --- |${header.slice(1).map(() => ' ---: |').join('')}`,
  ];
  for (const result of results.scenarios) {
    const baseline = result.sides.baseline?.cpuUsPerRequest;
    const row = [result.title];
    for (const side of measured) {
      const us = result.sides[side]?.cpuUsPerRequest;
      row.push(us === undefined ? '—' : Math.round(us).toString());
      if (side !== 'baseline') row.push(us === undefined || baseline === undefined ? '—' : `${(baseline / us).toFixed(2)}x`);
    }
    lines.push(`| ${row.join(' | ')} |`);
  }
  return lines;
}

function loginTable(results: Results): string[] {
  const { settings } = results;
  const { argon2 } = settings;
  const { ratio: ratioTarget, lagP99Ms, nonArgon2Share } = results.loginTargets;
  const lines = [
    `Password sign-in: ${settings.loginConcurrency} concurrent browsers, each sign-in in a new one (authorize → sign-in page → form post with CSRF → code),`,
    `against argon2.verify back to back in the IdP's own process with the same parameters (m=${argon2.memoryCost} KiB, t=${argon2.timeCost}, p=${argon2.parallelism})`,
    `and the same concurrency. Event-loop lag measured inside the IdP during the storm. CPU: \`process.cpuUsage\` of the IdP process (every`,
    `thread) over the storm per sign-in, and over the raw argon2 run per hash; "everything but argon2" is the difference, as a share of a hash.`,
    '',
    `| Side | Sign-ins/s | p50 | p99 | argon2.verify/s | Sign-ins/argon2 | Target | CPU per sign-in ms | CPU per hash ms | Everything but argon2 | Target | Event-loop lag p99 (max) | Target |`,
    `| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |`,
  ];
  for (const side of SIDES) {
    if (side === 'baseline') continue;
    const login = results.login[side];
    if (!login) continue;
    const ratio = login.logins.perSecond / login.argon2PerSecond;
    const { perSignInMs, argon2PerHashMs } = login.cpu;
    const share = perSignInMs / argon2PerHashMs - 1;
    lines.push(
      `| ${[
        sideNames[side],
        ...cells(login.logins).slice(0, 3),
        rate(login.argon2PerSecond),
        `${ratio.toFixed(2)}x`,
        `≥ ${ratioTarget.toFixed(2)}x: ${verdict(ratio, ratioTarget)}`,
        ms(perSignInMs),
        ms(argon2PerHashMs),
        `${Math.round(share * 100)}%`,
        `< ${Math.round(nonArgon2Share * 100)}%: ${share < nonArgon2Share ? 'met' : 'missed'}`,
        `${ms(login.lag.p99Ms)} ms (${ms(login.lag.maxMs)})`,
        `< ${lagP99Ms} ms: ${login.lag.p99Ms < lagP99Ms ? 'met' : 'missed'}`,
      ].join(' | ')} |`,
    );
  }
  return lines;
}

function memoryTables(results: Results): string[] {
  const { compiled, memoryTargets: targets, redis } = results;
  const lines = [
    'Resident memory (RSS, `/proc/<pid>/status` as `ps -o rss` shows it) of each server as the bench runs it, through tsx',
    '(which adds 70-80 MB): just after start-up and one sign-in, then idle: at rest, once V8 has given back what it no',
    'longer needs (its memory reducer runs after some seconds without allocation, 20-30 s here); and the most it held under',
    'the load above (the "RSS MB" column: the most during that scenario). The embedded side starts on a fresh DATA_DIR, so',
    "its figures still hold what its first start left; the compiled server's table below starts it a second time.",
    '',
    `| Side | RSS peak at start MB | RSS after one sign-in MB | RSS idle MB | RSS peak under load MB |`,
    `| --- | ---: | ---: | ---: | ---: |`,
  ];
  for (const side of SIDES) {
    const memory = results.memory[side];
    if (memory) lines.push(`| ${sideNames[side]} | ${mb(memory.startPeakMb)} | ${mb(memory.afterSignInMb)} | ${mb(memory.idleMb)} | ${mb(memory.peakMb)} |`);
  }
  if (compiled) {
    lines.push(
      '',
      `Compiled, as production runs it (\`npm run build\`, \`node ${compiled.entry}\`): just after start-up and one sign-in, then idle (at`,
      `rest, as above); the embedded database's first start (fresh DATA_DIR, every migration) measured to the end of start-up; under load:`,
      `${compiled.loadSeconds} s of each scenario above.`,
      '',
      `| Compiled server | RSS after one sign-in MB | RSS idle MB | RSS peak first start MB | RSS peak under load MB |`,
      `| --- | ---: | ---: | ---: | ---: |`,
      `| ${sideNames.ours} | ${mb(compiled.ours?.afterSignInMb)} | ${limitCell(compiled.ours?.idleMb, targets.compiledIdleMb)} | — | ${mb(compiled.ours?.peakMb)} |`,
      `| ${sideNames.embedded} | ${mb(compiled.embedded?.afterSignInMb)} | ${limitCell(compiled.embedded?.idleMb, targets.embeddedIdleMb)} | ${limitCell(compiled.embedded?.firstStartPeakMb, targets.embeddedPeakMb)} | ${limitCell(compiled.embedded?.peakMb, targets.embeddedPeakMb)} |`,
    );
  }
  if (redis) {
    lines.push(
      '',
      `Redis memory (\`MEMORY USAGE\` of every key of the Postgres + Redis side after its preparation): ${kb(redis.perSessionBytes)} per active session`,
      `(the session and its uid index), ${kb(redis.perRefreshTokenBytes)} per refresh token (the token and its share of its grant's index).`,
      `A rotated refresh token stays, consumed, until it expires: reuse detection needs it.`,
      '',
      `| Keys | Count | Bytes each |`,
      `| --- | ---: | ---: |`,
      ...Object.entries(redis.kinds)
        .sort(([a], [b]) => a.localeCompare(b))
        .map(([kind, { keys, bytes }]) => `| ${kind} | ${keys} | ${Math.round(bytes / keys)} |`),
    );
  }
  return lines;
}

function processEnvLine(processEnv: Record<string, string> | undefined): string[] {
  const pairs = Object.entries(processEnv ?? {}).map(([name, value]) => `\`${name}=${value}\``);
  return pairs.length ? [`Every server, the baseline too, runs with the image's process settings (the Dockerfile's): ${pairs.join(', ')}.`] : [];
}

const withBlankLine = (lines: string[]) => (lines.length ? [...lines, ''] : []);

export function toMarkdown(results: Results): string {
  const { settings, machine } = results;
  const lines = [
    `Measured ${results.finishedAt} on ${machine.cpus} cores (${machine.cpuModel}), Node ${machine.node}.`,
    `Each server runs in a process of its own and the load generator in another; one server is under load at a time`,
    `(this machine has ${machine.cpus} cores: one for the server, one for the load); for each scenario the sides take turns.`,
    `Window: ${settings.seconds} s per side in ${settings.rounds} alternating rounds, after ${settings.warmupSeconds} s of warm-up; autocannon with ${settings.connections} connections;`,
    `the SSO round trip with ${settings.browsers} signed-in browsers following redirects with their cookies. Latencies in ms.`,
    `Host: our whole IdP with node-oidc-provider's models in its memory, as the baseline keeps them (accounts, the account index`,
    `and clients in PostgreSQL, active accounts kept in memory as on the other sides): Host/baseline is what the host costs,`,
    `Ours/baseline over Host/baseline what the store adds. In brackets: the lowest and highest ratio of a single round (the side and`,
    `the baseline measured back to back), a measure of this machine's noise; the verdict is on the ratio over all rounds.`,
    `Redis cmds: commands Redis executed per request (per round trip for SSO) of the PostgreSQL + Redis side, those inside the adapter's`,
    `Lua scripts included (INFO stats of a Redis of the bench's own; none when BENCH_REDIS_URL is given).`,
    ...processEnvLine(settings.processEnv),
    '',
    ...protocolTable(results),
    '',
    ...withBlankLine(cpuTable(results)),
    ...loginTable(results),
    '',
    ...memoryTables(results),
  ];
  return `${lines.join('\n')}\n`;
}
