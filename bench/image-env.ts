import path from 'node:path';
import { fileURLToPath } from 'node:url';

import { readDockerfile } from '../tests/support/dockerfile.ts';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

/** Settings of the process rather than of the IdP: the image sets them for every command it runs. */
const PROCESS_SETTINGS = ['GLIBC_TUNABLES', 'NODE_OPTIONS'];

/**
 * The process settings of the Dockerfile's last stage (its malloc tuning): every process the bench
 * measures gets them, the baseline's too, so each runs as production runs it.
 */
export function imageProcessEnv(): Record<string, string> {
  const runStage = readDockerfile(path.join(root, 'Dockerfile')).at(-1);
  return Object.fromEntries(Object.entries(runStage?.env ?? {}).filter(([name]) => PROCESS_SETTINGS.includes(name)));
}
