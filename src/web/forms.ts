import { z } from 'zod';

import { PASSWORD_MAX_LENGTH, singleLine } from '../accounts/index.ts';
import type { Message } from '../views/index.ts';

const trimmed = <T extends z.ZodType>(schema: T) => z.preprocess((v) => (typeof v === 'string' ? v.trim() : v), schema);

// Messages are keys of the message catalogue (views/locales); the page shows them in the person's language.
export const emailField = trimmed(
  z
    .string({ error: 'fields.email.missing' })
    .min(1, 'fields.email.missing')
    .pipe(z.email({ error: 'fields.email.invalid' }).max(254, 'fields.email.tooLong')),
);

export const passwordField = (emptyMessage: string) =>
  z
    .string({ error: emptyMessage })
    .min(1, emptyMessage)
    .max(PASSWORD_MAX_LENGTH, 'fields.password.tooLongToSend');

export const loginForm = z.object({
  email: emailField,
  password: passwordField('fields.password.missing'),
});

export const registrationForm = z.object({
  email: emailField,
  name: trimmed(z.string().max(200, 'fields.name.tooLong').refine(singleLine, 'fields.name.controlCharacters').optional()),
  password: passwordField('fields.newPassword.missing'),
  password_confirmation: z.string({ error: 'fields.passwordConfirmation.missing' }).min(1, 'fields.passwordConfirmation.missing'),
});

export const emailOnlyForm = z.object({ email: emailField });

export const newPasswordForm = z.object({
  token: z.string().min(1).max(200),
  password: passwordField('fields.newPassword.missing'),
  password_confirmation: z.string({ error: 'fields.passwordConfirmation.missing' }).min(1, 'fields.passwordConfirmation.missing'),
});

export const tokenForm = z.object({ token: z.string().min(1).max(200) });

/** The first message for each field, for showing beside it. */
export function fieldErrors(error: z.ZodError): Record<string, Message> {
  const messages: Record<string, Message> = {};
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
