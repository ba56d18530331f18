import type { IncomingMessage } from 'node:http';

import Router from '@koa/router';
import type { Context, Middleware } from 'koa';
import { z } from 'zod';

import {
  InvalidRoleMapError,
  profileFieldsSchema,
  ROLE_NAME,
  roleMapOf,
  singleLine,
  UnreadableFileError,
  type UserFileFormat,
  userRecords,
} from '../accounts/index.ts';
import { jsonBody, type RateLimits, TooManyRequestsError } from '../http/index.ts';
import type { Actor, AdminActions } from './admin-actions.ts';
import { adminRefusal } from './admin-refusals.ts';
import { AuditFilterError, auditQueryOf } from './audit-filters.ts';
import type { AdminCaller } from './bearer-auth.ts';
import { ACCOUNT_ID, BadCursorError, EVENT_ID, parseCursor } from './page-cursor.ts';

class InvalidFieldError extends Error {
  constructor(
    readonly field: string,
    message: string,
  ) {
    super(message);
  }
}

const uuid = z.uuid();
const profileSchema = profileFieldsSchema
  .extend({
    email: z.email().max(254).optional(),
    metadata: z.record(z.string(), z.unknown()).optional(),
  })
  .strict();
const createSchema = z
  .object({
    email: z.email().max(254),
    name: z.string().trim().max(200).refine(singleLine, 'must be one line of text without control characters').optional(),
    password: z.string().max(256).optional(),
    invite: z.boolean().optional(),
    roles: z.array(z.string().max(64)).max(20).optional(),
    email_verified: z.boolean().optional(),
  })
  .strict()
  .refine((value) => Boolean(value.password) !== Boolean(value.invite), { message: 'give a password or invite: true', path: ['password'] });
const roleSchema = z.object({ name: z.string().regex(ROLE_NAME, 'lowercase letters, digits, - and _'), description: z.string().max(200).default('') }).strict();
const importQuerySchema = z
  .object({
    on_conflict: z.enum(['skip', 'update', 'fail']).default('fail'),
    dry_run: z.stringbool().default(false),
    skip_invalid: z.stringbool().default(false),
    create_roles: z.stringbool().default(false),
    role_map: z.union([z.string(), z.array(z.string())]).default([]),
  })
  .strict();
/** An import body cut short (the client went away): what arrived is not the file, so nothing of it is kept. */
async function* wholeBody<T>(records: AsyncIterable<T>, request: IncomingMessage): AsyncGenerator<T> {
  yield* records;
  if (!request.complete) throw new InvalidFieldError('body', 'the body ended before it was complete; nothing was imported');
}

/** The body of an import, by its content type: JSON Lines, or CSV with a header row. */
const IMPORT_TYPES: Record<string, UserFileFormat> = { 'application/x-ndjson': 'jsonl', 'application/jsonl': 'jsonl', 'application/ndjson': 'jsonl', 'text/csv': 'csv' };
/** A page of a long list: from `cursor` (the `next` or `previous` of an earlier page), or by number (`page`, deep ones cost more). */
const pageSchema = z.object({
  page: z.coerce.number().int().min(1).optional(),
  per_page: z.coerce.number().int().min(1).max(200).default(50),
  cursor: z.string().max(200).optional(),
});

/** Where the page starts: a cursor, a page number, or neither (the first page); not both. */
function pagePosition(input: z.infer<typeof pageSchema>, idPattern: RegExp) {
  if (input.cursor && input.page !== undefined) throw new InvalidFieldError('page', 'give page or cursor, not both');
  try {
    return { cursor: parseCursor(input.cursor, idPattern), page: input.page, perPage: input.per_page };
  } catch (error) {
    if (error instanceof BadCursorError) throw new InvalidFieldError(error.field, error.message);
    throw error;
  }
}

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
    const refusal = adminRefusal(error);
    if (refusal) return answer(refusal.status, refusal.code, refusal.message, refusal.field ? { field: refusal.field } : {});
    if (error instanceof TooManyRequestsError) {
      ctx.set('Retry-After', String(error.retryAfterSeconds));
      return answer(429, 'too_many_requests', error.message);
    }
    throw error;
  }
};

const version = (account: { updated_at: Date | string }) => new Date(account.updated_at).getTime();

