/** A small JSON value in a cookie: base64url, so that any JSON is a valid cookie value. Sign such cookies. */
export const encodeCookieJson = (value: unknown): string => Buffer.from(JSON.stringify(value)).toString('base64url');

/** undefined for a missing or mangled cookie. */
export function decodeCookieJson<T>(value: string | undefined): T | undefined {
  if (!value) return undefined;
  try {
    return JSON.parse(Buffer.from(value, 'base64url').toString('utf8')) as T;
  } catch {
    return undefined;
  }
}
