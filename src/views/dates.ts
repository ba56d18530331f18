/**
 * A moment as a person reads it: in their language, in their time zone, with the zone named
 * ("1 Dec 2026, 09:30 CET"), so a time is never ambiguous. An unknown zone falls back to UTC.
 */
export function formatDateTime(locale: string, value: Date | string | number | null | undefined, timeZone = 'UTC'): string {
  if (value === null || value === undefined || value === '') return '';
  const date = value instanceof Date ? value : new Date(value);
  if (Number.isNaN(date.getTime())) return '';
  const options = { dateStyle: 'medium', timeStyle: 'short' } as const;
  try {
    return withZone(locale, date, { ...options, timeZone });
  } catch {
    return withZone(locale, date, { ...options, timeZone: 'UTC' });
  }
}

// dateStyle/timeStyle cannot be combined with timeZoneName, so the zone's short name is added from a second format.
function withZone(locale: string, date: Date, options: Intl.DateTimeFormatOptions): string {
  const zoneName = new Intl.DateTimeFormat(locale, { timeZone: options.timeZone, timeZoneName: 'short' })
    .formatToParts(date)
    .find((part) => part.type === 'timeZoneName')?.value;
  const text = new Intl.DateTimeFormat(locale, options).format(date);
  return zoneName ? `${text} ${zoneName}` : text;
}
