import path from 'node:path';
import { Eta } from 'eta';

import { DEFAULT_LOCALE, matchLocale, withStrongValues, type Catalogues } from '../http/i18n.ts';
import type { OutgoingMail } from './mailer.ts';

const providerName = (provider: string) => (provider === 'google' ? 'Google' : provider);

/**
 * Whom a message goes to, and the languages it may be written in, best first: the account's
 * stored locale, then the language of the request that caused it. English when we speak none.
 */
export interface Recipient {
  email: string;
  languages: ReadonlyArray<string | null | undefined>;
}

/**
 * Each message has an HTML part (escaped) and a plain-text part, from views/email/<name>.{html,text}.eta,
 * with every word from the `email.*` group of the message catalogue in the recipient's language.
 */
export function createMessages(options: { viewsDir: string; catalogues: Catalogues; productName?: string }) {
  const { catalogues, productName = 'IdP' } = options;
  const html = new Eta({ views: path.join(options.viewsDir, 'email'), autoEscape: true, cache: true });
  // Plain text keeps every line break as written (Eta trims the one after a tag by default).
  const text = new Eta({ views: path.join(options.viewsDir, 'email'), autoEscape: false, autoTrim: false, cache: true });

  const compose = (name: string, to: Recipient, data: Record<string, unknown> = {}): OutgoingMail => {
    const locale = matchLocale(to.languages, catalogues.locales) ?? DEFAULT_LOCALE;
    const t = catalogues.translator(locale);
    const group = name.replace(/-(\w)/g, (_whole, letter: string) => letter.toUpperCase());
    const subject = t(`email.${group}.subject`, data as Record<string, string>);
    const it = { t, strong: withStrongValues(t), locale, subject, product: productName, ...data };
    return { to: to.email, subject, html: html.render(`${name}.html.eta`, it), text: text.render(`${name}.text.eta`, it) };
  };

  return {
    verifyEmail: (to: Recipient, link: string) => compose('verify-email', to, { link }),
    resetPassword: (to: Recipient, link: string) => compose('reset-password', to, { link }),
    /** `how`: by a reset link (every device was signed out) or on the account page (other devices only if asked). */
    passwordChanged: (to: Recipient, resetLink: string, how: 'reset' | 'account-page') =>
      compose('password-changed', to, { resetLink, textKey: how === 'reset' ? 'email.passwordChanged.text' : 'email.passwordChanged.textAccountPage' }),
    providerLinked: (to: Recipient, provider: string, accountLink: string) => compose('provider-linked', to, { provider: providerName(provider), accountLink }),
    invitation: (to: Recipient, link: string) => compose('invitation', to, { link }),
    confirmEmailChange: (to: Recipient, link: string) => compose('confirm-email-change', to, { link }),
    emailChangeRequested: (to: Recipient, newEmail: string, resetLink: string) => compose('email-change-requested', to, { email: newEmail, resetLink }),
    registrationAttempt: (to: Recipient, resetLink: string) => compose('registration-attempt', to, { resetLink }),
  };
}

export type Messages = ReturnType<typeof createMessages>;
