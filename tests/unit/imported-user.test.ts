import { Readable } from 'node:stream';
import { describe, expect, it } from 'vitest';

import { parseImportedUser } from '../../src/accounts/imported-user.ts';
import { UnreadableFileError, userRecords } from '../../src/accounts/user-records.ts';

const createdAt = (text: string) => {
  const parsed = parseImportedUser(1, { email: 'a@example.com', created_at: text });
  return 'user' in parsed ? parsed.user.created_at?.toISOString() : parsed.errors.map((error) => error.reason);
};

async function read(text: string, format: 'jsonl' | 'csv') {
  const records = [];
  for await (const record of userRecords(Readable.from([text]), format)) records.push(record);
  return records;
}

describe('a line of an import file', () => {
  it.each([
    ['2024-05-01', '2024-05-01T00:00:00.000Z'],
    ['2024-05-01T09:30:00Z', '2024-05-01T09:30:00.000Z'],
    ['2024-05-01T09:30', '2024-05-01T09:30:00.000Z'],
    // PostgreSQL's and SQLite's text forms, and json_build_object's of a timestamp without zone.
    ['2023-01-05 10:11:12.123456', '2023-01-05T10:11:12.123Z'],
    ['2023-01-05 10:11:12.123456+02', '2023-01-05T08:11:12.123Z'],
    ['2023-01-05T10:11:12.953582+05:30', '2023-01-05T04:41:12.953Z'],
  ])('reads the date %s as %s (UTC when no zone is given)', (text, iso) => {
    expect(createdAt(text)).toBe(iso);
  });

  it.each(['2023-02-30', '05/01/2024', 'yesterday', '2024-13-01T00:00:00Z'])('refuses the date %s', (text) => {
    expect(createdAt(text)).toEqual(['must be a date like 2024-05-01 or 2024-05-01T09:30:00Z']);
  });

  it('names each wrong field of a line', () => {
    expect(parseImportedUser(7, { email: 'a@example.com', roles: 'admin', email_verified: 'yes', metadata: [1], picture: 'javascript:alert(1)', google_sub: '' })).toEqual({
      errors: [
        { line: 7, field: 'picture', reason: 'picture must be an http(s) URL' },
        { line: 7, field: 'email_verified', reason: 'must be true or false' },
        { line: 7, field: 'roles', reason: 'must be a list of role names' },
        { line: 7, field: 'metadata', reason: 'must be an object' },
        { line: 7, field: 'google_sub', reason: 'empty' },
      ],
    });
    expect(parseImportedUser(1, { name: 'No Email' })).toEqual({ errors: [{ line: 1, field: 'email', reason: 'required' }] });
  });

  it('reads CSV cells as their fields: roles split on ;, booleans as PostgreSQL writes them, metadata as JSON; blank lines skipped', async () => {
    const csv = '\uFEFFemail,email_verified,roles,metadata,name\r\na@example.com,t,admin; user,"{""k"":1}","Doe, ""Jo"""\r\n\r\nb@example.com,,,{oops,\r\n';
    expect(await read(csv, 'csv')).toEqual([
      { line: 2, fields: { email: 'a@example.com', email_verified: true, roles: ['admin', 'user'], metadata: { k: 1 }, name: 'Doe, "Jo"' } },
      { line: 4, errors: [{ line: 4, field: 'metadata', reason: 'not valid JSON' }] },
    ]);
  });

  it('refuses a CSV file whose header names a column it does not import', async () => {
    await expect(read('email,password\na@example.com,secret\n', 'csv')).rejects.toThrow(UnreadableFileError);
  });

  it('numbers JSON lines as the file does, blank lines included', async () => {
    expect(await read('{"email":"a@example.com"}\n\n[1]\n', 'jsonl')).toEqual([
      { line: 1, fields: { email: 'a@example.com' } },
      { line: 3, errors: [{ line: 3, field: 'json', reason: 'must be an object' }] },
    ]);
  });
});
