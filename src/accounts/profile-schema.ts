import { z } from 'zod';

/** IANA time zones this runtime knows, for `zoneinfo` (the account page lists them). */
export const TIME_ZONES = Intl.supportedValuesOf('timeZone');
const timeZones = new Set(TIME_ZONES);
/** A name is one line: no control character, not even a tab or a line break (they would cut a mail header or a log line). */
export const singleLine = (text: string) => !/[\u0000-\u001F\u007F]/.test(text);
const nullableText = (max: number) =>
  z.string().trim().max(max).refine(singleLine, 'must be one line of text without control characters').nullable().optional();

/** The profile claims a person (or an admin) may set, each checked: OIDC Core 5.1 names. */
export const profileFieldsSchema = z.object({
  name: nullableText(200),
  given_name: nullableText(100),
  family_name: nullableText(100),
  picture: z.url({ protocol: /^https?$/, error: 'picture must be an http(s) URL' }).max(2000).nullable().optional(),
  // BCP 47, as OIDC asks: "en", "de-CH", "zh-Hant-TW".
  locale: z
    .string()
    .trim()
    .regex(/^[a-zA-Z]{2,3}(-[a-zA-Z0-9]{2,8})*$/, 'locale must be a language tag like en or de-CH')
    .max(35)
    .nullable()
    .optional(),
  zoneinfo: z
    .string()
    .trim()
    .refine((zone) => timeZones.has(zone) || zone === 'UTC', 'zoneinfo must be a time zone like Europe/Paris')
    .nullable()
    .optional(),
});

export type ProfileFields = z.infer<typeof profileFieldsSchema>;

/** The names of those claims, in form order. */
export const PROFILE_FIELDS = Object.keys(profileFieldsSchema.shape) as (keyof ProfileFields)[];
