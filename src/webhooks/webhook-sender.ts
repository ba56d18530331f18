import dns from 'node:dns';
import { lookup } from 'node:dns/promises';
import http from 'node:http';
import https from 'node:https';
import type { LookupFunction } from 'node:net';

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
export async function signatureHeader(secrets: string[], eventId: string, at: Date, body: string): Promise<string> {
  // Loaded with the first delivery: a node without subscriptions never needs it.
  const { Webhook } = await import('standardwebhooks');
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
    const status = await post(new URL(url), body, options, {
      'content-type': 'application/json',
      'user-agent': 'idp-webhooks/1',
      'webhook-id': eventId,
      'webhook-timestamp': String(Math.floor(at.getTime() / 1000)),
      'webhook-signature': await signatureHeader(secrets, eventId, at, body),
    });
    const ok = status >= 200 && status < 300;
    return { statusCode: status, error: ok ? null : `answered ${status}`, latencyMs: elapsed(), ok };
  } catch (error) {
    return { statusCode: null, error: describe(error, options.timeoutMs), latencyMs: elapsed(), ok: false };
  }
}

/**
 * Resolves the name as the connection does and refuses the address it would connect to: a name that
 * resolved to a public address when checked and to a private one a moment later (DNS rebinding) gains nothing.
 */
export function checkedLookup(allowPrivateNetwork: boolean): LookupFunction {
  return (hostname, options, callback) => {
    dns.lookup(hostname, { ...options, all: true }, (err, addresses) => {
      if (err) return callback(err, '', 4);
      const refused = addresses.find(({ address }) => addressRefusal(address, allowPrivateNetwork));
      if (refused) return callback(new RefusedTargetError(`${hostname} is ${addressRefusal(refused.address, allowPrivateNetwork)}, which the IdP does not call`), '', 4);
      if (options.all) return (callback as unknown as (e: null, a: dns.LookupAddress[]) => void)(null, addresses);
      return callback(null, addresses[0]!.address, addresses[0]!.family);
    });
  };
}

/** One POST; resolves with the status (a redirect is an answer, not followed); the body is not read. */
function post(target: URL, body: string, options: SendOptions, headers: Record<string, string>): Promise<number> {
  const client = target.protocol === 'https:' ? https : http;
  return new Promise((resolve, reject) => {
    const request = client.request(
      target,
      { method: 'POST', headers: { ...headers, 'content-length': String(Buffer.byteLength(body)) }, lookup: checkedLookup(options.allowPrivateNetwork), signal: AbortSignal.timeout(options.timeoutMs), agent: false },
      (response) => {
        resolve(response.statusCode ?? 0);
        response.resume();
        response.on('error', () => undefined);
      },
    );
    request.on('error', reject);
    request.end(body);
  });
}

function describe(error: unknown, timeoutMs: number): string {
  const err = error as { name?: string; message?: string; cause?: { code?: string; message?: string } };
  if (err.name === 'TimeoutError' || err.name === 'AbortError') return `no answer within ${timeoutMs} ms`;
  if (error instanceof RefusedTargetError) return err.message ?? 'refused target';
  return (err.cause?.code ?? err.cause?.message ?? err.message ?? 'request failed').slice(0, 200);
}
