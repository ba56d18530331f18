import type { Context } from 'koa';
import type { Configuration, KoaContextWithOIDC } from 'oidc-provider';

import type { Views } from '../http/views.ts';

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

/**
 * Our pages for the device authorization grant (RFC 8628). Their forms post to
 * node-oidc-provider's /device endpoint with its own `xsrf` value, kept in the session.
 */
export function deviceFlowPages(views: Views): DeviceFlowPages {
  const common = (ctx: KoaContextWithOIDC) => ({
    action: ctx.oidc.urlFor('code_verification'),
    xsrf: (ctx.oidc.session?.state as { secret?: string } | undefined)?.secret,
  });

  return {
    async userCodeInputSource(ctx, _form, _out, err) {
      const error = err ? (messages[err.name] ?? 'device.errors.other') : undefined;
      const userCode = (err as { userCode?: string } | undefined)?.userCode;
      // node-oidc-provider re-renders a wrong code with 200; it is a refused input.
      const status = err ? Math.max(ctx.status, 400) : 200;
      views.render(koa(ctx), 'device-code', { ...common(ctx), error, userCode }, status);
    },
    async userCodeConfirmSource(ctx, _form, client, deviceInfo, userCode) {
      views.render(koa(ctx), 'device-confirm', {
        ...common(ctx),
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
