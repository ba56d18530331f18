/**
 * A store (Postgres or Redis) did not answer. Carries status 503, which node-oidc-provider's
 * error handlers and ours both honour; it exposes nothing of the cause to the client.
 */
export class StoreUnavailableError extends Error {
  readonly status = 503;
  readonly statusCode = 503;
  readonly expose = false;

  constructor(store: string, cause: unknown) {
    super(`${store} is unreachable`, { cause });
    this.name = 'StoreUnavailableError';
  }
}

const networkCodes = new Set(['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'ENOTFOUND', 'EHOSTUNREACH', 'EPIPE', 'EAI_AGAIN']);

/** Errors that mean "the database is not reachable now", as opposed to a bad query. */
export function isPostgresUnavailable(error: unknown): boolean {
  if (!(error instanceof Error)) return false;
  const code = (error as { code?: unknown }).code;
  if (typeof code === 'string') {
    // SQLSTATE class 08: connection exception; 57P0x: server shutting down or starting.
    if (networkCodes.has(code) || code.startsWith('08') || /^57P0[1-3]$/.test(code)) return true;
  }
  return /Connection terminated|timeout exceeded when trying to connect|Client has encountered a connection error/.test(error.message);
}

/** Runs a store operation, turning "unreachable" failures into StoreUnavailableError. */
export async function guardStore<T>(store: string, isUnavailable: (error: unknown) => boolean, operation: () => Promise<T>): Promise<T> {
  try {
    return await operation();
  } catch (error) {
    if (error instanceof StoreUnavailableError || !isUnavailable(error)) throw error;
    throw new StoreUnavailableError(store, error);
  }
}
