import { lookup } from 'node:dns/promises';

import { Webhook } from 'standardwebhooks';

import { addressRefusal, hostRefusal } from '../clients/index.ts';

/** A target the IdP does not call: loopback, private or metadata addresses (unless allowed), credentials in the URL. */
export class RefusedTargetError extends Error {}

export interface SendOptions {
  timeoutMs: number;
  allowPrivateNetwork: boolean;
}

export interface SendResult {
  statusCode: number | null;
  error: string | null;
  latencyMs: number;
  ok: boolean;
}

/** Why a webhook URL is refused, or undefined; checked when a subscription is made and again before each send. */
export async function targetRefusal(url: string, allowPrivateNetwork: boolean): Promise<string | undefined> {
  let target: URL;
  try {
    target = new URL(url);
  } catch {
    return 'not a URL';
  }
  if (target.protocol !== 'https:' && target.protocol !== 'http:') return 'not an http(s) URL';
  if (target.username || target.password) return 'a URL with a user name or password';
  const host = hostRefusal(target.hostname, allowPrivateNetwork);
  if (host) return `${target.hostname} is ${host}`;
  let addresses: { address: string }[];
  try {
    addresses = await lookup(target.hostname.replace(/^\[|\]$/g, ''), { all: true });
  } catch {
    return `${target.hostname} does not resolve`;
  }
  for (const { address } of addresses) {
    const refusal = addressRefusal(address, allowPrivateNetwork);
    if (refusal) return `${target.hostname} is ${refusal}`;
  }
  return undefined;
}

/** The `webhook-signature` header: one `v1,<base64>` per secret that still signs, space-separated. */
export function signatureHeader(secrets: string[], eventId: string, at: Date, body: string): string {
  return secrets.map((secret) => new Webhook(secret).sign(eventId, at, body)).join(' ');
}

/**
 * One POST as the Standard Webhooks specification has it. Redirects are answers, not followed; the
 * receiver's body is not read beyond its status.
 */
export async function sendWebhook(url: string, eventId: string, body: string, secrets: string[], options: SendOptions): Promise<SendResult> {
  const started = performance.now();
  const elapsed = () => performance.now() - started;
  try {
    const refusal = await targetRefusal(url, options.allowPrivateNetwork);
    if (refusal) throw new RefusedTargetError(`${refusal}, which the IdP does not call`);
    const at = new Date();
    const response = await fetch(url, {
      method: 'POST',
      redirect: 'manual',
      signal: AbortSignal.timeout(options.timeoutMs),
      headers: {
        'content-type': 'application/json',
        'user-agent': 'idp-webhooks/1',
        'webhook-id': eventId,
        'webhook-timestamp': String(Math.floor(at.getTime() / 1000)),
        'webhook-signature': signatureHeader(secrets, eventId, at, body),
      },
      body,
    });
    await response.body?.cancel().catch(() => undefined);
    const ok = response.status >= 200 && response.status < 300;
    return { statusCode: response.status, error: ok ? null : `answered ${response.status}`, latencyMs: elapsed(), ok };
  } catch (error) {
    return { statusCode: null, error: describe(error, options.timeoutMs), latencyMs: elapsed(), ok: false };
  }
}

function describe(error: unknown, timeoutMs: number): string {
  const err = error as { name?: string; message?: string; cause?: { code?: string; message?: string } };
  if (err.name === 'TimeoutError') return `no answer within ${timeoutMs} ms`;
  if (error instanceof RefusedTargetError) return err.message ?? 'refused target';
  return (err.cause?.code ?? err.cause?.message ?? err.message ?? 'request failed').slice(0, 200);
}
