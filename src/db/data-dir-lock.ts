import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';

export class DataDirLockedError extends Error {}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

function readHolder(file: string): { pid: number; command: string } | undefined {
  try {
    return JSON.parse(readFileSync(file, 'utf8'));
  } catch {
    return undefined;
  }
}

/**
 * PGlite has no lock of its own: two processes on one folder both write and lose
 * each other's writes. This pid file makes the second process refuse at once.
 */
export function lockDataDir(dataDir: string): () => void {
  mkdirSync(dataDir, { recursive: true });
  const file = path.join(dataDir, 'idp.lock');
  const holder = JSON.stringify({ pid: process.pid, command: process.argv.slice(1).join(' ') });

  for (let attempt = 0; attempt < 2; attempt += 1) {
    try {
      writeFileSync(file, holder, { flag: 'wx' });
      return () => rmSync(file, { force: true });
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
      const current = readHolder(file);
      if (current && isAlive(current.pid)) {
        throw new DataDirLockedError(
          `The data folder ${dataDir} is in use by process ${current.pid} (${current.command}). ` +
            'Stop that process first, or set DATA_DIR to another folder.',
        );
      }
      rmSync(file, { force: true });
    }
  }
  throw new DataDirLockedError(`Could not lock the data folder ${dataDir}: another process is starting on it.`);
}
