import type { Migration } from 'kysely';

import * as accounts from './001_accounts.ts';
import * as oidcModels from './002_oidc_models.ts';
import * as accountLifecycle from './003_account_lifecycle.ts';
import * as federatedIdentities from './004_federated_identities.ts';
import * as administration from './005_administration.ts';
import * as clients from './006_clients.ts';
import * as secondFactors from './007_second_factors.ts';
import * as selfService from './008_self_service.ts';
import * as passkeys from './009_passkeys.ts';
import * as consoleSessions from './012_console_sessions.ts';
import * as grantsByClient from './015_grants_by_client.ts';
import * as reauthentications from './010_reauthentications.ts';
import * as secretsAtRest from './014_secrets_at_rest.ts';
import * as auditActorKind from './017_audit_actor_kind.ts';
import * as webhooks from './018_webhooks.ts';
import * as scaleIndexes from './019_scale_indexes.ts';
import * as identityProviders from './020_identity_providers.ts';
import * as clientChangeNotices from './021_client_change_notices.ts';
import * as sessionUidInIndex from './022_session_uid_in_index.ts';

/** Every migration, in order. Names are the file names; a test checks none is missing here. */
export const migrations: Record<string, Migration> = {
  '001_accounts': accounts,
  '002_oidc_models': oidcModels,
  '003_account_lifecycle': accountLifecycle,
  '004_federated_identities': federatedIdentities,
  '005_administration': administration,
  '006_clients': clients,
  '007_second_factors': secondFactors,
  '008_self_service': selfService,
  '009_passkeys': passkeys,
  '010_reauthentications': reauthentications,
  '012_console_sessions': consoleSessions,
  '014_secrets_at_rest': secretsAtRest,
  '015_grants_by_client': grantsByClient,
  '017_audit_actor_kind': auditActorKind,
  '018_webhooks': webhooks,
  '019_scale_indexes': scaleIndexes,
  '020_identity_providers': identityProviders,
  '021_client_change_notices': clientChangeNotices,
  '022_session_uid_in_index': sessionUidInIndex,
};
