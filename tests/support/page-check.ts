/// <reference lib="dom" />  // callbacks of page.evaluate run in the browser
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import axe from 'axe-core';
import type { Page } from 'playwright-core';

import { projectRoot } from '../../src/paths.ts';

export const screenshotDir = path.join(projectRoot, 'tests', 'e2e', 'screenshots');

/** A phone and a desktop. */
export const viewports = [
  { name: 'phone', width: 360, height: 740 },
  { name: 'desktop', width: 1280, height: 800 },
] as const;

export interface AxeFinding {
  page: string;
  scheme: 'light' | 'dark';
  id: string;
  impact: string | null | undefined;
  help: string;
  targets: string[];
}

/**
 * Runs axe-core in each page a flow shows (light and dark), collects what it finds, and saves a
 * screenshot of the page at phone and desktop width in both schemes, for review.
 */
export function pageChecker(suite: string) {
  const findings: AxeFinding[] = [];
  const checked: string[] = [];
  mkdirSync(screenshotDir, { recursive: true });

  async function runAxe(page: Page, name: string, scheme: 'light' | 'dark') {
    // Evaluated through the DevTools protocol, which the page's Content-Security-Policy does not govern.
    if (!(await page.evaluate(() => 'axe' in window))) await page.evaluate(axe.source);
    const results = await page.evaluate(() =>
      (window as unknown as { axe: typeof axe }).axe.run(document, { resultTypes: ['violations'] }),
    );
    if (results.passes.length === 0) throw new Error(`axe checked nothing on ${name}`);
    for (const violation of results.violations) {
      findings.push({
        page: name,
        scheme,
        id: violation.id,
        impact: violation.impact,
        help: violation.help,
        targets: violation.nodes.map((node) => node.target.join(' ')),
      });
    }
  }

  return {
    findings,
    /** axe in light and dark mode, then screenshots at both widths; leaves the page as it found it. */
    async check(page: Page, name: string) {
      const original = page.viewportSize();
      checked.push(name);
      for (const scheme of ['light', 'dark'] as const) {
        await page.emulateMedia({ colorScheme: scheme });
        await runAxe(page, name, scheme);
        for (const viewport of viewports) {
          await page.setViewportSize({ width: viewport.width, height: viewport.height });
          await page.screenshot({ path: path.join(screenshotDir, `${suite}--${name}--${viewport.name}-${scheme}.png`), fullPage: true });
        }
      }
      await page.emulateMedia({ colorScheme: 'light' });
      if (original) await page.setViewportSize(original);
    },
    /** Serious and critical findings, which fail the suite. */
    serious: () => findings.filter((finding) => finding.impact === 'serious' || finding.impact === 'critical'),
    /** Writes every finding, minor ones too, beside the screenshots. */
    writeReport() {
      writeFileSync(path.join(screenshotDir, `${suite}--axe.json`), `${JSON.stringify({ checked, findings }, null, 2)}\n`);
    },
  };
}

export type PageChecker = ReturnType<typeof pageChecker>;
