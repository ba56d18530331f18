export { WEBHOOK_EVENT_TYPES, isWebhookEventType, withoutSecrets, type AccountEvent, type EventActor, type WebhookEventType } from './event-catalogue.ts';
export { accountEventWrites, recordEvent, recordEvents, eventRecorder, type RecordEvent } from './account-events.ts';
export { countPendingDeliveries } from './outbox.repository.ts';
export { startDeliveryWorker, retryDelay, type DeliverySettings, type DeliveryObserver, type DeliveryOutcome, type DeliveryWorker } from './delivery-worker.ts';
export {
  createWebhookSubscriptions,
  InvalidWebhookError,
  WebhookNotFoundError,
  webhookInputSchema,
  type WebhookInput,
  type WebhookSubscriptions,
} from './subscriptions.service.ts';
export { signatureHeader, targetRefusal } from './webhook-sender.ts';
