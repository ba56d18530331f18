import { type FSWatcher, statSync, watch } from 'node:fs';
import path from 'node:path';
import type { JWK } from 'jose';

import { readJwks, type JwksSource } from './secrets.ts';
import { publicKeysOf, type StoredJwks } from './signing-keys.ts';

/** How often JWKS_FILE is checked when no file-system event came (network and container volumes send none). */
export const JWKS_FILE_POLL_MS = 2000;

/**
 * The signing keys as they are now. With JWKS_FILE every node watches the file, so a set written by
 * `keys rotate` (added or removed keys) is taken up within seconds, without a restart; the JWKS
 * variable and the development keys never change while the server runs.
 */
export interface LiveJwks {
  current(): StoredJwks;
  /** The public half of each key, the same array until the set changes. */
  publicKeys(): JWK[];
  /** Called with each new set read from JWKS_FILE. */
  onChange(listener: (jwks: StoredJwks) => void): void;
  close(): void;
}

export interface LiveJwksEvents {
  changed(kids: string[]): void;
  /** The file could not be read or is not a usable set: the keys in use stay as they were. */
  refused(error: Error): void;
}

/** What tells that the file was replaced or rewritten: its inode (a rename), size and time of change. */
function fingerprint(file: string): string | undefined {
  try {
    const { ino, size, mtimeMs, ctimeMs } = statSync(file);
    return `${ino}:${size}:${mtimeMs}:${ctimeMs}`;
  } catch {
    return undefined;
  }
}

export function liveJwks(source: JwksSource, initial: StoredJwks, events: LiveJwksEvents, pollMs = JWKS_FILE_POLL_MS): LiveJwks {
  let jwks = initial;
  let publicKeys = publicKeysOf(jwks);
  const listeners: ((jwks: StoredJwks) => void)[] = [];
  if (!source || !('file' in source)) {
    return { current: () => jwks, publicKeys: () => publicKeys, onChange: (listener) => void listeners.push(listener), close: () => {} };
  }

  const { file } = source;
  let seen = fingerprint(file);
  const reload = () => {
    const now = fingerprint(file);
    if (now === seen) return;
    seen = now;
    try {
      jwks = readJwks(source);
      publicKeys = publicKeysOf(jwks);
    } catch (error) {
      events.refused(error as Error);
      return;
    }
    events.changed(jwks.keys.map((key) => key.kid!));
    for (const listener of listeners) listener(jwks);
  };

  // `keys rotate` renames a new file over the old one: watching the directory sees that, and the
  // file's own inode would be gone. The poll covers file systems that report nothing.
  let watcher: FSWatcher | undefined;
  try {
    watcher = watch(path.dirname(file), { persistent: false }, (_event, name) => {
      if (name === null || name === path.basename(file)) reload();
    });
    watcher.on('error', () => watcher?.close());
  } catch {
    watcher = undefined;
  }
  const poll = setInterval(reload, pollMs);
  poll.unref();

  return {
    current: () => jwks,
    publicKeys: () => publicKeys,
    onChange: (listener) => void listeners.push(listener),
    close() {
      clearInterval(poll);
      watcher?.close();
    },
  };
}
