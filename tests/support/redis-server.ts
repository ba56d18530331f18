import { execFile, spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { createServer } from 'node:net';
import { promisify } from 'node:util';

const run = promisify(execFile);

export const hasRedisServer = !spawnSync('redis-server', ['--version']).error;

export interface RedisServer {
  port: number;
  stop(): Promise<void>;
}

function canListen(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = createServer();
    server.once('error', () => resolve(false));
    server.listen(port, '127.0.0.1', () => server.close(() => resolve(true)));
  });
}

/** A free loopback port whose cluster bus port (port + 10000) is free too. */
export async function freeRedisPort(): Promise<number> {
  for (let attempt = 0; attempt < 50; attempt += 1) {
    const port = 20000 + Math.floor(Math.random() * 25000);
    if ((await canListen(port)) && (await canListen(port + 10000))) return port;
  }
  throw new Error('No free port pair for a Redis node');
}

export function redisCli(port: number, ...args: string[]): Promise<string> {
  return run('redis-cli', ['-h', '127.0.0.1', '-p', String(port), ...args]).then(({ stdout }) => stdout);
}

export async function waitFor(what: string, check: () => Promise<boolean>, timeoutMs = 15_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await check()) return;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  throw new Error(`Timed out waiting for ${what}`);
}

function exited(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => child.once('exit', () => resolve()));
}

/**
 * Starts `redis-server` as a child process on a free loopback port, without persistence, and waits
 * for PING. A config file, when given, comes first as redis-server requires (a sentinel needs one).
 */
export async function startRedisServer(dir: string, extraArgs: string[] = [], configFile?: string): Promise<RedisServer> {
  const port = await freeRedisPort();
  const child = spawn(
    'redis-server',
    [
      ...(configFile ? [configFile] : []),
      ...['--port', String(port), '--bind', '127.0.0.1', '--dir', dir, '--save', '', '--appendonly', 'no', '--daemonize', 'no'],
      ...extraArgs,
    ],
    { stdio: ['ignore', 'ignore', 'pipe'] },
  );
  let stderr = '';
  child.stderr?.on('data', (chunk) => (stderr += chunk));
  const stop = async () => {
    child.kill('SIGTERM');
    await exited(child);
  };
  try {
    await waitFor(`redis-server on port ${port}`, async () => {
      if (child.exitCode !== null) throw new Error(`redis-server exited: ${stderr}`);
      return (await redisCli(port, 'ping').catch(() => '')).trim() === 'PONG';
    });
  } catch (error) {
    await stop();
    throw error;
  }
  return { port, stop };
}
