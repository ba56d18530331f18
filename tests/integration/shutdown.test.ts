import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, rmSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, expect, it } from 'vitest';

import { freePort } from '../support/ports.ts';

const root = path.resolve(import.meta.dirname, '../..');
const dataDir = mkdtempSync(path.join(tmpdir(), 'idp-shutdown-'));
afterAll(() => rmSync(dataDir, { recursive: true, force: true }));

it('finishes a request in flight when told to stop (SIGTERM), refuses new ones, and exits cleanly', async () => {
  const port = await freePort();
  const child = spawn(path.join(root, 'node_modules/.bin/tsx'), ['src/main.ts'], {
    cwd: root,
    env: { PATH: process.env.PATH, PORT: String(port), DATA_DIR: dataDir, LOG_LEVEL: 'warn' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const exited = once(child, 'exit');
  try {
    // Start-up (tsx, PGlite migrations) takes seconds, more on a loaded CI machine.
    const deadline = Date.now() + 80_000;
    let started = false;
    while (!started && Date.now() < deadline) {
      started = await fetch(`http://127.0.0.1:${port}/healthz`).then((r) => r.ok, () => false);
      if (!started) await new Promise((resolve) => setTimeout(resolve, 200));
    }
    expect(started, 'the server answered /healthz').toBe(true);

    // A token request whose body has not fully arrived when the signal comes.
    const body = 'grant_type=client_credentials&client_id=example-service&client_secret=example-service-secret-change-me';
    const socket = connect(port, '127.0.0.1');
    await once(socket, 'connect');
    socket.write(`POST /token HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: ${body.length}\r\n\r\n${body.slice(0, 20)}`);
    let response = '';
    socket.on('data', (chunk) => (response += chunk));
    await new Promise((resolve) => setTimeout(resolve, 200));

    child.kill('SIGTERM');
    await new Promise((resolve) => setTimeout(resolve, 300));
    const refused = await fetch(`http://127.0.0.1:${port}/healthz`).then(() => false, () => true);
    expect(refused).toBe(true);

    socket.write(body.slice(20));
    await once(socket, 'end');
    expect(response).toMatch(/^HTTP\/1\.1 200 OK/);
    expect(response).toContain('"access_token"');

    const [code] = await exited;
    expect(code).toBe(0);
  } finally {
    child.kill('SIGKILL');
  }
}, 120_000);
