import type { Kysely } from 'kysely';

import type { DB } from '../db/index.ts';
import type { Mailer, Messages, SecurityChange, SecurityNotice } from '../email/index.ts';
import { findAccountById } from './account.repository.ts';

/** The request a change came from, as the notice tells it, and its language for the mail. */
export interface ChangeOrigin {
  ip: string | null;
  browser: string | undefined;
  system: string | undefined;
  locale: string | undefined;
}

export interface NoticeOptions {
  /** An administrator made the change: the notice says so instead of naming a device. */
  byAdministrator?: boolean;
  /** Whom to tell instead of the account's address now: the old address, after an email change. */
  to?: string;
}

/**
 * Tells an account's owner of every change to how it signs in, or to its address: what, when,
 * from where, and how to secure the account. The one place such mail is written; the services
 * where changes happen call it after the change is stored. It never fails the change: the mail
 * goes out in the background, and a failure is logged and counted by the mailer.
 */
export function createSecurityNotices(deps: {
  db: Kysely<DB>;
  mailer: Mailer;
  messages: Messages;
  links: { forgotPassword(): string; account(): string };
  /** The request being handled, if any. */
  origin(): ChangeOrigin | undefined;
}) {
  const { db, mailer, messages, links } = deps;

  return {
    notify(accountId: string, change: SecurityChange, options: NoticeOptions = {}): void {
      const at = new Date();
      const origin = deps.origin();
      const byAdministrator = options.byAdministrator ?? false;
      mailer.sendInBackground(async () => {
        const account = await findAccountById(db, accountId);
        if (!account) throw new Error(`security notice: account ${accountId} not found`);
        const notice: SecurityNotice = {
          change,
          at,
          from: origin && !byAdministrator ? { ip: origin.ip, browser: origin.browser, system: origin.system } : undefined,
          byAdministrator,
          secureLink: change.kind === 'account-disabled' ? undefined : links.forgotPassword(),
          accountLink: links.account(),
        };
        // An administrator's language says nothing of the owner's: only the account's own counts then.
        const languages = byAdministrator ? [account.locale] : [account.locale, origin?.locale];
        return messages.securityNotice({ email: options.to ?? account.email, languages }, notice);
      });
    },
  };
}

export type SecurityNotices = ReturnType<typeof createSecurityNotices>;
