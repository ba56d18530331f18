import pg from 'pg';

export interface NoticeHandlers {
  /** A NOTIFY on the channel, with its payload. */
  notice(payload: string): void;
  /**
   * Whether notices are being received: true once listening, false as soon as the listening connection is
   * lost (whatever changed meanwhile went unnoticed), true again once it listens anew.
   */
  following(following: boolean): void;
}

export interface NoticeListenerOptions {
  /** How often the listening connection proves it is alive (a query answered within half this). */
  heartbeatMs?: number;
  /** How long to wait before listening again after the connection was lost. */
  retryMs?: number;
  onError?: (error: Error) => void;
}

/**
 * LISTEN on a PostgreSQL channel over a connection of its own (a pooled one would be handed to other
 * queries), listening again after the connection drops. A connection that dies without closing (a
 * network that stops answering) is found by the heartbeat, so `following(false)` comes within
 * 1.5 heartbeats at most.
 */
export function listenForNotices(connectionString: string, channel: string, handlers: NoticeHandlers, options: NoticeListenerOptions = {}) {
  const heartbeatMs = options.heartbeatMs ?? 5000;
  const retryMs = options.retryMs ?? 1000;
  let stopped = false;
  let client: pg.Client | undefined;
  let heartbeat: NodeJS.Timeout | undefined;
  let retry: NodeJS.Timeout | undefined;

  const lost = (connection: pg.Client, error?: Error) => {
    if (connection !== client) return;
    client = undefined;
    clearInterval(heartbeat);
    if (error) options.onError?.(error);
    handlers.following(false);
    connection.end().catch(() => {});
    if (!stopped) retry = setTimeout(connect, retryMs);
  };

  async function connect() {
    const connection = new pg.Client({ connectionString, keepAlive: true, connectionTimeoutMillis: heartbeatMs, application_name: `idp listening on ${channel}` });
    client = connection;
    connection.on('notification', (message) => {
      if (message.channel === channel) handlers.notice(message.payload ?? '');
    });
    connection.on('error', (error) => lost(connection, error));
    connection.on('end', () => lost(connection));
    try {
      await connection.connect();
      await connection.query(`LISTEN ${pg.escapeIdentifier(channel)}`);
    } catch (error) {
      lost(connection, error as Error);
      return;
    }
    if (connection !== client) return;
    handlers.following(true);
    heartbeat = setInterval(() => {
      const timeout = new Promise<never>((_, reject) => setTimeout(() => reject(new Error('notice listener: no answer to its heartbeat')), heartbeatMs / 2).unref());
      Promise.race([connection.query('select 1'), timeout]).catch((error: Error) => lost(connection, error));
    }, heartbeatMs).unref();
  }

  void connect();
  return async () => {
    stopped = true;
    clearTimeout(retry);
    clearInterval(heartbeat);
    const connection = client;
    client = undefined;
    await connection?.end().catch(() => {});
  };
}
