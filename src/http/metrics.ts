import Router from '@koa/router';
import type pg from 'pg';

/**
 * Prometheus metrics. Labels are bounded: routes are route patterns, never raw paths (which carry
 * ids and codes).
 */
export async function createMetrics() {
  const { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } = await import('prom-client');
  const registry = new Registry();
  collectDefaultMetrics({ register: registry });
  const counter = (name: string, help: string, labelNames: string[]) => new Counter({ name, help, labelNames, registers: [registry] });

  const requests = counter('http_requests_total', 'HTTP requests by route, method and status', ['route', 'method', 'status']);
  const duration = new Histogram({
    name: 'http_request_duration_seconds',
    help: 'HTTP request latency by route',
    labelNames: ['route', 'method'],
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
    registers: [registry],
  });
  const tokens = counter('oidc_tokens_issued_total', 'Tokens and codes issued, by type', ['type']);
  const grants = counter('oidc_grants_total', 'Token endpoint grants that succeeded, by grant type', ['grant_type']);
  const oidcErrors = counter('oidc_errors_total', 'Refused OAuth/OIDC requests by event and error code', ['event', 'error']);
  const logins = counter('login_attempts_total', 'Sign-in attempts by outcome and method', ['outcome', 'method']);
  const lockouts = counter('login_lockouts_total', 'Password sign-in lockouts', []);
  const mails = counter('mail_messages_total', 'Mail by outcome', ['outcome']);
  const purged = counter('retention_rows_deleted_total', 'Rows the retention job removed, by table', ['table']);
  const retentionRuns = counter('retention_runs_total', 'Retention job runs by outcome (skipped: another node was running it)', ['outcome']);
  const webhookDeliveries = counter('webhook_deliveries_total', 'Webhook delivery attempts by outcome (delivered, retry, failed)', ['outcome']);

  return {
    /** Counts an answered request: the request logger calls it for every request, with its final status. */
    recordRequest(route: string, method: string, status: number, seconds: number) {
      requests.inc({ route, method, status: String(status) });
      duration.observe({ route, method }, seconds);
    },
    tokenIssued: (type: string) => tokens.inc({ type }),
    grantSucceeded: (grantType: string) => grants.inc({ grant_type: grantType }),
    oidcError: (event: string, error: string) => oidcErrors.inc({ event, error }),
    loginAttempt: (outcome: string, method: string) => logins.inc({ outcome, method }),
    lockout: () => lockouts.inc(),
    mail: (outcome: 'sent' | 'failed') => mails.inc({ outcome }),
    rowsPurged: (table: string, count: number) => purged.inc({ table }, count),
    retentionRun: (outcome: 'done' | 'skipped' | 'failed') => retentionRuns.inc({ outcome }),
    delivery: (outcome: 'delivered' | 'retry' | 'failed') => webhookDeliveries.inc({ outcome }),
    /** The webhook outbox backlog (deliveries still to make), counted when scraped. */
    watchWebhookBacklog(count: () => Promise<number>) {
      new Gauge({
        name: 'webhook_backlog',
        help: 'Webhook deliveries waiting to be made or retried',
        registers: [registry],
        async collect() {
          this.set(await count());
        },
      });
    },
    /** Connection pool gauges, read when scraped. */
    watchPool(pool: pg.Pool) {
      const gauge = (name: string, help: string, read: () => number) =>
        new Gauge({ name, help, registers: [registry], collect() { this.set(read()); } });
      gauge('db_pool_connections', 'PostgreSQL connections open', () => pool.totalCount);
      gauge('db_pool_idle_connections', 'PostgreSQL connections idle', () => pool.idleCount);
      gauge('db_pool_waiting_requests', 'Queries waiting for a PostgreSQL connection', () => pool.waitingCount);
    },
    routes(): Router {
      const router = new Router();
      router.get('/metrics', async (ctx) => {
        ctx.set('Cache-Control', 'no-store');
        ctx.type = registry.contentType;
        ctx.body = await registry.metrics();
      });
      return router;
    },
  };
}

export type Metrics = Awaited<ReturnType<typeof createMetrics>>;

/**
 * Metrics nobody can read (production without METRICS_PORT): recording them would cost prom-client's
 * memory, its event-loop and GC observers and work on every request, for nothing.
 */
export function unservedMetrics(): Metrics {
  const nothing = () => {};
  return {
    recordRequest: nothing,
    tokenIssued: nothing,
    grantSucceeded: nothing,
    oidcError: nothing,
    loginAttempt: nothing,
    lockout: nothing,
    mail: nothing,
    rowsPurged: nothing,
    retentionRun: nothing,
    delivery: nothing,
    watchWebhookBacklog: nothing,
    watchPool: nothing,
    routes: () => new Router(),
  };
}
