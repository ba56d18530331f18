import {
  type AccountAdministration,
  type AccountLifecycle,
  type AccountListQuery,
  AccountNotFoundError,
  type AccountService,
  type ImportOptions,
  importUsers,
  type ProfileChanges,
  type SecondFactors,
  type SecurityNotices,
  type UserRecord,
} from '../accounts/index.ts';
import { type AuditQuery, diff, listAuditEvents, type RecordAudit } from '../audit/index.ts';
import type { ClientRegistry } from '../clients/index.ts';
import type { Database } from '../db/index.ts';
import type { ManagedProviders } from '../upstream/index.ts';
import type { WebhookSubscriptions } from '../webhooks/index.ts';
import { type AdminAction, authorize, ForbiddenError } from './permissions.ts';
import { withCursorText } from './page-cursor.ts';

/** Who is acting, and from where (for the audit log). */
export interface Actor {
  accountId: string;
  rank: number;
  ip: string | null;
}

export interface NewUser {
  email: string;
  name?: string | undefined;
  password?: string | undefined;
  invite?: boolean | undefined;
  roles?: string[] | undefined;
  emailVerified?: boolean | undefined;
}

/** A provider's settings for the audit log: what it is, without when it was written (its secrets are never in it). */
const auditedProvider = ({ created_at: _created, updated_at: _updated, source: _source, read_only: _readOnly, ...settings }: Record<string, unknown>) => settings;

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/**
 * Every administrative operation, for the JSON API and the console alike: each checks the actor's
 * rank against its target (a refusal is audited and thrown as ForbiddenError), acts, and audits.
 */
