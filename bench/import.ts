/**
 * How fast `npm run admin -- import-users` takes in 100,000 people (bcrypt hashes, two roles each,
 * one mapped, metadata), and its peak memory, on PostgreSQL and on the embedded database.
 * Each run is the whole command as an operator runs it (start-up included), in the image (compiled, with the image's
 * process settings) and through `npm run admin` (tsx), timed by /usr/bin/time
 * for its wall time and peak RSS, on a database migrated beforehand. Beside it, the peak RSS of a
 * command that only opens that database (export-users while it is empty): the difference is what
 * the import itself holds. Targets (#20): under 60 s, under 300 MB.
 *
 *   npx tsx bench/import.ts [--rows 100000] [--database-url postgres://postgres@127.0.0.1:5432/test]
 */
import { execFileSync, spawn } from 'node:child_process';
import { once } from 'node:events';
import { randomBytes } from 'node:crypto';
import { createWriteStream, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import path from 'node:path';
import { finished } from 'node:stream/promises';
import { parseArgs } from 'node:util';

import pg from 'pg';

import { imageProcessEnv } from './image-env.ts';

const root = path.resolve(import.meta.dirname, '..');
const { values } = parseArgs({
  options: {
    rows: { type: 'string', default: '100000' },
    'database-url': { type: 'string', default: process.env.TEST_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test' },
  },
});
const rows = Number(values.rows);
const BCRYPT_ALPHABET = './ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789';

/** A hash in bcrypt's form, cost 12 (the import checks the format; it never verifies a password). */
function bcryptShaped(): string {
  const bytes = randomBytes(53);
  return `$2b$12$${Array.from(bytes, (byte) => BCRYPT_ALPHABET[byte % 64]).join('')}`;
}

async function writeInput(file: string): Promise<void> {
  const out = createWriteStream(file);
  for (let i = 0; i < rows; i += 1) {
    const line = JSON.stringify({
      email: `person${i}@example.com`,
      email_verified: i % 3 !== 0,
      name: `Person ${i}`,
      roles: i % 10 === 0 ? ['chief', 'user'] : ['user'],
      status: i % 50 === 0 ? 'disabled' : 'active',
      created_at: new Date(Date.UTC(2020, 0, 1) + i * 60_000).toISOString(),
      metadata: { plan: i % 2 ? 'free' : 'pro', legacy_id: i },
      password_hash: bcryptShaped(),
      ...(i % 7 === 0 ? { google_sub: `10${i}` } : {}),
    });
    if (!out.write(`${line}\n`)) await once(out, 'drain');
  }
  out.end();
  await finished(out);
}

interface Run {
  backend: string;
  way: Way;
  seconds: number;
  peakMb: number;
  output: string;
}

/** How an operator runs the admin commands: in the image (compiled, with its process settings), or `npm run admin` (tsx). */
const ways = {
  image: { label: 'in the image: `node dist/src/cli/main.js`', entry: ['dist/src/cli/main.js'], env: imageProcessEnv() },
  tsx: { label: '`npm run admin` (tsx)', entry: ['--import', 'tsx', 'src/cli/main.ts'], env: {} },
};
type Way = keyof typeof ways;

function timedAdmin(backend: string, way: Way, args: string[], env: Record<string, string>): Promise<Run> {
  return new Promise((resolve, reject) => {
    const child = spawn('/usr/bin/time', ['-f', 'TIME %e %M', process.execPath, ...ways[way].entry, ...args], {
      cwd: root,
      env: { PATH: process.env.PATH, HOME: process.env.HOME, NODE_ENV: 'test', ...ways[way].env, ...env },
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk) => (stdout += chunk));
    child.stderr.on('data', (chunk) => (stderr += chunk));
    child.on('error', reject);
    child.on('close', (code) => {
      const timing = /TIME ([\d.]+) (\d+)/.exec(stderr);
      if (code !== 0 || !timing) return reject(new Error(`${args[0]} on ${backend} failed (${code}): ${stderr}`));
      resolve({ backend, way, seconds: Number(timing[1]), peakMb: Number(timing[2]) / 1024, output: stdout.trim() });
    });
  });
}

const work = mkdtempSync(path.join(tmpdir(), 'bench-import-'));
const input = path.join(work, 'people.jsonl');
const admin = new pg.Client({ connectionString: values['database-url'] });
const database = `bench_import_${randomBytes(4).toString('hex')}`;
try {
  execFileSync('npm', ['run', '--silent', 'build'], { cwd: root, stdio: 'inherit' });
  await writeInput(input);
  await admin.connect();
  const results: (Run & { openedMb: number })[] = [];
  for (const way of Object.keys(ways) as Way[]) {
    const name = `${database}_${way}`;
    await admin.query(`create database ${name}`);
    const url = new URL(values['database-url']);
    url.pathname = `/${name}`;
    for (const [backend, env] of [
      ['PostgreSQL', { DATABASE_URL: url.href }],
      ['embedded (PGlite)', { DATA_DIR: path.join(work, `data-${way}`) }],
    ] as const) {
      await timedAdmin(backend, way, ['migrate'], env);
      const opened = await timedAdmin(backend, way, ['export-users'], env);
      const run = await timedAdmin(backend, way, ['import-users', '--file', input, '--role-map', 'chief=moderator'], env);
      results.push({ ...run, openedMb: opened.peakMb });
    }
  }
  const report = [
    `# import-users: ${rows.toLocaleString('en')} people`,
    '',
    `${new Date().toISOString()}, Node ${process.version}, ${cpus().length} × ${cpus()[0]?.model ?? '?'}, load average ${loadavg()[0]!.toFixed(1)}; the whole command, start-up included.`,
    '',
    `In the image, the command runs with the image's process settings: ${Object.entries(ways.image.env).map(([name, value]) => `\`${name}=${value}\``).join(', ') || 'none'}.`,
    '',
    '| database | command | seconds (target < 60) | people/s | peak RSS MB (target < 300) | of which opening the database | the import itself | summary |',
    '|---|---|---|---|---|---|---|---|',
    ...results.map(
      (run) =>
        `| ${run.backend} | ${ways[run.way].label} | ${run.seconds.toFixed(1)} | ${Math.round(rows / run.seconds)} | ${Math.round(run.peakMb)} | ${Math.round(run.openedMb)} | ${Math.round(run.peakMb - run.openedMb)} | ${run.output} |`,
    ),
    '',
  ].join('\n');
  console.log(report);
  writeFileSync(path.join(root, 'bench/results/import.md'), report);
} finally {
  for (const way of Object.keys(ways)) await admin.query(`drop database if exists ${database}_${way}`).catch(() => {});
  await admin.end().catch(() => {});
  rmSync(work, { recursive: true, force: true });
}
