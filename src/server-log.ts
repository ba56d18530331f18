import { settings } from './config.ts';
import { createServerLogger, sendProcessOutputTo } from './logger.ts';

/**
 * The server's logger, made before anything else loads: main.ts imports this module first. In
 * production, or with LOG_FORMAT=json, stdout carries nothing but JSON lines, and that must hold
 * from the first line: node-oidc-provider warns (an unsupported Node.js) as soon as it is imported.
 * So the three settings it needs are read here from the environment, each by its own parser; a bad
 * value falls back to the default here, and loadConfig refuses it with the other settings.
 */
function setting<Name extends 'NODE_ENV' | 'LOG_FORMAT' | 'LOG_LEVEL'>(name: Name): string {
  const parsed = settings[name].parser.safeParse(process.env[name]?.trim() || settings[name].default);
  return parsed.success ? String(parsed.data) : settings[name].default;
}

const level = setting('LOG_LEVEL');
export const serverLog = createServerLogger(level);
// LOG_LEVEL=silent writes no log at all: a crash then keeps Node's own report on stderr rather than vanish.
if ((setting('NODE_ENV') === 'production' || setting('LOG_FORMAT') === 'json') && level !== 'silent') sendProcessOutputTo(serverLog);
