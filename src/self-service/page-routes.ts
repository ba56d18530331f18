import Router from '@koa/router';
import type { Context, Middleware } from 'koa';

import { type Federation, InvalidLinkError, PROFILE_FIELDS, profileFieldsSchema, type SelfService } from '../accounts/index.ts';
import { csrfProtection, formBody, PageError } from '../http/index.ts';
import type { ProviderRegistry } from '../upstream/index.ts';
import { message, type Message } from '../views/index.ts';
import { formErrorOf, keepFlow, refusal, takeFlow, typed } from '../web/index.ts';
import { ACCOUNT_PAGES, type AccountPage, type AccountPageName, refusalNotice } from './account-page.ts';
import { type PasskeyDeps, passkeyRoutes } from './passkey-routes.ts';
import { type ReauthDeps, reauthRoutes } from './reauth-routes.ts';
import { pageNeedsRecentAuthentication } from './recent-authentication.ts';
import { sessionRoutes } from './session-routes.ts';
import { type TwoStepDeps, twoStepRoutes } from './two-step-routes.ts';

/** Where a change of a sign-in method returns after re-authentication: its section of the security page. */
export const SIGN_IN_METHODS = `${ACCOUNT_PAGES.security}#methods-title`;

const text = (body: Record<string, unknown>, field: string) => (typeof body[field] === 'string' ? (body[field] as string) : '');

/**
 * The signed-in person's account pages (ACCOUNT_PAGES): profile; security (password, email address, linked
 * identity providers, two-step verification, passkeys); devices and apps; recent sign-ins; deleting the account. A form's
 * answer is the page the form is on. Every change of a
 * sign-in method, the email address or the password, and deleting the account, need a recent authentication.
 */
