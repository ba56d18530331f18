import type { LoginResult } from './login-storm.ts';
import type { Measurement } from './load/measure.ts';

export type Side = 'baseline' | 'ours' | 'embedded';

export const sideNames: Record<Side, string> = {
  baseline: 'Baseline (bare node-oidc-provider, memory)',
  ours: 'Ours (Postgres + Redis)',
  embedded: 'Ours (embedded PGlite)',
};

export interface ScenarioResult {
  id: string;
  title: string;
  unit: string;
  target: number | undefined;
  sides: Partial<Record<Side, Measurement>>;
}

export interface Results {
  finishedAt: string;
  machine: { node: string; cpus: number; cpuModel: string };
  settings: { seconds: number; warmupSeconds: number; rounds: number; connections: number; browsers: number; loginConcurrency: number; argon2: Record<string, number> };
  scenarios: ScenarioResult[];
  login: Partial<Record<Exclude<Side, 'baseline'>, LoginResult>>;
  /** Targets for logins (ratio to raw argon2) and for the event-loop lag during the storm. */
  loginTargets: { ratio: number; lagP99Ms: number };
}

const LOGIN_SIDES = ['ours', 'embedded'] as const;

const rate = (value: number) => (value >= 100 ? Math.round(value).toString() : value.toFixed(1));
const ms = (value: number) => (value >= 10 ? Math.round(value).toString() : value.toFixed(1));

export function ratioOf(result: ScenarioResult, side: Side): number | undefined {
  const baseline = result.sides.baseline?.perSecond;
  const ours = result.sides[side]?.perSecond;
  return baseline && ours !== undefined ? ours / baseline : undefined;
}

function cells(m: Measurement | undefined): string[] {
  if (!m) return ['—', '—', '—'];
  const failed = m.failures ? ` (${m.failures} failed)` : '';
  return [`${rate(m.perSecond)}${failed}`, ms(m.p50Ms), ms(m.p99Ms)];
}

const verdict = (value: number | undefined, target: number | undefined) =>
  target === undefined || value === undefined ? '—' : value >= target ? 'met' : 'missed';

export function toMarkdown(results: Results): string {
  const { settings, machine } = results;
  const lines = [
    `Measured ${results.finishedAt} on ${machine.cpus} cores (${machine.cpuModel}), Node ${machine.node}.`,
    `Each server runs in a process of its own and the load generator in another; one server is under load at a time`,
    `(this machine has ${machine.cpus} cores: one for the server, one for the load); for each scenario the sides take turns.`,
    `Window: ${settings.seconds} s per side in ${settings.rounds} alternating rounds, after ${settings.warmupSeconds} s of warm-up; autocannon with ${settings.connections} connections;`,
    `the SSO round trip with ${settings.browsers} signed-in browsers following redirects with their cookies. Latencies in ms.`,
    '',
    `| Scenario | Unit | Baseline | p50 | p99 | Ours PG+Redis | p50 | p99 | Ours/baseline | Embedded | p50 | p99 | Embedded/baseline | Target | Ours |`,
    `| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- |`,
  ];
  for (const result of results.scenarios) {
    const ours = ratioOf(result, 'ours');
    const embedded = ratioOf(result, 'embedded');
    lines.push(
      `| ${[
        result.title,
        result.unit,
        ...cells(result.sides.baseline),
        ...cells(result.sides.ours),
        ours === undefined ? '—' : `${ours.toFixed(2)}x`,
        ...cells(result.sides.embedded),
        embedded === undefined ? '—' : `${embedded.toFixed(2)}x`,
        result.target === undefined ? '—' : `≥ ${result.target.toFixed(2)}x`,
        verdict(ours, result.target),
      ].join(' | ')} |`,
    );
  }

  const { argon2 } = settings;
  lines.push(
    '',
    `Password sign-in: ${settings.loginConcurrency} concurrent browsers, each sign-in in a new one (authorize → sign-in page → form post with CSRF → code),`,
    `against argon2.verify back to back in the IdP's own process with the same parameters (m=${argon2.memoryCost} KiB, t=${argon2.timeCost}, p=${argon2.parallelism})`,
    `and the same concurrency. Event-loop lag measured inside the IdP during the storm.`,
    '',
    `| Side | Sign-ins/s | p50 | p99 | argon2.verify/s | Sign-ins/argon2 | Target | Event-loop lag p99 (max) | Target |`,
    `| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |`,
  );
  for (const side of LOGIN_SIDES) {
    const login = results.login[side];
    if (!login) continue;
    const ratio = login.logins.perSecond / login.argon2PerSecond;
    const { ratio: ratioTarget, lagP99Ms } = results.loginTargets;
    lines.push(
      `| ${[
        sideNames[side],
        ...cells(login.logins),
        rate(login.argon2PerSecond),
        `${ratio.toFixed(2)}x`,
        `≥ ${ratioTarget.toFixed(2)}x: ${verdict(ratio, ratioTarget)}`,
        `${ms(login.lag.p99Ms)} ms (${ms(login.lag.maxMs)})`,
        `< ${lagP99Ms} ms: ${login.lag.p99Ms < lagP99Ms ? 'met' : 'missed'}`,
      ].join(' | ')} |`,
    );
  }
  return `${lines.join('\n')}\n`;
}
