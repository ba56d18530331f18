import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';

import { loadCatalogues } from '../../src/views/i18n.ts';
import { projectRoot, viewsDir } from '../../src/paths.ts';

const catalogues = loadCatalogues(path.join(viewsDir, 'locales'));
const english = catalogues.messages.get('en')!;
const placeholders = (text: string) => [...text.matchAll(/\{(\w+)\}/g)].map((match) => match[1]).sort();

/** Every template, in every folder: the pages, their partials, and both parts (HTML and plain text) of every mail. */
const templates = readdirSync(viewsDir, { recursive: true, encoding: 'utf8' }).filter((name) => name.endsWith('.eta')).sort();
const source = (view: string) => readFileSync(path.join(viewsDir, view), 'utf8');

function sourceFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) =>
    entry.isDirectory() ? sourceFiles(path.join(dir, entry.name)) : entry.name.endsWith('.ts') ? [path.join(dir, entry.name)] : [],
  );
}

describe('message catalogue', () => {
  it('ships English and German', () => {
    expect(catalogues.locales).toEqual(['en', 'de']);
  });

  it.each([...catalogues.messages.keys()].filter((locale) => locale !== 'en'))('%s has exactly the keys of en.json, with the same placeholders', (locale) => {
    const messages = catalogues.messages.get(locale)!;
    expect(Object.keys(messages).sort()).toEqual(Object.keys(english).sort());
    for (const [key, text] of Object.entries(english)) {
      expect(placeholders(messages[key]!), `${locale}: ${key}`).toEqual(placeholders(text));
      expect(messages[key]!.trim(), `${locale}: ${key}`).not.toBe('');
    }
  });

  it('has every key the views name (a name ending in a dot is a group the view completes)', () => {
    const known = (key: string) => (key.endsWith('.') ? Object.keys(english).some((name) => name.startsWith(key)) : key in english);
    const missing = templates.flatMap((view) =>
      [...source(view).matchAll(/it\.(?:t|strong)\('([\w.-]+)'/g)].map((match) => match[1]!).filter((key) => !known(key)).map((key) => `${view}: ${key}`),
    );
    expect(missing).toEqual([]);
  });

  it('has the title and message of every error page the code throws', () => {
    const pages = sourceFiles(path.join(projectRoot, 'src')).flatMap((file) =>
      [...readFileSync(file, 'utf8').matchAll(/new (?:PageError|TooManyRequestsError)\([^,]+, '([\w.]+)'/g)].map((match) => match[1]!),
    );
    expect(pages.length).toBeGreaterThan(10);
    for (const page of [...pages, 'server', 'unavailable', 'notFound', 'tooLarge', 'badRequest', 'formExpired', 'tooManyMails', 'tooManyAdminRequests']) {
      expect(english, page).toHaveProperty([`errors.${page}.title`]);
      expect(english, page).toHaveProperty([`errors.${page}.message`]);
    }
  });

  it.each(templates)('%s has no words outside the catalogue', (view) => {
    const template = source(view);
    const visible = template
      .replace(/<%[\s\S]*?%>/g, ' ')
      .replace(/<[^>]*>/g, ' ')
      .replace(/&\w+;/g, ' ');
    expect(visible.match(/\p{L}{2,}/gu) ?? [], 'text between tags').toEqual([]);
    const attributes = [...template.matchAll(/\s(?:placeholder|aria-label|alt|title)="([^"]*)"/g)].map((match) => match[1]!);
    // Attribute words come from it.t too; an example value such as users.disable is not prose.
    expect(attributes.filter((value) => !value.includes('<%') && /\p{L}\s/u.test(value))).toEqual([]);
  });
});
