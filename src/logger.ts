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
 * The server's logger: each line is written to stdout as soon as the event loop is free
 * (asynchronously, but never held back waiting for a batch to fill, so an operator watching
 * the terminal sees the start-up line and each request at once). Whatever is still pending is
 * written out when the process exits.
 */
export function createServerLogger(level: string): Logger {
  const stdout = pino.destination({ dest: 1, sync: false });
  process.on('exit', () => stdout.flushSync());
  return createLogger(level, stdout);
}