export function createAdminActions(deps: {
  database: Database;
  accounts: AccountService;
  administration: AccountAdministration;
  clients: ClientRegistry;
  lifecycle: AccountLifecycle;
  secondFactors: SecondFactors;
  audit: RecordAudit;
  notices: SecurityNotices;
  endEverythingOf(accountId: string): Promise<void>;
  /** People were imported: their hashes may be slower than ours (the sign-in timing floor). */
  usersImported?(): void;
  /** Revokes every grant and token of a client (it is being deleted). */
  revokeGrantsOfClient(clientId: string): Promise<number>;
  /** What in a client registration only a super admin may grant (first_party, the admin API). */
  clientPrivileges(metadata: Record<string, unknown>): string[];
  webhooks: WebhookSubscriptions;
  identityProviders: ManagedProviders;
}) {
  const { administration, audit, clients, notices } = deps;

  async function allow(actor: Actor, action: AdminAction, targetId?: string, role?: string) {
    const targetRank = targetId ? await administration.rankOf(targetId) : undefined;
    try {
      authorize({ actorId: actor.accountId, actorRank: actor.rank, action, targetId, targetRank, role });
    } catch (error) {
      if (error instanceof ForbiddenError) {
        await audit({ actorId: actor.accountId, action, targetType: 'account', targetId, outcome: 'denied', ip: actor.ip, changes: role ? { role } : undefined });
      }
      throw error;
    }
  }
  const record = (actor: Actor, action: string, targetId: string, changes?: Record<string, unknown>, targetType = 'account') =>
    audit({ actorId: actor.accountId, action, targetType, targetId, ip: actor.ip, changes });
  const by = (actor: Actor) => ({ type: 'admin' as const, id: actor.accountId });
  const user = async (id: string) => {
    if (!UUID.test(id)) throw new AccountNotFoundError();
    return administration.getAccount(id);
  };

  return {
    async listUsers(actor: Actor, query: AccountListQuery) {
      await allow(actor, 'users.read');
      return withCursorText(await administration.listAccounts(query));
    },
    async getUser(actor: Actor, id: string) {
      await allow(actor, 'users.read');
      return user(id);
    },
    async createUser(actor: Actor, input: NewUser) {
      await allow(actor, 'users.create');
      const roles = input.roles ?? ['user'];
      for (const role of roles) await allow(actor, 'users.roles', undefined, role);
      const account = await deps.accounts.createAccount({
        email: input.email,
        password: input.password ?? null,
        name: input.name,
        roles,
        emailVerified: input.emailVerified ?? false,
        // The admin, not the person, chose this address: no provider may link in on its strength.
        emailAdminAsserted: true,
        actor: by(actor),
      });
      if (input.invite) await deps.lifecycle.invite(account.id);
      await record(actor, 'users.create', account.id, { email: account.email, roles, invited: Boolean(input.invite) });
      return administration.getAccount(account.id);
    },
    /** People from an import file as it streams in: all or nothing, unless options.skipInvalid. */
    async importUsers(actor: Actor, records: AsyncIterable<UserRecord>, options: ImportOptions) {
      await allow(actor, 'users.import');
      const asked = { dryRun: options.dryRun, onConflict: options.onConflict };
      let report;
      try {
        report = await importUsers(deps.database.db, records, { ...options, actor: by(actor) });
      } catch (error) {
        // An unreadable file or a body cut short: rolled back, and still on the record.
        await audit({ actorId: actor.accountId, action: 'users.import', ip: actor.ip, changes: { ...asked, written: false, failed: true } });
        throw error;
      }
      const { imported, updated, skipped, invalid, createdRoles, written } = report;
      if (written) deps.usersImported?.();
      await audit({ actorId: actor.accountId, action: 'users.import', ip: actor.ip, changes: { imported, updated, skipped, invalid, createdRoles, written, ...asked } });
      return report;
    },
    async updateUser(actor: Actor, id: string, changes: ProfileChanges, expectedVersion?: number) {
      const target = await user(id);
      await allow(actor, 'users.update', target.id);
      if (changes.email !== undefined && changes.email.trim().toLowerCase() !== target.email.toLowerCase()) await allow(actor, 'users.email', target.id);
      const { before, after } = await administration.updateProfile(target.id, changes, expectedVersion, by(actor));
      await record(actor, 'users.update', target.id, diff(before, after));
      if (after.email.toLowerCase() !== before.email.toLowerCase()) {
        notices.notify(target.id, { kind: 'email-changed', email: after.email }, { byAdministrator: true, to: before.email });
      }
      return administration.getAccount(target.id);
    },
    async setStatus(actor: Actor, id: string, status: 'active' | 'disabled') {
      const target = await user(id);
      const action = status === 'disabled' ? 'users.disable' : 'users.enable';
      await allow(actor, action, target.id);
      await administration.setStatus(target.id, status, by(actor));
      if (status === 'disabled') await deps.endEverythingOf(target.id);
      await record(actor, action, target.id, { status: [target.status, status] });
      if (status === 'disabled' && target.status !== 'disabled') notices.notify(target.id, { kind: 'account-disabled' }, { byAdministrator: true });
      return administration.getAccount(target.id);
    },
    async deleteUser(actor: Actor, id: string) {
      const target = await user(id);
      await allow(actor, 'users.delete', target.id);
      await administration.setDeleted(target.id, true, by(actor));
      await deps.endEverythingOf(target.id);
      await record(actor, 'users.delete', target.id);
    },
    async restoreUser(actor: Actor, id: string) {
      const target = await user(id);
      await allow(actor, 'users.restore', target.id);
      await administration.setDeleted(target.id, false, by(actor));
      await record(actor, 'users.restore', target.id);
      return administration.getAccount(target.id);
    },
    async setRole(actor: Actor, id: string, role: string, granted: boolean) {
      const target = await user(id);
      await allow(actor, 'users.roles', target.id, role);
      if (granted) await administration.grantRole(target.id, role, by(actor));
      else await administration.revokeRole(target.id, role, by(actor));
      await record(actor, granted ? 'users.roles.grant' : 'users.roles.revoke', target.id, { role });
      return administration.getAccount(target.id);
    },
    async forcePasswordReset(actor: Actor, id: string) {
      const target = await user(id);
      await allow(actor, 'users.password-reset', target.id);
      await deps.lifecycle.requestPasswordReset(target.email, null);
      await record(actor, 'users.password-reset', target.id);
      // A disabled account gets no reset link, so there is nothing to tell.
      if (target.status === 'active') notices.notify(target.id, { kind: 'password-reset-requested' }, { byAdministrator: true });
    },
    /** For a person who lost their phone and their recovery codes: they sign in with a password again. */
    async resetSecondFactors(actor: Actor, id: string) {
      const target = await user(id);
      await allow(actor, 'users.second-factors.reset', target.id);
      const removed = await deps.secondFactors.reset(target.id, by(actor));
      await record(actor, 'users.second-factors.reset', target.id, { removed });
      return administration.getAccount(target.id);
    },
    async loginHistory(actor: Actor, id: string) {
      await allow(actor, 'users.read');
      return administration.loginHistory((await user(id)).id);
    },
    async identities(actor: Actor, id: string) {
      await allow(actor, 'users.read');
      return administration.identities((await user(id)).id);
    },
    async listRoles(actor: Actor) {
      await allow(actor, 'roles.read');
      return administration.listRoles();
    },
    async createRole(actor: Actor, name: string, description: string) {
      await allow(actor, 'roles.write');
      const role = await administration.createRole(name, description);
      await record(actor, 'roles.create', role.name, { name: role.name }, 'role');
      return role;
    },
    async deleteRole(actor: Actor, name: string) {
      await allow(actor, 'roles.write');
      await administration.deleteRole(name);
      await record(actor, 'roles.delete', name, undefined, 'role');
    },
    async listClients(actor: Actor) {
      await allow(actor, 'clients.read');
      return clients.list();
    },
    async getClient(actor: Actor, id: string) {
      await allow(actor, 'clients.read');
      return clients.get(id);
    },
    async createClient(actor: Actor, metadata: Record<string, unknown>) {
      await allow(actor, 'clients.write');
      if (deps.clientPrivileges(metadata).length) await allow(actor, 'clients.privileged');
      const created = await clients.create(metadata);
      await record(actor, 'clients.create', String(created.client.client_id), { metadata: created.client }, 'client');
      return created;
    },
    async updateClient(actor: Actor, id: string, changes: Record<string, unknown>) {
      await allow(actor, 'clients.write');
      const current = await clients.get(id);
      const held = new Set(deps.clientPrivileges(current));
      const wanted = deps.clientPrivileges({ ...current, ...changes });
      if (wanted.some((privilege) => !held.has(privilege))) await allow(actor, 'clients.privileged');
      const { before, after } = await clients.update(id, changes);
      await record(actor, 'clients.update', id, diff(before, after), 'client');
      return after;
    },
    async deleteClient(actor: Actor, id: string) {
      await allow(actor, 'clients.write');
      await clients.remove(id);
      const revokedGrants = await deps.revokeGrantsOfClient(id);
      await record(actor, 'clients.delete', id, { revokedGrants }, 'client');
    },
    async rotateClientSecret(actor: Actor, id: string) {
      await allow(actor, 'clients.write');
      const secret = await clients.rotateSecret(id);
      await record(actor, 'clients.rotate-secret', id, undefined, 'client');
      return secret;
    },
    async listWebhooks(actor: Actor) {
      await allow(actor, 'webhooks.manage');
      return deps.webhooks.list();
    },
    async getWebhook(actor: Actor, id: string) {
      await allow(actor, 'webhooks.manage');
      return deps.webhooks.get(id);
    },
    /** The signing secret is in the answer this once. */
    async createWebhook(actor: Actor, input: unknown) {
      await allow(actor, 'webhooks.manage');
      const created = await deps.webhooks.create(input);
      const { id, url, events, enabled } = created.subscription;
      await record(actor, 'webhooks.create', id, { url, events, enabled }, 'webhook');
      return created;
    },
    async updateWebhook(actor: Actor, id: string, input: unknown) {
      await allow(actor, 'webhooks.manage');
      const before = await deps.webhooks.get(id);
      const after = await deps.webhooks.update(id, input);
      await record(actor, 'webhooks.update', id, diff({ url: before.url, events: before.events, enabled: before.enabled }, { url: after.url, events: after.events, enabled: after.enabled }), 'webhook');
      return after;
    },
    async rotateWebhookSecret(actor: Actor, id: string) {
      await allow(actor, 'webhooks.manage');
      const rotated = await deps.webhooks.rotateSecret(id);
      await record(actor, 'webhooks.rotate-secret', id, undefined, 'webhook');
      return rotated;
    },
    async deleteWebhook(actor: Actor, id: string) {
      await allow(actor, 'webhooks.manage');
      await deps.webhooks.remove(id);
      await record(actor, 'webhooks.delete', id, undefined, 'webhook');
    },
    async webhookDeliveries(actor: Actor, id: string) {
      await allow(actor, 'webhooks.manage');
      return deps.webhooks.deliveries(id);
    },
    async resendWebhookDelivery(actor: Actor, id: string, deliveryId: string) {
      await allow(actor, 'webhooks.manage');
      await deps.webhooks.resend(id, deliveryId);
      await record(actor, 'webhooks.resend', id, { delivery: deliveryId }, 'webhook');
    },
    async listIdentityProviders(actor: Actor) {
      await allow(actor, 'identity-providers.manage');
      return deps.identityProviders.list();
    },
    async getIdentityProvider(actor: Actor, id: string) {
      await allow(actor, 'identity-providers.manage');
      return deps.identityProviders.get(id);
    },
    async createIdentityProvider(actor: Actor, input: unknown) {
      await allow(actor, 'identity-providers.manage');
      const created = await deps.identityProviders.create(input);
      await record(actor, 'identity-providers.create', created.id, auditedProvider(created), 'identity_provider');
      return created;
    },
    async updateIdentityProvider(actor: Actor, id: string, changes: unknown) {
      await allow(actor, 'identity-providers.manage');
      const { before, after } = await deps.identityProviders.update(id, changes);
      const secrets = Object.keys(changes as object).filter((key) => key === 'client_secret' || key === 'private_key_jwt');
      await record(actor, 'identity-providers.update', id, { ...diff(auditedProvider(before), auditedProvider(after)), ...(secrets.length ? { secrets_replaced: secrets } : {}) }, 'identity_provider');
      return after;
    },
    async deleteIdentityProvider(actor: Actor, id: string) {
      await allow(actor, 'identity-providers.manage');
      const before = await deps.identityProviders.get(id);
      await deps.identityProviders.remove(id);
      await record(actor, 'identity-providers.delete', id, { name: before.name, type: before.type }, 'identity_provider');
    },
    async auditLog(actor: Actor, query: AuditQuery) {
      await allow(actor, 'audit.read');
      const events = await listAuditEvents(deps.database.db, query);
      const accountTargets = events.items.flatMap((event) => (event.target_type === 'account' && event.target_id && UUID.test(event.target_id) ? [event.target_id] : []));
      const emails = await administration.emailsOf([...events.items.flatMap((event) => (event.actor_id ? [event.actor_id] : [])), ...accountTargets]);
      const emailOf = (id: string | null) => (id ? (emails.get(id) ?? null) : null);
      return withCursorText({
        ...events,
        items: events.items.map((event) => ({ ...event, actor_email: emailOf(event.actor_id), target_email: event.target_type === 'account' ? emailOf(event.target_id) : null })),
      });
    },
  };
}

export type AdminActions = ReturnType<typeof createAdminActions>;
