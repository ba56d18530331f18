import { format, stripVTControlCharacters } from 'node:util';
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

interface LoggedError {
  type: string;
  message: string;
  stack?: string | undefined;
  code?: unknown;
  cause?: LoggedError | undefined;
}

/**
 * An error as a log line holds it: its kind, message, stack, code and cause, and nothing else. pino's own
 * serializer copies every property, and libraries hang whole objects on their errors (pg a client with its
 * connection settings, HTTP clients the request and its headers), which could carry a password or a token.
 */
function loggedError(err: unknown, depth = 0): LoggedError | undefined {
  if (!(err instanceof Error)) return err === undefined ? undefined : { type: typeof err, message: String(err) };
  const code = (err as { code?: unknown }).code;
  return {
    type: err.constructor?.name ?? 'Error',
    message: err.message,
    stack: err.stack,
    ...(typeof code === 'string' || typeof code === 'number' ? { code } : {}),
    ...(err.cause !== undefined && depth < 3 ? { cause: loggedError(err.cause, depth + 1) } : {}),
  };
}

export function createLogger(level: string, destination?: DestinationStream): Logger {
  const options = { level, redact: { paths: redact, censor: '[redacted]' }, serializers: { err: loggedError } };
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

type ConsoleMethod = 'log' | 'info' | 'warn' | 'error' | 'debug' | 'trace';
const consoleLevels: Record<ConsoleMethod, 'info' | 'warn' | 'error' | 'debug' | 'trace'> = {
  log: 'info',
  info: 'info',
  warn: 'warn',
  error: 'error',
  debug: 'debug',
  trace: 'trace',
};

/** A console call as one log line: its text (colours stripped, an error by its message) and the first error, stack and all. */
function consoleLine(args: unknown[]): { err: Error | undefined; msg: string } {
  const err = args.find((arg): arg is Error => arg instanceof Error);
  const msg = stripVTControlCharacters(format(...args.map((arg) => (arg instanceof Error ? arg.message : arg))));
  return { err, msg };
}

/**
 * Makes the log the only thing on stdout: console output (node-oidc-provider's warnings), process
 * warnings and crashes (an uncaught exception or an unhandled rejection) become JSON lines, the
 * message as `msg` and the stack under `err`; after a crash the process exits with status 1 once
 * the line is written. Without this they are plain text on stderr, which a log collector reading
 * JSON lines mangles or drops.
 */
export function sendProcessOutputTo(log: Logger): void {
  for (const method of Object.keys(consoleLevels) as ConsoleMethod[]) {
    const level = consoleLevels[method];
    console[method] = (...args: unknown[]) => {
      const { err, msg } = consoleLine(args);
      log[level](err ? { err } : {}, msg);
    };
  }
  process.removeAllListeners('warning'); // Node's own listener prints them as text on stderr
  process.on('warning', (warning) => log.warn({ err: warning }, warning.message));
  process.on('uncaughtException', (error, origin) => {
    const err = error instanceof Error ? error : new Error(String(error));
    log.fatal({ err, origin }, err.message);
    process.exit(1);
  });
}
