import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { takeScreenshots } from '../../scripts/screenshots.ts';
import { chromiumMissing } from '../support/chromium.ts';

describe.skipIf(chromiumMissing())('npm run screenshots', () => {
  let outDir: string;
  beforeAll(() => {
    outDir = mkdtempSync(path.join(tmpdir(), 'idp-screenshots-test-'));
  });
  afterAll(() => rmSync(outDir, { recursive: true, force: true }));

  it('writes a PNG per width and scheme for each page asked for, and runs axe on each', { timeout: 180_000 }, async () => {
    const results = await takeScreenshots({ only: ['home', 'sign-in'], outDir });

    expect(results.map((result) => [result.name, result.status, result.problem])).toEqual([
      ['home', 200, undefined],
      ['sign-in', 200, undefined],
    ]);
    expect(results[1]!.url).toMatch(/^\/interaction\//);
    for (const name of ['home', 'sign-in']) {
      for (const file of ['390-light', '390-dark', '1280-light', '1280-dark']) {
        expect(statSync(path.join(outDir, `${name}-${file}.png`)).size).toBeGreaterThan(1000);
      }
    }
    expect(results.flatMap((result) => result.violations)).toEqual([]);
  });

  it('refuses a page it does not know, naming those it does', async () => {
    await expect(takeScreenshots({ only: ['no-such-page'], outDir })).rejects.toThrow(/no such page: no-such-page \(known: home, sign-in, /);
  });
});
