import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, expect, it } from 'vitest';

const root = path.resolve(import.meta.dirname, '../..');
const dir = mkdtempSync(path.join(tmpdir(), 'idp-crash-log-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** A process set up as the server is in production, which then warns, is warned, and crashes. */
const script = `
import { createServerLogger, sendProcessOutputTo } from ${JSON.stringify(pathToFileURL(path.join(root, 'src/logger.ts')).href)};
sendProcessOutputTo(createServerLogger('info'));
console.warn('\\x1b[31;1mA library warns in colour\\x1b[0m');
process.emitWarning('an old API', 'DeprecationWarning');
setTimeout(() => void Promise.reject(new Error('nobody caught this')));
`;

it('turns console output, process warnings and a crash into JSON lines on stdout, and exits with status 1 after the crash', async () => {
  const file = path.join(dir, 'crash.ts');
  writeFileSync(file, script);
  const child = spawn(path.join(root, 'node_modules/.bin/tsx'), [file], { cwd: root, env: { PATH: process.env.PATH }, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (chunk) => (stdout += chunk));
  child.stderr.on('data', (chunk) => (stderr += chunk));
  const [code] = await once(child, 'exit');

  expect(stderr).toBe('');
  const lines = stdout.split('\n').filter(Boolean).map((line) => JSON.parse(line) as { level: number; msg: string; err?: { stack: string } });
  expect(lines.map(({ level, msg }) => ({ level, msg }))).toEqual([
    { level: 40, msg: 'A library warns in colour' },
    { level: 40, msg: 'an old API' },
    { level: 60, msg: 'nobody caught this' },
  ]);
  expect(lines[1]!.err!.stack).toMatch(/^DeprecationWarning: an old API/);
  expect(lines[2]!.err!.stack).toMatch(/^Error: nobody caught this\n\s+at /);
  expect(code).toBe(1);
}, 60_000);