export function accountPageRoutes(deps: {
  page: AccountPage;
  selfService: SelfService;
  federation: Federation;
  upstream: ProviderRegistry;
  /** A signed-out GET of a page: sign in first, then back (account-sign-in.ts). */
  signInWhenSignedOut: Middleware;
} & Omit<TwoStepDeps, 'recent'> & Omit<PasskeyDeps, 'recent'> & ReauthDeps): Router {
  const { page, selfService, federation, upstream } = deps;
  const recent = pageNeedsRecentAuthentication(deps);
  const router = new Router({ prefix: '/account' });
  router.use(deps.signInWhenSignedOut, formBody(), csrfProtection(), async (ctx, next) => {
    ctx.set('Cache-Control', 'no-store');
    await next();
  });
  const self = async (ctx: Context) => ({ accountId: (await page.signedIn(ctx)).account.id, ip: ctx.ip, locale: deps.views.locale(ctx) });
  const body = (ctx: Context) => (ctx.request.body ?? {}) as Record<string, unknown>;

  for (const [name, path] of Object.entries(ACCOUNT_PAGES) as [AccountPageName, string][]) {
    router.get(path.slice('/account'.length) || '/', (ctx) =>
      page.render(ctx, name, ctx.query.reauthenticated === '1' ? { notice: { kind: 'ok', text: 'account.notices.reauthenticated' } } : {}),
    );
  }

  router.post('/profile', async (ctx) => {
    const form = Object.fromEntries(PROFILE_FIELDS.map((field) => [field, text(body(ctx), field).trim()]));
    const parsed = profileFieldsSchema.safeParse(Object.fromEntries(Object.entries(form).map(([field, value]) => [field, value || null])));
    const errors: Record<string, Message> = parsed.success
      ? {}
      : Object.fromEntries(parsed.error.issues.map((issue) => [String(issue.path[0]), `account.errors.${String(issue.path[0])}` as Message]));
    // The language is one the pages speak: the select offers only those.
    if (form.locale && !deps.views.catalogues.locales.includes(form.locale)) errors.locale = 'account.errors.locale';
    if (!parsed.success || Object.keys(errors).length > 0) return page.render(ctx, 'profile', { errors, form, status: 400 });
    await selfService.updateProfile(await self(ctx), parsed.data);
    return page.render(ctx, 'profile', { notice: { kind: 'ok', text: 'account.notices.profileSaved' } });
  });

  router.post('/password', recent(SIGN_IN_METHODS), async (ctx) => {
    const fields = body(ctx);
    try {
      await selfService.changePassword(await self(ctx), text(fields, 'current_password'), text(fields, 'password'), text(fields, 'password_confirmation'));
    } catch (error) {
      const refused = refusal('passwordChange', error);
      return page.render(ctx, 'security', { errors: formErrorOf(refused), status: refused.status });
    }
    const { account, sessionId } = await page.signedIn(ctx);
    if (fields.end_other_sessions === 'yes') await deps.sessions.endOthers(account.id, sessionId);
    return page.render(ctx, 'security', { notice: { kind: 'ok', text: fields.end_other_sessions === 'yes' ? 'account.notices.passwordChangedSignedOut' : 'account.notices.passwordChanged' } });
  });

  router.post('/email', recent(`${ACCOUNT_PAGES.security}#email-title`), async (ctx) => {
    const fields = body(ctx);
    const email = typed(fields, 'email');
    try {
      await selfService.requestEmailChange(await self(ctx), email);
    } catch (error) {
      const refused = refusal('emailAddress', error);
      return page.render(ctx, 'security', { errors: formErrorOf(refused), form: { email }, status: refused.status });
    }
    return page.render(ctx, 'security', { notice: { kind: 'ok', text: 'account.notices.emailChangeSent' } });
  });

  // The link mailed to a new address: a GET shows a button (mail scanners open links), the POST uses it.
  const queryToken = (ctx: Context) => (typeof ctx.query.token === 'string' ? ctx.query.token.slice(0, 200) : '');
  router.get('/confirm-email', async (ctx) => {
    const token = queryToken(ctx);
    if (!token || !(await selfService.emailChangeLinkIsLive(token))) return deps.views.render(ctx, 'invalid-link', { kind: 'verify' }, 400);
    deps.views.render(ctx, 'confirm-email-change', { token });
  });
  router.post('/confirm-email', async (ctx) => {
    try {
      const { email } = await selfService.confirmEmailChange(text(body(ctx), 'token').slice(0, 200));
      deps.views.render(ctx, 'email-verified', { email, returnTo: '/account' });
    } catch (error) {
      if (!(error instanceof InvalidLinkError)) throw error;
      deps.views.render(ctx, 'invalid-link', { kind: 'verify' }, 400);
    }
  });

  router.post('/delete', recent(ACCOUNT_PAGES.delete), async (ctx) => {
    await selfService.deleteAccount(await self(ctx));
    deps.views.render(ctx, 'account-deleted');
  });

  /** A provider offered here, by the path's id; else the page that says it is not. */
  const providerOf = (ctx: Context) => {
    const provider = upstream.get(String(ctx.params.provider));
    if (!provider) throw new PageError(404, 'upstreamUnavailable', undefined, { provider: upstream.nameOf(String(ctx.params.provider)).slice(0, 60) });
    return provider;
  };

  router.post('/:provider/link', recent(SIGN_IN_METHODS), async (ctx) => {
    const { account } = await page.signedIn(ctx);
    const provider = providerOf(ctx);
    try {
      const { url, checks } = await provider.start();
      keepFlow(ctx, { mode: 'link', provider: provider.id, accountId: account.id, checks });
      ctx.status = 303;
      ctx.redirect(url.href);
    } catch (error) {
      ctx.state.log.warn({ provider: provider.id, reason: (error as Error).message }, 'upstream provider unavailable');
      return page.render(ctx, 'security', refusalNotice('upstreamStart', error, { provider: provider.name }));
    }
  });

  router.get('/:provider/callback', async (ctx) => {
    const { account } = await page.signedIn(ctx);
    const provider = upstream.get(String(ctx.params.provider));
    const flow = takeFlow(ctx);
    const name = { provider: upstream.nameOf(String(ctx.params.provider)).slice(0, 60) };
    if (!provider || flow?.mode !== 'link' || flow.provider !== provider.id || flow.accountId !== account.id) {
      return page.render(ctx, 'security', { notice: { kind: 'error', text: message('account.notices.upstreamUnmatched', name) }, status: 400 });
    }
    try {
      const { authTime: _authTime, ...identity } = await provider.finish(ctx.search, flow.checks);
      await federation.link(account.id, identity);
    } catch (error) {
      const refused = refusalNotice('upstreamLink', error, name);
      ctx.state.log.warn({ provider: provider.id, reason: (error as Error).message }, 'linking an upstream identity refused');
      return page.render(ctx, 'security', refused);
    }
    return page.render(ctx, 'security', { notice: { kind: 'ok', text: message('account.notices.upstreamLinked', name) } });
  });

  // Unlinking works also for a provider no longer offered: its identity stays listed until removed.
  router.post('/:provider/unlink', recent(SIGN_IN_METHODS), async (ctx) => {
    const { account } = await page.signedIn(ctx);
    const id = String(ctx.params.provider);
    const name = { provider: upstream.nameOf(id).slice(0, 60) };
    try {
      await federation.unlink(account.id, id);
    } catch (error) {
      return page.render(ctx, 'security', refusalNotice('upstreamUnlink', error, name));
    }
    return page.render(ctx, 'security', { notice: { kind: 'ok', text: message('account.notices.upstreamUnlinked', name) } });
  });

  router.use(
    reauthRoutes(deps).routes(),
    twoStepRoutes({ ...deps, recent }).routes(),
    passkeyRoutes({ ...deps, recent }).routes(),
    sessionRoutes(deps).routes(),
  );
  return router;
}
