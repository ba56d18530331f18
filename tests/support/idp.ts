import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Writable } from 'node:stream';
import pg from 'pg';
import type { ClientMetadata } from 'oidc-provider';

import { loadConfig } from '../../src/config.ts';
import { createIdp, type Idp } from '../../src/idp.ts';
import { createLogger } from '../../src/logger.ts';
import type { RedisConnection } from '../../src/redis/index.ts';
import { copyMigratedPglite } from './pglite-template.ts';

/** Where accounts live, and where sessions and tokens live: the embedded default, Postgres alone, Postgres with Redis. */
export type Backend = 'pglite' | 'postgres' | 'postgres+redis';

const postgresUrl = process.env.TEST_DATABASE_URL;
const redisUrl = process.env.TEST_REDIS_URL;

/** PGlite always; real Postgres and Redis where TEST_DATABASE_URL and TEST_REDIS_URL are set (CI sets both). */
export const backends: Backend[] = [
  'pglite',
  ...(postgresUrl ? (['postgres'] as const) : []),
  ...(postgresUrl && redisUrl ? (['postgres+redis'] as const) : []),
];
if (!postgresUrl) console.warn('TEST_DATABASE_URL is not set: tests run on embedded PGlite only, not on PostgreSQL.');
if (!redisUrl) console.warn('TEST_REDIS_URL is not set: no test runs the IdP with Redis.');

export const RP_REDIRECT = 'http://127.0.0.1:9/rp/callback';
export const RP_LOGOUT = 'http://127.0.0.1:9/rp/logged-out';

/**
 * A code-flow authorization request of the web app, as a browser is sent to it, for tests that drive a
 * server process by hand. PKCE is required of every client; the challenge is of a verifier those tests never need.
 */
export function webAppAuthorizationUrl(issuer: string, redirectUri: string): URL {
  const url = new URL(`${issuer}/auth`);
  url.search = new URLSearchParams({
    client_id: webAppClient.client_id,
    response_type: 'code',
    scope: 'openid',
    redirect_uri: redirectUri,
    state: 'xyz',
    code_challenge: 'E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM',
    code_challenge_method: 'S256',
  }).toString();
  return url;
}

/** The clients every test IdP knows (`testClients`): import them for their ids and secrets. */
export const webAppClient = {
  client_id: 'web-app',
  client_secret: 'web-app-secret-0123456789abcdef',
  client_name: 'Test Web App',
  redirect_uris: [RP_REDIRECT],
  post_logout_redirect_uris: [RP_LOGOUT],
  grant_types: ['authorization_code', 'refresh_token'],
  response_types: ['code'],
} satisfies ClientMetadata;

export const spaClient = {
  client_id: 'spa',
  client_name: 'Test SPA',
  redirect_uris: [RP_REDIRECT],
  grant_types: ['authorization_code', 'refresh_token'],
  response_types: ['code'],
  token_endpoint_auth_method: 'none',
} satisfies ClientMetadata;

export const firstPartyClient = {
  client_id: 'first-party',
  client_secret: 'first-party-secret-0123456789abcdef',
  client_name: 'Our Own App',
  redirect_uris: [RP_REDIRECT],
  grant_types: ['authorization_code'],
  response_types: ['code'],
  first_party: true,
} satisfies ClientMetadata;

export const tvClient = {
  client_id: 'tv',
  client_name: 'Living Room TV',
  redirect_uris: [],
  grant_types: ['urn:ietf:params:oauth:grant-type:device_code', 'refresh_token'],
  response_types: [],
  token_endpoint_auth_method: 'none',
} satisfies ClientMetadata;

export const parOnlyClient = {
  client_id: 'par-only',
  client_secret: 'par-only-secret-0123456789abcdef',
  redirect_uris: [RP_REDIRECT],
  grant_types: ['authorization_code'],
  response_types: ['code'],
  require_pushed_authorization_requests: true,
} satisfies ClientMetadata;

export const serviceClient = {
  client_id: 'service',
  client_secret: 'service-secret-0123456789abcdef',
  redirect_uris: [],
  grant_types: ['client_credentials'],
  response_types: [],
} satisfies ClientMetadata;

/** The IdP's own public client for the admin CLI: built in, not in any clients file. */
export const adminCliClient = { client_id: 'admin-cli' } satisfies ClientMetadata;

export const testClients: ClientMetadata[] = [webAppClient, spaClient, firstPartyClient, tvClient, parOnlyClient, serviceClient];

/** Everything the IdP logged, one parsed JSON object per line. */
export class LogCapture extends Writable {
  readonly lines: Record<string, any>[] = [];
  raw = '';
  override _write(chunk: Buffer, _encoding: string, done: () => void) {
    const text = chunk.toString();
    this.raw += text;
    for (const line of text.split('\n').filter(Boolean)) this.lines.push(JSON.parse(line));
    done();
  }
  forRequest(requestId: string | null) {
    return this.lines.filter((line) => line.requestId === requestId);
  }
}

