import { describe, expect, it } from 'vitest';

import { ConfigError, loadConfig } from '../../src/config.ts';
import { brandStylesheet, brandTextOnLight, contrast } from '../../src/views/brand.ts';

const rgb = (hex: string) => [1, 3, 5].map((i) => Number.parseInt(hex.slice(i, i + 2), 16)) as [number, number, number];
const variable = (css: string, name: string) => new RegExp(`--${name}: (#[0-9a-f]{6})`).exec(css)![1]!;

describe('branding', () => {
  it('reads the product name, logos, favicon, colour and footer links', () => {
    const env = {
      PRODUCT_NAME: 'Acme',
      BRAND_LOGO_URL: '/static/logo.svg',
      BRAND_LOGO_DARK_URL: 'https://cdn.acme.test/logo-dark.svg',
      BRAND_FAVICON_URL: '/static/acme.ico',
      BRAND_PRIMARY_COLOR: '#0F6E5C',
      BRAND_PRIVACY_URL: 'https://acme.test/privacy',
      BRAND_HELP_URL: 'http://localhost:8080/help',
    };
    expect(loadConfig(env).brand).toEqual({
      productName: 'Acme',
      logoUrl: '/static/logo.svg',
      logoDarkUrl: 'https://cdn.acme.test/logo-dark.svg',
      faviconUrl: '/static/acme.ico',
      primaryColor: '#0f6e5c',
      links: { privacy: 'https://acme.test/privacy', terms: undefined, help: 'http://localhost:8080/help' },
    });
    // Defaults: the built-in favicon, the light logo in dark mode too, no links.
    expect(loadConfig({ BRAND_LOGO_URL: '/static/logo.svg' }).brand).toMatchObject({ logoDarkUrl: '/static/logo.svg', faviconUrl: '/static/favicon.svg', links: {} });
  });

  it.each([
    [{ BRAND_PRIMARY_COLOR: 'red' }, 'BRAND_PRIMARY_COLOR: a hex colour like #2457c5'],
    [{ BRAND_PRIMARY_COLOR: '#12345' }, 'BRAND_PRIMARY_COLOR: a hex colour like #2457c5'],
    [{ BRAND_LOGO_URL: 'http://example.com/logo.png' }, 'BRAND_LOGO_URL: an https URL or a path under /static/'],
    [{ BRAND_LOGO_URL: '//example.com/logo.png' }, 'BRAND_LOGO_URL: an https URL or a path under /static/'],
    [{ BRAND_LOGO_DARK_URL: 'javascript:alert(1)' }, 'BRAND_LOGO_DARK_URL: an https URL or a path under /static/'],
    [{ BRAND_FAVICON_URL: '/admin/x.svg' }, 'BRAND_FAVICON_URL: an https URL or a path under /static/'],
    [{ BRAND_TERMS_URL: 'javascript:alert(1)' }, 'BRAND_TERMS_URL'],
  ])('refuses %o at start-up, naming the setting', (env, problem) => {
    expect(() => loadConfig(env)).toThrow(ConfigError);
    expect(() => loadConfig(env)).toThrow(problem);
  });

  it('refuses plain-http logos and footer links in production with a clear start-up error', () => {
    const production = {
      NODE_ENV: 'production',
      ISSUER: 'https://id.acme.test',
      DATABASE_URL: 'postgres://db/idp',
      COOKIE_KEYS: 'k'.repeat(32),
      JWKS: '{"keys":[]}',
      SECRETS_KEY: Buffer.alloc(32, 7).toString('base64'),
      SMTP_URL: 'smtp://mail',
      CLIENTS_FILE: 'config/clients.example.json',
    };
    const problems = (env: Record<string, string>) => {
      try {
        loadConfig({ ...production, ...env });
        return '';
      } catch (error) {
        return (error as Error).message;
      }
    };
    expect(problems({ BRAND_LOGO_URL: 'http://cdn.acme.test/logo.svg' })).toContain('BRAND_LOGO_URL: an https URL or a path under /static/');
    expect(problems({ BRAND_PRIVACY_URL: 'http://acme.test/privacy' })).toContain('BRAND_PRIVACY_URL must be an https URL in production');
    expect(problems({ BRAND_HELP_URL: 'http://acme.test/help' })).toContain('BRAND_HELP_URL must be an https URL in production');
    expect(problems({ BRAND_PRIVACY_URL: 'https://acme.test/privacy', BRAND_LOGO_URL: 'https://cdn.acme.test/logo.svg' })).not.toMatch(/BRAND/);
  });

  it.each(['#2457c5', '#ffeb3b', '#000000', '#ffffff', '#0f6e5c', '#ff7f50', '#777777', '#00ff00'])('keeps %s readable: button text, and links in light and dark mode', (color) => {
    const css = brandStylesheet(color);
    expect(contrast(rgb(variable(css, 'brand')), rgb(variable(css, 'on-brand')))).toBeGreaterThanOrEqual(4.5);
    expect(contrast(rgb(variable(css, 'brand-text-light')), [255, 255, 255])).toBeGreaterThanOrEqual(4.5);
    expect(contrast(rgb(variable(css, 'brand-text-dark')), [0x1d, 0x20, 0x25])).toBeGreaterThanOrEqual(4.5);
    // Links in mail, on white.
    expect(contrast(rgb(brandTextOnLight(color)), [255, 255, 255])).toBeGreaterThanOrEqual(4.5);
  });
});
