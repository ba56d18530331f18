import { existsSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

function findProjectRoot(start: string): string {
  let dir = start;
  while (!existsSync(path.join(dir, 'package.json'))) {
    const parent = path.dirname(dir);
    if (parent === dir) throw new Error(`package.json not found above ${start}`);
    dir = parent;
  }
  return dir;
}

const here = fileURLToPath(import.meta.url);

/** The folder holding package.json, views/ and config/, whether run from src/ or from a build in dist/. */
export const projectRoot = findProjectRoot(path.dirname(here));

/** Migrations run as TypeScript from the source tree, or as JavaScript from the build. */
export const migrationsDir = here.endsWith('.ts')
  ? path.join(projectRoot, 'migrations')
  : path.join(projectRoot, 'dist', 'migrations');

export const viewsDir = path.join(projectRoot, 'views');
