import Router from '@koa/router';
import type { Context } from 'koa';
import type Provider from 'oidc-provider';

import {
  policyRequiresSecondFactor,
  SecondFactorLockedError,
  TotpAlreadyEnabledError,
  WrongSecondFactorCodeError,
  type AccountService,
  type MfaPolicy,
  type SecondFactors,
} from '../accounts/index.ts';
import { PageError } from '../http/errors.ts';
import { message, type Message } from '../http/i18n.ts';
import { decodeCookieJson, encodeCookieJson } from '../http/json-cookie.ts';
import type { Views } from '../http/views.ts';
import { acrFor, requestsMultiFactor } from '../oidc/acr.ts';

type Interaction = Awaited<ReturnType<Provider['interactionDetails']>>;

/** The first factor is done; the second is pending. `enrolled`: the app was just set up, codes shown. */
interface FirstFactor {
  /** The interaction it was proven in: a cookie copied to another interaction counts for nothing. */
  uid: string;
  accountId: string;
  amr: string[];
  enrolled?: boolean;
}

const COOKIE = 'first_factor';
const TEN_MINUTES = 10 * 60 * 1000;
const path = (uid: string) => `/interaction/${uid}`;

function keepFirstFactor(ctx: Context, uid: string, value: FirstFactor) {
  ctx.cookies.set(COOKIE, encodeCookieJson(value), { signed: true, httpOnly: true, sameSite: 'lax', secure: ctx.secure, path: path(uid), maxAge: TEN_MINUTES });
}

function firstFactorOf(ctx: Context, interaction: Interaction): FirstFactor {
  const kept = decodeCookieJson<FirstFactor>(ctx.cookies.get(COOKIE, { signed: true }));
  if (kept?.uid === interaction.uid) return kept;
  // A step-up: the session is signed in with one factor and the client asks for two.
  const session = interaction.session as { accountId?: string; amr?: string[] } | undefined;
  if (session?.accountId && interaction.prompt.reasons.includes('second_factor_requested')) {
    return { uid: interaction.uid, accountId: session.accountId, amr: session.amr ?? ['pwd'] };
  }
  throw new PageError(400, 'interactionExpired');
}

export interface SignInCompletion {
  /** After the first factor: finishes the sign-in, or sends the person on to their second factor. */
  afterFirstFactor(ctx: Context, interaction: Interaction, accountId: string, method: 'pwd' | 'fed'): Promise<void>;
  routes(): Router;
}

export function signInCompletion(deps: {
  provider: Provider;
  accounts: AccountService;
  secondFactors: SecondFactors;
  mfa: MfaPolicy;
  views: Views;
}): SignInCompletion {
  const { provider, accounts, secondFactors, views } = deps;

  async function mustHaveSecondFactor(accountId: string, interaction: Interaction): Promise<boolean> {
    if (requestsMultiFactor(interaction.params.acr_values)) return true;
    return deps.mfa !== 'optional' && policyRequiresSecondFactor(deps.mfa, await accounts.rolesOf(accountId));
  }

  const finish = (ctx: Context, accountId: string, amr: string[]) =>
    provider.interactionFinished(ctx.req, ctx.res, { login: { accountId, amr, acr: acrFor(amr) } }, { mergeWithLastSubmission: false });

  function renderCodeForm(ctx: Context, interaction: Interaction, error?: Message, status = 200) {
    views.render(ctx, 'second-factor', { uid: interaction.uid, errors: error ? { code: error } : {} }, status);
  }

  async function renderSetup(ctx: Context, interaction: Interaction, accountId: string, error?: Message, status = 200) {
    const account = await accounts.findActiveAccount(accountId);
    if (!account) throw new PageError(400, 'interactionExpired');
    try {
      const enrollment = await secondFactors.startTotp(accountId, account.email);
      const action = `${path(interaction.uid)}/second-factor/setup`;
      views.render(ctx, 'second-factor-setup', { action, enrollment, errors: error ? { code: error } : {} }, status);
    } catch (cause) {
      if (cause instanceof TotpAlreadyEnabledError) return renderCodeForm(ctx, interaction);
      throw cause;
    }
  }

  function refusal(error: unknown): { text: Message; status: number } {
    if (error instanceof WrongSecondFactorCodeError) return { text: 'secondFactor.errors.wrong', status: 400 };
    if (error instanceof SecondFactorLockedError) {
      return { text: message('secondFactor.errors.locked', { minutes: Math.max(1, Math.ceil(error.retryAfterSeconds / 60)) }), status: 429 };
    }
    throw error;
  }

  return {
    async afterFirstFactor(ctx, interaction, accountId, method) {
      const { totp } = await secondFactors.status(accountId);
      if (!totp && !(await mustHaveSecondFactor(accountId, interaction))) return finish(ctx, accountId, [method]);
      keepFirstFactor(ctx, interaction.uid, { uid: interaction.uid, accountId, amr: [method] });
      ctx.status = 303;
      ctx.redirect(`${path(interaction.uid)}/${totp ? 'second-factor' : 'second-factor/setup'}`);
    },

    routes() {
      const router = new Router();
      const details = (ctx: Context) => provider.interactionDetails(ctx.req, ctx.res);

      router.get('/second-factor', async (ctx) => {
        const interaction = await details(ctx);
        const { accountId } = firstFactorOf(ctx, interaction);
        if (!(await secondFactors.status(accountId)).totp) return renderSetup(ctx, interaction, accountId);
        renderCodeForm(ctx, interaction);
      });

      router.post('/second-factor', async (ctx) => {
        const interaction = await details(ctx);
        const first = firstFactorOf(ctx, interaction);
        const code = String((ctx.request.body as Record<string, unknown> | undefined)?.code ?? '');
        if (!code.trim()) return renderCodeForm(ctx, interaction, 'secondFactor.errors.missing', 400);
        try {
          await secondFactors.verify(first.accountId, code, ctx.ip);
        } catch (error) {
          const { text, status } = refusal(error);
          return renderCodeForm(ctx, interaction, text, status);
        }
        ctx.cookies.set(COOKIE, null, { path: path(interaction.uid) });
        return finish(ctx, first.accountId, [...first.amr, 'otp']);
      });

      router.get('/second-factor/setup', async (ctx) => {
        const interaction = await details(ctx);
        return renderSetup(ctx, interaction, firstFactorOf(ctx, interaction).accountId);
      });

      router.post('/second-factor/setup', async (ctx) => {
        const interaction = await details(ctx);
        const first = firstFactorOf(ctx, interaction);
        const code = String((ctx.request.body as Record<string, unknown> | undefined)?.code ?? '').replace(/\s/g, '');
        try {
          const recoveryCodes = await secondFactors.confirmTotp(first.accountId, code, ctx.ip);
          keepFirstFactor(ctx, interaction.uid, { ...first, enrolled: true });
          views.render(ctx, 'recovery-codes', { action: `${path(interaction.uid)}/second-factor/done`, recoveryCodes });
        } catch (error) {
          const { text, status } = refusal(error);
          return renderSetup(ctx, interaction, first.accountId, text, status);
        }
      });

      // After the recovery codes were shown: the app was confirmed with a code, so that was the second factor.
      router.post('/second-factor/done', async (ctx) => {
        const interaction = await details(ctx);
        const first = firstFactorOf(ctx, interaction);
        if (!first.enrolled) throw new PageError(400, 'stepDone');
        ctx.cookies.set(COOKIE, null, { path: path(interaction.uid) });
        return finish(ctx, first.accountId, [...first.amr, 'otp']);
      });
      return router;
    },
  };
}
