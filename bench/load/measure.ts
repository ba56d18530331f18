import autocannon from 'autocannon';

/** What one side did in one window: its flows or requests that succeeded, with their latencies. */
export interface Sample {
  seconds: number;
  latencies: number[];
  failures: number;
  firstError?: string;
}

/** What one side did in its measured windows, together. */
export interface Measurement {
  perSecond: number;
  p50Ms: number;
  p99Ms: number;
  /** Requests (or flows) that failed or answered an unexpected status. */
  failures: number;
  completed: number;
}

export interface AutocannonRequest {
  method?: 'GET' | 'POST';
  path: string;
  headers?: Record<string, string>;
  body?: string;
  /** Called before each request; return the request to send (e.g. with a fresh token). */
  setupRequest?: (request: autocannon.Request) => autocannon.Request;
  onResponse?: (status: number, body: string) => void;
}

/** Fixed-connection load with autocannon; only 2xx answers count as served. */
export async function loadWithAutocannon(
  origin: string,
  request: AutocannonRequest,
  options: { connections: number; seconds: number },
): Promise<Sample> {
  const latencies: number[] = [];
  const instance = autocannon({
    url: origin,
    connections: options.connections,
    pipelining: 1,
    duration: options.seconds,
    requests: [
      {
        method: request.method ?? 'GET',
        path: request.path,
        headers: request.headers,
        body: request.body,
        ...(request.setupRequest ? { setupRequest: request.setupRequest } : {}),
        ...(request.onResponse ? { onResponse: request.onResponse } : {}),
      } as autocannon.Request,
    ],
  });
  (instance as unknown as autocannon.Instance).on('response', (_client, status, _bytes, ms) => {
    if (status >= 200 && status < 300) latencies.push(ms);
  });
  const result = await (instance as unknown as Promise<autocannon.Result>);
  return { seconds: result.duration, latencies, failures: result.non2xx + result.errors + result.timeouts };
}

function percentile(sorted: number[], p: number): number {
  if (!sorted.length) return 0;
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
}

/**
 * `concurrency` workers each run `flow` back to back for `seconds`; a flow is a sequence of requests
 * (a sign-in, an SSO round trip) and its latency is the whole sequence's.
 */
export async function loadWithFlows(
  flow: (worker: number) => Promise<void>,
  options: { concurrency: number; seconds: number },
): Promise<Sample> {
  const latencies: number[] = [];
  let failures = 0;
  let firstError: string | undefined;
  const started = performance.now();
  const deadline = started + options.seconds * 1000;
  const worker = async (index: number) => {
    while (performance.now() < deadline) {
      const begun = performance.now();
      try {
        await flow(index);
        latencies.push(performance.now() - begun);
      } catch (error) {
        failures += 1;
        firstError ??= (error as Error).message;
      }
    }
  };
  await Promise.all(Array.from({ length: options.concurrency }, (_, index) => worker(index)));
  return { seconds: (performance.now() - started) / 1000, latencies, failures, ...(firstError ? { firstError } : {}) };
}

export function summarize(samples: Sample[]): Measurement {
  const latencies = samples.flatMap((sample) => sample.latencies).sort((a, b) => a - b);
  const seconds = samples.reduce((sum, sample) => sum + sample.seconds, 0);
  return {
    perSecond: seconds ? latencies.length / seconds : 0,
    p50Ms: percentile(latencies, 50),
    p99Ms: percentile(latencies, 99),
    failures: samples.reduce((sum, sample) => sum + sample.failures, 0),
    completed: latencies.length,
  };
}
