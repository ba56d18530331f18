import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface ReceivedWebhook {
  path: string;
  headers: IncomingHttpHeaders;
  body: string;
  at: number;
  /** What the receiver did with it. */
  answer: Answer;
}

/** How the receiver answers one request: a status, or `hang` (never answers: the sender times out). */
export type Answer = number | 'hang';

/**
 * A real HTTP receiver on loopback. It answers requests with the answers queued, in order, then with
 * `otherwise` (204). Held (`hang`) requests are let go when it closes.
 */
export async function startWebhookReceiver(initially: Answer = 204) {
  let otherwise = initially;
  const received: ReceivedWebhook[] = [];
  const queue: Answer[] = [];
  const held = new Set<() => void>();
  const waiters: Array<() => void> = [];
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      const answer = queue.shift() ?? otherwise;
      received.push({ path: req.url ?? '', headers: req.headers, body: Buffer.concat(chunks).toString('utf8'), at: Date.now(), answer });
      for (const wake of waiters.splice(0)) wake();
      if (answer === 'hang') {
        held.add(() => res.destroy());
        return;
      }
      if (answer >= 300 && answer < 400) res.setHeader('location', `${url}/moved`);
      res.statusCode = answer;
      res.end('ok');
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/hooks`;
  return {
    url,
    received,
    /** Answers to give, in order, before the default. */
    answer(...answers: Answer[]) {
      queue.push(...answers);
    },
    /** From now on, this answer to every request (the queue is dropped). */
    answerAlways(answer: Answer) {
      queue.length = 0;
      otherwise = answer;
    },
    /** Waits until `count` requests came (or fails after `timeoutMs`). */
    async waitFor(count: number, timeoutMs = 15_000): Promise<ReceivedWebhook[]> {
      const deadline = Date.now() + timeoutMs;
      while (received.length < count) {
        if (Date.now() > deadline) throw new Error(`the receiver got ${received.length} of ${count} webhooks in ${timeoutMs} ms`);
        await new Promise<void>((resolve) => {
          waiters.push(resolve);
          setTimeout(resolve, 100);
        });
      }
      return received;
    },
    async close() {
      for (const release of held) release();
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
    },
  };
}

export type WebhookReceiver = Awaited<ReturnType<typeof startWebhookReceiver>>;

/** Settings for fast retries, so that a test sees several attempts in a second or two. */
export const fastWebhooks = {
  WEBHOOK_POLL_MS: '50',
  WEBHOOK_RETRY_BASE_MS: '100',
  WEBHOOK_RETRY_MAX_DELAY_MS: '200',
  WEBHOOK_TIMEOUT_MS: '700',
};
