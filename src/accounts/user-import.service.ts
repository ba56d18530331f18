import type { Insertable, Kysely, Updateable } from 'kysely';

import type { AccountsTable, DB } from '../db/index.ts';
import { type AccountEvent, type EventActor, recordEvents } from '../webhooks/index.ts';
import { DEFAULT_ROLE } from './account.service.ts';
import { type ImportedUser, parseImportedUser, ROLE_NAME, type RowError } from './imported-user.ts';
import { insertRole, listRoles } from './role.repository.ts';
import {
  accountsByEmail,
  createImportLines,
  googleLinks,
  type ImportKey,
  insertAccountRoles,
  insertAccounts,
  insertGoogleLinks,
  replaceAccountRoles,
  replaceGoogleLink,
  takeImportLines,
  updateImportedAccount,
} from './user-transfer.repository.ts';
import type { UserRecord } from './user-records.ts';

export type ConflictMode = 'skip' | 'update' | 'fail';

export interface ImportOptions {
  /** What to do with a person whose email (any case) has an account already. */
  onConflict: ConflictMode;
  /** Check everything, against the database too, and write nothing. */
  dryRun: boolean;
  /** Import the valid lines even when others are invalid. */
  skipInvalid: boolean;
  /** Roles the database does not know become custom roles (else such a line is invalid). */
  createRoles: boolean;
  /** A role of the file to the role it becomes here (chief -> moderator). */
  roleMap: ReadonlyMap<string, string>;
  /** Called after each batch with the number of lines read so far. */
  onProgress?: ((lines: number) => void) | undefined;
  /** Who imports, for the webhook events (`cli` when unset). */
  actor?: EventActor | undefined;
}

export interface ImportReport {
  imported: number;
  updated: number;
  skipped: number;
  invalid: number;
  /** The first errors, in line order (a file of bad lines would otherwise fill the memory). */
  errors: RowError[];
  /** Errors found beyond those listed. */
  moreErrors: number;
  createdRoles: string[];
  /** False when nothing was written: a dry run, or invalid lines without skipInvalid. */
  written: boolean;
}

/** A --role-map (or role_map) that is not FROM=TO. */
export class InvalidRoleMapError extends Error {}

/** `chief=moderator` pairs to a map of roles in the file to roles here. */
export function roleMapOf(pairs: readonly string[]): Map<string, string> {
  const map = new Map<string, string>();
  for (const pair of pairs) {
    const match = /^([^=\s]+)=([^=\s]+)$/.exec(pair.trim());
    if (!match) throw new InvalidRoleMapError(`a role map is FROM=TO, e.g. chief=moderator (got "${pair}")`);
    map.set(match[1]!, match[2]!);
  }
  return map;
}

const BATCH_SIZE = 1000;
const ERRORS_KEPT = 1000;

const sameAs = (line: number, field: ImportKey, earlier: number): RowError => ({
  line,
  field,
  reason: field === 'email' ? `the same email as line ${earlier}` : `the same Google subject as line ${earlier}`,
});

/** Thrown inside the transaction to roll it back, carrying the report out. */
class RollBack extends Error {
  constructor(readonly report: ImportReport) {
    super('rolled back');
  }
}

interface Row {
  line: number;
  lowerEmail: string;
  user: ImportedUser;
  roles: string[] | undefined;
}

/**
 * The columns a line sets: on insert everything, on update only the fields the line has. Unlike an
 * address an admin types in, an imported one was chosen (and perhaps verified) by its owner at the
 * old app, so it is not marked admin-asserted: a verified one links Google by email as ours do.
 */
function accountColumns(user: ImportedUser): Updateable<AccountsTable> {
  const columns: Updateable<AccountsTable> = {};
  const copy = <K extends 'name' | 'given_name' | 'family_name' | 'picture' | 'locale' | 'zoneinfo'>(key: K) => {
    if (user[key] !== undefined) columns[key] = user[key];
  };
  (['name', 'given_name', 'family_name', 'picture', 'locale', 'zoneinfo'] as const).forEach(copy);
  if (user.email_verified !== undefined) columns.email_verified = user.email_verified;
  if (user.status !== undefined) columns.status = user.status;
  if (user.created_at !== undefined) columns.created_at = user.created_at;
  if (user.metadata !== undefined) columns.metadata = JSON.stringify(user.metadata);
  if (user.password_hash !== undefined) columns.password_hash = user.password_hash;
  return columns;
}

