import { Webhook } from 'standardwebhooks';
import { afterAll, afterEach, describe, expect, it } from 'vitest';

import { backends, startTestIdp, type TestIdp } from '../support/idp.ts';
import { fastWebhooks, startWebhookReceiver, type WebhookReceiver } from '../support/webhook-receiver.ts';


async function deliveriesOf(idp: TestIdp, subscriptionId: string) {
  return idp.idp.webhooks.deliveries(subscriptionId);
}

async function eventually<T>(read: () => Promise<T>, done: (value: T) => boolean, timeoutMs = 15_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await read();
    if (done(value)) return value;
    if (Date.now() > deadline) throw new Error(`not reached in ${timeoutMs} ms: ${JSON.stringify(value)}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

describe.each(backends)('webhooks (%s)', (backend) => {
  const cleanups: Array<() => Promise<void>> = [];
  afterEach(async () => {
    for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
  });

  async function setUp(env: Record<string, string> = {}) {
    const receiver = await startWebhookReceiver();
    cleanups.push(() => receiver.close());
    const node = await startTestIdp({ backend, env: { ...fastWebhooks, ...env } });
    cleanups.push(() => node.destroy());
    return { receiver, node };
  }

  it('retries a receiver that fails, then times out, until it answers 2xx; every attempt is signed for the standardwebhooks library', async () => {
    const { receiver, node } = await setUp({ WEBHOOK_TIMEOUT_MS: '3000' });
    const { subscription, secret } = await node.idp.webhooks.create({ url: receiver.url, events: ['account.created'] });
    expect(secret).toMatch(/^whsec_/);
    receiver.answer(500, 'hang');

    const account = await node.idp.accounts.createAccount({ email: 'ada@example.com', password: 'ada passphrase 1', name: 'Ada', emailVerified: true });
    await receiver.waitFor(2);
    // While the receiver holds the second attempt, the IdP answers as quickly as ever and stays ready.
    const asked = Date.now();
    expect((await fetch(`${node.issuer}/readyz`)).status).toBe(200);
    await node.idp.accounts.authenticate('ada@example.com', 'ada passphrase 1', { ip: null, userAgent: null });
    expect(Date.now() - asked).toBeLessThan(2000);
    const [failed, timedOut, delivered] = await receiver.waitFor(3);

    // One event, three attempts, one idempotency key.
    const ids = new Set([failed, timedOut, delivered].map((request) => request!.headers['webhook-id']));
    expect(ids.size).toBe(1);
    expect(delivered!.at - timedOut!.at).toBeGreaterThanOrEqual(3000);
    const verified = new Webhook(secret).verify(delivered!.body, delivered!.headers as Record<string, string>) as Record<string, any>;
    expect(verified).toMatchObject({
      id: delivered!.headers['webhook-id'],
      type: 'account.created',
      actor: { type: 'system' },
      subject: { type: 'account', id: account.id },
      data: { email: 'ada@example.com', name: 'Ada', roles: ['user'], email_verified: true },
    });
    expect(() => new Webhook(`whsec_${Buffer.alloc(24, 1).toString('base64')}`).verify(delivered!.body, delivered!.headers as Record<string, string>)).toThrow();

    const [row] = await eventually(() => deliveriesOf(node, subscription.id), (rows) => rows[0]?.status === 'delivered');
    expect(row).toMatchObject({ status: 'delivered', attempts: 3, last_status_code: 204, event_type: 'account.created' });
    expect(row!.last_latency_ms).toBeGreaterThanOrEqual(0);
    const metrics = await (await fetch(`${node.issuer}/metrics`)).text();
    expect(metrics).toMatch(/webhook_deliveries_total\{outcome="retry"\} 2/);
    expect(metrics).toMatch(/webhook_deliveries_total\{outcome="delivered"\} 1/);
    expect(metrics).toMatch(/webhook_backlog 0/);
  });

  it('does not follow a redirect, and marks a delivery failed once its retry window is over; resend sends it again', async () => {
    const { receiver, node } = await setUp({ WEBHOOK_RETRY_WINDOW_SECONDS: '1' });
    const { subscription } = await node.idp.webhooks.create({ url: receiver.url });
    receiver.answerAlways(302);
    await node.idp.accounts.createAccount({ email: 'bo@example.com', password: 'bo passphrase 12' });

    const [row] = await eventually(() => deliveriesOf(node, subscription.id), (rows) => rows[0]?.status === 'failed');
    expect(row!.last_status_code).toBe(302);
    expect(receiver.received.length).toBeGreaterThan(1);
    expect(receiver.received.every((request) => request.headers['webhook-id'] === row!.event_id)).toBe(true);
    // Nothing was ever sent to where the redirect pointed.
    expect(receiver.received.map((request) => request.path)).not.toContain('/hooks/moved');

    receiver.answerAlways(200);
    await node.idp.webhooks.resend(subscription.id, row!.id);
    const [again] = await eventually(() => deliveriesOf(node, subscription.id), (rows) => rows[0]?.status === 'delivered');
    expect(again).toMatchObject({ attempts: 1, last_status_code: 200, event_id: row!.event_id });
  });

  it('keeps an event nobody wants out of the outbox, and sends each subscription only the types it asked for', async () => {
    const { receiver, node } = await setUp();
    const { subscription } = await node.idp.webhooks.create({ url: receiver.url, events: ['account.disabled'] });
    const account = await node.idp.accounts.createAccount({ email: 'cy@example.com', password: 'cy passphrase 12' });
    await node.idp.administration.setStatus(account.id, 'disabled', { type: 'admin', id: account.id });
    const [request] = await receiver.waitFor(1);
    expect(JSON.parse(request!.body)).toMatchObject({ type: 'account.disabled', subject: { id: account.id } });
    const rows = await deliveriesOf(node, subscription.id);
    expect(rows.map((row) => row.event_type)).toEqual(['account.disabled']);
  });
});

const postgres = backends.includes('postgres');

describe.skipIf(!postgres)('webhooks on two nodes sharing PostgreSQL', () => {
  const cleanups: Array<() => Promise<void>> = [];
  afterAll(async () => {
    for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
  });

  it('never sends one event twice in the same attempt', async () => {
    const receiver: WebhookReceiver = await startWebhookReceiver();
    cleanups.push(() => receiver.close());
    const first = await startTestIdp({ backend: 'postgres', env: { ...fastWebhooks, WEBHOOK_POLL_MS: '10' } });
    cleanups.push(() => first.destroy());
    const second = await startTestIdp({
      backend: 'postgres',
      env: { ...fastWebhooks, WEBHOOK_POLL_MS: '10', ISSUER: first.issuer, DATA_DIR: first.dataDir, DATABASE_URL: first.shared.databaseUrl! },
    });
    cleanups.push(() => second.stop());
    await first.idp.webhooks.create({ url: receiver.url });

    const accounts = await Promise.all(Array.from({ length: 40 }, (_, i) => first.idp.accounts.createAccount({ email: `p${i}@example.com`, password: 'a passphrase 123' })));
    await receiver.waitFor(accounts.length);
    await new Promise((resolve) => setTimeout(resolve, 500));
    const ids = receiver.received.map((request) => request.headers['webhook-id']);
    expect(ids).toHaveLength(accounts.length);
    expect(new Set(ids).size).toBe(accounts.length);
  });
});
