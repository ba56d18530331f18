import { pino, type DestinationStream, type Logger } from 'pino';

export type { Logger };

/** Paths that could ever carry a secret; pino replaces their values before writing. */
const redact = [
  'password',
  '*.password',
  'token',
  '*.token',
  'secret',
  '*.secret',
  'req.headers.authorization',
  'req.headers.cookie',
  'res.headers["set-cookie"]',
];

export function createLogger(level: string, destination?: DestinationStream): Logger {
  const options = { level, redact: { paths: redact, censor: '[redacted]' } };
  return destination ? pino(options, destination) : pino(options);
}

/**
 * The server's logger: lines go to stdout in batches (no write call per request line), and
 * whatever is still buffered is written out when the process exits.
 */
export function createServerLogger(level: string): Logger {
  const stdout = pino.destination({ dest: 1, sync: false, minLength: 4096 });
  process.on('exit', () => stdout.flushSync());
  return createLogger(level, stdout);
}
