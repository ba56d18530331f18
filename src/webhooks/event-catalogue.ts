/** Every event a subscription may ask for, in the order the README's catalogue lists them. */
export const WEBHOOK_EVENT_TYPES = [
  'account.created',
  'account.updated',
  'account.email_verified',
  'account.email_changed',
  'account.password_changed',
  'account.password_reset',
  'account.second_factor_added',
  'account.second_factor_removed',
  'account.identity_linked',
  'account.identity_unlinked',
  'account.disabled',
  'account.enabled',
  'account.deleted',
  'account.role_granted',
  'account.role_revoked',
  'signin.succeeded',
  'signin.failed',
  'account.locked',
  'session.ended',
  'grant.revoked',
] as const;

export type WebhookEventType = (typeof WEBHOOK_EVENT_TYPES)[number];

export const isWebhookEventType = (value: string): value is WebhookEventType => (WEBHOOK_EVENT_TYPES as readonly string[]).includes(value);

/**
 * Who caused the event: the person themselves (`account`), an administrator (`admin`), the command line
 * (`cli`), or the IdP reacting on its own (`system`: a lockout, a sign-in from an upstream provider).
 */
export interface EventActor {
  type: 'account' | 'admin' | 'cli' | 'system';
  id?: string | null | undefined;
}

export interface AccountEvent {
  type: WebhookEventType;
  actor: EventActor;
  /** The account the event is about; null for a failed sign-in with an unknown email. */
  accountId: string | null;
  data?: Record<string, unknown> | undefined;
}

/**
 * Keys never sent, at any depth, whatever a caller passes: a payload carries changed fields and their
 * values, never a credential.
 */
const SECRET_KEY = /password|hash|secret|token|code|credential|cookie|otp|totp/i;

export function withoutSecrets(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(withoutSecrets);
  if (value instanceof Date) return value.toISOString();
  if (value && typeof value === 'object') {
    return Object.fromEntries(Object.entries(value).flatMap(([key, inner]) => (SECRET_KEY.test(key) ? [] : [[key, withoutSecrets(inner)]])));
  }
  return value;
}
