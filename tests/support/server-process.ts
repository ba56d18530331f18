import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import path from 'node:path';

const root = path.resolve(import.meta.dirname, '../..');

export interface ServerProcess {
  readonly child: ChildProcess;
  readonly port: number;
  /** stdout and stderr interleaved as they came. */
  readonly output: string;
  readonly stdout: string;
  readonly stderr: string;
  /** SIGTERM, then wait for the exit: the node drains for its SHUTDOWN_GRACE_SECONDS first. */
  stop(): Promise<void>;
}

/**
 * The IdP from its sources, as `npm start` runs it: Node with tsx's loader. Not the tsx command, which
 * relays SIGTERM and SIGKILLs the server unless it acknowledges within 30 ms, which a loaded machine
 * misses, so a drain would be cut short. Resolves once /readyz answers 200; rejects if it exits first.
 */
export async function startServerProcess(env: Record<string, string>, port: number, timeoutMs = 80_000): Promise<ServerProcess> {
  const child = spawn(process.execPath, ['--import', 'tsx', 'src/main.ts'], {
    cwd: root,
    env: { PATH: process.env.PATH, HOME: process.env.HOME, ...env, PORT: String(port) },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const server = {
    child,
    port,
    output: '',
    stdout: '',
    stderr: '',
    async stop() {
      if (child.exitCode !== null || child.signalCode !== null) return;
      const exited = once(child, 'exit');
      child.kill('SIGTERM');
      await exited;
    },
  };
  child.stdout!.on('data', (chunk) => ((server.output += chunk), (server.stdout += chunk)));
  child.stderr!.on('data', (chunk) => ((server.output += chunk), (server.stderr += chunk)));
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`the IdP exited while starting:\n${server.output}`);
    if (await fetch(`http://127.0.0.1:${port}/readyz`).then((r) => r.ok, () => false)) return server;
    if (Date.now() > deadline) {
      await server.stop();
      throw new Error(`the IdP was not ready within ${timeoutMs} ms:\n${server.output}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}
