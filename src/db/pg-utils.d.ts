/** node-postgres's own conversion of a query parameter to its wire form (no types of its own in @types/pg). */
declare module 'pg/lib/utils.js' {
  export function prepareValue(value: unknown): string | Buffer | null;
}
