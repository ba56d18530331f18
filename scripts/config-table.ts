import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';

import { type Setting, settings } from '../src/config.ts';
import { projectRoot } from '../src/paths.ts';

const BEGIN = '<!-- config-table:begin (generated from src/config.ts by `npm run docs:config`) -->';
const END = '<!-- config-table:end -->';
export const readmePath = path.join(projectRoot, 'README.md');

/** A default value in backticks, else the setting's own words for what happens when it is unset. */
const defaultCell = (setting: Setting) => ('default' in setting ? `\`${setting.default}\`` : setting.whenUnset);

export function configTable(): string {
  const rows = Object.entries(settings).map(([name, setting]) => `| \`${name}\` | ${defaultCell(setting)} | ${setting.doc} |`);
  return ['| Variable | Default | What it does |', '| --- | --- | --- |', ...rows].join('\n');
}

/** The README with its configuration section replaced by the table generated now. */
export function readmeWithTable(readme: string): string {
  const start = readme.indexOf(BEGIN);
  const end = readme.indexOf(END);
  if (start < 0 || end < start) throw new Error(`README.md lacks the markers ${BEGIN} ... ${END}`);
  return `${readme.slice(0, start + BEGIN.length)}\n${configTable()}\n${readme.slice(end)}`;
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const readme = readFileSync(readmePath, 'utf8');
  const updated = readmeWithTable(readme);
  if (process.argv.includes('--check')) {
    if (updated !== readme) {
      console.error('README.md configuration table is out of date: run `npm run docs:config`');
      process.exit(1);
    }
  } else {
    writeFileSync(readmePath, updated);
  }
}
