import { once } from 'node:events';
import { mkdtempSync, rmSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, expect, it } from 'vitest';

import { freePort } from '../support/ports.ts';
import { startServerProcess } from '../support/server-process.ts';

const dataDir = mkdtempSync(path.join(tmpdir(), 'idp-shutdown-'));
afterAll(() => rmSync(dataDir, { recursive: true, force: true }));

const waitUntil = async (what: string, done: () => Promise<boolean>, timeoutMs = 10_000) => {
  const deadline = Date.now() + timeoutMs;
  while (!(await done())) {
    if (Date.now() > deadline) throw new Error(`not ${what} within ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
};

it('drains when told to stop (SIGTERM): /readyz fails at once, requests are still served for the grace period, then it finishes the one in flight and exits cleanly', async () => {
  const port = await freePort();
  // Start-up (tsx, PGlite migrations) takes seconds, more on a loaded CI machine.
  const server = await startServerProcess({ DATA_DIR: dataDir, LOG_LEVEL: 'warn', SHUTDOWN_GRACE_SECONDS: '2' }, port);
  const child = server.child;
  const exited = once(child, 'exit');
  const base = `http://127.0.0.1:${port}`;
  try {
    // A token request whose body has not fully arrived when the signal comes.
    const body = 'grant_type=client_credentials&client_id=example-service&client_secret=example-service-secret-change-me';
    const socket = connect(port, '127.0.0.1');
    await once(socket, 'connect');
    socket.write(`POST /token HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: ${body.length}\r\n\r\n${body.slice(0, 20)}`);
    let response = '';
    socket.on('data', (chunk) => (response += chunk));
    await new Promise((resolve) => setTimeout(resolve, 200));

    child.kill('SIGTERM');
    // Not ready any more, so the load balancer sends no more; what still comes is served.
    await waitUntil('unready', () => fetch(`${base}/readyz`).then((r) => r.status === 503, () => false));
    const readyz = await fetch(`${base}/readyz`);
    expect(readyz.status).toBe(503);
    expect(((await readyz.json()) as { checks: Record<string, string> }).checks.node).toBe('shutting down');
    const discovery = await fetch(`${base}/.well-known/openid-configuration`);
    expect(discovery.status).toBe(200);

    // A connection a proxy has opened but not yet written its request to when the node stops listening.
    const late = connect(port, '127.0.0.1');
    await once(late, 'connect');
    let lateResponse = '';
    late.on('data', (chunk) => (lateResponse += chunk));

    // After the grace period: new connections are refused, the request in flight is still answered.
    await waitUntil('refusing connections', () => fetch(`${base}/healthz`).then(() => false, () => true));
    socket.write(body.slice(20));
    await once(socket, 'end');
    expect(response).toMatch(/^HTTP\/1\.1 200 OK/);
    expect(response).toContain('"access_token"');

    // Its request, written now, is answered too, and the connection is closed after it.
    late.write(`POST /token HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: ${body.length}\r\n\r\n${body}`);
    await once(late, 'end');
    expect(lateResponse).toMatch(/^HTTP\/1\.1 200 OK/);
    expect(lateResponse).toMatch(/\r\nconnection: close\r\n/i);
    expect(lateResponse).toContain('"access_token"');

    const [code] = await exited;
    expect(code).toBe(0);
  } catch (error) {
    throw new Error(`${(error as Error).message}\n${server.output}`, { cause: error });
  } finally {
    child.kill('SIGKILL');
  }
}, 120_000);
