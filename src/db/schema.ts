import type { ColumnType, Generated, JSONColumnType } from 'kysely';

type Timestamp = ColumnType<Date, Date | string | undefined, Date | string>;
type NullableTimestamp = ColumnType<Date | null, Date | string | null | undefined, Date | string | null>;

export interface AccountsTable {
  id: Generated<string>;
  email: string;
  email_verified: Generated<boolean>;
  password_hash: string | null;
  name: string | null;
  given_name: string | null;
  family_name: string | null;
  picture: string | null;
  locale: string | null;
  zoneinfo: string | null;
  metadata: JSONColumnType<Record<string, unknown>, string | undefined, string>;
  status: Generated<'active' | 'disabled'>;
  created_at: Timestamp;
  updated_at: Timestamp;
  last_login_at: NullableTimestamp;
  deleted_at: NullableTimestamp;
  /** An admin set this address (verified at creation, or changed it) and its owner has not proven it since. */
  email_admin_asserted: Generated<boolean>;
}

export interface RolesTable {
  name: string;
  description: string;
  /** Position in the built-in hierarchy (higher outranks lower); null for custom roles. */
  rank: number | null;
  created_at: Timestamp;
}

export interface AccountRolesTable {
  account_id: string;
  role_name: string;
  granted_at: Timestamp;
}

export type LoginOutcome = 'success' | 'wrong_password' | 'unknown_account' | 'account_disabled' | 'locked_out' | 'email_unverified';

export interface LoginHistoryTable {
  id: Generated<string>;
  account_id: string | null;
  at: Timestamp;
  ip: string | null;
  user_agent: string | null;
  outcome: LoginOutcome;
  /** `password`, or the federated provider (`google`). */
  method: Generated<string>;
}

export interface FederatedIdentitiesTable {
  provider: string;
  subject: string;
  account_id: string;
  /** The provider's email for the person when the link was made. */
  email: string | null;
  linked_at: Timestamp;
}

export interface OidcModelsTable {
  model: string;
  id: string;
  payload: JSONColumnType<Record<string, unknown>, string, string>;
  grant_id: string | null;
  user_code: string | null;
  uid: string | null;
  expires_at: NullableTimestamp;
  consumed_at: NullableTimestamp;
}

export type EmailTokenPurpose = 'verify_email' | 'reset_password' | 'change_email';

export interface EmailTokensTable {
  token_hash: string;
  account_id: string;
  purpose: EmailTokenPurpose;
  /** The address the link was sent to: a verification is for that address only. */
  email: string;
  return_to: string | null;
  created_at: Timestamp;
  expires_at: Date | string;
  used_at: NullableTimestamp;
}

export interface OidcAccountIndexTable {
  account_id: string;
  model: string;
  id: string;
  expires_at: Date | string | null;
  ip: string | null;
  user_agent: string | null;
  created_at: Timestamp;
  seen_at: Timestamp;
  /** Grants: the client the grant was given to (null for sessions, and for grants indexed before 015). */
  client_id: string | null;
  /** Sessions: the session's uid, which stays when its id changes (null for grants, and for sessions indexed before 022). */
  session_uid: string | null;
}

export interface AuditEventsTable {
  id: Generated<string>;
  at: Timestamp;
  actor_id: string | null;
  /** `cli` or `startup` when no account acted; null otherwise. */
  actor_kind: string | null;
  action: string;
  target_type: string | null;
  target_id: string | null;
  /** `done`, or `denied` for a refused attempt (an escalation, say). */
  outcome: Generated<string>;
  ip: string | null;
  changes: JSONColumnType<Record<string, unknown> | null, string | null, string | null>;
}

export interface ClientsTable {
  client_id: string;
  metadata: JSONColumnType<Record<string, unknown>, string, string>;
  created_at: Timestamp;
  updated_at: Timestamp;
}

export interface TotpCredentialsTable {
  account_id: string;
  secret: string;
  confirmed_at: NullableTimestamp;
  /** bigint: read back as a string by pg. */
  last_time_step: string | number | null;
  created_at: Timestamp;
}

