import { createServer } from 'node:http';

import { ClientsFileError, ResourceServersFileError } from './clients/index.ts';
import { ConfigError, loadConfig } from './config.ts';
import { DataDirLockedError } from './db/index.ts';
import { createIdp } from './idp.ts';
import { SigningKeysError } from './keys/index.ts';
import { createServerLogger } from './logger.ts';

const SHUTDOWN_GRACE_MS = 10_000;

async function main(): Promise<void> {
  const config = loadConfig();
  const log = createServerLogger(config.logLevel);
  const idp = await createIdp(config, log);

  const server = createServer(idp.app.callback());
  const metricsServer = idp.metricsApp ? createServer(idp.metricsApp.callback()).listen(config.metricsPort) : undefined;
  server.listen(config.port, () => {
    log.info({ issuer: config.issuer, port: config.port }, `identity provider listening; discovery at ${config.issuer}/.well-known/openid-configuration`);
  });

  let stopping = false;
  const stop = (signal: string) => {
    if (stopping) return;
    stopping = true;
    log.info({ signal }, 'shutting down');
    metricsServer?.close();
    const force = setTimeout(() => server.closeAllConnections(), SHUTDOWN_GRACE_MS).unref();
    server.close(() => {
      clearTimeout(force);
      idp.close().then(
        () => process.exit(0),
        (err) => {
          log.error({ err }, 'shutdown failed');
          process.exit(1);
        },
      );
    });
    server.closeIdleConnections();
  };
  process.on('SIGTERM', () => stop('SIGTERM'));
  process.on('SIGINT', () => stop('SIGINT'));
}

main().catch((error) => {
  const refusals = [ConfigError, DataDirLockedError, SigningKeysError, ClientsFileError, ResourceServersFileError];
  if (refusals.some((refusal) => error instanceof refusal)) {
    console.error(error.message);
  } else {
    console.error('The identity provider could not start:', error);
  }
  process.exit(1);
});
