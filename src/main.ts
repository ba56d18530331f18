// First: in production the log must be the only thing on stdout before any other module speaks.
import { serverLog } from './server-log.ts';

import { createServer } from 'node:http';

import { FirstAdminEmailTakenError } from './accounts/index.ts';
import { ClientsFileError, ResourceServersFileError } from './clients/index.ts';
import { type Config, ConfigError, loadConfig, metricsServedOn } from './config.ts';
import { DataDirLockedError, missingDatabaseAdvice } from './db/index.ts';
import { createIdp } from './idp.ts';
import { SigningKeysError } from './keys/index.ts';
import type { Logger } from './logger.ts';

/** After the grace period, how long requests still in flight may take before their connections are cut. */
const IN_FLIGHT_LIMIT_MS = 10_000;

/** The environment is not ready and the message says what to do: printed alone, without a stack. */
class StartupRefusal extends Error {}

const FIRST_ADMIN_COMMAND =
  "printf %s 'a long password' | npm run admin -- create-user --email you@example.com --password-stdin --role super_admin --verified";

/** Where Prometheus scrapes, or why nowhere. */
function metricsAddress(config: Config): string {
  const servedOn = metricsServedOn(config);
  if (servedOn === 'nowhere') return 'off (set METRICS_PORT to serve /metrics on a port of its own)';
  if (servedOn === 'main port') return `${config.issuer}/metrics`;
  const host = config.metricsHost.includes(':') ? `[${config.metricsHost}]` : config.metricsHost;
  return `http://${host}:${config.metricsPort}/metrics`;
}

/** Where an operator goes next, printed once the server listens. */
function startupSummary(config: Config, superAdminExists: boolean) {
  return {
    issuer: config.issuer,
    port: config.port,
    discovery: `${config.issuer}/.well-known/openid-configuration`,
    accountPage: `${config.issuer}/account`,
    adminConsole: `${config.issuer}/admin`,
    metrics: metricsAddress(config),
    devOutbox: config.smtpUrl ? undefined : `${config.issuer}/dev/outbox`,
    firstAdmin: superAdminExists
      ? undefined
      : {
          command: FIRST_ADMIN_COMMAND,
          // PGlite has no lock of its own: the CLI refuses DATA_DIR while the server holds it.
          stopServerFirst: config.databaseUrl === undefined,
        },
  };
}

type StartupSummary = ReturnType<typeof startupSummary>;

function readableSummary(summary: StartupSummary): string {
  const lines = [
    `Identity provider listening on port ${summary.port}`,
    `  Issuer         ${summary.issuer}`,
    `  Discovery      ${summary.discovery}`,
    `  Account page   ${summary.accountPage}`,
    `  Admin console  ${summary.adminConsole}`,
    `  Metrics        ${summary.metrics}`,
  ];
  if (summary.devOutbox) lines.push(`  Mail outbox    ${summary.devOutbox}  (no SMTP_URL: mail is kept here, not sent)`);
  if (summary.firstAdmin) {
    lines.push(
      '',
      summary.firstAdmin.stopServerFirst
        ? 'No super admin yet. To make the first one, stop this server (the embedded database in DATA_DIR allows one process at a time) and run:'
        : 'No super admin yet. To make the first one, run:',
      `  ${summary.firstAdmin.command}`,
      'or start the server with ADMIN_EMAIL and ADMIN_PASSWORD set.',
    );
  }
  return `${lines.join('\n')}\n`;
}

function printStartupSummary(config: Config, log: Logger, summary: StartupSummary): void {
  if (config.logFormat === 'auto' && process.stdout.isTTY) {
    process.stdout.write(readableSummary(summary));
  } else {
    log.info(summary, `identity provider listening; discovery at ${summary.discovery}`);
  }
}

async function main(): Promise<void> {
  const config = loadConfig();
  const log = serverLog;
  const idp = await createIdp(config, log).catch((error: unknown) => {
    const advice = missingDatabaseAdvice(error, config.databaseUrl);
    throw advice ? new StartupRefusal(advice) : error;
  });

  const handle = idp.app.callback();
  let draining = false;
  const server = createServer((req, res) => {
    // While draining, each response closes its connection, so clients and proxies reconnect to another node.
    if (draining) res.shouldKeepAlive = false;
    return handle(req, res);
  });
  const metricsServer = idp.metricsApp
    ? createServer(idp.metricsApp.callback()).listen({ port: config.metricsPort, host: config.metricsHost })
    : undefined;
  const summary = startupSummary(config, await idp.accounts.superAdminExists());
  // host undefined: every interface.
  server.listen({ port: config.port, host: config.host }, () => printStartupSummary(config, log, summary));

  /**
   * Draining: /readyz fails at once so the load balancer stops sending, every request is still served for
   * SHUTDOWN_GRACE_SECONDS, then the server stops accepting, finishes what is in flight and exits 0.
   */
  let closing = false;
  let graceTimer: NodeJS.Timeout | undefined;
  const close = () => {
    if (closing) return;
    closing = true;
    clearTimeout(graceTimer);
    metricsServer?.close();
    const force = setTimeout(() => server.closeAllConnections(), IN_FLIGHT_LIMIT_MS).unref();
    // Closing the listening socket resets connections the kernel has accepted but Node has not yet taken,
    // and a proxy does not resend a POST it has written to one. In the check phase, right after the poll
    // phase has taken every pending connection, that backlog is as short as it gets. Connections taken but
    // with no request yet are kept: their request is served, with Connection: close.
    setImmediate(() => {
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
    });
  };
  const stop = (signal: string) => {
    if (draining) {
      // A second signal: stop waiting for the grace period.
      close();
      return;
    }
    draining = true;
    idp.startDraining();
    log.info({ signal, graceSeconds: config.shutdownGraceSeconds }, 'shutting down: /readyz fails now, requests are served until the grace period ends');
    graceTimer = setTimeout(close, config.shutdownGraceSeconds * 1000);
  };
  process.on('SIGTERM', () => stop('SIGTERM'));
  process.on('SIGINT', () => stop('SIGINT'));
}

main().catch((error) => {
  const refusals = [StartupRefusal, ConfigError, FirstAdminEmailTakenError, DataDirLockedError, SigningKeysError, ClientsFileError, ResourceServersFileError];
  if (refusals.some((refusal) => error instanceof refusal)) {
    console.error(error.message);
  } else {
    console.error('The identity provider could not start:', error);
  }
  process.exit(1);
});
