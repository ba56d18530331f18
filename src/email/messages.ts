import path from 'node:path';
import { Eta } from 'eta';

import { absoluteAssetUrl, type Brand, brandButton, brandTextOnLight, type Catalogues, DEFAULT_LOCALE, defaultBrand, footerLinks, matchLocale, withStrongValues } from '../views/index.ts';
import type { OutgoingMail } from './outgoing-mail.ts';

const providerName = (provider: string) => (provider === 'google' ? 'Google' : provider);

/**
 * Whom a message goes to, and the languages it may be written in, best first: the account's
 * stored locale, then the language of the request that caused it. English when we speak none.
 */
export interface Recipient {
  email: string;
  languages: ReadonlyArray<string | null | undefined>;
}

/** A change to how an account signs in, or to its address: what the owner is told of. */
export type SecurityChange =
  | { kind: 'password-changed' }
  /** `removed`: the names of the passkeys and the providers of the identities the reset removed. */
  | { kind: 'password-reset'; removed: { passkeys: string[]; identities: string[] } }
  | { kind: 'password-reset-requested' }
  | { kind: 'totp-enabled' }
  | { kind: 'totp-removed' }
  | { kind: 'recovery-codes-regenerated' }
  | { kind: 'second-factors-reset' }
  | { kind: 'passkey-added'; name: string }
  | { kind: 'passkey-removed'; name: string }
  | { kind: 'identity-linked'; provider: string }
  | { kind: 'identity-unlinked'; provider: string }
  | { kind: 'email-change-requested'; email: string }
  | { kind: 'email-changed'; email: string }
  | { kind: 'account-disabled' };

/** The facts of a security notice. Never a token or secret: a notice may be read by whoever took the mailbox. */
export interface SecurityNotice {
  change: SecurityChange;
  at: Date;
  /** The request that made the change; undefined when unknown or made by an administrator (who is named as such). */
  from: { ip: string | null; browser: string | undefined; system: string | undefined } | undefined;
  byAdministrator: boolean;
  /** Where to secure the account (the forgot-password page); undefined when that cannot help (a disabled account). */
  secureLink: string | undefined;
  accountLink: string;
}

/** `2026-11-30 19:18 UTC`: the same for every reader, whatever their clock or language. */
const utcMinute = (at: Date) => `${at.toISOString().slice(0, 16).replace('T', ' ')} UTC`;

/** The `{placeholders}` of a change's words, with providers named as people know them. */
function changeParams(change: SecurityChange): Record<string, string> {
  if (change.kind === 'password-reset') return { removed: [...change.removed.passkeys, ...change.removed.identities.map(providerName)].join(', ') };
  if ('provider' in change) return { provider: providerName(change.provider) };
  if ('name' in change) return { name: change.name };
  if ('email' in change) return { email: change.email };
  return {};
}

/**
 * Each message has an HTML part (escaped) and a plain-text part, from views/email/<name>.{html,text}.eta,
 * with every word from the `email.*` group of the message catalogue in the recipient's language,
 * and the brand: the product's name, its logo (HTML) and the footer's privacy, terms and help links.
 */
export function createMessages(options: { viewsDir: string; catalogues: Catalogues; brand?: Partial<Brand>; issuer?: string }) {
  const { catalogues } = options;
  const brand: Brand = { ...defaultBrand, ...options.brand };
  const button = brandButton(brand.primaryColor);
  /** What every message shows of the brand: the name, the light logo as a URL mail can load, the footer's links. */
  const branding = {
    product: brand.productName,
    logo: brand.logoUrl && options.issuer !== undefined ? absoluteAssetUrl(brand.logoUrl, options.issuer) : brand.logoUrl?.startsWith('https:') ? brand.logoUrl : undefined,
    links: footerLinks(brand),
    linkColor: brandTextOnLight(brand.primaryColor),
    button,
  };
  const html = new Eta({ views: path.join(options.viewsDir, 'email'), autoEscape: true, cache: true });
  // Plain text keeps every line break as written (Eta trims the one after a tag by default).
  const text = new Eta({ views: path.join(options.viewsDir, 'email'), autoEscape: false, autoTrim: false, cache: true });

  const compose = (name: string, to: Recipient, data: Record<string, unknown> = {}): OutgoingMail => {
    const locale = matchLocale(to.languages, catalogues.locales) ?? DEFAULT_LOCALE;
    const t = catalogues.translator(locale);
    const group = name.replace(/-(\w)/g, (_whole, letter: string) => letter.toUpperCase());
    const subject = t(typeof data.subjectKey === 'string' ? data.subjectKey : `email.${group}.subject`, data as Record<string, string>);
    const it = { t, strong: withStrongValues(t), locale, subject, ...branding, ...data };
    // The plain-text footer follows every text part (the HTML part has it in layout.html.eta).
    return { to: to.email, subject, html: html.render(`${name}.html.eta`, it), text: text.render(`${name}.text.eta`, it) + text.render('partials/footer.text.eta', it) };
  };

  return {
    verifyEmail: (to: Recipient, link: string) => compose('verify-email', to, { link }),
    resetPassword: (to: Recipient, link: string) => compose('reset-password', to, { link }),
    /** Tells the owner what changed, when, from where or that an administrator did it, and how to secure the account. */
    securityNotice: (to: Recipient, notice: SecurityNotice) => {
      const group = `email.securityNotice.${notice.change.kind.replace(/-(\w)/g, (_whole, letter: string) => letter.toUpperCase())}`;
      const params = changeParams(notice.change);
      const removedKey = params.removed ? 'email.securityNotice.removed' : undefined;
      return compose('security-notice', to, { ...params, ...notice, subjectKey: `${group}.subject`, textKey: `${group}.text`, params, removedKey, when: utcMinute(notice.at) });
    },
    invitation: (to: Recipient, link: string) => compose('invitation', to, { link }),
    confirmEmailChange: (to: Recipient, link: string) => compose('confirm-email-change', to, { link }),
    registrationAttempt: (to: Recipient, resetLink: string) => compose('registration-attempt', to, { resetLink }),
  };
}

export type Messages = ReturnType<typeof createMessages>;