/**
 * Imports people line by line as they stream in, in batches, all in one transaction: with an invalid
 * line (unless skipInvalid) or in a dry run it is rolled back, so a bad file never half-imports and a
 * dry run meets every check a real run would (the database's included). Password hashes are stored as
 * they are; sign-in verifies them and replaces them with ours.
 */
export async function importUsers(db: Kysely<DB>, records: AsyncIterable<UserRecord>, options: ImportOptions): Promise<ImportReport> {
  const actor = options.actor ?? { type: 'cli' };
  const report: ImportReport = { imported: 0, updated: 0, skipped: 0, invalid: 0, errors: [], moreErrors: 0, createdRoles: [], written: false };
  const reject = (line: number, errors: RowError[]) => {
    report.invalid += 1;
    for (const error of errors) {
      if (report.errors.length < ERRORS_KEPT) report.errors.push({ ...error, line });
      else report.moreErrors += 1;
    }
  };

  try {
    return await db.transaction().execute(async (trx) => {
      const knownRoles = new Set((await listRoles(trx)).map((role) => role.name));
      await createImportLines(trx);
      /** The first line of each email and Google subject since the last batch was written; earlier ones are in import_lines. */
      const lineOf: Record<ImportKey, Map<string, number>> = { email: new Map(), google_sub: new Map() };
      let batch: Row[] = [];
      let lines = 0;

      /** The line's roles as they are here (mapped, perhaps created), or why they cannot be. */
      async function rolesOf(line: number, roles: string[] | undefined): Promise<string[] | undefined | RowError> {
        if (roles === undefined) return undefined;
        const mapped = [...new Set(roles.map((role) => options.roleMap.get(role) ?? role))];
        for (const role of mapped) {
          if (knownRoles.has(role)) continue;
          if (!options.createRoles) return { line, field: 'roles', reason: `unknown role "${role}" (map it with --role-map ${role}=ROLE, or add --create-roles)` };
          if (!ROLE_NAME.test(role)) return { line, field: 'roles', reason: `"${role}" cannot be a role name (lowercase letters, digits, - and _)` };
          await insertRole(trx, role, 'Imported');
          knownRoles.add(role);
          report.createdRoles.push(role);
        }
        return mapped;
      }

      /** Writes the batch but for lines whose email or Google subject an earlier batch had; then forgets the batch. */
      async function flush() {
        const { email: earlierEmail, google_sub: earlierSub } = await takeImportLines(trx, lineOf);
        const rows = batch.filter((row) => {
          const sameEmail = earlierEmail.get(row.lowerEmail);
          const sameSub = row.user.google_sub ? earlierSub.get(row.user.google_sub) : undefined;
          if (sameEmail !== undefined) reject(row.line, [sameAs(row.line, 'email', sameEmail)]);
          else if (sameSub !== undefined) reject(row.line, [sameAs(row.line, 'google_sub', sameSub)]);
          return sameEmail === undefined && sameSub === undefined;
        });
        batch = [];
        lineOf.email.clear();
        lineOf.google_sub.clear();
        await write(rows);
      }

      async function write(rows: Row[]) {
        const existing = await accountsByEmail(trx, rows.map((row) => row.lowerEmail));
        const linked = await googleLinks(trx, rows.flatMap((row) => (row.user.google_sub ? [row.user.google_sub] : [])));
        const inserts: Row[] = [];
        const updates: { row: Row; id: string }[] = [];
        for (const row of rows) {
          const account = existing.get(row.lowerEmail);
          const sub = row.user.google_sub;
          const linkedTo = sub ? linked.get(sub) : undefined;
          if (account && options.onConflict === 'skip') report.skipped += 1;
          else if (account && options.onConflict === 'fail') reject(row.line, [{ line: row.line, field: 'email', reason: 'an account with this email exists (see --on-conflict)' }]);
          else if (account?.deleted) reject(row.line, [{ line: row.line, field: 'email', reason: 'belongs to a deleted account; restore it first to update it' }]);
          else if (linkedTo && linkedTo !== account?.id) reject(row.line, [{ line: row.line, field: 'google_sub', reason: 'linked to another account already' }]);
          else if (account) updates.push({ row, id: account.id });
          else inserts.push(row);
        }

        const ids = await insertAccounts(
          trx,
          inserts.map(({ user }): Insertable<AccountsTable> => ({
            email: user.email,
            password_hash: null,
            name: null,
            given_name: null,
            family_name: null,
            picture: null,
            locale: null,
            zoneinfo: null,
            ...(accountColumns(user) as Partial<Insertable<AccountsTable>>),
          })),
        );
        const idOf = (row: Row) => ids.get(row.lowerEmail)!;
        await insertAccountRoles(trx, inserts.flatMap((row) => (row.roles ?? [DEFAULT_ROLE]).map((role_name) => ({ account_id: idOf(row), role_name }))));
        await insertGoogleLinks(trx, inserts.flatMap((row) => (row.user.google_sub ? [{ account_id: idOf(row), subject: row.user.google_sub, email: row.user.email }] : [])));
        report.imported += inserts.length;
        const events: AccountEvent[] = inserts.map((row) => ({
          type: 'account.created',
          actor,
          accountId: idOf(row),
          data: { ...accountColumns(row.user), email: row.user.email, roles: row.roles ?? [DEFAULT_ROLE], imported: true },
        }));

        for (const { row, id } of updates) {
          const columns = accountColumns(row.user);
          if (Object.keys(columns).length) await updateImportedAccount(trx, id, columns);
          if (row.roles) await replaceAccountRoles(trx, id, row.roles);
          if (row.user.google_sub && linked.get(row.user.google_sub) !== id) await replaceGoogleLink(trx, { account_id: id, subject: row.user.google_sub, email: row.user.email });
          events.push({ type: 'account.updated', actor, accountId: id, data: { fields: { ...columns, ...(row.roles ? { roles: row.roles } : {}) }, imported: true } });
        }
        await recordEvents(trx, events);
        report.updated += updates.length;
      }

      for await (const record of records) {
        lines += 1;
        if ('errors' in record) {
          reject(record.line, record.errors);
          continue;
        }
        const parsed = parseImportedUser(record.line, record.fields);
        if ('errors' in parsed) {
          reject(record.line, parsed.errors);
          continue;
        }
        const { user } = parsed;
        const lowerEmail = user.email.toLowerCase();
        const sameEmail = lineOf.email.get(lowerEmail);
        if (sameEmail !== undefined) {
          reject(record.line, [sameAs(record.line, 'email', sameEmail)]);
          continue;
        }
        lineOf.email.set(lowerEmail, record.line);
        const sameSub = user.google_sub ? lineOf.google_sub.get(user.google_sub) : undefined;
        if (sameSub !== undefined) {
          reject(record.line, [sameAs(record.line, 'google_sub', sameSub)]);
          continue;
        }
        if (user.google_sub) lineOf.google_sub.set(user.google_sub, record.line);
        const roles = await rolesOf(record.line, user.roles);
        if (roles && !Array.isArray(roles)) {
          reject(record.line, [roles]);
          continue;
        }
        batch.push({ line: record.line, lowerEmail, user, roles });
        if (lineOf.email.size >= BATCH_SIZE) {
          await flush();
          options.onProgress?.(lines);
        }
      }
      await flush();
      options.onProgress?.(lines);

      report.errors.sort((a, b) => a.line - b.line);
      if (options.dryRun || (report.invalid > 0 && !options.skipInvalid)) throw new RollBack(report);
      report.written = true;
      return report;
    });
  } catch (error) {
    if (error instanceof RollBack) return error.report;
    throw error;
  }
}
