import Router from '@koa/router';
import type { Context } from 'koa';
import type Provider from 'oidc-provider';
import { z } from 'zod';

import { type AccountAdministration, emailSchema, PROFILE_FIELDS, profileFieldsSchema, TIME_ZONES } from '../accounts/index.ts';
import { actionLabelKey, AUDITED_ACTIONS, changeLines } from '../audit/index.ts';
import { csrfProtection, formBody, PageError } from '../http/index.ts';
import { type AccountSessions, currentSession } from '../oidc/index.ts';
import { unknownProviderFields, upstreamRedirectUri } from '../upstream/index.ts';
import { message, type Message, type Views } from '../views/index.ts';
import { WEBHOOK_EVENT_TYPES } from '../webhooks/index.ts';
import { deviceOf } from '../web/index.ts';
import type { Actor, AdminActions } from './admin-actions.ts';
import { adminRefusal } from './admin-refusals.ts';
import { AUDIT_ACTORS, AuditFilterError, auditQueryOf } from './audit-filters.ts';
import type { ConsoleSession } from './console-session.ts';
import { ACCOUNT_ID, BadCursorError, EVENT_ID, parseCursor } from './page-cursor.ts';
import { RANK } from './permissions.ts';

const PER_PAGE = 25;
/** Notices a redirect may ask the user page to show (admin.notices.<name>); anything else shows nothing. */
const notices = new Set(['invitationMailed', 'profileSaved', 'roleGranted', 'roleRemoved', 'accountDisabled', 'accountEnabled', 'accountDeleted', 'accountRestored', 'resetLinkMailed', 'secondFactorsReset']);
/** The cursor of a list's page link; a link someone altered answers 400 with words. */
function cursorOf(value: unknown, idPattern: RegExp) {
  try {
    return parseCursor(value, idPattern);
  } catch (error) {
    if (error instanceof BadCursorError) throw new PageError(400, 'admin.cursorInvalid');
    throw error;
  }
}
const text = (value: unknown, max = 254) => (typeof value === 'string' ? value.trim().slice(0, max) : '');
/** A textarea of URLs, one per line (or separated by spaces). */
const urls = (value: unknown) => text(value, 4000).split(/\s+/).filter(Boolean);

/** Roles to offer for granting, least power first (ranked roles by rank, then custom roles, which carry none), so a slip grants little. */
const leastPowerFirst = <Role extends { rank: number | null }>(roles: Role[]) =>
  [...roles].sort((a, b) => (a.rank ?? Number.MAX_SAFE_INTEGER) - (b.rank ?? Number.MAX_SAFE_INTEGER));

/** The longest text a field's schema accepts (its .max), through .optional() and .nullable(); null when it sets none. */
function maxLengthOf(schema: z.core.$ZodType): number | null {
  if (schema instanceof z.ZodOptional || schema instanceof z.ZodNullable) return maxLengthOf(schema.unwrap());
  return 'maxLength' in schema && typeof schema.maxLength === 'number' ? schema.maxLength : null;
}
/** zoneinfo sets no length (it must name a known zone); 64 holds any IANA zone name. */
const UNBOUNDED_FIELD_MAX = 64;
/** One input of the user page's profile form, as long as its schema lets the value be. */
const profileInput = (name: string, schema: z.core.$ZodType) => ({ name, maxLength: maxLengthOf(schema) ?? UNBOUNDED_FIELD_MAX });
/** The user page's profile form: the address, then every profile claim of the schema, in its order. */
const PROFILE_FORM = [profileInput('email', emailSchema), ...PROFILE_FIELDS.map((name) => profileInput(name, profileFieldsSchema.shape[name]))];

