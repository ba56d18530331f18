import type { Context } from 'koa';
import type { Configuration, KoaContextWithOIDC } from 'oidc-provider';

import type { ResourceServer } from '../clients/index.ts';
import type { Views } from '../views/index.ts';
import { WRONG_USER_CODE } from './device-flow-limits.ts';
import { describeScopes } from './scope-descriptions.ts';

type DeviceFlowPages = Pick<
  NonNullable<NonNullable<Configuration['features']>['deviceFlow']>,
  'userCodeInputSource' | 'userCodeConfirmSource' | 'successSource'
>;

/** node-oidc-provider's errors of the code page, as keys of the message catalogue. */
const messages: Record<string, string> = {
  NoCodeError: 'device.errors.noCode',
  NotFoundError: 'device.errors.notFound',
  ExpiredError: 'device.errors.expired',
  AlreadyUsedError: 'device.errors.alreadyUsed',
  AbortedError: 'device.errors.aborted',
};

const koa = (ctx: KoaContextWithOIDC) => ctx as unknown as Context;

/** A request parameter that may be given once or several times (`resource`), as a list. */
export const listOf = (value: unknown): string[] => (Array.isArray(value) ? value.map(String) : typeof value === 'string' ? [value] : []);

/**
 * What the device asks for, in words: the scopes it requested, and each API (resource server)
 * by name with the scopes that API offers among them.
 */
export function requestedAccess(params: Record<string, unknown>, resourceServers: ResourceServer[]) {
  const scopes = listOf(params.scope).flatMap((scope) => scope.split(' ')).filter(Boolean);
  const apis = listOf(params.resource).map((indicator) => {
    const server = resourceServers.find((candidate) => candidate.indicator === indicator);
    return { name: server?.name ?? indicator, scopes: scopes.filter((scope) => server?.scopes.includes(scope)) };
  });
  // A scope shown with its API is not repeated; any other is listed, by name when we have no words for it.
  const shownWithApi = new Set(apis.flatMap((api) => api.scopes));
  return { scopes: describeScopes(scopes.filter((scope) => !shownWithApi.has(scope))), apis };
}

/**
 * Our pages for the device authorization grant (RFC 8628). Their forms post to
 * node-oidc-provider's /device endpoint with its own `xsrf` value, kept in the session.
 * The confirm page is where the person allows or denies what the device asks for.
 */
export function deviceFlowPages(views: Views, resourceServers: ResourceServer[]): DeviceFlowPages {
  const common = (ctx: KoaContextWithOIDC) => ({
    action: ctx.oidc.urlFor('code_verification'),
    xsrf: (ctx.oidc.session?.state as { secret?: string } | undefined)?.secret,
  });

  return {
    async userCodeInputSource(ctx, _form, _out, err) {
      const error = err ? (messages[err.name] ?? 'device.errors.other') : undefined;
      if (err?.name === 'NotFoundError') ctx.state[WRONG_USER_CODE] = true;
      const userCode = (err as { userCode?: string } | undefined)?.userCode;
      // node-oidc-provider re-renders a wrong code with 200; it is a refused input.
      const status = err ? Math.max(ctx.status, 400) : 200;
      views.render(koa(ctx), 'device-code', { ...common(ctx), error, userCode }, status);
    },
    async userCodeConfirmSource(ctx, _form, client, deviceInfo, userCode) {
      const params = (ctx.oidc.entities.DeviceCode as { params?: Record<string, unknown> } | undefined)?.params ?? {};
      views.render(koa(ctx), 'device-confirm', {
        ...common(ctx),
        ...requestedAccess(params, resourceServers),
        userCode,
        clientName: client.clientName ?? client.clientId,
        device: deviceInfo as { ip?: string; ua?: string } | undefined,
      });
    },
    async successSource(ctx) {
      views.render(koa(ctx), 'device-success', { clientName: ctx.oidc.client?.clientName ?? ctx.oidc.client?.clientId });
    },
  };
}
