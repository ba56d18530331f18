import Router from '@koa/router';
import type { Context } from 'koa';
import type Provider from 'oidc-provider';

import {
  type AccountService,
  hasUsableSecondFactor,
  type LoginContext,
  type MfaPolicy,
  type Passkeys,
  policyRequiresSecondFactor,
  type SecondFactors,
  TotpAlreadyEnabledError,
} from '../accounts/index.ts';
import type { ResourceServer } from '../clients/index.ts';
import { PageError } from '../http/index.ts';
import { acrFor, requestsMultiFactor } from '../oidc/index.ts';
import type { Message, Views } from '../views/index.ts';
import { decodeCookieJson, encodeCookieJson, passkeyAnswer, refusal, startCeremony, takeCeremonyKey } from '../web/index.ts';
import { finishInteraction, type Interaction, type InteractionLoader, loadedInteraction } from './interaction-loader.ts';
import { silentConsent } from './silent-consent.ts';

/** The first factor is done; the second is pending. `enrolled`: the app was just set up, codes shown. */
interface FirstFactor {
  /** The interaction it was proven in: a cookie copied to another interaction counts for nothing. */
  uid: string;
  accountId: string;
  amr: string[];
  /** The upstream identity provider of a federated first factor. */
  idp?: string;
  enrolled?: boolean;
}

const COOKIE = 'first_factor';
const TEN_MINUTES = 10 * 60 * 1000;
const path = (uid: string) => `/interaction/${uid}`;

function keepFirstFactor(ctx: Context, uid: string, value: FirstFactor) {
  ctx.cookies.set(COOKIE, encodeCookieJson(value), { signed: true, httpOnly: true, sameSite: 'lax', secure: ctx.secure, path: path(uid), maxAge: TEN_MINUTES });
}

/** "Not you?" at the second step: the password proven in this interaction no longer counts. */
export function forgetFirstFactor(ctx: Context, uid: string) {
  ctx.cookies.set(COOKIE, null, { path: path(uid) });
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
  afterFirstFactor(ctx: Context, interaction: Interaction, accountId: string, method: 'pwd' | { fed: string }): Promise<void>;
  /** Whether passkeys can be used here (the issuer has a domain name). */
  passkeysEnabled: boolean;
  /** Passwordless: starts a ceremony with any passkey of ours the authenticator holds. */
  startPasskeySignIn(ctx: Context, interaction: Interaction): Promise<void>;
  /**
   * Passwordless: verifies the answer and finishes the sign-in with amr ['hwk'] (a user-verified passkey
   * is something you have and something you know or are). Throws the passkey's refusal.
   */
  finishPasskeySignIn(ctx: Context, interaction: Interaction, context: LoginContext): Promise<void>;
  /** The second-factor pages, each behind the interaction loader. */
  routes(load: InteractionLoader): Router;
}

