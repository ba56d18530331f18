import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, afterEach, describe, expect, it } from 'vitest';

import { freePort } from '../support/ports.ts';

const root = path.resolve(import.meta.dirname, '../..');
const dirs: string[] = [];
const children: ChildProcess[] = [];

afterEach(async () => {
  for (const child of children.splice(0)) {
    if (child.exitCode === null && child.signalCode === null) {
      child.kill('SIGTERM');
      await once(child, 'exit');
    }
  }
});
afterAll(() => {
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
});

/** `npm start` as an operator runs it: its stdout and stderr as they arrive, and a way to wait for a line. */
function startIdp(env: Record<string, string>) {
  const dataDir = mkdtempSync(path.join(tmpdir(), 'idp-startup-'));
  dirs.push(dataDir);
  const child = spawn(path.join(root, 'node_modules/.bin/tsx'), ['src/main.ts'], {
    cwd: root,
    env: { PATH: process.env.PATH, HOME: process.env.HOME, DATA_DIR: dataDir, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  children.push(child);
  const output = { stdout: '', stderr: '' };
  child.stdout!.on('data', (chunk) => (output.stdout += chunk));
  child.stderr!.on('data', (chunk) => (output.stderr += chunk));
  const exited = once(child, 'exit');

  async function waitFor(found: () => boolean, what: string, timeoutMs = 60_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!found()) {
      if (child.exitCode !== null) throw new Error(`the IdP exited before ${what}:\n${output.stdout}${output.stderr}`);
      if (Date.now() > deadline) throw new Error(`no ${what} within ${timeoutMs} ms:\n${output.stdout}${output.stderr}`);
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  }
  return { child, output, exited, waitFor };
}

describe('start-up', () => {
  it('writes its start-up line at once, before any request, and each request line promptly', async () => {
    const port = await freePort();
    const idp = startIdp({ PORT: String(port) });
    await idp.waitFor(() => idp.output.stdout.includes('"msg":"identity provider listening'), 'start-up line');

    await fetch(`http://127.0.0.1:${port}/.well-known/openid-configuration`);
    await idp.waitFor(() => idp.output.stdout.includes('"path":"/.well-known/openid-configuration"'), 'request line', 2000);
  }, 90_000);
});
