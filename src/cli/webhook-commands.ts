import { parseArgs } from 'node:util';

import { auditRecorder } from '../audit/index.ts';
import type { Config } from '../config.ts';
import { createSecretBox } from '../crypto/index.ts';
import type { Database } from '../db/index.ts';
import { loadSecrets } from '../keys/index.ts';
import { createWebhookSubscriptions, InvalidWebhookError, WebhookNotFoundError } from '../webhooks/index.ts';

/** A mistake in how a webhook command was called, or what it names does not exist: printed, exit code 2. */
export class WebhookUsageError extends Error {}

type WithDatabase = <T>(work: (database: Database) => Promise<T>) => Promise<T>;

/** `create-webhook`, `list-webhooks`, `rotate-webhook-secret`, `delete-webhook`: the admin API's, from the shell. */
export async function webhookCommand(command: string, args: string[], config: Config, withDatabase: WithDatabase): Promise<string> {
  const { values, positionals } = parseArgs({
    args,
    allowPositionals: true,
    options: {
      url: { type: 'string' },
      events: { type: 'string' },
      description: { type: 'string' },
      disabled: { type: 'boolean' },
      json: { type: 'boolean' },
    },
  });
  const secrets = await loadSecrets(config);
  return withDatabase(async ({ db }) => {
    const webhooks = createWebhookSubscriptions({
      db,
      secretBox: createSecretBox(secrets.secretsKeys),
      allowPrivateNetwork: config.allowPrivateNetworkRequests,
      overlapMs: config.webhooks.secretOverlapMs,
    });
    const audit = (action: string, id: string, changes?: Record<string, unknown>) =>
      auditRecorder(db)({ actorId: null, actorKind: 'cli', action, targetType: 'webhook', targetId: id, changes });
    const id = () => {
      const [given] = positionals;
      if (!given) throw new WebhookUsageError(`${command} needs the webhook's id (see list-webhooks)`);
      return given;
    };
    try {
      switch (command) {
        case 'create-webhook': {
          if (!values.url) throw new WebhookUsageError('create-webhook needs --url');
          const events = values.events ? values.events.split(',').map((event) => event.trim()).filter(Boolean) : [];
          const { subscription, secret } = await webhooks.create({ url: values.url, events, description: values.description ?? '', enabled: !values.disabled });
          await audit('webhooks.create', subscription.id, { url: subscription.url, events: subscription.events, enabled: subscription.enabled });
          if (values.json) return JSON.stringify({ ...subscription, secret });
          return [
            `Created webhook ${subscription.id} to ${subscription.url} for ${subscription.events.length ? subscription.events.join(', ') : 'every event'}.`,
            `Signing secret (shown this once): ${secret}`,
          ].join('\n');
        }
        case 'list-webhooks': {
          const list = await webhooks.list();
          if (values.json) return JSON.stringify(list);
          if (!list.length) return 'No webhooks.';
          return list.map((w) => `${w.id}  ${w.enabled ? 'enabled ' : 'disabled'}  ${w.url}  ${w.events.length ? w.events.join(',') : '(every event)'}`).join('\n');
        }
        case 'rotate-webhook-secret': {
          const { subscription, secret } = await webhooks.rotateSecret(id());
          await audit('webhooks.rotate-secret', subscription.id);
          if (values.json) return JSON.stringify({ ...subscription, secret });
          const until = subscription.previous_secret_expires_at ? new Date(subscription.previous_secret_expires_at).toISOString() : 'now';
          return `New signing secret (shown this once): ${secret}\nThe old secret also signs until ${until}.`;
        }
        case 'delete-webhook': {
          const target = id();
          await webhooks.remove(target);
          await audit('webhooks.delete', target);
          return `Deleted webhook ${target} and its deliveries.`;
        }
        default:
          throw new WebhookUsageError(`Unknown command "${command}".`);
      }
    } catch (error) {
      if (error instanceof InvalidWebhookError || error instanceof WebhookNotFoundError) throw new WebhookUsageError(error.message);
      throw error;
    }
  });
}
