import { z } from 'zod';

import { passwordHashFormat } from './password-hash-formats.ts';
import { profileFieldsSchema, singleLine } from './profile-schema.ts';

/** The name a custom role may have (the admin API and an import with --create-roles alike). */
export const ROLE_NAME = /^[a-z][a-z0-9_-]{1,62}$/;

/** What is wrong with one line of an import file: printed as `line N: field: reason`. */
export interface RowError {
  line: number;
  field: string;
  reason: string;
}

const METADATA_MAX_BYTES = 64 * 1024;
// ISO 8601 as exporters write it: a date, or a date and time with a 'T' or a space (PostgreSQL's text form).
const DATE_OR_TIME = /^\d{4}-\d{2}-\d{2}([T ]\d{2}:\d{2}(:\d{2}(\.\d{1,9})?)?(Z|[+-]\d{2}(:?\d{2})?)?)?$/;
const HASH_FORMATS = 'bcrypt, passlib pbkdf2, Werkzeug pbkdf2 or scrypt, Django pbkdf2, argon2';

/** A moment written without a zone is UTC: an export from another machine has no local time of ours. */
function momentOf(text: string): Date | undefined {
  if (!DATE_OR_TIME.test(text)) return undefined;
  const [year, month, day] = text.slice(0, 10).split('-').map(Number) as [number, number, number];
  // Date would read 2023-02-30 as March 2nd; a day that does not exist is a mistake in the file.
  if (new Date(Date.UTC(year, month - 1, day)).getUTCDate() !== day) return undefined;
  if (text.length === 10) return new Date(`${text}T00:00:00Z`);
  const zone = /(Z|[+-]\d{2}(:?\d{2})?)$/.exec(text)?.[0];
  const time = text.slice(11, zone ? -zone.length : undefined);
  const offset = !zone || zone === 'Z' ? 'Z' : zone.length === 3 ? `${zone}:00` : zone.replace(/^([+-]\d{2}):?(\d{2})$/, '$1:$2');
  const moment = new Date(`${text.slice(0, 10)}T${time}${offset}`);
  return Number.isNaN(moment.getTime()) ? undefined : moment;
}

const importedUserSchema = profileFieldsSchema
  .extend({
    email: z.string({ error: 'required' }).trim().pipe(z.email({ error: 'not a valid email address' }).max(254, 'longer than 254 characters')),
    email_verified: z.boolean({ error: 'must be true or false' }).optional(),
    roles: z.array(z.string({ error: 'must be role names' }).trim().min(1, 'an empty role name'), { error: 'must be a list of role names' }).max(50).optional(),
    status: z.enum(['active', 'disabled'], { error: 'must be active or disabled' }).optional(),
    created_at: z
      .string({ error: 'must be a date' })
      .transform((text, ctx) => momentOf(text.trim()) ?? (ctx.addIssue({ code: 'custom', message: 'must be a date like 2024-05-01 or 2024-05-01T09:30:00Z' }), z.NEVER))
      .optional(),
    metadata: z
      .record(z.string(), z.unknown(), { error: 'must be an object' })
      .refine((value) => Buffer.byteLength(JSON.stringify(value)) <= METADATA_MAX_BYTES, 'larger than 64 KB')
      .optional(),
    password_hash: z
      .string({ error: 'must be text' })
      .refine((hash) => passwordHashFormat(hash) !== undefined, `not a hash format we can verify (${HASH_FORMATS})`)
      .nullable()
      .optional(),
    google_sub: z.string({ error: 'must be text' }).trim().min(1, 'empty').max(255).refine(singleLine, 'must be one line of text').nullable().optional(),
  })
  .strict();

/** One person to import; a field left out is left alone when an existing account is updated. */
export type ImportedUser = z.infer<typeof importedUserSchema>;

/** The fields an import line may have, in the order an export writes them. */
export const IMPORT_FIELDS = Object.keys(importedUserSchema.shape) as (keyof ImportedUser)[];

/** Checks one line's fields: the person, or every reason the line is wrong. */
export function parseImportedUser(line: number, fields: Record<string, unknown>): { user: ImportedUser } | { errors: RowError[] } {
  const result = importedUserSchema.safeParse(fields);
  if (result.success) return { user: result.data };
  return {
    errors: result.error.issues.flatMap((issue) =>
      issue.code === 'unrecognized_keys'
        ? issue.keys.map((key) => ({ line, field: key, reason: 'not a field we import' }))
        : [{ line, field: String(issue.path[0] ?? 'line'), reason: issue.message }],
    ),
  };
}
