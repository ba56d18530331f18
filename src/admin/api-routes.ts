import Router from '@koa/router';
import { bodyParser } from '@koa/bodyparser';
import type { Context, Middleware } from 'koa';
import { z } from 'zod';

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
  type AccountAdministration,
  type AccountLifecycle,
  type AccountService,
} from '../accounts/index.ts';
import { listAuditEvents, diff, type RecordAudit } from '../audit/index.ts';
import type { Database } from '../db/index.ts';
import { ClientNotFoundError, InvalidClientError, type ClientRegistry } from '../oidc/index.ts';
import { TooManyRequestsError, type RateLimits } from '../http/rate-limits.ts';
import type { AdminCaller } from './bearer-auth.ts';
import { authorize, ForbiddenError, type AdminAction } from './permissions.ts';

class InvalidFieldError extends Error {
  constructor(
    readonly field: string,
    message: string,
  ) {
    super(message);
  }
}

const uuid = z.uuid();
const nullableText = (max: number) => z.string().trim().max(max).nullable().optional();
const profileSchema = z
  .object({
    email: z.email().max(254).optional(),
    name: nullableText(200),
    given_name: nullableText(100),
    family_name: nullableText(100),
    picture: z.url({ protocol: /^https?$/ }).max(2000).nullable().optional(),
    locale: nullableText(35),
    zoneinfo: nullableText(64),
    metadata: z.record(z.string(), z.unknown()).optional(),
  })
  .strict();
const createSchema = z
  .object({
    email: z.email().max(254),
    name: z.string().trim().max(200).optional(),
    password: z.string().max(256).optional(),
    invite: z.boolean().optional(),
    roles: z.array(z.string().max(64)).max(20).optional(),
    email_verified: z.boolean().optional(),
  })
  .strict()
  .refine((value) => Boolean(value.password) !== Boolean(value.invite), { message: 'give a password or invite: true', path: ['password'] });
const roleSchema = z.object({ name: z.string().regex(/^[a-z][a-z0-9_-]{1,62}$/, 'lowercase letters, digits, - and _'), description: z.string().max(200).default('') }).strict();
const pageSchema = z.object({
  page: z.coerce.number().int().min(1).default(1),
  per_page: z.coerce.number().int().min(1).max(200).default(50),
});

function parse<T extends z.ZodType>(schema: T, value: unknown): z.infer<T> {
  const result = schema.safeParse(value);
  if (!result.success) {
    const issue = result.error.issues[0]!;
    throw new InvalidFieldError(issue.path.join('.') || 'body', issue.message);
  }
  return result.data;
}

/** Domain errors to HTTP answers, in JSON. */
const jsonErrors: Middleware = async (ctx, next) => {
  try {
    await next();
  } catch (error) {
    const answer = (status: number, code: string, description: string, extra: Record<string, unknown> = {}) => {
      ctx.status = status;
      ctx.body = { error: code, error_description: description, ...extra };
    };
    if (error instanceof InvalidFieldError) return answer(400, 'invalid_request', error.message, { field: error.field });
    if (error instanceof InvalidAccountInputError || error instanceof WeakPasswordError) return answer(400, 'invalid_request', error.message);
    if (error instanceof UnknownRoleError || error instanceof RoleNotFoundError) return answer(404, 'not_found', error.message);
    if (error instanceof AccountNotFoundError || error instanceof ClientNotFoundError) return answer(404, 'not_found', error.message);
    if (error instanceof InvalidClientError) return answer(400, 'invalid_client_metadata', error.message, { field: error.field });
    if (error instanceof ForbiddenError) return answer(403, 'forbidden', error.message);
    if (error instanceof DuplicateEmailError || error instanceof DuplicateRoleError || error instanceof BuiltInRoleError) {
      return answer(409, 'conflict', error.message);
    }
    if (error instanceof StaleUpdateError) return answer(412, 'precondition_failed', error.message);
    if (error instanceof TooManyRequestsError) {
      ctx.set('Retry-After', String(error.retryAfterSeconds));
      return answer(429, 'too_many_requests', error.message);
    }
    if ((error as { status?: number }).status === 400) return answer(400, 'invalid_request', 'the body is not valid JSON');
    throw error;
  }
};

const version = (account: { updated_at: Date | string }) => new Date(account.updated_at).getTime();

