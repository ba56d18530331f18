import Bowser from 'bowser';

/**
 * A browser and system a person recognises ("Chrome", "Android") from a User-Agent header, for
 * lists of sessions and security notices; the raw header is long and unreadable. Unknown parts
 * stay undefined. Parsing is bowser's (maintained, MIT): hand-kept patterns go stale.
 */
export interface Device {
  browser: string | undefined;
  system: string | undefined;
}

const named = (value: string | undefined) => (value ? value : undefined);

// bowser says "Microsoft Edge" and "macOS"/"iOS"; the short names read better in a list.
const shortBrowser: Record<string, string> = { 'Microsoft Edge': 'Edge', 'Chromium': 'Chrome' };

export function deviceOf(userAgent: string | null): Device {
  if (!userAgent) return { browser: undefined, system: undefined };
  const parsed = Bowser.parse(userAgent);
  const browser = named(parsed.browser.name);
  return { browser: browser && (shortBrowser[browser] ?? browser), system: named(parsed.os.name) };
}
