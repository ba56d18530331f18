import { z } from 'zod';

import { emailSchema, PASSWORD_MAX_LENGTH } from '../accounts/index.ts';

export const loginForm = z.object({
  email: z.preprocess((v) => (typeof v === 'string' ? v.trim() : v), z.string({ error: 'Enter your email address.' }).min(1, 'Enter your email address.').pipe(emailSchema)),
  password: z
    .string({ error: 'Enter your password.' })
    .min(1, 'Enter your password.')
    .max(PASSWORD_MAX_LENGTH, `A password has at most ${PASSWORD_MAX_LENGTH} characters.`),
});

/** The first message for each field, for showing beside it. */
export function fieldErrors(error: z.ZodError): Record<string, string> {
  const messages: Record<string, string> = {};
  for (const issue of error.issues) {
    const field = String(issue.path[0] ?? 'form');
    messages[field] ??= issue.message;
  }
  return messages;
}
