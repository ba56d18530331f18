/**
 * What an audit row's `changes` say, as lines a person reads: "field: before -> after" for an
 * update ({ field: [before, after] }, as `diff` writes), "field: value" for anything else.
 * Anything that looks like a secret is never shown, even if a caller recorded one by mistake.
 */
export interface ChangeLine {
  field: string;
  /** The value before, for an update; undefined for a plain fact. */
  before?: string | undefined;
  after: string;
}

const SECRET = /secret|password|token|hash|key|code/i;
export const HIDDEN = '•••';
const MAX_TEXT = 120;

/** A value as short text: lists joined, objects by their keys' values, long text cut. */
function show(value: unknown): string {
  if (value === null || value === undefined || value === '') return '—';
  if (Array.isArray(value)) return value.map(show).join(', ') || '—';
  if (typeof value === 'object') {
    const entries = Object.entries(value as Record<string, unknown>).map(([key, inner]) => `${key}=${SECRET.test(key) ? HIDDEN : show(inner)}`);
    return cut(entries.join('; '));
  }
  return cut(String(value));
}
const cut = (text: string) => (text.length > MAX_TEXT ? `${text.slice(0, MAX_TEXT - 1)}…` : text);

/** Fields whose value is itself a list: two roles are a list, not a change from one to the other. */
const LIST_FIELDS = new Set(['roles', 'redirect_uris', 'post_logout_redirect_uris', 'grant_types', 'response_types', 'removed']);
const isUpdate = (field: string, value: unknown): value is [unknown, unknown] =>
  Array.isArray(value) && value.length === 2 && (!LIST_FIELDS.has(field) || value.every((side) => side === null || Array.isArray(side)));

export function changeLines(changes: Record<string, unknown> | null | undefined): ChangeLine[] {
  if (!changes) return [];
  return Object.entries(changes).flatMap(([field, value]): ChangeLine[] => {
    if (SECRET.test(field)) return [{ field, after: HIDDEN }];
    // A created client's whole registration: its name and redirect URIs say which it is.
    if (field === 'metadata' && value && typeof value === 'object' && !Array.isArray(value)) {
      return changeLines(pick(value as Record<string, unknown>, ['client_name', 'redirect_uris', 'token_endpoint_auth_method']));
    }
    if (isUpdate(field, value)) return [{ field, before: show(value[0]), after: show(value[1]) }];
    return [{ field, after: show(value) }];
  });
}

const pick = (record: Record<string, unknown>, keys: string[]) => Object.fromEntries(keys.filter((key) => key in record).map((key) => [key, record[key]]));
