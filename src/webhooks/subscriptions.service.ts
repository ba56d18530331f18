import { randomBytes, randomUUID } from 'node:crypto';

import type { Kysely } from 'kysely';
import { z } from 'zod';

import type { SecretBox } from '../crypto/index.ts';
import type { DB } from '../db/index.ts';
import { WEBHOOK_EVENT_TYPES } from './event-catalogue.ts';
import { recentDeliveries, requeueDelivery } from './outbox.repository.ts';
import { deleteSubscription, findSealedSecret, findSubscription, insertSubscription, listSubscriptions, updateSubscription } from './subscription.repository.ts';
import { targetRefusal } from './webhook-sender.ts';

export class WebhookNotFoundError extends Error {
  constructor() {
    super('No such webhook subscription');
  }
}

/** What was asked is not a subscription we can keep: the message says what to fix. */
export class InvalidWebhookError extends Error {}

/** Where a sealed secret belongs: a secret copied to another subscription's row does not open there. */
export const secretContext = (subscriptionId: string) => `webhook_subscriptions.secret:${subscriptionId}`;

/** A Standard Webhooks secret: `whsec_` and 24 random bytes in base64. */
const newSecret = () => `whsec_${randomBytes(24).toString('base64')}`;

export const webhookInputSchema = z.object({
  url: z.url({ protocol: /^https?$/, error: 'url: an http(s) URL' }).max(2048),
  events: z.array(z.enum(WEBHOOK_EVENT_TYPES, { error: `events: each one of ${WEBHOOK_EVENT_TYPES.join(', ')}` })).max(WEBHOOK_EVENT_TYPES.length).default([]),
  description: z.string().trim().max(200).default(''),
  enabled: z.boolean().default(true),
}).strict();
export type WebhookInput = z.input<typeof webhookInputSchema>;

const UUID = z.uuid();

/**
 * Super admins' webhook subscriptions: the secret is returned once, when made or rotated, and kept sealed
 * with SECRETS_KEY. A rotation keeps the old secret signing too for `overlapMs`.
 */
export function createWebhookSubscriptions(deps: { db: Kysely<DB>; secretBox: SecretBox; allowPrivateNetwork: boolean; overlapMs: number }) {
  const { db, secretBox } = deps;

  function parse(input: unknown) {
    const parsed = webhookInputSchema.safeParse(input);
    if (!parsed.success) {
      throw new InvalidWebhookError(parsed.error.issues.map((issue) => (issue.code === 'unrecognized_keys' ? `unknown fields: ${issue.keys.join(', ')}` : issue.message)).join('; '));
    }
    return parsed.data;
  }

  async function checkTarget(url: string) {
    const refusal = await targetRefusal(url, deps.allowPrivateNetwork);
    if (refusal) throw new InvalidWebhookError(`url: ${refusal}, which the IdP does not call`);
  }

  async function get(id: string) {
    const found = UUID.safeParse(id).success ? await findSubscription(db, id) : undefined;
    if (!found) throw new WebhookNotFoundError();
    return found;
  }

  return {
    list: () => listSubscriptions(db),
    get,

    async create(input: unknown) {
      const { url, events, description, enabled } = parse(input);
      await checkTarget(url);
      const id = randomUUID();
      const secret = newSecret();
      const subscription = await insertSubscription(db, { id, url, events: [...new Set(events)], description, enabled, secret_sealed: secretBox.seal(secret, secretContext(id)) });
      return { subscription, secret };
    },

    async update(id: string, input: unknown) {
      const current = await get(id);
      if (!input || typeof input !== 'object' || Array.isArray(input)) throw new InvalidWebhookError('body: a JSON object');
      const { url, events, description, enabled } = parse({ url: current.url, events: current.events, description: current.description, enabled: current.enabled, ...input });
      if (url !== current.url) await checkTarget(url);
      const updated = await updateSubscription(db, id, { url, events: [...new Set(events)], description, enabled });
      if (!updated) throw new WebhookNotFoundError();
      return updated;
    },

    /** A new secret signs from now on; the old one signs too (a second signature) until the overlap ends. */
    async rotateSecret(id: string) {
      const sealed = UUID.safeParse(id).success ? await findSealedSecret(db, id) : undefined;
      if (!sealed) throw new WebhookNotFoundError();
      const secret = newSecret();
      const subscription = await updateSubscription(db, id, {
        secret_sealed: secretBox.seal(secret, secretContext(id)),
        previous_secret_sealed: sealed.secret_sealed,
        previous_secret_expires_at: new Date(Date.now() + deps.overlapMs),
      });
      if (!subscription) throw new WebhookNotFoundError();
      return { subscription, secret };
    },

    async remove(id: string) {
      if (!UUID.safeParse(id).success || !(await deleteSubscription(db, id))) throw new WebhookNotFoundError();
    },

    async deliveries(id: string, limit = 50) {
      await get(id);
      return recentDeliveries(db, id, limit);
    },

    /** Sends a delivery again (failed, or delivered and lost on the receiver's side) with a fresh retry window. */
    async resend(id: string, deliveryId: string) {
      if (!UUID.safeParse(deliveryId).success || !(await requeueDelivery(db, (await get(id)).id, deliveryId))) throw new WebhookNotFoundError();
    },
  };
}

export type WebhookSubscriptions = ReturnType<typeof createWebhookSubscriptions>;
