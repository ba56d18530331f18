import { describe, expect, it } from 'vitest';

import { toMarkdown, type Results } from '../../bench/report.ts';

const measured = (perSecond: number, peakRssMb?: number) => ({ perSecond, p50Ms: 5, p99Ms: 20, failures: 0, completed: perSecond * 10, peakRssMb });

const results: Results = {
  finishedAt: '2026-12-01T00:00:00.000Z',
  machine: { node: 'v20.20.2', cpus: 2, cpuModel: 'Test CPU' },
  settings: { seconds: 10, warmupSeconds: 2, rounds: 2, connections: 32, browsers: 16, loginConcurrency: 8, argon2: { memoryCost: 19456, timeCost: 2, parallelism: 1 } },
  scenarios: [
    {
      id: 'userinfo',
      title: 'userinfo',
      unit: 'req/s',
      target: 0.85,
      targets: { host: 0.9, ours: 0.85, embedded: 0.4 },
      sides: {
        baseline: { ...measured(1000, 150), cpuUsPerRequest: 400 },
        host: { ...measured(950, 160), cpuUsPerRequest: 500, roundRatios: [0.95] },
        ours: { ...measured(800, 170), redisCommandsPerRequest: 3.5, cpuUsPerRequest: 1000, roundRatios: [0.86, 0.74] },
        embedded: measured(300, 400),
      },
    },
  ],
  login: {
    ours: {
      logins: measured(30),
      argon2PerSecond: 35,
      lag: { p50Ms: 1, p99Ms: 12, maxMs: 30 },
      cpu: { perSignInMs: 33, argon2PerHashMs: 30 },
    },
  },
  loginTargets: { ratio: 0.8, lagP99Ms: 20, nonArgon2Share: 0.25 },
  memory: { baseline: { startPeakMb: 145, afterSignInMb: 152, idleMb: 140, peakMb: 150 }, ours: { idleMb: 190, peakMb: 260 } },
  compiled: {
    entry: 'dist/src/main.js',
    loadSeconds: 5,
    ours: { afterSignInMb: 131, idleMb: 120.3, peakMb: 200 },
    embedded: { firstStartPeakMb: 350, afterSignInMb: 210, idleMb: 180, peakMb: 250 },
  },
  memoryTargets: { compiledIdleMb: 120, embeddedIdleMb: 200, embeddedPeakMb: 300 },
  redis: { kinds: { Session: { keys: 2, bytes: 1600 } }, perSessionBytes: 1024, perRefreshTokenBytes: 2048 },
};

/** The cells of the rows that start with `first`, table by table. */
const rows = (markdown: string, first: string) =>
  markdown
    .split('\n')
    .filter((line) => line.startsWith(`| ${first} |`))
    .map((line) =>
      line
        .split('|')
        .slice(1, -1)
        .map((cell) => cell.trim()),
    );
const row = (markdown: string, first: string) => rows(markdown, first)[0]!;

describe('the bench report', () => {
  const markdown = toMarkdown(results);

  it('shows the sides in order, each with its rate, latencies, peak RSS, ratio to the baseline (and its spread over rounds) and target; Redis commands per request', () => {
    expect(row(markdown, 'Scenario')).toEqual([
      'Scenario', 'Unit',
      'Baseline', 'p50', 'p99', 'RSS MB',
      'Host (memory)', 'p50', 'p99', 'RSS MB', 'Host/baseline', 'Target',
      'Ours PG+Redis', 'p50', 'p99', 'RSS MB', 'Ours/baseline', 'Target', 'Redis cmds',
      'Embedded', 'p50', 'p99', 'RSS MB', 'Embedded/baseline', 'Target',
    ]);
    expect(row(markdown, 'userinfo')).toEqual([
      'userinfo', 'req/s',
      '1000', '5.0', '20', '150',
      '950', '5.0', '20', '160', '0.95x', '≥ 0.90x: met',
      '800', '5.0', '20', '170', '0.80x (0.74–0.86)', '≥ 0.85x: missed', '3.5',
      '300', '5.0', '20', '400', '0.30x', '≥ 0.40x: missed',
    ]);
  });

  it('shows the CPU each side spent per request and the baseline\'s over it, for the sides measured', () => {
    const [, cpuHeader] = rows(markdown, 'Scenario');
    expect(cpuHeader).toEqual(['Scenario', 'Baseline µs', 'Host (memory) µs', 'Host/baseline', 'Ours PG+Redis µs', 'Ours/baseline']);
    expect(rows(markdown, 'userinfo')[1]).toEqual(['userinfo', '400', '500', '0.80x', '1000', '0.40x']);
  });

  it('puts the CPU of a sign-in beside the CPU of a hash', () => {
    const ours = row(markdown, 'Ours (Postgres + Redis)');
    expect(ours.slice(7, 11)).toEqual(['33', '30', '10%', '< 25%: met']);
  });

  it('reports memory idle and under load, the compiled server against its targets, and Redis per item', () => {
    expect(row(markdown, 'Baseline (bare node-oidc-provider, memory)')).toEqual(['Baseline (bare node-oidc-provider, memory)', '145', '152', '140', '150']);
    // The targets hold for the server at rest; the figure just after the sign-in is shown beside it.
    expect(row(markdown, 'Ours (embedded PGlite)')).toEqual(['Ours (embedded PGlite)', '210', '180 (≤ 200: met)', '350 (≤ 300: missed)', '250 (≤ 300: met)']);
    // Rounded to 120 it would read as within the limit.
    expect(rows(markdown, 'Ours (Postgres + Redis)').at(-1)!.slice(0, 3)).toEqual(['Ours (Postgres + Redis)', '131', '120.3 (≤ 120: missed)']);
    expect(markdown).toContain('1.0 KiB per active session');
    expect(markdown).toContain('2.0 KiB per refresh token');
  });
});