/** A select's choices, with the stored value first when it is not one of them (so the form shows and keeps it). */
const withStored = (choices: readonly string[], stored: string | null) => (stored && !choices.includes(stored) ? [stored, ...choices] : [...choices]);
/** A language's name in the page's language ("Deutsch" on a German page); the tag itself if unknown. */
function languageNamer(locale: string) {
  const names = new Intl.DisplayNames([locale], { type: 'language', fallback: 'code' });
  return (tag: string) => {
    try {
      return names.of(tag) ?? tag;
    } catch {
      return tag;
    }
  };
}

/** The identity provider form's fields: one line of text, a list (by spaces, commas or lines), or a secret (blank keeps it). */
const PROVIDER_TEXT_FIELDS = ['id', 'name', 'icon', 'issuer', 'client_id', 'hosted_domain', 'tenant', 'authority', 'github_url', 'api_url'] as const;
const PROVIDER_LIST_FIELDS = ['scopes', 'domains', 'allowed_domains', 'allowed_tenants'] as const;
const PROVIDER_TYPES = ['oidc', 'github', 'microsoft'] as const;

/** What the form says, as typed (to show it again), never its secrets. */
function providerFormValues(form: Record<string, unknown>) {
  const values: Record<string, string | boolean> = { type: text(form.type, 20), enforce: form.enforce === 'yes', enabled: form.enabled === 'yes' };
  for (const name of [...PROVIDER_TEXT_FIELDS, ...PROVIDER_LIST_FIELDS]) values[name] = text(form[name], 2048);
  return values;
}

/** A provider entry from the form: blank fields are left out (on an edit: removed), secrets only when given. */
function providerFromForm(form: Record<string, unknown>, editing: boolean): Record<string, unknown> {
  const entry: Record<string, unknown> = { type: text(form.type, 20), enforce: form.enforce === 'yes', enabled: form.enabled === 'yes' };
  for (const name of PROVIDER_TEXT_FIELDS) {
    const value = text(form[name], 2048);
    if (value) entry[name] = value;
    else if (editing) entry[name] = null;
  }
  for (const name of PROVIDER_LIST_FIELDS) {
    const items = text(form[name], 4000).split(/[\s,]+/).filter(Boolean);
    if (items.length) entry[name] = items;
    else if (editing) entry[name] = null;
  }
  if (editing) delete entry.id;
  const secret = text(form.client_secret, 4000);
  if (secret) entry.client_secret = secret;
  const jwk = text(form.private_key_jwt, 20_000);
  if (jwk) {
    try {
      entry.private_key_jwt = JSON.parse(jwk);
    } catch {
      entry.private_key_jwt = jwk;
    }
  }
  // The form has every type's fields: an entry keeps its own type's only.
  for (const key of unknownProviderFields(entry)) delete entry[key];
  return entry;
}

/** Refusals and mistakes as readable pages, with the status the API would give (a stale edit: 409). */
async function consoleErrors(ctx: Context, next: () => Promise<unknown>) {
  try {
    await next();
  } catch (error) {
    const refusal = adminRefusal(error);
    if (!refusal) throw error;
    // The refusal's own words are the service's (English); the page's title is translated.
    if (refusal.code === 'precondition_failed') throw new PageError(409, 'admin.precondition_failed');
    throw new PageError(refusal.status, `admin.${refusal.code}`, refusal.field ? `${refusal.field}: ${refusal.message}` : refusal.message);
  }
}

/** A client of CLIENTS_FILE as the console lists it: read-only, and never its secret. */
export interface FileClient {
  client_id: string;
  client_name?: string | undefined;
  redirect_uris?: readonly string[] | undefined;
}

/**
 * The admin web console: the same operations as the JSON API, as pages. Destructive actions
 * ask for confirmation first: the form posts again with `confirmed=yes`.
 */