export function signInCompletion(deps: {
  provider: Provider;
  accounts: AccountService;
  secondFactors: SecondFactors;
  /** Undefined when the issuer cannot have passkeys. */
  passkeys: Passkeys | undefined;
  mfa: MfaPolicy;
  views: Views;
  resourceServers: ResourceServer[];
}): SignInCompletion {
  const { provider, accounts, secondFactors, passkeys, views } = deps;
  const consentGoesWithSignIn = silentConsent(deps.resourceServers);

  async function mustHaveSecondFactor(accountId: string, interaction: Interaction): Promise<boolean> {
    if (requestsMultiFactor(interaction.params.acr_values)) return true;
    return policyRequiresSecondFactor(deps.mfa, () => accounts.rolesOf(accountId));
  }

  /** `idp`: the upstream provider, which node-oidc-provider keeps in the interaction's result for the ID token (src/oidc/upstream-sign-ins.ts). */
  const finish = (ctx: Context, accountId: string, amr: string[], idp?: string) => {
    const login = { accountId, amr, acr: acrFor(amr), ...(idp ? { idp } : {}) };
    const result = consentGoesWithSignIn(loadedInteraction(ctx)) ? { login, consent: {} } : { login };
    return finishInteraction(ctx, result, { mergeWithLastSubmission: false });
  };

  /** The second step: the code form when an app is set up, the passkey button when a passkey is. */
  async function renderSecondStep(ctx: Context, interaction: Interaction, accountId: string, error?: Message, status = 200) {
    const { totp, passkeys: passkeyCount } = await secondFactors.status(accountId);
    const passkey = Boolean(passkeys) && passkeyCount > 0;
    views.render(ctx, 'second-factor', { uid: interaction.uid, totp: totp || !passkey, passkey, passkeyScripts: passkey, errors: error ? { code: error } : {} }, status);
  }

  const hasSecondFactor = hasUsableSecondFactor(secondFactors, Boolean(passkeys));

  async function renderSetup(ctx: Context, interaction: Interaction, accountId: string, error?: Message, status = 200) {
    const account = await accounts.findActiveAccount(accountId);
    if (!account) throw new PageError(400, 'interactionExpired');
    try {
      const enrollment = await secondFactors.startTotp(accountId, account.email);
      const action = `${path(interaction.uid)}/second-factor/setup`;
      views.render(ctx, 'second-factor-setup', { action, required: true, uid: interaction.uid, enrollment, errors: error ? { code: error } : {} }, status);
    } catch (cause) {
      if (cause instanceof TotpAlreadyEnabledError) return renderSecondStep(ctx, interaction, accountId);
      throw cause;
    }
  }

  return {
    async afterFirstFactor(ctx, interaction, accountId, method) {
      const first = method === 'pwd' ? { amr: ['pwd'] } : { amr: ['fed'], idp: method.fed };
      const has = await hasSecondFactor(accountId);
      if (!has && !(await mustHaveSecondFactor(accountId, interaction))) return finish(ctx, accountId, first.amr, first.idp);
      keepFirstFactor(ctx, interaction.uid, { uid: interaction.uid, accountId, ...first });
      ctx.status = 303;
      ctx.redirect(`${path(interaction.uid)}/${has ? 'second-factor' : 'second-factor/setup'}`);
    },

    passkeysEnabled: Boolean(passkeys),

    async startPasskeySignIn(ctx, interaction) {
      if (!passkeys) throw new PageError(404, 'passkeysUnavailable');
      startCeremony(ctx, await passkeys.startPasswordless(interaction.uid));
    },

    async finishPasskeySignIn(ctx, interaction, context) {
      if (!passkeys) throw new PageError(404, 'passkeysUnavailable');
      const accountId = await passkeys.verifyPasswordless(interaction.uid, takeCeremonyKey(ctx), passkeyAnswer(ctx), context);
      return finish(ctx, accountId, ['hwk']);
    },

    routes(load) {
      const router = new Router();

      router.get('/second-factor', load(), async (ctx) => {
        const { interaction } = loadedInteraction(ctx);
        const { accountId } = firstFactorOf(ctx, interaction);
        if (!(await hasSecondFactor(accountId))) return renderSetup(ctx, interaction, accountId);
        return renderSecondStep(ctx, interaction, accountId);
      });

      router.post('/second-factor', load(), async (ctx) => {
        const { interaction } = loadedInteraction(ctx);
        const first = firstFactorOf(ctx, interaction);
        const code = String((ctx.request.body as Record<string, unknown> | undefined)?.code ?? '');
        if (!code.trim()) return renderSecondStep(ctx, interaction, first.accountId, 'secondFactor.errors.missing', 400);
        try {
          await secondFactors.verify(first.accountId, code, ctx.ip);
        } catch (error) {
          const { text, status } = refusal('code', error);
          return renderSecondStep(ctx, interaction, first.accountId, text, status);
        }
        ctx.cookies.set(COOKIE, null, { path: path(interaction.uid) });
        return finish(ctx, first.accountId, [...first.amr, 'otp'], first.idp);
      });

      // "Use a passkey": the script asks for options, the authenticator answers, the form posts the answer.
      if (passkeys) {
        router.post('/second-factor/passkey/options', load(), async (ctx) => {
          const { interaction } = loadedInteraction(ctx);
          startCeremony(ctx, await passkeys.startSecondFactor(firstFactorOf(ctx, interaction).accountId, interaction.uid));
        });

        router.post('/second-factor/passkey', load(), async (ctx) => {
          const { interaction } = loadedInteraction(ctx);
          const first = firstFactorOf(ctx, interaction);
          try {
            await passkeys.verifySecondFactor(first.accountId, interaction.uid, takeCeremonyKey(ctx), passkeyAnswer(ctx), ctx.ip);
          } catch (error) {
            const { text, status } = refusal('passkey', error);
            return renderSecondStep(ctx, interaction, first.accountId, text, status);
          }
          ctx.cookies.set(COOKIE, null, { path: path(interaction.uid) });
          return finish(ctx, first.accountId, [...first.amr, 'hwk'], first.idp);
        });
      } else {
        // Refused before any interaction is loaded: this issuer cannot have passkeys, whatever the interaction.
        const unavailable = () => {
          throw new PageError(404, 'passkeysUnavailable');
        };
        router.post('/second-factor/passkey/options', unavailable);
        router.post('/second-factor/passkey', unavailable);
      }

      router.get('/second-factor/setup', load(), async (ctx) => {
        const { interaction } = loadedInteraction(ctx);
        return renderSetup(ctx, interaction, firstFactorOf(ctx, interaction).accountId);
      });

      router.post('/second-factor/setup', load(), async (ctx) => {
        const { interaction } = loadedInteraction(ctx);
        const first = firstFactorOf(ctx, interaction);
        const code = String((ctx.request.body as Record<string, unknown> | undefined)?.code ?? '').replace(/\s/g, '');
        try {
          const recoveryCodes = await secondFactors.confirmTotp(first.accountId, code, ctx.ip);
          keepFirstFactor(ctx, interaction.uid, { ...first, enrolled: true });
          views.render(ctx, 'recovery-codes', { action: `${path(interaction.uid)}/second-factor/done`, recoveryCodes });
        } catch (error) {
          const { text, status } = refusal('code', error);
          return renderSetup(ctx, interaction, first.accountId, text, status);
        }
      });

      // After the recovery codes were shown: the app was confirmed with a code, so that was the second factor.
      router.post('/second-factor/done', load(), async (ctx) => {
        const { interaction } = loadedInteraction(ctx);
        const first = firstFactorOf(ctx, interaction);
        if (!first.enrolled) throw new PageError(400, 'stepDone');
        ctx.cookies.set(COOKIE, null, { path: path(interaction.uid) });
        return finish(ctx, first.accountId, [...first.amr, 'otp'], first.idp);
      });
      return router;
    },
  };
}
