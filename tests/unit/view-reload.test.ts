import { cpSync, mkdtempSync, readFileSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import { IncomingMessage, ServerResponse } from 'node:http';
import { Socket } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import Koa from 'koa';
import { afterAll, describe, expect, it } from 'vitest';

import { createViews } from '../../src/views/views.ts';

const viewsDir = path.resolve(import.meta.dirname, '../../views');
const copies: string[] = [];
afterAll(() => {
  for (const dir of copies) rmSync(dir, { recursive: true, force: true });
});

/** A copy of views/ to edit, and the logged-out page rendered from it. */
function setUp(reloadChanged: boolean) {
  const dir = mkdtempSync(path.join(tmpdir(), 'idp-views-'));
  copies.push(dir);
  cpSync(viewsDir, dir, { recursive: true });
  const views = createViews({ dir, reloadChanged });
  const request = new IncomingMessage(new Socket());
  request.headers = { 'accept-language': 'en' };
  const ctx = new Koa().createContext(request, new ServerResponse(request));
  let edits = 0;
  return {
    render: () => views.renderToString(ctx, 'logged-out', {}),
    /** Rewrites a view as a person editing it would (a later modification time), appending `text`. */
    edit(file: string, text: string) {
      const target = path.join(dir, file);
      writeFileSync(target, readFileSync(target, 'utf8') + text);
      edits += 1;
      const later = new Date(Date.now() + edits * 1000);
      utimesSync(target, later, later);
    },
  };
}

describe('views', () => {
  it('in development, show an edited page, layout or partial on the next render', () => {
    const views = setUp(true);
    expect(views.render()).toContain('Signed out');
    views.edit('logged-out.eta', '<p>edited page</p>');
    expect(views.render()).toContain('edited page');
    views.edit('layout.eta', '<!-- edited layout -->');
    const page = views.render();
    expect(page).toContain('edited layout');
    expect(page).toContain('edited page');
  });

  it('in production, keep each page as first compiled', () => {
    const views = setUp(false);
    const first = views.render();
    views.edit('logged-out.eta', '<p>edited page</p>');
    views.edit('layout.eta', '<!-- edited layout -->');
    expect(views.render()).toBe(first);
  });
});
