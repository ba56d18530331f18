import { fork, type ChildProcess } from 'node:child_process';
import { openSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

import type { ControlReply, ControlRequest } from './control.ts';
import { processCpuMs } from './process-cpu.ts';
import { residentMemory, type ResidentMemory } from './resident-memory.ts';

const here = path.dirname(fileURLToPath(import.meta.url));

export interface ServerProcess {
  origin: string;
  logFile: string;
  memory: ResidentMemory;
  /** CPU time the server process has used so far, in ms (undefined off Linux). */
  cpuMs(): number | undefined;
  ask<T extends ControlReply['type']>(request: ControlRequest, replyType: T): Promise<Extract<ControlReply, { type: T }>>;
  tell(request: ControlRequest): void;
  stop(): Promise<void>;
}

/**
 * Starts bench/servers/<script>.ts in a process of its own (its log to `logFile`, with `--cpu-prof`
 * when `profileDir` is given) and resolves once it listens.
 */
export async function startServer(
  script: 'ours' | 'baseline',
  options: { env: Record<string, string>; logFile: string; profileDir?: string },
): Promise<ServerProcess> {
  const log = openSync(options.logFile, 'w');
  const child: ChildProcess = fork(path.join(here, `${script}.ts`), [], {
    execArgv: ['--import', 'tsx', ...(options.profileDir ? ['--cpu-prof', `--cpu-prof-dir=${options.profileDir}`] : [])],
    env: options.env,
    stdio: ['ignore', log, log, 'ipc'],
  });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));

  const next = <T extends ControlReply['type']>(replyType: T) =>
    new Promise<Extract<ControlReply, { type: T }>>((resolve, reject) => {
      const onMessage = (message: ControlReply) => {
        if (message.type !== replyType && message.type !== 'failed') return;
        child.off('message', onMessage);
        child.off('exit', onExit);
        if (message.type === 'failed') reject(new Error(`${script}: ${message.message}`));
        else resolve(message as Extract<ControlReply, { type: T }>);
      };
      const onExit = (code: number | null) => {
        child.off('message', onMessage);
        reject(new Error(`${script} server exited (code ${code}); see ${options.logFile}`));
      };
      child.on('message', onMessage);
      child.once('exit', onExit);
    });

  const { port } = await next('ready');
  return {
    origin: `http://127.0.0.1:${port}`,
    logFile: options.logFile,
    memory: residentMemory(child.pid!),
    cpuMs: () => processCpuMs(child.pid!),
    ask(request, replyType) {
      const reply = next(replyType);
      child.send(request);
      return reply;
    },
    tell: (request) => child.send(request),
    async stop() {
      if (child.exitCode === null && child.connected) child.send({ type: 'stop' } satisfies ControlRequest);
      const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
      await exited;
      clearTimeout(timer);
    },
  };
}