export interface RecoveryCodesTable {
  account_id: string;
  code_hash: string;
  used_at: NullableTimestamp;
  created_at: Timestamp;
}

export interface WebauthnCredentialsTable {
  /** base64url credential ID. */
  id: string;
  account_id: string;
  /** base64url COSE public key. */
  public_key: string;
  /** bigint: read back as a string by pg. */
  counter: ColumnType<string | number, number | undefined, number>;
  transports: JSONColumnType<string[], string | undefined, string>;
  name: string;
  created_at: Timestamp;
  last_used_at: NullableTimestamp;
}

export type WebauthnPurpose = 'register' | 'second_factor' | 'passwordless' | 'reauthenticate';

/** When a session last proved who is signed in (see migration 010). */
export interface ReauthenticationsTable {
  session_uid: string;
  account_id: string;
  authenticated_at: Timestamp;
}

export interface WebauthnChallengesTable {
  key_hash: string;
  challenge: string;
  purpose: WebauthnPurpose;
  account_id: string | null;
  interaction_uid: string | null;
  expires_at: Date | string;
}

export interface ConsoleSessionsTable {
  /** SHA-256 (hex) of the random id the console cookie carries. */
  id_hash: string;
  account_id: string;
  created_at: Timestamp;
  expires_at: Date | string;
  last_seen_at: Timestamp;
}

export interface WebhookSubscriptionsTable {
  id: Generated<string>;
  url: string;
  description: Generated<string>;
  /** Event types sent; empty: every event. */
  events: ColumnType<string[], string[] | undefined, string[]>;
  enabled: Generated<boolean>;
  secret_sealed: string;
  previous_secret_sealed: string | null;
  previous_secret_expires_at: NullableTimestamp;
  created_at: Timestamp;
  updated_at: Timestamp;
}

/** An upstream identity provider managed from the admin API or console (src/upstream). */
export interface IdentityProvidersTable {
  id: string;
  position: Generated<number>;
  /** The entry without its secrets. */
  settings: JSONColumnType<Record<string, unknown>, string, string>;
  client_secret_sealed: string | null;
  private_key_jwt_sealed: string | null;
  created_at: Timestamp;
  updated_at: Timestamp;
}

export interface WebhookEventsTable {
  id: string;
  type: string;
  occurred_at: Timestamp;
  payload: JSONColumnType<Record<string, unknown>, string, string>;
}

export type WebhookDeliveryStatus = 'pending' | 'delivered' | 'failed';

export interface WebhookDeliveriesTable {
  id: Generated<string>;
  event_id: string;
  subscription_id: string;
  status: Generated<WebhookDeliveryStatus>;
  attempts: Generated<number>;
  next_attempt_at: Timestamp;
  last_attempt_at: NullableTimestamp;
  last_status_code: number | null;
  last_error: string | null;
  last_latency_ms: number | null;
  created_at: Timestamp;
  finished_at: NullableTimestamp;
}

export interface DB {
  webhook_subscriptions: WebhookSubscriptionsTable;
  identity_providers: IdentityProvidersTable;
  webhook_events: WebhookEventsTable;
  webhook_deliveries: WebhookDeliveriesTable;
  console_sessions: ConsoleSessionsTable;
  reauthentications: ReauthenticationsTable;
  webauthn_credentials: WebauthnCredentialsTable;
  webauthn_challenges: WebauthnChallengesTable;
  totp_credentials: TotpCredentialsTable;
  recovery_codes: RecoveryCodesTable;
  clients: ClientsTable;
  audit_events: AuditEventsTable;
  federated_identities: FederatedIdentitiesTable;
  email_tokens: EmailTokensTable;
  oidc_account_index: OidcAccountIndexTable;
  accounts: AccountsTable;
  roles: RolesTable;
  account_roles: AccountRolesTable;
  login_history: LoginHistoryTable;
  oidc_models: OidcModelsTable;
}
