import { expect, it } from 'vitest';

import { AuditFilterError, auditQueryOf } from '../../src/admin/audit-filters.ts';
import { changeLines } from '../../src/audit/index.ts';

const query = (input: Record<string, unknown>, timeZone = 'UTC') => auditQueryOf(input, { timeZone, page: 1, perPage: 25 }).query;

it('reads a date range as whole days in the viewer’s zone, the last day included', () => {
  expect(query({ from: '2026-12-01', to: '2026-12-01' }, 'America/New_York')).toMatchObject({
    from: new Date('2026-12-01T05:00:00Z'),
    until: new Date('2026-12-02T05:00:00Z'),
  });
  // The day the clocks go forward in Berlin starts at the winter offset.
  expect(query({ from: '2026-03-29' }, 'Europe/Berlin').from).toEqual(new Date('2026-03-28T23:00:00Z'));
  expect(query({ from: '', to: '', actor: ' ' })).toMatchObject({ from: undefined, until: undefined, actorEmail: undefined });
});

it('takes an account id, an email, or cli as the actor', () => {
  expect(query({ actor: '0b6c5a6e-0f0e-4b8e-9a39-0c5f3f0b9a11' })).toMatchObject({ actorId: '0b6c5a6e-0f0e-4b8e-9a39-0c5f3f0b9a11', actorEmail: undefined });
  expect(query({ actor: 'Admin@Example.com' })).toMatchObject({ actorId: undefined, actorEmail: 'Admin@Example.com' });
});

it.each([
  [{ from: '2026-02-30' }, 'from'],
  [{ to: '12/01/2026' }, 'to'],
  [{ from: '2026-12-02', to: '2026-12-01' }, 'to'],
  [{ action: 'DROP TABLE' }, 'action'],
  [{ from: '2026-12-01T09:30:00Z' }, 'from'],
])('refuses %j, naming the field', (input, field) => {
  expect(() => query(input)).toThrow(AuditFilterError);
  try {
    query(input);
  } catch (error) {
    expect((error as AuditFilterError).field).toBe(field);
  }
});

it('lets API callers give exact moments', () => {
  expect(auditQueryOf({ from: '2026-12-01T09:30:00+01:00' }, { timeZone: 'UTC', page: 1, perPage: 25, moments: true }).query.from).toEqual(new Date('2026-12-01T08:30:00Z'));
});

it('shows changes as lines, never a secret', () => {
  expect(changeLines({ name: [null, 'Ada'], roles: ['admin', 'user'], client_secret: 'abc', metadata: { client_name: 'App', client_secret: 'x', jwks: {} } })).toEqual([
    { field: 'name', before: '—', after: 'Ada' },
    { field: 'roles', after: 'admin, user' },
    { field: 'client_secret', after: '•••' },
    { field: 'client_name', after: 'App' },
  ]);
  expect(changeLines({ redirect_uris: [['https://a.example/cb'], ['https://a.example/cb', 'https://b.example/cb']] })).toEqual([
    { field: 'redirect_uris', before: 'https://a.example/cb', after: 'https://a.example/cb, https://b.example/cb' },
  ]);
});
