/**
 * A browser and system a person recognises ("Chrome", "Android") from a User-Agent header, for
 * the list of sessions; the raw header is long and unreadable. Unknown parts stay undefined.
 */
export interface Device {
  browser: string | undefined;
  system: string | undefined;
}

// Order matters: Edge and Opera also say Chrome, Chrome also says Safari, Android also says Linux.
const browsers: [RegExp, string][] = [
  [/\bEdg(?:e|A|iOS)?\//, 'Edge'],
  [/\bOPR\//, 'Opera'],
  [/\bFirefox\/|\bFxiOS\//, 'Firefox'],
  [/\bSamsungBrowser\//, 'Samsung Internet'],
  [/Chrom(?:e|ium)\/|\bCriOS\//, 'Chrome'],
  [/\bVersion\/[\d.]+.*\bSafari\//, 'Safari'],
];
const systems: [RegExp, string][] = [
  [/\bAndroid\b/, 'Android'],
  [/\biPhone\b|\biPad\b|\biPod\b/, 'iOS'],
  [/\bWindows\b/, 'Windows'],
  [/\bMac OS X\b|\bMacintosh\b/, 'macOS'],
  [/\bCrOS\b/, 'ChromeOS'],
  [/\bLinux\b/, 'Linux'],
];

const first = (list: [RegExp, string][], userAgent: string) => list.find(([pattern]) => pattern.test(userAgent))?.[1];

export function deviceOf(userAgent: string | null): Device {
  if (!userAgent) return { browser: undefined, system: undefined };
  return { browser: first(browsers, userAgent), system: first(systems, userAgent) };
}
