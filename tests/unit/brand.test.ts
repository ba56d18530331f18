import { describe, expect, it } from 'vitest';

import { ConfigError, loadConfig } from '../../src/config.ts';
import { brandStylesheet, contrast } from '../../src/views/brand.ts';

const rgb = (hex: string) => [1, 3, 5].map((i) => Number.parseInt(hex.slice(i, i + 2), 16)) as [number, number, number];
const variable = (css: string, name: string) => new RegExp(`--${name}: (#[0-9a-f]{6})`).exec(css)![1]!;

describe('branding', () => {
  it('reads the product name, logo and colour, refusing what is not a hex colour or an https/local logo', () => {
    expect(loadConfig({ PRODUCT_NAME: 'Acme', BRAND_LOGO_URL: '/static/logo.svg', BRAND_PRIMARY_COLOR: '#0F6E5C' }).brand).toEqual({
      productName: 'Acme',
      logoUrl: '/static/logo.svg',
      primaryColor: '#0f6e5c',
    });
    expect(() => loadConfig({ BRAND_PRIMARY_COLOR: 'red' })).toThrow(ConfigError);
    expect(() => loadConfig({ BRAND_LOGO_URL: 'http://example.com/logo.png' })).toThrow(ConfigError);
    expect(() => loadConfig({ BRAND_LOGO_URL: '//example.com/logo.png' })).toThrow(ConfigError);
  });

  it.each(['#2457c5', '#ffeb3b', '#000000', '#ffffff', '#0f6e5c'])('keeps %s readable: button text, and links in light and dark mode', (color) => {
    const css = brandStylesheet(color);
    expect(contrast(rgb(variable(css, 'brand')), rgb(variable(css, 'on-brand')))).toBeGreaterThanOrEqual(4.5);
    expect(contrast(rgb(variable(css, 'brand-text-light')), [255, 255, 255])).toBeGreaterThanOrEqual(4.5);
    expect(contrast(rgb(variable(css, 'brand-text-dark')), [0x1d, 0x20, 0x25])).toBeGreaterThanOrEqual(4.5);
  });
});
