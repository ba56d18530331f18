import { createReadStream, createWriteStream, statSync } from 'node:fs';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { parseArgs } from 'node:util';

import {
  type ConflictMode,
  exportUsers,
  type ImportReport,
  importUsers,
  InvalidRoleMapError,
  roleMapOf,
  UnreadableFileError,
  type UserFileFormat,
  userRecords,
} from '../accounts/index.ts';
import { auditRecorder } from '../audit/index.ts';
import type { Database } from '../db/index.ts';
import { importProgress } from './import-progress.ts';

/** A mistake in the command or its input file: printed, exit code 2. */
export class TransferInputError extends Error {}

type WithDatabase = <T>(work: (database: Database) => Promise<T>) => Promise<T>;

const CONFLICT_MODES: ConflictMode[] = ['skip', 'update', 'fail'];
const FORMATS: UserFileFormat[] = ['jsonl', 'csv'];

function summaryOf(report: ImportReport, dryRun: boolean): string {
  const counts = `imported ${report.imported}, updated ${report.updated}, skipped ${report.skipped}, invalid ${report.invalid}`;
  const roles = report.createdRoles.length ? `; new roles: ${report.createdRoles.join(', ')}` : '';
  return `${dryRun ? 'Dry run, nothing written: would have ' : ''}${counts}${roles}`;
}

function errorLines(report: ImportReport): string[] {
  const lines = report.errors.map((error) => `line ${error.line}: ${error.field}: ${error.reason}`);
  if (report.moreErrors) lines.push(`... and ${report.moreErrors} more errors`);
  return lines;
}

/** `import-users --file F [--format csv] [--dry-run] [--on-conflict skip|update|fail] [--role-map a=b]... [--create-roles] [--skip-invalid]` */
export async function importUsersCommand(args: string[], withDatabase: WithDatabase): Promise<string> {
  const { values } = parseArgs({
    args,
    options: {
      file: { type: 'string' },
      format: { type: 'string', default: 'jsonl' },
      'dry-run': { type: 'boolean', default: false },
      'on-conflict': { type: 'string', default: 'fail' },
      'role-map': { type: 'string', multiple: true, default: [] },
      'create-roles': { type: 'boolean', default: false },
      'skip-invalid': { type: 'boolean', default: false },
    },
    strict: true,
  });
  if (!values.file) throw new TransferInputError('import-users needs --file F (JSON Lines, or CSV with --format csv)');
  const format = values.format as UserFileFormat;
  if (!FORMATS.includes(format)) throw new TransferInputError(`--format is jsonl or csv, not "${values.format}"`);
  const onConflict = values['on-conflict'] as ConflictMode;
  if (!CONFLICT_MODES.includes(onConflict)) throw new TransferInputError(`--on-conflict is skip, update or fail, not "${values['on-conflict']}"`);
  let roleMap: Map<string, string>;
  try {
    roleMap = roleMapOf(values['role-map']);
  } catch (error) {
    if (error instanceof InvalidRoleMapError) throw new TransferInputError(`--role-map: ${error.message}`);
    throw error;
  }
  let size: number;
  try {
    size = statSync(values.file).size;
  } catch (error) {
    throw new TransferInputError(`cannot read ${values.file} (${(error as NodeJS.ErrnoException).code})`);
  }

  return withDatabase(async ({ db }) => {
    const input = createReadStream(values.file!);
    const progress = importProgress(process.stderr, () => input.bytesRead / Math.max(size, 1));
    const dryRun = values['dry-run'];
    let report: ImportReport;
    try {
      report = await importUsers(db, userRecords(input, format), {
        onConflict,
        dryRun,
        skipInvalid: values['skip-invalid'],
        createRoles: values['create-roles'],
        roleMap,
        onProgress: progress.update,
      });
    } catch (error) {
      await auditRecorder(db)({ actorId: null, actorKind: 'cli', action: 'users.import', changes: { written: false, failed: true, dryRun, onConflict } });
      if (error instanceof UnreadableFileError) throw new TransferInputError(`${error.message}\nNothing was imported.`);
      throw error;
    } finally {
      progress.done();
      input.destroy();
    }
    const { imported, updated, skipped, invalid, createdRoles } = report;
    await auditRecorder(db)({
      actorId: null,
      actorKind: 'cli',
      action: 'users.import',
      changes: { imported, updated, skipped, invalid, createdRoles, written: report.written, dryRun, onConflict },
    });
    if (report.invalid) console.error(errorLines(report).join('\n'));
    if (report.invalid && !values['skip-invalid']) {
      throw new TransferInputError(
        dryRun ? summaryOf(report, dryRun) : `Nothing was imported: ${invalid} invalid lines (fix them, or add --skip-invalid to import the rest).`,
      );
    }
    return summaryOf(report, dryRun);
  });
}

/** `export-users [--file F]`: JSON Lines to the file (created readable by its owner only: it holds password hashes) or standard output. */
export async function exportUsersCommand(args: string[], withDatabase: WithDatabase): Promise<string> {
  const { values } = parseArgs({ args, options: { file: { type: 'string' } }, strict: true });
  return withDatabase(async ({ db }) => {
    let count = 0;
    const lines = Readable.from(
      (async function* () {
        for await (const user of exportUsers(db)) {
          count += 1;
          yield `${JSON.stringify(user)}\n`;
        }
      })(),
    );
    try {
      await pipeline(lines, values.file ? createWriteStream(values.file, { flags: 'wx', mode: 0o600 }) : process.stdout, { end: Boolean(values.file) });
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      if (code === 'EEXIST') throw new TransferInputError(`${values.file} exists; choose another name (an export is never written over a file)`);
      if (code === 'ENOENT' || code === 'EACCES' || code === 'EISDIR' || code === 'ENOTDIR') throw new TransferInputError(`cannot write ${values.file} (${code})`);
      throw error;
    }
    await auditRecorder(db)({ actorId: null, actorKind: 'cli', action: 'users.export', changes: { exported: count } });
    const summary = `Exported ${count} people${values.file ? ` to ${values.file} (mode 0600: it holds password hashes)` : ''}`;
    if (values.file) return summary;
    console.error(summary);
    return '';
  });
}
