import { mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { availableParallelism, tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';

import { migrations } from '../../migrations/index.ts';
import { readmePath, readmeWithTable } from '../../scripts/config-table.ts';
import { ConfigError, loadConfig, settings } from '../../src/config.ts';
import { projectRoot } from '../../src/paths.ts';

function problemsOf(env: Record<string, string>): string[] {
  try {
    loadConfig(env);
  } catch (error) {
    if (error instanceof ConfigError) return error.problems;
    throw error;
  }
  return [];
}

describe('configuration', () => {
  it('runs on the embedded defaults with nothing set', () => {
    const config = loadConfig({});
    expect(config).toMatchObject({
      env: 'development',
      port: 3000,
      issuer: 'http://localhost:3000',
      databaseUrl: undefined,
      dataDir: path.resolve('./data'),
      cookieKeys: undefined,
      jwks: undefined,
      trustProxy: { hops: 0 },
      passwordMinLength: 8,
      argon2: { memoryCost: 19456, timeCost: 2, parallelism: 1 },
    });
    expect(config.clientsFile).toMatch(/config\/clients(\.example)?\.json$/);
  });

  it('reads a blank setting as unset: its default, or what happens without it', () => {
    const config = loadConfig({ PORT: ' ', MFA: '', TRUST_PROXY: '  ', ISSUER: '', ARGON2_CONCURRENCY: '' });
    expect(config).toMatchObject({ port: 3000, mfa: 'optional', trustProxy: { hops: 0 }, issuer: 'http://localhost:3000' });
    expect(config.argon2Concurrency).toBe(availableParallelism());
  });

  it('derives the issuer from PORT and trims a trailing slash from ISSUER', () => {
    expect(loadConfig({ PORT: '4000' }).issuer).toBe('http://localhost:4000');
    expect(loadConfig({ ISSUER: 'https://id.example.com/' }).issuer).toBe('https://id.example.com');
  });

  it('drains for SHUTDOWN_GRACE_SECONDS when stopped: none in development unless set', () => {
    expect(loadConfig({}).shutdownGraceSeconds).toBe(0);
    expect(loadConfig({ SHUTDOWN_GRACE_SECONDS: '3' }).shutdownGraceSeconds).toBe(3);
    expect(problemsOf({ SHUTDOWN_GRACE_SECONDS: '-1' })).toEqual([expect.stringMatching(/^SHUTDOWN_GRACE_SECONDS/)]);
  });

  it('names every bad value', () => {
    const problems = problemsOf({ PORT: 'eighty', DATABASE_URL: 'mysql://x', TRUST_PROXY: 'maybe', ARGON2_MEMORY_KIB: '1024' });
    expect(problems.map((p) => p.split(':')[0])).toEqual(['PORT', 'DATABASE_URL', 'TRUST_PROXY', 'ARGON2_MEMORY_KIB']);
  });

  it('refuses argon2 parameters below the OWASP minimum', () => {
    expect(problemsOf({ ARGON2_ITERATIONS: '1' })).toEqual([expect.stringMatching(/^ARGON2_ITERATIONS/)]);
  });

  it('refuses every development shortcut in production and says which setting is missing', () => {
    const problems = problemsOf({ NODE_ENV: 'production', ISSUER: 'http://id.example.com' });
    expect(problems).toEqual([
      expect.stringMatching(/^DATABASE_URL is required in production/),
      expect.stringMatching(/^COOKIE_KEYS is required in production/),
      expect.stringMatching(/^JWKS_FILE or JWKS is required in production/),
      expect.stringMatching(/^SECRETS_KEY is required in production/),
      expect.stringMatching(/^SMTP_URL is required in production/),
      expect.stringMatching(/^ISSUER must be an https URL in production/),
      expect.stringMatching(/^CLIENTS_FILE is required in production/),
    ]);
  });

  it('starts in production when everything is configured', () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'idp-config-'));
    writeFileSync(path.join(dir, 'clients.json'), '[]');
    const config = loadConfig({
      NODE_ENV: 'production',
      ISSUER: 'https://id.example.com',
      DATABASE_URL: 'postgres://idp@db/idp',
      COOKIE_KEYS: `${'a'.repeat(32)},${'b'.repeat(32)}`,
      JWKS_FILE: path.join(dir, 'jwks.json'),
      CLIENTS_FILE: path.join(dir, 'clients.json'),
      SMTP_URL: 'smtp://mail.example.com:587',
      SECRETS_KEY: `k2:${Buffer.alloc(32, 2).toString('base64')}, k1:${Buffer.alloc(32, 1).toString('base64url')}`,
    });
    expect(config.cookieKeys).toEqual(['a'.repeat(32), 'b'.repeat(32)]);
    expect(config.shutdownGraceSeconds).toBe(10);
    expect(config.secretsKeys).toEqual([
      { kid: 'k2', key: Buffer.alloc(32, 2) },
      { kid: 'k1', key: Buffer.alloc(32, 1) },
    ]);
  });

  it('refuses a SECRETS_KEY that is not a list of kid:key entries of 32 bytes each', () => {
    const key = Buffer.alloc(32, 7).toString('base64');
    expect(problemsOf({ SECRETS_KEY: key })).toEqual([expect.stringMatching(/^SECRETS_KEY: each entry is kid:key/)]);
    expect(problemsOf({ SECRETS_KEY: `k1:${Buffer.alloc(16).toString('base64')}` })).toEqual([expect.stringMatching(/^SECRETS_KEY: the key of "k1" must be 32 bytes/)]);
    expect(problemsOf({ SECRETS_KEY: `k1:${key},k1:${key}` })).toEqual(['SECRETS_KEY: a kid is listed twice']);
  });

  it('refuses short cookie keys and half-configured admin bootstrap', () => {
    expect(problemsOf({ COOKIE_KEYS: 'short' })).toEqual([expect.stringMatching(/^COOKIE_KEYS: each key/)]);
    expect(problemsOf({ ADMIN_EMAIL: 'root@example.com' })).toEqual(['ADMIN_EMAIL needs ADMIN_PASSWORD or ADMIN_PASSWORD_FILE']);
    expect(problemsOf({ ADMIN_PASSWORD: 'x' })).toEqual(['ADMIN_PASSWORD needs ADMIN_EMAIL']);
    expect(problemsOf({ ADMIN_EMAIL: 'root@example.com', ADMIN_PASSWORD_FILE: '/no/such/file' })).toEqual([
      'ADMIN_PASSWORD_FILE: cannot read /no/such/file',
      'ADMIN_EMAIL needs ADMIN_PASSWORD or ADMIN_PASSWORD_FILE',
    ]);
  });

  it('chooses where sessions live: SQL by default, else standalone Redis, Cluster or Sentinel', () => {
    expect(loadConfig({}).redis).toBeUndefined();
    expect(loadConfig({ REDIS_URL: 'redis://:pw@cache:6379/2' }).redis).toEqual({
      mode: 'standalone',
      url: 'redis://:pw@cache:6379/2',
      keyPrefix: 'idp:',
    });
    expect(loadConfig({ REDIS_CLUSTER_NODES: 'a:7000, b:7001,[::1]:7002', REDIS_KEY_PREFIX: 'prod:' }).redis).toEqual({
      mode: 'cluster',
      nodes: [{ host: 'a', port: 7000 }, { host: 'b', port: 7001 }, { host: '::1', port: 7002 }],
      url: undefined,
      keyPrefix: 'prod:',
    });
    expect(loadConfig({ REDIS_SENTINELS: 's1:26379', REDIS_SENTINEL_NAME: 'main' }).redis).toMatchObject({
      mode: 'sentinel',
      sentinels: [{ host: 's1', port: 26379 }],
      name: 'main',
    });
    expect(problemsOf({ REDIS_SENTINELS: 's1:26379' })).toEqual(['REDIS_SENTINELS needs REDIS_SENTINEL_NAME']);
    expect(problemsOf({ REDIS_CLUSTER_NODES: 'nohost' })).toEqual(['REDIS_CLUSTER_NODES: "nohost" is not host:port']);
    expect(problemsOf({ REDIS_URL: 'http://cache' })[0]).toMatch(/^REDIS_URL/);
  });

  it('lets the IdP call private addresses outside production only, unless told', () => {
    expect(loadConfig({}).allowPrivateNetworkRequests).toBe(true);
    expect(loadConfig({ ALLOW_PRIVATE_NETWORK_REQUESTS: 'false' }).allowPrivateNetworkRequests).toBe(false);
  });

  it('binds the server to HOST (every interface when unset) and the metrics listener to this machine unless told', () => {
    expect(loadConfig({})).toMatchObject({ host: undefined, metricsPort: undefined, metricsHost: '127.0.0.1' });
    expect(loadConfig({ HOST: '10.0.0.5', METRICS_PORT: '9464', METRICS_HOST: '::' })).toMatchObject({ host: '10.0.0.5', metricsPort: 9464, metricsHost: '::' });
    expect(problemsOf({ HOST: 'bad host/name' })).toEqual([expect.stringMatching(/^HOST: an IP address or a host name/)]);
    expect(problemsOf({ PORT: '8080', METRICS_PORT: '8080' })).toEqual([expect.stringMatching(/^METRICS_PORT must differ from PORT/)]);
  });

  it('documents every setting it reads in the README table, generated from the same list', () => {
    const readme = readFileSync(readmePath, 'utf8');
    expect(readmeWithTable(readme), 'run `npm run docs:config`').toBe(readme);
    for (const name of Object.keys(settings)) expect(readme).toContain(`| \`${name}\` |`);
  });
});

it('lists every migration file in migrations/index.ts, in order', () => {
  const files = readdirSync(path.join(projectRoot, 'migrations'))
    .filter((file) => /^\d+_.+\.ts$/.test(file))
    .map((file) => file.replace(/\.ts$/, ''))
    .sort();
  expect(Object.keys(migrations)).toEqual(files);
});
