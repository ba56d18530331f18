import {
  AccountNotFoundError,
  BuiltInRoleError,
  DuplicateEmailError,
  DuplicateRoleError,
  InvalidAccountInputError,
  RoleNotFoundError,
  StaleUpdateError,
  UnknownRoleError,
  WeakPasswordError,
} from '../accounts/index.ts';
import { ClientNotFoundError, InvalidClientError } from '../clients/index.ts';
import {
  DuplicateProviderError,
  InvalidProviderError,
  ProviderNotFoundError,
  ReadOnlyProviderError,
  UnreachableIssuerError,
} from '../upstream/index.ts';
import { InvalidWebhookError, WebhookNotFoundError } from '../webhooks/index.ts';
import { ForbiddenError } from './permissions.ts';

export interface AdminRefusal {
  status: 400 | 403 | 404 | 409 | 412 | 422;
  code: 'invalid_request' | 'invalid_client_metadata' | 'forbidden' | 'not_found' | 'conflict' | 'precondition_failed' | 'unreachable_issuer';
  message: string;
  field?: string;
}

/** What an admin operation's domain error means, for the JSON API and the console alike; undefined for others. */
export function adminRefusal(error: unknown): AdminRefusal | undefined {
  if (!(error instanceof Error)) return undefined;
  const { message } = error;
  if (error instanceof InvalidClientError) return { status: 400, code: 'invalid_client_metadata', message, field: error.field };
  if (error instanceof InvalidAccountInputError || error instanceof WeakPasswordError || error instanceof InvalidWebhookError) return { status: 400, code: 'invalid_request', message };
  if (error instanceof InvalidProviderError) return { status: 400, code: 'invalid_request', message, field: error.field };
  if (error instanceof UnreachableIssuerError) return { status: 422, code: 'unreachable_issuer', message, field: error.field };
  if (error instanceof ForbiddenError) return { status: 403, code: 'forbidden', message };
  if (
    error instanceof AccountNotFoundError ||
    error instanceof ClientNotFoundError ||
    error instanceof RoleNotFoundError ||
    error instanceof UnknownRoleError ||
    error instanceof WebhookNotFoundError ||
    error instanceof ProviderNotFoundError
  ) {
    return { status: 404, code: 'not_found', message };
  }
  if (
    error instanceof DuplicateEmailError ||
    error instanceof DuplicateRoleError ||
    error instanceof BuiltInRoleError ||
    error instanceof ReadOnlyProviderError ||
    error instanceof DuplicateProviderError
  ) {
    return { status: 409, code: 'conflict', message };
  }
  if (error instanceof StaleUpdateError) return { status: 412, code: 'precondition_failed', message };
  return undefined;
}
