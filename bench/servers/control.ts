import { monitorEventLoopDelay } from 'node:perf_hooks';
import argon2 from 'argon2';

import type { Argon2Parameters } from '../../src/accounts/password-hasher.ts';

/** What the bench asks a server process over IPC; it is no HTTP endpoint, so nothing of it is in the product. */
export type ControlRequest =
  | { type: 'lag-start' }
  | { type: 'lag-stop' }
  | { type: 'cpu-start' }
  | { type: 'cpu-stop' }
  | { type: 'argon2'; concurrency: number; durationMs: number }
  | { type: 'stop' };

export type ControlReply =
  | { type: 'ready'; port: number }
  | { type: 'lag'; p50Ms: number; p99Ms: number; maxMs: number }
  | { type: 'argon2'; perSecond: number; count: number; cpuMs: number }
  | { type: 'cpu'; cpuMs: number }
  | { type: 'failed'; message: string };

const LAG_RESOLUTION_MS = 1;

/** The timer's own interval is part of each sample; what is left is the lag. */
const lagMs = (ns: number) => Math.max(0, ns / 1e6 - LAG_RESOLUTION_MS);

/** CPU time of the whole process (every thread: argon2 hashes on libuv's pool) since `since`, in ms. */
const cpuMsSince = (since: NodeJS.CpuUsage) => {
  const { user, system } = process.cpuUsage(since);
  return (user + system) / 1000;
};

/** argon2.verify back to back with `concurrency` in flight, in this process, with the IdP's parameters. */
async function argon2Rate(parameters: Argon2Parameters, concurrency: number, durationMs: number) {
  const password = 'correct horse battery staple';
  const hash = await argon2.hash(password, { type: argon2.argon2id, ...parameters });
  const cpu = process.cpuUsage();
  const started = performance.now();
  let count = 0;
  const worker = async () => {
    while (performance.now() - started < durationMs) {
      if (!(await argon2.verify(hash, password))) throw new Error('argon2 verification failed');
      count += 1;
    }
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
  return { perSecond: count / ((performance.now() - started) / 1000), count, cpuMs: cpuMsSince(cpu) };
}

function reply(message: ControlReply) {
  process.send?.(message);
}

/** Answers the bench's requests; `stop` closes the server and exits. */
export function serveControl(options: { argon2: Argon2Parameters; stop: () => Promise<void> }) {
  const lag = monitorEventLoopDelay({ resolution: LAG_RESOLUTION_MS });
  let cpu = process.cpuUsage();
  process.on('message', (request: ControlRequest) => {
    const run = async () => {
      switch (request.type) {
        case 'lag-start':
          lag.reset();
          lag.enable();
          return;
        case 'lag-stop':
          lag.disable();
          return reply({ type: 'lag', p50Ms: lagMs(lag.percentile(50)), p99Ms: lagMs(lag.percentile(99)), maxMs: lagMs(lag.max) });
        case 'cpu-start':
          cpu = process.cpuUsage();
          return;
        case 'cpu-stop':
          return reply({ type: 'cpu', cpuMs: cpuMsSince(cpu) });
        case 'argon2':
          return reply({ type: 'argon2', ...(await argon2Rate(options.argon2, request.concurrency, request.durationMs)) });
        case 'stop':
          await options.stop();
          process.exit(0);
      }
    };
    run().catch((error: Error) => reply({ type: 'failed', message: error.message }));
  });
  process.on('disconnect', () => process.exit(0));
}
