import Router from '@koa/router';

import type { BrandSettings } from '../config.ts';

/** How the pages and mail look for this deployment: set by PRODUCT_NAME and the BRAND_* settings. */
export type Brand = BrandSettings;

/** The brand when no configuration is given (tests of single modules). */
export const defaultBrand: Brand = {
  productName: 'IdP',
  logoUrl: undefined,
  logoDarkUrl: undefined,
  faviconUrl: '/static/favicon.svg',
  primaryColor: '#2457c5',
  links: { privacy: undefined, terms: undefined, help: undefined },
};

/** The footer's links in the order they show, the unset ones left out. */
export function footerLinks(brand: Brand): Array<{ name: 'privacy' | 'terms' | 'help'; href: string }> {
  return (['privacy', 'terms', 'help'] as const).flatMap((name) => (brand.links[name] ? [{ name, href: brand.links[name] }] : []));
}

/** A logo or icon as mail can load it: a /static/ path becomes a URL on the issuer. */
export const absoluteAssetUrl = (url: string, issuer: string) => (url.startsWith('/') ? `${issuer}${url}` : url);

type Rgb = [number, number, number];

const LIGHT_BACKGROUND: Rgb = [255, 255, 255];
/** The card colour of dark mode in app.css (--surface). */
const DARK_BACKGROUND: Rgb = [0x1d, 0x20, 0x25];
const WHITE: Rgb = [255, 255, 255];
const BLACK: Rgb = [0, 0, 0];

function parseHex(hex: string): Rgb {
  const digits = hex.replace('#', '');
  const full = digits.length === 3 ? [...digits].map((d) => d + d).join('') : digits;
  return [0, 2, 4].map((i) => Number.parseInt(full.slice(i, i + 2), 16)) as Rgb;
}

const toHex = (rgb: Rgb) => `#${rgb.map((c) => Math.round(c).toString(16).padStart(2, '0')).join('')}`;

/** WCAG relative luminance. */
function luminance(rgb: Rgb): number {
  const [r, g, b] = rgb.map((c) => {
    const s = c / 255;
    return s <= 0.03928 ? s / 12.92 : ((s + 0.055) / 1.055) ** 2.4;
  }) as Rgb;
  return 0.2126 * r + 0.7152 * g + 0.0722 * b;
}

export function contrast(a: Rgb, b: Rgb): number {
  const [light, dark] = [luminance(a), luminance(b)].sort((x, y) => y - x) as [number, number];
  return (light + 0.05) / (dark + 0.05);
}

const mix = (from: Rgb, to: Rgb, amount: number): Rgb => from.map((c, i) => c + (to[i]! - c) * amount) as Rgb;

/** The colour moved toward white or black just enough to read as text on `background` (WCAG AA, 4.5:1). */
function readableOn(color: Rgb, background: Rgb): Rgb {
  const toward = luminance(background) > 0.5 ? BLACK : WHITE;
  for (let step = 0; step <= 20; step += 1) {
    const candidate = mix(color, toward, step / 20);
    if (contrast(candidate, background) >= 4.5) return candidate;
  }
  return toward;
}

/** A button in the brand colour, moved just enough for its text (white or black) to read on it. */
export function brandButton(primaryColor: string): { background: string; text: string } {
  const brand = parseHex(primaryColor);
  const onBrand = contrast(brand, WHITE) >= contrast(brand, BLACK) ? WHITE : BLACK;
  return { background: toHex(readableOn(brand, onBrand)), text: toHex(onBrand) };
}

/** The brand colour as text (links) on a white background, e.g. in mail. */
export const brandTextOnLight = (primaryColor: string) => toHex(readableOn(parseHex(primaryColor), LIGHT_BACKGROUND));

/**
 * The brand colour as CSS custom properties: the button colour with the text colour that reads
 * on it, and link colours adjusted for light and dark backgrounds, so any colour stays accessible.
 */
export function brandStylesheet(primaryColor: string): string {
  const brand = parseHex(primaryColor);
  const button = brandButton(primaryColor);
  return [
    ':root {',
    `  --brand: ${button.background};`,
    `  --on-brand: ${button.text};`,
    `  --brand-text-light: ${toHex(readableOn(brand, LIGHT_BACKGROUND))};`,
    `  --brand-text-dark: ${toHex(readableOn(brand, DARK_BACKGROUND))};`,
    '}',
    '',
  ].join('\n');
}

/**
 * /static/brand.css: the brand colour reaches the pages as a stylesheet, which the CSP allows (no
 * inline style); /favicon.ico: the configured icon.
 */
export function brandRoutes(brand: Brand): Router {
  const css = brandStylesheet(brand.primaryColor);
  const router = new Router();
  router.get('/static/brand.css', (ctx) => {
    ctx.type = 'text/css';
    ctx.set('Cache-Control', 'public, max-age=3600');
    ctx.body = css;
  });
  // Browsers and feed readers ask for /favicon.ico without reading the page's <link rel="icon">.
  router.get('/favicon.ico', (ctx) => {
    ctx.set('Cache-Control', 'public, max-age=3600');
    ctx.redirect(brand.faviconUrl);
  });
  return router;
}
