import { describe, expect, it } from 'vitest';

import { formatDateTime } from '../../src/views/dates.ts';

describe('a moment as a person reads it', () => {
  const moment = '2026-11-30T18:21:00Z';

  it('is in the person’s zone, with the zone named', () => {
    expect(formatDateTime('en', moment, 'Europe/Berlin')).toBe('Nov 30, 2026, 7:21 PM GMT+1');
    expect(formatDateTime('en', moment, 'UTC')).toBe('Nov 30, 2026, 6:21 PM UTC');
  });

  it('is in the person’s language', () => {
    expect(formatDateTime('de', moment, 'Europe/Berlin')).toBe('30.11.2026, 19:21 MEZ');
  });

  it('falls back to UTC for an unknown zone and shows nothing for no moment', () => {
    expect(formatDateTime('en', moment, 'Mars/Olympus')).toBe('Nov 30, 2026, 6:21 PM UTC');
    expect(formatDateTime('en', null)).toBe('');
    expect(formatDateTime('en', 'not a date')).toBe('');
  });
});