export function adminConsoleRoutes(deps: {
  actions: AdminActions;
  administration: AccountAdministration;
  session: ConsoleSession;
  /** The clients of CLIENTS_FILE: listed beside the database's, changed only in the file. */
  fileClients: readonly FileClient[];
  views: Views;
  /** To end this browser's IdP session too when the person leaves or switches account. */
  provider: Provider;
  sessions: Pick<AccountSessions, 'endById'>;
  /** For the redirect URI an upstream provider's app registration must name. */
  issuer: string;
}): Router {
  const { actions, session, views } = deps;
  const fileClients = deps.fileClients.map(({ client_id, client_name, redirect_uris }) => ({ client_id, client_name, redirect_uris }));
  const router = new Router({ prefix: '/admin' });
  router.use(formBody(), csrfProtection(), async (ctx, next) => {
    ctx.set('Cache-Control', 'no-store');
    await next();
  }, consoleErrors);

  router.get('/login', (ctx) => session.startSignIn(ctx));
  router.get('/callback', async (ctx) => {
    if (!(await session.finishSignIn(ctx))) throw new PageError(400, 'admin.signInFailed');
    ctx.status = 303;
    ctx.redirect('/admin');
  });
  router.post('/logout', async (ctx) => {
    await session.signOut(ctx);
    ctx.status = 303;
    ctx.redirect('/admin/login');
  });

  /** Ends the console session and this browser's IdP session (as signing out of the account would). */
  async function signOutEverywhere(ctx: Context) {
    await session.signOut(ctx);
    const idpSession = await currentSession(deps.provider, ctx);
    if (idpSession) await deps.sessions.endById(idpSession.sessionId);
  }
  // From the "Not allowed" page: leave altogether, or sign in again as someone else.
  router.post('/sign-out', async (ctx) => {
    await signOutEverywhere(ctx);
    ctx.status = 303;
    ctx.redirect('/');
  });
  router.post('/switch-account', async (ctx) => {
    await signOutEverywhere(ctx);
    ctx.status = 303;
    ctx.redirect('/admin/login');
  });

  /** The signed-in admin (a live session of an active account), or a redirect to sign in; people below moderator may not enter. */
  async function actorOf(ctx: Context): Promise<Actor | undefined> {
    const accountId = await session.accountId(ctx);
    if (!accountId) {
      ctx.status = 303;
      ctx.redirect('/admin/login');
      return undefined;
    }
    const rank = await deps.administration.rankOf(accountId);
    if (rank < RANK.moderator) {
      // Not a dead end: who is signed in, and the ways out (another account, sign out, their own account).
      const email = (await deps.administration.emailsOf([accountId])).get(accountId);
      views.render(ctx, 'admin/not-allowed', { email }, 403);
      return undefined;
    }
    // Every time on the console's pages is in the viewing admin's zone, named; UTC when they set none.
    ctx.state.adminZone = (await deps.administration.getAccount(accountId)).zoneinfo || 'UTC';
    return { accountId, rank, ip: ctx.ip };
  }
  const render = (ctx: Context, view: string, data: Record<string, unknown>, status = 200) =>
    views.render(ctx, `admin/${view}`, { zone: (ctx.state.adminZone as string | undefined) ?? 'UTC', ...data }, status);
  const body = (ctx: Context) => (ctx.request.body ?? {}) as Record<string, unknown>;
  const confirmed = (ctx: Context) => body(ctx).confirmed === 'yes';
  /** Shows the confirmation page for a destructive action, unless this post already confirms it. */
  function needsConfirmation(ctx: Context, question: Message, fields: Record<string, string> = {}) {
    if (confirmed(ctx)) return false;
    render(ctx, 'confirm', { question, action: ctx.path, fields, back: ctx.get('referer') || '/admin' });
    return true;
  }
  const back = (ctx: Context, to: string) => {
    ctx.status = 303;
    ctx.redirect(to);
  };

  router.get('/', async (ctx) => {
    const actor = await actorOf(ctx);
    if (!actor) return;
    const status = z.enum(['active', 'disabled', 'deleted']).optional().catch(undefined).parse(ctx.query.status || undefined);
    const query = { search: text(ctx.query.search) || undefined, role: text(ctx.query.role, 64) || undefined, status, cursor: cursorOf(ctx.query.cursor, ACCOUNT_ID), perPage: PER_PAGE };
    const [users, roles] = await Promise.all([actions.listUsers(actor, query), actions.listRoles(actor)]);
    render(ctx, 'users', { users, roles, query });
  });

  router.post('/users', async (ctx) => {
    const actor = await actorOf(ctx);
    if (!actor) return;
    const role = text(body(ctx).role, 64) || 'user';
    const user = await actions.createUser(actor, { email: text(body(ctx).email), name: text(body(ctx).name, 200) || undefined, invite: true, roles: [role] });
    back(ctx, `/admin/users/${user.id}?notice=invitationMailed`);
  });

  /** The languages the pages speak: what the locale select offers. */
  const localeChoices = () => views.catalogues.locales;
  /**
   * A select's value: empty (unset), one of its choices, or the value already stored (set
   * through the API, say), so saving the form keeps it; anything else is refused.
   */
  async function chosen(ctx: Context, name: 'locale' | 'zoneinfo', choices: () => readonly string[]) {
    const value = text(body(ctx)[name], 64);
    if (!value) return null;
    if (choices().includes(value)) return value;
    const stored = (await deps.administration.getAccount(ctx.params.id!))[name];
    if (value === stored) return value;
    throw new PageError(400, `admin.${name}Invalid`);
  }

  router.post('/users/:id/profile', async (ctx) => {
    const actor = await actorOf(ctx);
    if (!actor) return;
    const field = (name: string, max: number) => text(body(ctx)[name], max) || null;
    const picture = field('picture', 2000);
    if (picture && !/^https?:\/\//.test(picture)) throw new PageError(400, 'admin.pictureInvalid');
    await actions.updateUser(actor, ctx.params.id!, {
      email: text(body(ctx).email) || undefined,
      name: field('name', 200),
      given_name: field('given_name', 100),
      family_name: field('family_name', 100),
      picture,
      locale: await chosen(ctx, 'locale', localeChoices),
      zoneinfo: await chosen(ctx, 'zoneinfo', () => TIME_ZONES),
    }, Number(body(ctx).version) || undefined);
    back(ctx, `/admin/users/${ctx.params.id}?notice=profileSaved`);
  });

  router.get('/users/:id', async (ctx) => {
    const actor = await actorOf(ctx);
    if (!actor) return;
    const id = ctx.params.id!;
    const [user, history, identities, roles] = await Promise.all([
      actions.getUser(actor, id),
      actions.loginHistory(actor, id),
      actions.identities(actor, id),
      actions.listRoles(actor),
    ]);
    const notice = text(ctx.query.notice, 40);
    const grantable = leastPowerFirst(roles.filter((role) => !user.roles.includes(role.name)));
    render(ctx, 'user', {
      user,
      profileFields: PROFILE_FORM,
      choices: { locale: withStored(localeChoices(), user.locale), zoneinfo: withStored(TIME_ZONES, user.zoneinfo) },
      languageName: languageNamer(views.locale(ctx)),
      history: history.map((row) => ({ ...row, device: deviceOf(row.user_agent) })),
      identities,
      grantable,
      notice: notices.has(notice) ? `admin.notices.${notice}` : undefined,
    });
  });

  router.post('/users/:id/roles', async (ctx) => {
    const actor = await actorOf(ctx);
    if (!actor) return;
    await actions.setRole(actor, ctx.params.id!, text(body(ctx).role, 64), true);
    back(ctx, `/admin/users/${ctx.params.id}?notice=roleGranted`);
  });

  router.post('/users/:id/roles/:role/remove', async (ctx) => {
    const actor = await actorOf(ctx);
    if (!actor || needsConfirmation(ctx, message('admin.confirm.removeRole', { role: ctx.params.role! }))) return;
    await actions.setRole(actor, ctx.params.id!, ctx.params.role!, false);
    back(ctx, `/admin/users/${ctx.params.id}?notice=roleRemoved`);
  });

  for (const [path, question, run, notice] of [
    ['disable', 'admin.confirm.disable', (a: Actor, id: string) => actions.setStatus(a, id, 'disabled'), 'accountDisabled'],
    ['enable', 'admin.confirm.enable', (a: Actor, id: string) => actions.setStatus(a, id, 'active'), 'accountEnabled'],
    ['delete', 'admin.confirm.delete', (a: Actor, id: string) => actions.deleteUser(a, id), 'accountDeleted'],
    ['restore', 'admin.confirm.restore', (a: Actor, id: string) => actions.restoreUser(a, id), 'accountRestored'],
    ['password-reset', 'admin.confirm.passwordReset', (a: Actor, id: string) => actions.forcePasswordReset(a, id), 'resetLinkMailed'],
    ['second-factors/reset', 'admin.confirm.resetSecondFactors', (a: Actor, id: string) => actions.resetSecondFactors(a, id), 'secondFactorsReset'],
  ] as const) {
    router.post(`/users/:id/${path}`, async (ctx) => {
      const actor = await actorOf(ctx);
      if (!actor || needsConfirmation(ctx, question)) return;
      await run(actor, ctx.params.id!);
      back(ctx, `/admin/users/${ctx.params.id}?notice=${notice}`);
    });
  }

  router.get('/roles', async (ctx) => {
    const actor = await actorOf(ctx);
    if (!actor) return;
    render(ctx, 'roles', { roles: await actions.listRoles(actor) });
  });
  router.post('/roles', async (ctx) => {
    const actor = await actorOf(ctx);
    if (!actor) return;
    const name = text(body(ctx).name, 63);
    if (!/^[a-z][a-z0-9_-]{1,62}$/.test(name)) throw new PageError(400, 'admin.roleNameInvalid');
    await actions.createRole(actor, name, text(body(ctx).description, 200));
    back(ctx, '/admin/roles');
  });
  router.post('/roles/:name/delete', async (ctx) => {
    const actor = await actorOf(ctx);
    if (!actor || needsConfirmation(ctx, message('admin.confirm.deleteRole', { role: ctx.params.name! }))) return;
    await actions.deleteRole(actor, ctx.params.name!);
    back(ctx, '/admin/roles');
  });

  router.get('/clients', async (ctx) => {
    const actor = await actorOf(ctx);
    if (!actor) return;
    render(ctx, 'clients', { clients: await actions.listClients(actor), fileClients });
  });
  router.post('/clients', async (ctx) => {
    const actor = await actorOf(ctx);
    if (!actor) return;
    const isPublic = body(ctx).public === 'yes';
    const { client, clientSecret } = await actions.createClient(actor, {
      client_name: text(body(ctx).name, 200),
      redirect_uris: urls(body(ctx).redirect_uris),
      post_logout_redirect_uris: urls(body(ctx).post_logout_redirect_uris),
      grant_types: ['authorization_code', 'refresh_token'],
      response_types: ['code'],
      token_endpoint_auth_method: isPublic ? 'none' : 'client_secret_basic',
    });
    render(ctx, 'client-secret', { clientId: client.client_id, clientSecret }, 201);
  });
  router.post('/clients/:id', async (ctx) => {
    const actor = await actorOf(ctx);
    if (!actor) return;
    await actions.updateClient(actor, ctx.params.id!, {
      client_name: text(body(ctx).name, 200),
      redirect_uris: urls(body(ctx).redirect_uris),
      post_logout_redirect_uris: urls(body(ctx).post_logout_redirect_uris),
    });
    back(ctx, '/admin/clients');
  });

  router.post('/clients/:id/rotate-secret', async (ctx) => {
    const actor = await actorOf(ctx);
    if (!actor || needsConfirmation(ctx, 'admin.confirm.rotateSecret')) return;
    render(ctx, 'client-secret', { clientId: ctx.params.id, clientSecret: await actions.rotateClientSecret(actor, ctx.params.id!) });
  });
  router.post('/clients/:id/delete', async (ctx) => {
    const actor = await actorOf(ctx);
    if (!actor || needsConfirmation(ctx, 'admin.confirm.deleteClient')) return;
    await actions.deleteClient(actor, ctx.params.id!);
    back(ctx, '/admin/clients');
  });

  router.get('/webhooks', async (ctx) => {
    const actor = await actorOf(ctx);
    if (!actor) return;
    render(ctx, 'webhooks', { webhooks: await actions.listWebhooks(actor), eventTypes: WEBHOOK_EVENT_TYPES });
  });
  router.post('/webhooks', async (ctx) => {
    const actor = await actorOf(ctx);
    if (!actor) return;
    const events = [body(ctx).events].flat().filter((event): event is string => typeof event === 'string');
    // The service checks the form (zod): a wrong URL or event is a readable refusal page.
    const { subscription, secret } = await actions.createWebhook(actor, { url: text(body(ctx).url, 2048), description: text(body(ctx).description, 200), events });
    render(ctx, 'webhook-secret', { webhook: subscription, secret }, 201);
  });
  router.get('/webhooks/:id', async (ctx) => {
    const actor = await actorOf(ctx);
    if (!actor) return;
    const webhook = await actions.getWebhook(actor, ctx.params.id!);
    render(ctx, 'webhook', { webhook, deliveries: await actions.webhookDeliveries(actor, webhook.id) });
  });
  router.post('/webhooks/:id', async (ctx) => {
    const actor = await actorOf(ctx);
    if (!actor) return;
    await actions.updateWebhook(actor, ctx.params.id!, { enabled: body(ctx).enabled === 'yes' });
    back(ctx, `/admin/webhooks/${ctx.params.id}`);
  });
  router.post('/webhooks/:id/rotate-secret', async (ctx) => {
    const actor = await actorOf(ctx);
    if (!actor || needsConfirmation(ctx, 'admin.confirm.rotateWebhookSecret')) return;
    const { subscription, secret } = await actions.rotateWebhookSecret(actor, ctx.params.id!);
    render(ctx, 'webhook-secret', { webhook: subscription, secret });
  });
  router.post('/webhooks/:id/delete', async (ctx) => {
    const actor = await actorOf(ctx);
    if (!actor || needsConfirmation(ctx, 'admin.confirm.deleteWebhook')) return;
    await actions.deleteWebhook(actor, ctx.params.id!);
    back(ctx, '/admin/webhooks');
  });
  router.post('/webhooks/:id/deliveries/:delivery/resend', async (ctx) => {
    const actor = await actorOf(ctx);
    if (!actor) return;
    await actions.resendWebhookDelivery(actor, ctx.params.id!, ctx.params.delivery!);
    back(ctx, `/admin/webhooks/${ctx.params.id}`);
  });

  /** The list with the form to add one; a refused form comes back with its words beside the field, as typed. */
  async function providersPage(ctx: Context, actor: Actor, form: { values?: Record<string, unknown>; errors?: Record<string, string> } = {}, status = 200) {
    render(ctx, 'identity-providers', { providers: await actions.listIdentityProviders(actor), types: PROVIDER_TYPES, values: form.values ?? { type: 'oidc', enabled: true }, errors: form.errors ?? {}, redirectUri: upstreamRedirectUri(deps.issuer, '<id>') }, status);
  }
  /** A refusal of the form's content (not a permission): its field and words, to show on the form. */
  function formRefusal(error: unknown): { status: number; errors: Record<string, string> } | undefined {
    const refused = adminRefusal(error);
    if (!refused || ![400, 409, 422].includes(refused.status)) return undefined;
    const field = refused.field?.split('.')[0];
    const known = field && [...PROVIDER_TEXT_FIELDS, ...PROVIDER_LIST_FIELDS, 'type', 'client_secret', 'private_key_jwt'].includes(field);
    return { status: refused.status, errors: known ? { [field]: refused.message } : { form: refused.field ? `${refused.field}: ${refused.message}` : refused.message } };
  }

  router.get('/identity-providers', async (ctx) => {
    const actor = await actorOf(ctx);
    if (!actor) return;
    await providersPage(ctx, actor);
  });
  router.post('/identity-providers', async (ctx) => {
    const actor = await actorOf(ctx);
    if (!actor) return;
    try {
      const created = await actions.createIdentityProvider(actor, providerFromForm(body(ctx), false));
      back(ctx, `/admin/identity-providers/${encodeURIComponent(created.id)}`);
    } catch (error) {
      const refused = formRefusal(error);
      if (!refused) throw error;
      await providersPage(ctx, actor, { values: providerFormValues(body(ctx)), errors: refused.errors }, refused.status);
    }
  });
  router.get('/identity-providers/:id', async (ctx) => {
    const actor = await actorOf(ctx);
    if (!actor) return;
    const provider = await actions.getIdentityProvider(actor, ctx.params.id!);
    const values = Object.fromEntries(Object.entries(provider).map(([key, value]) => [key, Array.isArray(value) ? value.join(' ') : value]));
    render(ctx, 'identity-provider', { provider, types: PROVIDER_TYPES, values, errors: {}, redirectUri: upstreamRedirectUri(deps.issuer, provider.id) });
  });
  router.post('/identity-providers/:id', async (ctx) => {
    const actor = await actorOf(ctx);
    if (!actor) return;
    try {
      await actions.updateIdentityProvider(actor, ctx.params.id!, providerFromForm(body(ctx), true));
      back(ctx, `/admin/identity-providers/${encodeURIComponent(ctx.params.id!)}`);
    } catch (error) {
      const refused = formRefusal(error);
      if (!refused) throw error;
      const provider = await actions.getIdentityProvider(actor, ctx.params.id!);
      render(ctx, 'identity-provider', { provider, types: PROVIDER_TYPES, values: { ...providerFormValues(body(ctx)), id: provider.id }, errors: refused.errors, redirectUri: upstreamRedirectUri(deps.issuer, provider.id) }, refused.status);
    }
  });
  for (const [path, enabled] of [['enable', true], ['disable', false]] as const) {
    router.post(`/identity-providers/:id/${path}`, async (ctx) => {
      const actor = await actorOf(ctx);
      if (!actor) return;
      await actions.updateIdentityProvider(actor, ctx.params.id!, { enabled });
      back(ctx, '/admin/identity-providers');
    });
  }
  router.post('/identity-providers/:id/delete', async (ctx) => {
    const actor = await actorOf(ctx);
    if (!actor || needsConfirmation(ctx, message('admin.confirm.deleteIdentityProvider', { provider: ctx.params.id!.slice(0, 40) }))) return;
    await actions.deleteIdentityProvider(actor, ctx.params.id!);
    back(ctx, '/admin/identity-providers');
  });

  router.get('/audit', async (ctx) => {
    const actor = await actorOf(ctx);
    if (!actor) return;
    const zone = ctx.state.adminZone as string;
    let parsed;
    try {
      parsed = auditQueryOf(ctx.query, { timeZone: zone, cursor: cursorOf(ctx.query.cursor, EVENT_ID), perPage: PER_PAGE });
    } catch (error) {
      if (error instanceof AuditFilterError) throw new PageError(400, 'admin.auditFilterInvalid', undefined, { field: error.field });
      throw error;
    }
    const events = await actions.auditLog(actor, parsed.query);
    const items = events.items.map((event) => ({ ...event, lines: changeLines(event.changes) }));
    render(ctx, 'audit', {
      events: { ...events, items },
      filters: parsed.filters,
      actions: AUDITED_ACTIONS,
      actors: AUDIT_ACTORS,
      actionLabelKey,
    });
  });

  return router;
}
