/** PostgreSQL's SQLSTATE for "database does not exist" (invalid_catalog_name). */
const INVALID_CATALOG_NAME = '3D000';

function causes(error: unknown): unknown[] {
  const chain: unknown[] = [];
  for (let current = error; current instanceof Error && chain.length < 10; current = current.cause) chain.push(current);
  return chain;
}

const shellWord = (word: string) => (/^[\w.@%+=:,/-]+$/.test(word) ? word : `'${word.replaceAll("'", `'\\''`)}'`);

/**
 * When `error` (or what it wraps) says the database DATABASE_URL names does not exist: one line
 * saying how to create it, with the host, port and user of the URL but never its password.
 */
export function missingDatabaseAdvice(error: unknown, databaseUrl: string | undefined): string | undefined {
  if (!databaseUrl) return undefined;
  if (!causes(error).some((cause) => (cause as { code?: unknown }).code === INVALID_CATALOG_NAME)) return undefined;
  const url = new URL(databaseUrl);
  const name = decodeURIComponent(url.pathname.slice(1)) || decodeURIComponent(url.username) || 'postgres';
  const options = [
    url.hostname && `-h ${shellWord(url.hostname.replace(/^\[(.*)\]$/, '$1'))}`,
    url.port && `-p ${url.port}`,
    url.username && `-U ${shellWord(decodeURIComponent(url.username))}`,
  ].filter(Boolean);
  const where = url.host ? ` on ${url.host}` : '';
  return `The database "${name}"${where} does not exist. Create it (\`createdb ${[...options, shellWord(name)].join(' ')}\`) or set DATABASE_URL to one that exists; the IdP creates its tables itself.`;
}
