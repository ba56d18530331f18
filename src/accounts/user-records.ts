import { createInterface } from 'node:readline';
import type { Readable } from 'node:stream';

import { IMPORT_FIELDS, type RowError } from './imported-user.ts';

export type UserFileFormat = 'jsonl' | 'csv';

/** One line of an import file, read but not yet checked: its fields, or why they cannot be read. */
export type UserRecord = { line: number; fields: Record<string, unknown> } | { line: number; errors: RowError[] };

/** A CSV file whose header names a column we do not import, or that is not CSV: no line of it can be trusted. */
export class UnreadableFileError extends Error {}

async function* jsonLines(input: Readable): AsyncGenerator<UserRecord> {
  let line = 0;
  for await (const text of createInterface({ input, crlfDelay: Infinity })) {
    line += 1;
    if (!text.trim()) continue;
    let fields: unknown;
    try {
      fields = JSON.parse(text);
    } catch {
      yield { line, errors: [{ line, field: 'json', reason: 'not valid JSON' }] };
      continue;
    }
    if (typeof fields === 'object' && fields !== null && !Array.isArray(fields)) yield { line, fields: fields as Record<string, unknown> };
    else yield { line, errors: [{ line, field: 'json', reason: 'must be an object' }] };
  }
}

const TRUE = new Set(['true', 't', '1', 'yes']);
const FALSE = new Set(['false', 'f', '0', 'no']);

/** CSV cells are text: booleans as true/false (or t/f, as PostgreSQL writes them), roles separated by `;`, metadata as JSON. */
function typedCells(line: number, row: Record<string, string>): UserRecord {
  const fields: Record<string, unknown> = {};
  for (const [column, cell] of Object.entries(row)) {
    const text = cell.trim();
    if (text === '') continue;
    if (column === 'email_verified') fields[column] = TRUE.has(text.toLowerCase()) ? true : FALSE.has(text.toLowerCase()) ? false : text;
    else if (column === 'roles') fields[column] = text.split(';').map((role) => role.trim()).filter(Boolean);
    else if (column === 'metadata') {
      try {
        fields[column] = JSON.parse(text);
      } catch {
        return { line, errors: [{ line, field: 'metadata', reason: 'not valid JSON' }] };
      }
    } else fields[column] = cell;
  }
  return { line, fields };
}

async function* csvRows(input: Readable): AsyncGenerator<UserRecord> {
  const known = new Set<string>(IMPORT_FIELDS);
  // Loaded by the import that reads CSV, not by every node.
  const { parse: parseCsv } = await import('csv-parse');
  const parser = input.pipe(
    parseCsv({
      bom: true,
      skip_empty_lines: true,
      info: true,
      columns: (header: string[]) => {
        const columns = header.map((column) => column.trim());
        const unknown = columns.filter((column) => !known.has(column));
        if (unknown.length) throw new UnreadableFileError(`line 1: ${unknown.join(', ')}: not a column we import (${IMPORT_FIELDS.join(', ')})`);
        if (!columns.includes('email')) throw new UnreadableFileError('line 1: email: the header row has no email column');
        return columns;
      },
    }),
  );
  input.on('error', (error) => parser.destroy(error));
  try {
    for await (const { record, info } of parser as AsyncIterable<{ record: Record<string, string>; info: { lines: number } }>) {
      yield typedCells(info.lines, record);
    }
  } catch (error) {
    // csv-parse wraps what the header callback threw, and names a malformed line by number.
    const cause = (error as { cause?: unknown }).cause;
    if (cause instanceof UnreadableFileError) throw cause;
    if ((error as { code?: string }).code?.startsWith('CSV_')) throw new UnreadableFileError(`line ${(error as { lines?: number }).lines ?? '?'}: csv: ${(error as Error).message}`);
    throw error;
  }
}

/** The lines of an import file as they stream in, one record at a time. */
export function userRecords(input: Readable, format: UserFileFormat): AsyncGenerator<UserRecord> {
  return format === 'csv' ? csvRows(input) : jsonLines(input);
}