export interface TestIdp {
  issuer: string;
  /** Where this instance listens (differs from the issuer when nodes share one). */
  listening: string;
  backend: Backend;
  dataDir: string;
  /** Where this instance keeps its data, for a second node to share it. */
  shared: { databaseUrl: string | undefined; redisKeyPrefix: string };
  logs: LogCapture;
  idp: Idp;
  /** Stops the server and storage, keeping the data; `start` again on the same data, with extra settings if given. */
  stop(): Promise<void>;
  start(extraEnv?: Record<string, string>): Promise<void>;
  /** Stops and deletes the data. */
  destroy(): Promise<void>;
}

export async function createPostgresDatabase(viaPort?: number): Promise<{ url: string; drop(): Promise<void> }> {
  const name = `idp_test_${randomBytes(6).toString('hex')}`;
  const admin = new pg.Client({ connectionString: postgresUrl });
  await admin.connect();
  await admin.query(`create database ${name}`);
  await admin.end();
  const url = new URL(postgresUrl!);
  url.pathname = `/${name}`;
  if (viaPort) url.port = String(viaPort);
  return {
    url: url.toString(),
    async drop() {
      const client = new pg.Client({ connectionString: postgresUrl });
      await client.connect();
      await client.query(`drop database if exists ${name} with (force)`);
      await client.end();
    },
  };
}

async function deleteKeys(redis: RedisConnection, prefix: string) {
  let cursor = '0';
  do {
    const [next, keys] = await redis.scan(cursor, 'MATCH', `${prefix}*`, 'COUNT', 500);
    cursor = next;
    for (const key of keys) await redis.del(key);
  } while (cursor !== '0');
}

async function listen(server: Server, port = 0): Promise<number> {
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, '127.0.0.1', () => resolve());
  });
  return (server.address() as AddressInfo).port;
}

export async function startTestIdp(options: {
  backend: Backend;
  clients?: ClientMetadata[];
  env?: Record<string, string>;
  /** Reach Postgres through this local port (a proxy a test can cut). */
  postgresPort?: number;
  /** The issuer's host name (it listens on 127.0.0.1 all the same): `localhost` for passkeys, which need a domain name. */
  issuerHost?: string;
}): Promise<TestIdp> {
  const dataDir = mkdtempSync(path.join(tmpdir(), 'idp-test-'));
  const clientsFile = path.join(dataDir, 'clients.json');
  writeFileSync(clientsFile, JSON.stringify(options.clients ?? testClients));
  const database = options.backend === 'pglite' ? undefined : await createPostgresDatabase(options.postgresPort);
  if (!database) await copyMigratedPglite(dataDir);
  const redisKeyPrefix = `test:${randomBytes(6).toString('hex')}:`;
  const logs = new LogCapture();

  let server: Server;
  let port = 0;
  const handle: TestIdp = {
    issuer: '',
    listening: '',
    backend: options.backend,
    dataDir,
    shared: { databaseUrl: database?.url, redisKeyPrefix },
    logs,
    idp: undefined as unknown as Idp,
    async start(extraEnv = {}) {
      server = createServer();
      port = await listen(server, port);
      const env = { ...options.env, ...extraEnv };
      handle.listening = `http://127.0.0.1:${port}`;
      handle.issuer = env.ISSUER ?? `http://${options.issuerHost ?? '127.0.0.1'}:${port}`;
      const config = loadConfig({
        NODE_ENV: 'test',
        PORT: String(port),
        ISSUER: handle.issuer,
        DATA_DIR: dataDir,
        DATABASE_URL: database?.url,
        ...(options.backend === 'postgres+redis' ? { REDIS_URL: redisUrl, REDIS_KEY_PREFIX: redisKeyPrefix } : {}),
        CLIENTS_FILE: clientsFile,
        LOG_LEVEL: 'info',
        ...options.env,
        ...extraEnv,
      });
      handle.idp = await createIdp(config, createLogger(config.logLevel, logs));
      server.on('request', handle.idp.app.callback());
    },
    async stop() {
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
      await handle.idp.close();
    },
    async destroy() {
      if (handle.idp.redis) await deleteKeys(handle.idp.redis, redisKeyPrefix);
      await handle.stop();
      await database?.drop();
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
  try {
    await handle.start();
  } catch (error) {
    // Refused to start (a test of bad settings): leave nothing behind.
    await new Promise((resolve) => server.close(resolve));
    await database?.drop();
    rmSync(dataDir, { recursive: true, force: true });
    throw error;
  }
  return handle;
}