/** The admin JSON API: parse, call one admin action, answer. */
export function adminApiRoutes(deps: { auth: Middleware; actions: AdminActions; rateLimits: RateLimits }): Router {
  const { actions } = deps;
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
  router.use(jsonBody('64kb'));

  const actor = (ctx: Context): Actor => {
    const caller = ctx.state.admin as AdminCaller;
    return { accountId: caller.accountId, rank: caller.rank, ip: ctx.ip };
  };
  const withEtag = (ctx: Context, account: { updated_at: Date | string }) => {
    ctx.set('ETag', `"${version(account)}"`);
    ctx.body = account;
  };

  router.get('/users', async (ctx) => {
    const query = parse(
      pageSchema.extend({
        search: z.string().max(254).optional(),
        role: z.string().max(64).optional(),
        status: z.enum(['active', 'disabled', 'deleted']).optional(),
      }),
      ctx.query,
    );
    ctx.body = await actions.listUsers(actor(ctx), { search: query.search, role: query.role, status: query.status, ...pagePosition(query, ACCOUNT_ID) });
  });

  router.post('/users', async (ctx) => {
    const input = parse(createSchema, ctx.request.body);
    ctx.status = 201;
    ctx.body = await actions.createUser(actor(ctx), { ...input, emailVerified: input.email_verified });
  });

  // Streamed: the body is read line by line as the import runs, never held whole.
  router.post('/users/import', async (ctx) => {
    const query = parse(importQuerySchema, ctx.query);
    const format = IMPORT_TYPES[ctx.request.type];
    if (!format) {
      ctx.status = 415;
      ctx.body = { error: 'unsupported_media_type', error_description: `send JSON Lines (${Object.keys(IMPORT_TYPES).filter((type) => type !== 'text/csv').join(', ')}) or text/csv` };
      return;
    }
    let roleMap: Map<string, string>;
    try {
      roleMap = roleMapOf(typeof query.role_map === 'string' ? [query.role_map] : query.role_map);
    } catch (error) {
      if (error instanceof InvalidRoleMapError) throw new InvalidFieldError('role_map', error.message);
      throw error;
    }
    const options = { onConflict: query.on_conflict, dryRun: query.dry_run, skipInvalid: query.skip_invalid, createRoles: query.create_roles, roleMap };
    let report;
    try {
      report = await actions.importUsers(actor(ctx), wholeBody(userRecords(ctx.req, format), ctx.req), options);
    } catch (error) {
      if (error instanceof UnreadableFileError) throw new InvalidFieldError('body', error.message);
      throw error;
    }
    const { imported, updated, skipped, invalid, errors, moreErrors, createdRoles, written } = report;
    const body = { imported, updated, skipped, invalid, created_roles: createdRoles, dry_run: query.dry_run, written, errors, more_errors: moreErrors };
    if (invalid && !query.skip_invalid) {
      ctx.status = 400;
      ctx.body = { error: 'invalid_request', error_description: `${invalid} invalid lines; nothing was imported`, ...body };
      return;
    }
    ctx.body = body;
  });

  router.get('/users/:id', async (ctx) => withEtag(ctx, await actions.getUser(actor(ctx), ctx.params.id!)));

  router.patch('/users/:id', async (ctx) => {
    const changes = parse(profileSchema, ctx.request.body);
    const ifMatch = ctx.get('if-match').replace(/^W\//, '').replaceAll('"', '');
    withEtag(ctx, await actions.updateUser(actor(ctx), ctx.params.id!, changes, ifMatch ? Number(ifMatch) : undefined));
  });

  router.post('/users/:id/disable', async (ctx) => {
    ctx.body = await actions.setStatus(actor(ctx), ctx.params.id!, 'disabled');
  });
  router.post('/users/:id/enable', async (ctx) => {
    ctx.body = await actions.setStatus(actor(ctx), ctx.params.id!, 'active');
  });
  router.delete('/users/:id', async (ctx) => {
    await actions.deleteUser(actor(ctx), ctx.params.id!);
    ctx.status = 204;
  });
  router.post('/users/:id/restore', async (ctx) => {
    ctx.body = await actions.restoreUser(actor(ctx), ctx.params.id!);
  });
  router.put('/users/:id/roles/:role', async (ctx) => {
    ctx.body = await actions.setRole(actor(ctx), ctx.params.id!, ctx.params.role!, true);
  });
  router.delete('/users/:id/roles/:role', async (ctx) => {
    ctx.body = await actions.setRole(actor(ctx), ctx.params.id!, ctx.params.role!, false);
  });
  router.post('/users/:id/password-reset', async (ctx) => {
    await actions.forcePasswordReset(actor(ctx), ctx.params.id!);
    ctx.status = 202;
    ctx.body = { status: 'a password reset link was mailed' };
  });
  router.delete('/users/:id/second-factors', async (ctx) => {
    ctx.body = await actions.resetSecondFactors(actor(ctx), ctx.params.id!);
  });
  router.get('/users/:id/login-history', async (ctx) => {
    ctx.body = { items: await actions.loginHistory(actor(ctx), ctx.params.id!) };
  });
  router.get('/users/:id/identities', async (ctx) => {
    ctx.body = { items: await actions.identities(actor(ctx), ctx.params.id!) };
  });

  router.get('/roles', async (ctx) => {
    ctx.body = { items: await actions.listRoles(actor(ctx)) };
  });
  router.post('/roles', async (ctx) => {
    const input = parse(roleSchema, ctx.request.body);
    ctx.status = 201;
    ctx.body = await actions.createRole(actor(ctx), input.name, input.description);
  });
  router.delete('/roles/:name', async (ctx) => {
    await actions.deleteRole(actor(ctx), ctx.params.name!);
    ctx.status = 204;
  });

  const clientInput = z.record(z.string(), z.unknown());
  router.get('/clients', async (ctx) => {
    ctx.body = { items: await actions.listClients(actor(ctx)) };
  });
  router.post('/clients', async (ctx) => {
    const { client, clientSecret } = await actions.createClient(actor(ctx), parse(clientInput, ctx.request.body));
    ctx.status = 201;
    // The secret is shown this once; only node-oidc-provider reads it afterwards.
    ctx.body = { ...client, ...(clientSecret ? { client_secret: clientSecret } : {}) };
  });
  router.get('/clients/:id', async (ctx) => {
    ctx.body = await actions.getClient(actor(ctx), ctx.params.id!);
  });
  router.patch('/clients/:id', async (ctx) => {
    const changes = parse(clientInput, ctx.request.body);
    if ('client_id' in changes || 'client_secret' in changes) throw new InvalidFieldError('client_id', 'client_id and client_secret cannot be set');
    ctx.body = await actions.updateClient(actor(ctx), ctx.params.id!, changes);
  });
  router.delete('/clients/:id', async (ctx) => {
    await actions.deleteClient(actor(ctx), ctx.params.id!);
    ctx.status = 204;
  });
  router.post('/clients/:id/rotate-secret', async (ctx) => {
    ctx.body = { client_id: ctx.params.id, client_secret: await actions.rotateClientSecret(actor(ctx), ctx.params.id!) };
  });

  router.get('/webhooks', async (ctx) => {
    ctx.body = { items: await actions.listWebhooks(actor(ctx)) };
  });
  router.post('/webhooks', async (ctx) => {
    const { subscription, secret } = await actions.createWebhook(actor(ctx), ctx.request.body);
    ctx.status = 201;
    // The signing secret is shown this once; it is kept sealed.
    ctx.body = { ...subscription, secret };
  });
  router.get('/webhooks/:id', async (ctx) => {
    ctx.body = await actions.getWebhook(actor(ctx), ctx.params.id!);
  });
  router.patch('/webhooks/:id', async (ctx) => {
    ctx.body = await actions.updateWebhook(actor(ctx), ctx.params.id!, ctx.request.body);
  });
  router.delete('/webhooks/:id', async (ctx) => {
    await actions.deleteWebhook(actor(ctx), ctx.params.id!);
    ctx.status = 204;
  });
  router.post('/webhooks/:id/rotate-secret', async (ctx) => {
    const { subscription, secret } = await actions.rotateWebhookSecret(actor(ctx), ctx.params.id!);
    ctx.body = { ...subscription, secret };
  });
  router.get('/webhooks/:id/deliveries', async (ctx) => {
    ctx.body = { items: await actions.webhookDeliveries(actor(ctx), ctx.params.id!) };
  });
  router.post('/webhooks/:id/deliveries/:delivery/resend', async (ctx) => {
    await actions.resendWebhookDelivery(actor(ctx), ctx.params.id!, ctx.params.delivery!);
    ctx.status = 202;
    ctx.body = { status: 'the delivery is due again' };
  });

  // Secrets are write-only: an answer says has_client_secret / has_private_key_jwt, never the value.
  router.get('/identity-providers', async (ctx) => {
    ctx.body = { items: await actions.listIdentityProviders(actor(ctx)) };
  });
  router.post('/identity-providers', async (ctx) => {
    ctx.status = 201;
    ctx.body = await actions.createIdentityProvider(actor(ctx), ctx.request.body);
  });
  router.get('/identity-providers/:id', async (ctx) => {
    ctx.body = await actions.getIdentityProvider(actor(ctx), ctx.params.id!);
  });
  router.patch('/identity-providers/:id', async (ctx) => {
    ctx.body = await actions.updateIdentityProvider(actor(ctx), ctx.params.id!, ctx.request.body);
  });
  router.delete('/identity-providers/:id', async (ctx) => {
    await actions.deleteIdentityProvider(actor(ctx), ctx.params.id!);
    ctx.status = 204;
  });

  router.get('/audit', async (ctx) => {
    const position = pagePosition(parse(pageSchema, { page: ctx.query.page, per_page: ctx.query.per_page, cursor: ctx.query.cursor }), EVENT_ID);
    let audit;
    try {
      audit = auditQueryOf(ctx.query, { timeZone: 'UTC', ...position, moments: true });
    } catch (error) {
      if (error instanceof AuditFilterError) throw new InvalidFieldError(error.field, error.message);
      throw error;
    }
    ctx.body = await actions.auditLog(actor(ctx), audit.query);
  });

  return router;
}
