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

const tsx = path.join(root, 'node_modules/.bin/tsx');

/**
 * `npm start` as an operator runs it: its stdout and stderr as they arrive, and a way to wait for a line.
 * `terminal`: stdout is a terminal (a pseudo-terminal from util-linux `script`), as when started by hand.
 */
function startIdp(env: Record<string, string>, { terminal = false } = {}) {
  const dataDir = mkdtempSync(path.join(tmpdir(), 'idp-startup-'));
  dirs.push(dataDir);
  const [command, args] = terminal ? ['script', ['-qfec', `${tsx} src/main.ts`, '/dev/null']] : [tsx, ['src/main.ts']];
  const child = spawn(command, args as string[], {
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

function jsonLines(stdout: string): Record<string, unknown>[] {
  return stdout
    .split('\n')
    .filter((line) => line.startsWith('{'))
    .map((line) => JSON.parse(line) as Record<string, unknown>);
}

describe('start-up', () => {
  it('writes its start-up line at once, before any request, and each request line promptly; listens on HOST, and /metrics on METRICS_HOST:METRICS_PORT only', async () => {
    const [port, metricsPort] = [await freePort(), await freePort()];
    // Linux answers on all of 127.0.0.0/8: a listener bound to one of them is refused on the others.
    const idp = startIdp({ PORT: String(port), HOST: '127.0.0.2', METRICS_PORT: String(metricsPort), METRICS_HOST: '127.0.0.3' });
    await idp.waitFor(() => idp.output.stdout.includes('"msg":"identity provider listening'), 'start-up line');

    await fetch(`http://127.0.0.2:${port}/.well-known/openid-configuration`);
    await idp.waitFor(() => idp.output.stdout.includes('"path":"/.well-known/openid-configuration"'), 'request line', 2000);

    const status = (url: string) => fetch(url).then((response) => response.status, (error: Error) => (error.cause as { code?: string }).code);
    expect(await status(`http://127.0.0.1:${port}/healthz`)).toBe('ECONNREFUSED');
    expect(await status(`http://127.0.0.3:${metricsPort}/metrics`)).toBe(200);
    expect(await status(`http://127.0.0.1:${metricsPort}/metrics`)).toBe('ECONNREFUSED');
    expect(await status(`http://127.0.0.2:${port}/metrics`)).toBe(404);
    const summary = jsonLines(idp.output.stdout).find((line) => String(line.msg).startsWith('identity provider listening'));
    expect(summary).toMatchObject({ metrics: `http://127.0.0.3:${metricsPort}/metrics` });
  }, 90_000);

  it('logs one JSON summary when stdout is not a terminal: the addresses, the outbox, and how to make the first admin', async () => {
    const port = await freePort();
    const issuer = `http://localhost:${port}`;
    const idp = startIdp({ PORT: String(port) });
    await idp.waitFor(() => idp.output.stdout.includes('"msg":"identity provider listening'), 'start-up line');

    const summaries = jsonLines(idp.output.stdout).filter((line) => String(line.msg).startsWith('identity provider listening'));
    expect(summaries).toHaveLength(1);
    expect(summaries[0]).toMatchObject({
      issuer,
      port,
      discovery: `${issuer}/.well-known/openid-configuration`,
      accountPage: `${issuer}/account`,
      adminConsole: `${issuer}/admin`,
      devOutbox: `${issuer}/dev/outbox`,
      firstAdmin: { stopServerFirst: true },
    });
    expect((summaries[0]!.firstAdmin as { command: string }).command).toMatch(/npm run admin -- create-user --email \S+ --password-stdin --role super_admin/);
  }, 90_000);

  it('prints the summary as readable lines in a terminal, with the first-admin command while there is none', async () => {
    const port = await freePort();
    const issuer = `http://localhost:${port}`;
    const idp = startIdp({ PORT: String(port) }, { terminal: true });
    await idp.waitFor(() => idp.output.stdout.includes('--role super_admin'), 'start-up summary');

    const text = idp.output.stdout.replaceAll('\r', '');
    expect(text).toContain(`Identity provider listening on port ${port}\n`);
    expect(text).toMatch(new RegExp(`Discovery +${issuer}/\\.well-known/openid-configuration\n`));
    expect(text).toMatch(new RegExp(`Account page +${issuer}/account\n`));
    expect(text).toMatch(new RegExp(`Admin console +${issuer}/admin\n`));
    expect(text).toMatch(new RegExp(`Mail outbox +${issuer}/dev/outbox`));
    expect(text).toContain('No super admin yet');
    expect(text).toContain('stop this server (the embedded database in DATA_DIR allows one process at a time)');
    expect(text).not.toContain('"msg":"identity provider listening');
  }, 90_000);

  it('keeps the JSON line in a terminal with LOG_FORMAT=json, and says nothing of a first admin once one exists', async () => {
    const port = await freePort();
    const idp = startIdp(
      { PORT: String(port), LOG_FORMAT: 'json', ADMIN_EMAIL: 'first@example.com', ADMIN_PASSWORD: 'a long first admin password' },
      { terminal: true },
    );
    await idp.waitFor(() => idp.output.stdout.includes('"msg":"identity provider listening'), 'start-up line');

    const summary = jsonLines(idp.output.stdout.replaceAll('\r', '')).find((line) => String(line.msg).startsWith('identity provider listening'));
    expect(summary).toMatchObject({ accountPage: `http://localhost:${port}/account` });
    expect(summary).not.toHaveProperty('firstAdmin');
    expect(idp.output.stdout).not.toContain('No super admin yet');
  }, 90_000);

  it.skipIf(!process.env.TEST_DATABASE_URL)('refuses a PostgreSQL database that does not exist with one line saying how to create it', async () => {
    const missing = new URL(process.env.TEST_DATABASE_URL!);
    missing.pathname = '/idp_startup_no_such_database';
    const idp = startIdp({ PORT: String(await freePort()), DATABASE_URL: missing.href });
    const [code] = await idp.exited;
    expect(code).toBe(1);
    const refusal = idp.output.stderr.split('\n').filter((line) => line && !line.includes('Unsupported runtime'));
    expect(refusal).toEqual([expect.stringMatching(/^The database "idp_startup_no_such_database" .*does not exist\. Create it \(`createdb .*idp_startup_no_such_database`\)/)]);
  }, 60_000);
});