export function adminApiRoutes(deps: {
  auth: Middleware;
  database: Database;
  accounts: AccountService;
  administration: AccountAdministration;
  clients: ClientRegistry;
  lifecycle: AccountLifecycle;
  rateLimits: RateLimits;
  audit: RecordAudit;
  endEverythingOf(accountId: string): Promise<void>;
}): Router {
  const { administration, audit } = deps;
  const router = new Router({ prefix: '/admin/api' });
  router.use(jsonErrors, async (ctx, next) => {
    ctx.set('Cache-Control', 'no-store');
    await next();
  });
  router.use(deps.auth, async (ctx, next) => {
    const caller = ctx.state.admin as AdminCaller;
    await deps.rateLimits.limitAdminApi(caller.accountId, caller.role);
    await next();
  });
  router.use(bodyParser({ enableTypes: ['json'], jsonLimit: '64kb', encoding: 'utf-8' }) as Middleware);

  /** Checks the caller may do this to this target; a refusal is audited, then answered 403. */
  async function allow(ctx: Context, action: AdminAction, target?: { id: string }, role?: string) {
    const caller = ctx.state.admin as AdminCaller;
    const targetRank = target ? await administration.rankOf(target.id) : undefined;
    try {
      authorize({ actorId: caller.accountId, actorRank: caller.rank, action, targetId: target?.id, targetRank, role });
    } catch (error) {
      if (error instanceof ForbiddenError) {
        await audit({ actorId: caller.accountId, action, targetType: 'account', targetId: target?.id, outcome: 'denied', ip: ctx.ip, changes: role ? { role } : undefined });
      }
      throw error;
    }
    return caller;
  }
  const record = (ctx: Context, action: string, targetId: string, changes?: Record<string, unknown>, targetType = 'account') =>
    audit({ actorId: (ctx.state.admin as AdminCaller).accountId, action, targetType, targetId, ip: ctx.ip, changes });

  async function existing(ctx: Context) {
    const id = ctx.params.id!;
    if (!uuid.safeParse(id).success) throw new AccountNotFoundError();
    return administration.getAccount(id);
  }

  router.get('/users', async (ctx) => {
    await allow(ctx, 'users.read');
    const query = parse(
      pageSchema.extend({
        search: z.string().max(254).optional(),
        role: z.string().max(64).optional(),
        status: z.enum(['active', 'disabled', 'deleted']).optional(),
      }),
      ctx.query,
    );
    ctx.body = await administration.listAccounts({ ...query, perPage: query.per_page });
  });

  router.post('/users', async (ctx) => {
    await allow(ctx, 'users.create');
    const input = parse(createSchema, ctx.request.body);
    const roles = input.roles ?? ['user'];
    for (const role of roles) await allow(ctx, 'users.roles', undefined, role);
    const account = await deps.accounts.createAccount({
      email: input.email,
      password: input.password ?? null,
      name: input.name,
      roles,
      emailVerified: input.email_verified ?? false,
    });
    if (input.invite) await deps.lifecycle.requestPasswordReset(account.email, null);
    await record(ctx, 'users.create', account.id, { email: account.email, roles, invited: Boolean(input.invite) });
    ctx.status = 201;
    ctx.body = await administration.getAccount(account.id);
  });

  router.get('/users/:id', async (ctx) => {
    await allow(ctx, 'users.read');
    const account = await existing(ctx);
    ctx.set('ETag', `"${version(account)}"`);
    ctx.body = account;
  });

  router.patch('/users/:id', async (ctx) => {
    const target = await existing(ctx);
    await allow(ctx, 'users.update', target);
    const changes = parse(profileSchema, ctx.request.body);
    const ifMatch = ctx.get('if-match').replace(/^W\//, '').replaceAll('"', '');
    const { before, after } = await administration.updateProfile(target.id, changes, ifMatch ? Number(ifMatch) : undefined);
    await record(ctx, 'users.update', target.id, diff(before, after));
    const account = await administration.getAccount(target.id);
    ctx.set('ETag', `"${version(account)}"`);
    ctx.body = account;
  });

  for (const [path, action, status] of [
    ['disable', 'users.disable', 'disabled'],
    ['enable', 'users.enable', 'active'],
  ] as const) {
    router.post(`/users/:id/${path}`, async (ctx) => {
      const target = await existing(ctx);
      await allow(ctx, action, target);
      await administration.setStatus(target.id, status);
      if (status === 'disabled') await deps.endEverythingOf(target.id);
      await record(ctx, action, target.id, { status: [target.status, status] });
      ctx.body = await administration.getAccount(target.id);
    });
  }

  router.delete('/users/:id', async (ctx) => {
    const target = await existing(ctx);
    await allow(ctx, 'users.delete', target);
    await administration.setDeleted(target.id, true);
    await deps.endEverythingOf(target.id);
    await record(ctx, 'users.delete', target.id);
    ctx.status = 204;
  });

  router.post('/users/:id/restore', async (ctx) => {
    const target = await existing(ctx);
    await allow(ctx, 'users.restore', target);
    await administration.setDeleted(target.id, false);
    await record(ctx, 'users.restore', target.id);
    ctx.body = await administration.getAccount(target.id);
  });

  router.put('/users/:id/roles/:role', async (ctx) => {
    const target = await existing(ctx);
    await allow(ctx, 'users.roles', target, ctx.params.role);
    await administration.grantRole(target.id, ctx.params.role!);
    await record(ctx, 'users.roles.grant', target.id, { role: ctx.params.role });
    ctx.body = await administration.getAccount(target.id);
  });

  router.delete('/users/:id/roles/:role', async (ctx) => {
    const target = await existing(ctx);
    await allow(ctx, 'users.roles', target, ctx.params.role);
    await administration.revokeRole(target.id, ctx.params.role!);
    await record(ctx, 'users.roles.revoke', target.id, { role: ctx.params.role });
    ctx.body = await administration.getAccount(target.id);
  });

  router.post('/users/:id/password-reset', async (ctx) => {
    const target = await existing(ctx);
    await allow(ctx, 'users.password-reset', target);
    await deps.lifecycle.requestPasswordReset(target.email, null);
    await record(ctx, 'users.password-reset', target.id);
    ctx.status = 202;
    ctx.body = { status: 'a password reset link was mailed' };
  });

  router.get('/users/:id/login-history', async (ctx) => {
    await allow(ctx, 'users.read');
    ctx.body = { items: await administration.loginHistory((await existing(ctx)).id) };
  });

  router.get('/users/:id/identities', async (ctx) => {
    await allow(ctx, 'users.read');
    ctx.body = { items: await administration.identities((await existing(ctx)).id) };
  });

  router.get('/roles', async (ctx) => {
    await allow(ctx, 'roles.read');
    ctx.body = { items: await administration.listRoles() };
  });

  router.post('/roles', async (ctx) => {
    await allow(ctx, 'roles.write');
    const input = parse(roleSchema, ctx.request.body);
    const role = await administration.createRole(input.name, input.description);
    await record(ctx, 'roles.create', role.name, { name: role.name }, 'role');
    ctx.status = 201;
    ctx.body = role;
  });

  router.delete('/roles/:name', async (ctx) => {
    await allow(ctx, 'roles.write');
    await administration.deleteRole(ctx.params.name!);
    await record(ctx, 'roles.delete', ctx.params.name!, undefined, 'role');
    ctx.status = 204;
  });

  const clientInput = z.record(z.string(), z.unknown());

  router.get('/clients', async (ctx) => {
    await allow(ctx, 'clients.read');
    ctx.body = { items: await deps.clients.list() };
  });

  router.post('/clients', async (ctx) => {
    await allow(ctx, 'clients.write');
    const { client, clientSecret } = await deps.clients.create(parse(clientInput, ctx.request.body));
    await record(ctx, 'clients.create', String(client.client_id), { metadata: client }, 'client');
    ctx.status = 201;
    // The secret is shown this once; only node-oidc-provider reads it afterwards.
    ctx.body = { ...client, ...(clientSecret ? { client_secret: clientSecret } : {}) };
  });

  router.get('/clients/:id', async (ctx) => {
    await allow(ctx, 'clients.read');
    ctx.body = await deps.clients.get(ctx.params.id!);
  });

  router.patch('/clients/:id', async (ctx) => {
    await allow(ctx, 'clients.write');
    const changes = parse(clientInput, ctx.request.body);
    if ('client_id' in changes || 'client_secret' in changes) throw new InvalidFieldError('client_id', 'client_id and client_secret cannot be set');
    const { before, after } = await deps.clients.update(ctx.params.id!, changes);
    await record(ctx, 'clients.update', ctx.params.id!, diff(before, after), 'client');
    ctx.body = after;
  });

  router.delete('/clients/:id', async (ctx) => {
    await allow(ctx, 'clients.write');
    await deps.clients.remove(ctx.params.id!);
    await record(ctx, 'clients.delete', ctx.params.id!, undefined, 'client');
    ctx.status = 204;
  });

  router.post('/clients/:id/rotate-secret', async (ctx) => {
    await allow(ctx, 'clients.write');
    const secret = await deps.clients.rotateSecret(ctx.params.id!);
    await record(ctx, 'clients.rotate-secret', ctx.params.id!, undefined, 'client');
    ctx.body = { client_id: ctx.params.id, client_secret: secret };
  });

  router.get('/audit', async (ctx) => {
    await allow(ctx, 'audit.read');
    const query = parse(pageSchema.extend({ actor: z.uuid().optional(), target: z.string().max(200).optional(), action: z.string().max(64).optional() }), ctx.query);
    ctx.body = await listAuditEvents(deps.database.db, { actorId: query.actor, targetId: query.target, action: query.action, page: query.page, perPage: query.per_page });
  });

  return router;
}
