import type { Kysely } from 'kysely';

import type { Config } from '../config.ts';
import type { SecretBox } from '../crypto/index.ts';
import type { DB } from '../db/index.ts';
import { claimDueDeliveries, type ClaimedDelivery, finishAttempt } from './outbox.repository.ts';
import { secretContext } from './subscriptions.service.ts';
import { sendWebhook } from './webhook-sender.ts';

/** The WEBHOOK_* settings, and whether targets may be on private addresses (allowPrivateNetworkRequests). */
export type DeliverySettings = Omit<Config['webhooks'], 'secretOverlapMs'> & { allowPrivateNetwork: boolean };

export type DeliveryOutcome = 'delivered' | 'retry' | 'failed';

export interface DeliveryObserver {
  delivery(outcome: DeliveryOutcome): void;
}

interface Log {
  info(obj: object, msg: string): void;
  warn(obj: object, msg: string): void;
}

/** The delay before retry number `attempt` + 1: exponential, capped, with "equal jitter" (half fixed, half random). */
export function retryDelay(attempt: number, settings: Pick<DeliverySettings, 'retryBaseMs' | 'maxRetryDelayMs'>, random = Math.random): number {
  const ceiling = Math.min(settings.maxRetryDelayMs, settings.retryBaseMs * 2 ** Math.max(0, attempt - 1));
  return Math.round(ceiling / 2 + random() * (ceiling / 2));
}

/**
 * Every node runs one: it claims due deliveries (never one another node holds), sends each, and records
 * the outcome. Requests never wait for it. `stop` lets what is in flight finish.
 */
export function startDeliveryWorker(deps: { db: Kysely<DB>; secretBox: SecretBox; settings: DeliverySettings; log: Log; observe?: DeliveryObserver }) {
  const { db, secretBox, settings, log, observe } = deps;
  // Longer than an attempt can take, so a live node always finishes before its claim lapses.
  const leaseMs = settings.timeoutMs * 2 + 1_000;
  const inFlight = new Set<Promise<void>>();
  let stopped = false;
  let timer: NodeJS.Timeout | undefined;
  let polling: Promise<void> | undefined;

  function secretsOf(claim: ClaimedDelivery): string[] {
    const current = secretBox.open(claim.secretSealed, secretContext(claim.subscriptionId));
    const previousLive = claim.previousSecretSealed && claim.previousSecretExpiresAt && claim.previousSecretExpiresAt.getTime() > Date.now();
    return previousLive ? [current, secretBox.open(claim.previousSecretSealed!, secretContext(claim.subscriptionId))] : [current];
  }

  async function deliver(claim: ClaimedDelivery): Promise<void> {
    const result = await sendWebhook(claim.url, claim.eventId, JSON.stringify(claim.payload), secretsOf(claim), settings);
    let outcome: DeliveryOutcome;
    if (result.ok) outcome = 'delivered';
    else outcome = Date.now() - claim.createdAt.getTime() >= settings.retryWindowMs ? 'failed' : 'retry';
    const status = outcome === 'delivered' ? 'delivered' : outcome === 'failed' ? 'failed' : 'pending';
    const retryAt = new Date(Date.now() + retryDelay(claim.attempts, settings));
    const recorded = await finishAttempt(db, claim, result, { status, retryAt });
    if (!recorded) return;
    observe?.delivery(outcome);
    const about = { delivery: claim.id, event: claim.eventId, subscription: claim.subscriptionId, attempt: claim.attempts, status: result.statusCode, latencyMs: Math.round(result.latencyMs) };
    if (outcome === 'failed') log.warn({ ...about, error: result.error }, 'webhook delivery failed for good after its retries');
    else if (outcome === 'retry') log.info({ ...about, error: result.error, retryAt }, 'webhook delivery will be retried');
  }

  async function poll(): Promise<void> {
    const room = settings.concurrency - inFlight.size;
    if (room <= 0) return;
    const claims = await claimDueDeliveries(db, room, leaseMs);
    for (const claim of claims) {
      const sending: Promise<void> = deliver(claim)
        .catch((err: unknown) => log.warn({ err, delivery: claim.id }, 'a webhook delivery could not be recorded; it is retried when its claim lapses'))
        .finally(() => inFlight.delete(sending));
      inFlight.add(sending);
    }
  }

  function schedule() {
    if (stopped) return;
    timer = setTimeout(() => {
      polling = poll()
        .catch((err: unknown) => log.warn({ err }, 'the webhook worker could not claim deliveries'))
        .finally(() => {
          polling = undefined;
          schedule();
        });
    }, settings.pollMs);
    timer.unref();
  }
  schedule();
  return {
    /** Looks for due deliveries now rather than at the next poll. */
    async pollNow(): Promise<void> {
      await poll();
    },
    async stop(): Promise<void> {
      stopped = true;
      clearTimeout(timer);
      await polling;
      await Promise.allSettled([...inFlight]);
    },
  };
}

export type DeliveryWorker = ReturnType<typeof startDeliveryWorker>;
