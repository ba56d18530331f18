import type { Kysely } from 'kysely';

import type { DB } from '../db/index.ts';
import type { ImportedUser } from './imported-user.ts';
import { accountsPage } from './user-transfer.repository.ts';

const PAGE_SIZE = 1000;

/** A person as an export line: the import format, with our hashes; a field with no value is left out. */
export type ExportedUser = Omit<ImportedUser, 'created_at'> & { created_at: string };

/**
 * Every account that is not deleted, page by page (so a large database streams
 * out in little memory): profile, roles, status, metadata, password hash and Google subject.
 * Second factors and passkeys stay behind: they are bound to this IdP's secrets and origin.
 */
export async function* exportUsers(db: Kysely<DB>): AsyncGenerator<ExportedUser> {
  let after: string | undefined;
  for (;;) {
    const page = await accountsPage(db, after, PAGE_SIZE);
    for (const account of page) {
      const optional = { name: account.name, given_name: account.given_name, family_name: account.family_name, picture: account.picture, locale: account.locale, zoneinfo: account.zoneinfo };
      yield {
        email: account.email,
        email_verified: account.email_verified,
        ...Object.fromEntries(Object.entries(optional).filter(([, value]) => value !== null)),
        roles: account.roles,
        status: account.status,
        created_at: new Date(account.created_at).toISOString(),
        metadata: account.metadata,
        ...(account.password_hash ? { password_hash: account.password_hash } : {}),
        ...(account.google_sub ? { google_sub: account.google_sub } : {}),
      };
    }
    if (page.length < PAGE_SIZE) return;
    after = page.at(-1)!.id;
  }
}
