import { z } from 'zod';

import { emailSchema, PASSWORD_MAX_LENGTH } from '../accounts/index.ts';

const trimmed = <T extends z.ZodType>(schema: T) => z.preprocess((v) => (typeof v === 'string' ? v.trim() : v), schema);

export const emailField = trimmed(
  z.string({ error: 'Enter your email address.' }).min(1, 'Enter your email address.').pipe(emailSchema),
);

export const passwordField = (emptyMessage: string) =>
  z
    .string({ error: emptyMessage })
    .min(1, emptyMessage)
    .max(PASSWORD_MAX_LENGTH, `A password has at most ${PASSWORD_MAX_LENGTH} characters.`);

export const loginForm = z.object({
  email: emailField,
  password: passwordField('Enter your password.'),
});

export const registrationForm = z.object({
  email: emailField,
  name: trimmed(z.string().max(200, 'A name has at most 200 characters.').optional()),
  password: passwordField('Choose a password.'),
  password_confirmation: z.string({ error: 'Type the password again.' }).min(1, 'Type the password again.'),
});

export const emailOnlyForm = z.object({ email: emailField });

export const newPasswordForm = z.object({
  token: z.string().min(1).max(200),
  password: passwordField('Choose a password.'),
  password_confirmation: z.string({ error: 'Type the password again.' }).min(1, 'Type the password again.'),
});

export const tokenForm = z.object({ token: z.string().min(1).max(200) });

/** The first message for each field, for showing beside it. */
export function fieldErrors(error: z.ZodError): Record<string, string> {
  const messages: Record<string, string> = {};
  for (const issue of error.issues) {
    const field = String(issue.path[0] ?? 'form');
    messages[field] ??= issue.message;
  }
  return messages;
}

/** The text a person typed in a field, to show it back after an error (never for passwords). */
export function typed(body: Record<string, unknown>, field: string, max = 254): string {
  const value = body[field];
  return typeof value === 'string' ? value.slice(0, max) : '';
}

const interactionUid = /^[A-Za-z0-9_-]{1,64}$/;

/** Where to return after a mailed link: only ever one of our interaction pages. */
export function interactionPath(uid: unknown): string | null {
  return typeof uid === 'string' && interactionUid.test(uid) ? `/interaction/${uid}` : null;
}
