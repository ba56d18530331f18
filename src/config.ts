import { readFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import path from 'node:path';
import proxyaddr from 'proxy-addr';
import { z } from 'zod';

import { parseSecretsKeys, type SecretsKey } from './crypto/index.ts';
import { projectRoot } from './paths.ts';

/**
 * Every setting the IdP reads from the environment, with its default and what to
 * set in production. The README's configuration table is generated from this list
 * (`npm run docs:config`), and a test fails when the two differ.
 */
export const settings = {
  NODE_ENV: {
    default: 'development',
    doc: '`production` refuses every development shortcut (embedded database, generated keys, http issuer).',
  },
  PORT: { default: '3000', doc: 'TCP port the HTTP server listens on.' },
  ISSUER: {
    default: 'http://localhost:$PORT',
    doc: 'Public URL of the IdP, the `iss` of every token. Must be https in production (localhost excepted). Its host is the passkeys RP ID: with an IP address, passkeys are off.',
  },
  DATABASE_URL: {
    default: '(unset: embedded PGlite)',
    doc: 'PostgreSQL connection string. Unset: an embedded PGlite database in `DATA_DIR` (development only).',
  },
  DATA_DIR: {
    default: './data',
    doc: 'Folder for the embedded database and generated keys. One process at a time holds it.',
  },
  REDIS_URL: {
    default: '(unset)',
    doc: 'Redis (7 or later) for sessions, grants and tokens, e.g. `redis://:password@host:6379/0`. Unset: they are kept in the SQL database.',
  },
  REDIS_CLUSTER_NODES: {
    default: '(unset)',
    doc: 'Redis Cluster instead: comma-separated `host:port` seed nodes. Credentials come from `REDIS_URL` when both are set.',
  },
  REDIS_SENTINELS: {
    default: '(unset)',
    doc: 'Redis Sentinel instead: comma-separated `host:port` sentinels; needs `REDIS_SENTINEL_NAME`.',
  },
  REDIS_SENTINEL_NAME: { default: '(unset)', doc: 'Name of the master the sentinels watch.' },
  REDIS_KEY_PREFIX: { default: 'idp:', doc: 'Prefix of every Redis key, so that several deployments can share one Redis.' },
  COOKIE_KEYS: {
    default: '(generated in `DATA_DIR`)',
    doc: 'Comma-separated secrets that sign cookies; the first signs, all verify. Required in production.',
  },
  JWKS_FILE: {
    default: '(generated in `DATA_DIR`)',
    doc: 'Path of a private JWK Set (JSON) that signs tokens, e.g. from `npm run admin -- generate-jwks`; rotate with `npm run admin -- keys rotate`. This or `JWKS` is required in production.',
  },
  JWKS: {
    default: '(unset)',
    doc: 'The same private JWK Set as JSON in the variable itself (for secret stores that inject variables). Set `JWKS_FILE` or `JWKS`, not both.',
  },
  SECRETS_KEY: {
    default: '(generated in `DATA_DIR`)',
    doc: 'Key that encrypts secrets kept in the database (authenticator app secrets, ids inside stored sessions): comma-separated `kid:key` entries, each key 32 random bytes in base64 (`openssl rand -base64 32`). The first encrypts, all decrypt. Required in production.',
  },
  CLIENTS_FILE: {
    default: 'config/clients.json',
    doc: 'JSON array of client registrations (node-oidc-provider client metadata). When the default file is absent, `config/clients.example.json` is used.',
  },
  RESOURCE_SERVERS_FILE: {
    default: '(unset: none)',
    doc: 'JSON array of APIs that accept JWT access tokens: `{ "indicator": "https://api.example.com", "scopes": ["read"], "name"?, "accessTokenTTL"?, "personFacing"?, "introspectionClients"? }`. Clients name the ones they may use in `allowed_resources`; `introspectionClients` lists the confidential clients (the API’s own) that may introspect its tokens.',
  },
  ALLOW_PRIVATE_NETWORK_REQUESTS: {
    default: 'true, except in production',
    doc: 'Whether client URIs the IdP calls (back-channel logout, JWKS, request and sector identifier URIs, logo) may be on loopback or private addresses, at registration and at fetch time. `false` blocks them against SSRF. Link-local and cloud metadata addresses are refused either way.',
  },
  TRUST_PROXY: {
    default: 'false',
    doc: 'Which reverse proxies may tell the client address in `X-Forwarded-For`: the number of proxy hops in front of the IdP (`1`; `true` means 1), or a comma-separated list of their addresses and CIDRs (`10.0.0.0/8, ::1`, or `loopback`, `uniquelocal`). The client address is the rightmost entry no trusted proxy added. `false`/`0`: the socket address. Host, `X-Forwarded-Host` and `X-Forwarded-Proto` never change a URL: every URL is made from `ISSUER`.',
  },
  SMTP_URL: {
    default: '(unset: development outbox)',
    doc: 'Mail server, e.g. `smtp://user:pass@mail.example.com:587` (`smtps://` for TLS on connect). Unset outside production: mail goes to the development outbox at `/dev/outbox`. Required in production.',
  },
  MAIL_FROM: { default: 'IdP <no-reply@localhost>', doc: 'Sender of every message.' },
  REGISTRATION: { default: 'open', doc: '`open`: anyone may create an account from the sign-in page. `closed`: only admins and the CLI create accounts.' },
  REQUIRE_VERIFIED_EMAIL: {
    default: 'true',
    doc: 'Whether an account must have verified its email before it may finish signing in to an application.',
  },
  PRODUCT_NAME: { default: 'IdP', doc: 'Name of the service, shown at the top of every page and in mail.' },
  BRAND_LOGO_URL: {
    default: '(unset: the name alone)',
    doc: 'Logo shown beside the product name: an https URL, or a path on this server such as `/static/logo.svg`.',
  },
  BRAND_PRIMARY_COLOR: {
    default: '#2457c5',
    doc: 'Colour of buttons and links, `#rrggbb`. Text on it, and links in light and dark mode, are adjusted to stay readable.',
  },
  GOOGLE_CLIENT_ID: { default: '(unset: no Google sign-in)', doc: 'OAuth client id from the Google Cloud console; with `GOOGLE_CLIENT_SECRET`, shows "Continue with Google".' },
  GOOGLE_CLIENT_SECRET: { default: '(unset)', doc: 'The secret of that Google OAuth client.' },
  GOOGLE_ISSUER: { default: 'https://accounts.google.com', doc: 'Google\'s OpenID issuer (changed only for tests).' },
  GOOGLE_HOSTED_DOMAIN: { default: '(unset: any)', doc: 'Accept only Google Workspace accounts of this domain, e.g. `example.com`.' },
  MFA: {
    default: 'optional',
    doc: 'Second factors: `optional` (people choose on their account page), `required-for-admins` (accounts with the admin or super_admin role), or `required` (everyone). Who must but has none sets up an authenticator app while signing in.',
  },
  REAUTH_MAX_AGE: {
    default: '300',
    doc: 'Seconds a sign-in or re-authentication counts for sensitive changes (sign-in methods, email, password, deleting the account) on the account page and `/account/api`; after that the person confirms who they are again.',
  },
  LOGIN_MAX_FAILURES: { default: '5', doc: 'Failed password sign-ins for one email within the lockout window that lock password sign-in.' },
  LOGIN_LOCKOUT_SECONDS: { default: '900', doc: 'The window for counting failures, and how long password sign-in then stays locked (15 minutes).' },
  RATE_LIMIT_IP_LOGIN: { default: '100', doc: 'Password sign-in attempts one IP address may make per 15 minutes.' },
  RATE_LIMIT_IP_FORMS: { default: '20', doc: 'Registrations, password reset requests and verification resends one IP address may make per hour.' },
  RATE_LIMIT_IP_TOKEN: { default: '1200', doc: 'Token endpoint requests one IP address may make per minute.' },
  ADMIN_API_RATE_LIMITS: {
    default: 'guest:10,user:100,moderator:200,admin:500,super_admin:1000',
    doc: 'Admin API requests per minute, by the caller\'s highest role.',
  },
  METRICS_PORT: {
    default: '(unset: /metrics on PORT)',
    doc: 'Serve Prometheus metrics at /metrics on this port only (keep it off the public network).',
  },
  LOG_LEVEL: { default: 'info', doc: 'pino log level: `fatal`, `error`, `warn`, `info`, `debug`, `trace` or `silent`.' },
  ADMIN_EMAIL: {
    default: '(unset)',
    doc: 'With `ADMIN_PASSWORD` or `ADMIN_PASSWORD_FILE`: creates this super admin at start when no super admin exists.',
  },
  ADMIN_PASSWORD: { default: '(unset)', doc: 'Password of the first super admin (see `ADMIN_EMAIL`).' },
  ADMIN_PASSWORD_FILE: { default: '(unset)', doc: 'File holding the password of the first super admin (for container secrets).' },
  PASSWORD_MIN_LENGTH: { default: '8', doc: 'Shortest password accepted (the longest is 256).' },
  ARGON2_MEMORY_KIB: {
    default: '19456',
    doc: 'argon2id memory cost in KiB (OWASP minimum 19456). Raising it rehashes passwords at next sign-in.',
  },
  ARGON2_ITERATIONS: { default: '2', doc: 'argon2id time cost (OWASP minimum 2).' },
  ARGON2_PARALLELISM: { default: '1', doc: 'argon2id parallelism (OWASP minimum 1).' },
  ARGON2_CONCURRENCY: {
    default: '(the number of CPU cores)',
    doc: 'Password hashes computed at once; more wait their turn. More than the cores would starve the event loop (every other request) during a sign-in storm.',
  },
} as const satisfies Record<string, { default: string; doc: string }>;

export type SettingName = keyof typeof settings;
type Env = Partial<Record<string, string | undefined>>;

export const OWASP_ARGON2_MINIMUM = { memoryCost: 19456, timeCost: 2, parallelism: 1 } as const;

export interface Config {
  env: 'development' | 'test' | 'production';
  port: number;
  issuer: string;
  /** Postgres connection string; undefined means the embedded PGlite database. */
  databaseUrl: string | undefined;
  dataDir: string;
  /** undefined means sessions and tokens are kept in the SQL database. */
  redis: RedisSettings | undefined;
  /** undefined means generated and kept in dataDir. */
  cookieKeys: string[] | undefined;
  /** Encrypt secrets at rest; the first encrypts. undefined means generated and kept in dataDir. */
  secretsKeys: SecretsKey[] | undefined;
  /** Where the private signing keys are; undefined means generated and kept in dataDir. */
  jwks: { file: string } | { json: string } | undefined;
  clientsFile: string;
  resourceServersFile: string | undefined;
  /** Which proxies in front tell the client address: a hop count (0: none) or their addresses. */
  trustProxy: TrustProxy;
  allowPrivateNetworkRequests: boolean;
  logLevel: string;
  /** undefined: /metrics is served on the main port. */
  metricsPort: number | undefined;
  bootstrapAdmin: { email: string; password: string } | undefined;
  passwordMinLength: number;
  /** undefined means the development outbox. */
  smtpUrl: string | undefined;
  mailFrom: string;
  registration: 'open' | 'closed';
  requireVerifiedEmail: boolean;
  mfa: 'optional' | 'required-for-admins' | 'required';
  /** Seconds an authentication counts for sensitive changes of one's own account. */
  reauthMaxAge: number;
  brand: { productName: string; logoUrl: string | undefined; primaryColor: string };
  /** undefined means no Google sign-in. */
  google: { clientId: string; clientSecret: string; issuer: string; hostedDomain: string | undefined } | undefined;
  rateLimits: {
    loginMaxFailures: number;
    loginLockoutSeconds: number;
    ipLoginPer15Minutes: number;
    ipFormsPerHour: number;
    ipTokenPerMinute: number;
    /** Admin API requests per minute by highest role name. */
    adminApiPerMinute: Record<string, number>;
  };
  argon2: { memoryCost: number; timeCost: number; parallelism: number };
  argon2Concurrency: number;
}

export type RedisSettings = { keyPrefix: string } & (
  | { mode: 'standalone'; url: string }
  | { mode: 'cluster'; nodes: HostPort[]; url: string | undefined }
  | { mode: 'sentinel'; sentinels: HostPort[]; name: string; url: string | undefined }
);

export type TrustProxy = { hops: number } | { addresses: string[] };

export interface HostPort {
  host: string;
  port: number;
}

export class ConfigError extends Error {
  constructor(readonly problems: string[]) {
    super(`Invalid configuration:\n${problems.map((p) => `  - ${p}`).join('\n')}`);
  }
}

const blankAsUndefined = (value: unknown) => (typeof value === 'string' && value.trim() === '' ? undefined : value);
const optionalText = z.preprocess(blankAsUndefined, z.string().trim().optional());
const integer = (fallback: string, min: number, max: number) =>
  z.preprocess(blankAsUndefined, z.coerce.number().int().min(min).max(max).default(Number(fallback)));

export const settingsSchema = z.object({
  NODE_ENV: z.preprocess(blankAsUndefined, z.enum(['development', 'test', 'production']).default('development')),
  PORT: integer(settings.PORT.default, 0, 65535),
  ISSUER: z.preprocess(blankAsUndefined, z.url({ protocol: /^https?$/ }).optional()),
  DATABASE_URL: z.preprocess(blankAsUndefined, z.url({ protocol: /^postgres(ql)?$/ }).optional()),
  DATA_DIR: z.preprocess(blankAsUndefined, z.string().default(settings.DATA_DIR.default)),
  REDIS_URL: z.preprocess(blankAsUndefined, z.url({ protocol: /^rediss?$/ }).optional()),
  REDIS_CLUSTER_NODES: optionalText,
  REDIS_SENTINELS: optionalText,
  REDIS_SENTINEL_NAME: optionalText,
  REDIS_KEY_PREFIX: z.preprocess(blankAsUndefined, z.string().max(64).default('idp:')),
  COOKIE_KEYS: optionalText,
  JWKS_FILE: optionalText,
  JWKS: optionalText,
  SECRETS_KEY: optionalText,
  CLIENTS_FILE: optionalText,
  RESOURCE_SERVERS_FILE: optionalText,
  ALLOW_PRIVATE_NETWORK_REQUESTS: z.preprocess(blankAsUndefined, z.enum(['true', 'false', '1', '0']).optional()),
  TRUST_PROXY: z.preprocess(
    blankAsUndefined,
    z
      .string()
      .trim()
      .refine((value) => parseTrustProxy(value) !== undefined, 'a hop count (0-32), true, false, or a list of proxy addresses or CIDRs')
      .default('false'),
  ),
  LOG_LEVEL: z.preprocess(
    blankAsUndefined,
    z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
  ),
  ADMIN_EMAIL: z.preprocess(blankAsUndefined, z.email().optional()),
  ADMIN_PASSWORD: z.preprocess(blankAsUndefined, z.string().optional()),
  ADMIN_PASSWORD_FILE: optionalText,
  SMTP_URL: z.preprocess(blankAsUndefined, z.url({ protocol: /^smtps?$/ }).optional()),
  MAIL_FROM: z.preprocess(blankAsUndefined, z.string().min(3).default(settings.MAIL_FROM.default)),
  REGISTRATION: z.preprocess(blankAsUndefined, z.enum(['open', 'closed']).default('open')),
  REQUIRE_VERIFIED_EMAIL: z.preprocess(blankAsUndefined, z.enum(['true', 'false', '1', '0']).default('true')),
  PRODUCT_NAME: z.preprocess(blankAsUndefined, z.string().trim().max(60).default(settings.PRODUCT_NAME.default)),
  BRAND_LOGO_URL: z.preprocess(
    blankAsUndefined,
    z
      .string()
      .trim()
      .regex(/^(https:\/\/\S+|\/(?!\/)\S*)$/, 'an https URL or a path starting with /')
      .optional(),
  ),
  BRAND_PRIMARY_COLOR: z.preprocess(
    blankAsUndefined,
    z.string().trim().regex(/^#[0-9a-f]{6}$/i, 'a hex colour like #2457c5').default(settings.BRAND_PRIMARY_COLOR.default),
  ),
  GOOGLE_CLIENT_ID: optionalText,
  GOOGLE_CLIENT_SECRET: optionalText,
  GOOGLE_ISSUER: z.preprocess(blankAsUndefined, z.url({ protocol: /^https?$/ }).default('https://accounts.google.com')),
  GOOGLE_HOSTED_DOMAIN: z.preprocess(blankAsUndefined, z.string().regex(/^[a-z0-9.-]+\.[a-z]{2,}$/i, 'a domain name').optional()),
  MFA: z.preprocess(blankAsUndefined, z.enum(['optional', 'required-for-admins', 'required']).default('optional')),
  REAUTH_MAX_AGE: integer(settings.REAUTH_MAX_AGE.default, 1, 24 * 60 * 60),
  LOGIN_MAX_FAILURES: integer(settings.LOGIN_MAX_FAILURES.default, 1, 1000),
  LOGIN_LOCKOUT_SECONDS: integer(settings.LOGIN_LOCKOUT_SECONDS.default, 1, 24 * 60 * 60),
  RATE_LIMIT_IP_LOGIN: integer(settings.RATE_LIMIT_IP_LOGIN.default, 1, 1_000_000),
  RATE_LIMIT_IP_FORMS: integer(settings.RATE_LIMIT_IP_FORMS.default, 1, 1_000_000),
  RATE_LIMIT_IP_TOKEN: integer(settings.RATE_LIMIT_IP_TOKEN.default, 1, 10_000_000),
  ADMIN_API_RATE_LIMITS: z.preprocess(
    blankAsUndefined,
    z
      .string()
      .regex(/^(\s*[a-z_]+:\d+\s*)(,\s*[a-z_]+:\d+\s*)*$/, 'a list like guest:10,user:100')
      .default(settings.ADMIN_API_RATE_LIMITS.default),
  ),
  METRICS_PORT: z.preprocess(blankAsUndefined, z.coerce.number().int().min(0).max(65535).optional()),
  PASSWORD_MIN_LENGTH: integer(settings.PASSWORD_MIN_LENGTH.default, 8, 256),
  ARGON2_MEMORY_KIB: integer(settings.ARGON2_MEMORY_KIB.default, OWASP_ARGON2_MINIMUM.memoryCost, 4 * 1024 * 1024),
  ARGON2_ITERATIONS: integer(settings.ARGON2_ITERATIONS.default, OWASP_ARGON2_MINIMUM.timeCost, 100),
  ARGON2_PARALLELISM: integer(settings.ARGON2_PARALLELISM.default, OWASP_ARGON2_MINIMUM.parallelism, 64),
  ARGON2_CONCURRENCY: integer(String(availableParallelism()), 1, 256),
});

const exampleClientsFile = path.join(projectRoot, 'config', 'clients.example.json');
const defaultClientsFile = path.join(projectRoot, settings.CLIENTS_FILE.default);

const isTrue = (value: string) => value === 'true' || value === '1';

function isLocalhost(url: URL): boolean {
  return url.hostname === 'localhost' || url.hostname === '127.0.0.1' || url.hostname === '[::1]';
}

function readAdminPassword(env: z.infer<typeof settingsSchema>, problems: string[]): string | undefined {
  if (env.ADMIN_PASSWORD && env.ADMIN_PASSWORD_FILE) {
    problems.push('ADMIN_PASSWORD and ADMIN_PASSWORD_FILE: set one, not both');
    return undefined;
  }
  if (!env.ADMIN_PASSWORD_FILE) return env.ADMIN_PASSWORD;
  try {
    return readFileSync(env.ADMIN_PASSWORD_FILE, 'utf8').replace(/\r?\n$/, '');
  } catch {
    problems.push(`ADMIN_PASSWORD_FILE: cannot read ${env.ADMIN_PASSWORD_FILE}`);
    return undefined;
  }
}

/** `false`/`0`: no proxy; `true`: one hop; a number: that many hops; else a list of addresses and CIDRs. */
/** Whether TRUST_PROXY may name this entry: an IP address, a CIDR, or one of proxy-addr's named ranges. */
export function isTrustableAddress(entry: string): boolean {
  try {
    proxyaddr.compile(entry);
    return true;
  } catch {
    return false;
  }
}

function parseTrustProxy(value: string): TrustProxy | undefined {
  if (value === 'false') return { hops: 0 };
  if (value === 'true') return { hops: 1 };
  if (/^\d+$/.test(value)) return Number(value) <= 32 ? { hops: Number(value) } : undefined;
  const addresses = value.split(',').map((entry) => entry.trim()).filter(Boolean);
  return addresses.length && addresses.every(isTrustableAddress) ? { addresses } : undefined;
}

function parseHostPorts(name: string, value: string, problems: string[]): HostPort[] {
  const nodes = value.split(',').map((entry) => entry.trim()).filter(Boolean);
  return nodes.flatMap((entry) => {
    const match = /^(.+):(\d{1,5})$/.exec(entry);
    if (!match) {
      problems.push(`${name}: "${entry}" is not host:port`);
      return [];
    }
    return [{ host: match[1]!.replace(/^\[|\]$/g, ''), port: Number(match[2]) }];
  });
}

function redisSettings(env: z.infer<typeof settingsSchema>, problems: string[]): RedisSettings | undefined {
  if (env.REDIS_CLUSTER_NODES && env.REDIS_SENTINELS) {
    problems.push('REDIS_CLUSTER_NODES and REDIS_SENTINELS: set one, not both');
    return undefined;
  }
  if (env.REDIS_CLUSTER_NODES) {
    const nodes = parseHostPorts('REDIS_CLUSTER_NODES', env.REDIS_CLUSTER_NODES, problems);
    return { mode: 'cluster', nodes, url: env.REDIS_URL, keyPrefix: env.REDIS_KEY_PREFIX };
  }
  if (env.REDIS_SENTINELS) {
    if (!env.REDIS_SENTINEL_NAME) problems.push('REDIS_SENTINELS needs REDIS_SENTINEL_NAME');
    const sentinels = parseHostPorts('REDIS_SENTINELS', env.REDIS_SENTINELS, problems);
    return { mode: 'sentinel', sentinels, name: env.REDIS_SENTINEL_NAME ?? '', url: env.REDIS_URL, keyPrefix: env.REDIS_KEY_PREFIX };
  }
  return env.REDIS_URL ? { mode: 'standalone', url: env.REDIS_URL, keyPrefix: env.REDIS_KEY_PREFIX } : undefined;
}

function resolveClientsFile(value: string | undefined): string {
  if (value) return path.resolve(value);
  try {
    readFileSync(defaultClientsFile);
    return defaultClientsFile;
  } catch {
    return exampleClientsFile;
  }
}

/** Reads and validates the environment; throws ConfigError naming every bad or missing setting. */
export function loadConfig(environment: Env = process.env): Config {
  const parsed = settingsSchema.safeParse(environment);
  if (!parsed.success) {
    throw new ConfigError(parsed.error.issues.map((issue) => `${issue.path.join('.')}: ${issue.message}`));
  }
  const env = parsed.data;
  const problems: string[] = [];

  const issuer = (env.ISSUER ?? `http://localhost:${env.PORT}`).replace(/\/$/, '');
  const cookieKeys = env.COOKIE_KEYS?.split(',').map((key) => key.trim()).filter(Boolean);
  if (cookieKeys?.some((key) => key.length < 32)) {
    problems.push('COOKIE_KEYS: each key must be at least 32 characters long');
  }

  let secretsKeys: SecretsKey[] | undefined;
  try {
    secretsKeys = env.SECRETS_KEY ? parseSecretsKeys(env.SECRETS_KEY) : undefined;
  } catch (error) {
    problems.push((error as Error).message);
  }

  const trustProxy = parseTrustProxy(env.TRUST_PROXY)!;
  const adminPassword = readAdminPassword(env, problems);
  const redis = redisSettings(env, problems);
  if (env.ADMIN_EMAIL && !adminPassword) problems.push('ADMIN_EMAIL needs ADMIN_PASSWORD or ADMIN_PASSWORD_FILE');
  if (!env.ADMIN_EMAIL && adminPassword) problems.push('ADMIN_PASSWORD needs ADMIN_EMAIL');

  if (env.NODE_ENV === 'production') {
    if (!env.DATABASE_URL) problems.push('DATABASE_URL is required in production (the embedded database is for development)');
    if (!cookieKeys?.length) problems.push('COOKIE_KEYS is required in production (generated keys are for development)');
    if (!env.JWKS_FILE && !env.JWKS) problems.push('JWKS_FILE or JWKS is required in production (generated signing keys are for development)');
    if (!env.SECRETS_KEY) problems.push('SECRETS_KEY is required in production (a generated key is for development)');
    if (!env.SMTP_URL) problems.push('SMTP_URL is required in production (the mail outbox is for development)');
    const issuerUrl = new URL(issuer);
    if (issuerUrl.protocol !== 'https:' && !isLocalhost(issuerUrl)) {
      problems.push('ISSUER must be an https URL in production');
    }
  }
  if (env.JWKS_FILE && env.JWKS) problems.push('JWKS_FILE and JWKS: set one, not both');
  if (Boolean(env.GOOGLE_CLIENT_ID) !== Boolean(env.GOOGLE_CLIENT_SECRET)) {
    problems.push('GOOGLE_CLIENT_ID and GOOGLE_CLIENT_SECRET: set both, or neither');
  }
  if (env.NODE_ENV === 'production' && !env.GOOGLE_ISSUER.startsWith('https:')) problems.push('GOOGLE_ISSUER must be https in production');
  const clientsFile = resolveClientsFile(env.CLIENTS_FILE);
  if (env.NODE_ENV === 'production' && clientsFile === exampleClientsFile) {
    problems.push('CLIENTS_FILE is required in production (the example clients have published secrets)');
  }
  if (problems.length) throw new ConfigError(problems);

  return {
    env: env.NODE_ENV,
    port: env.PORT,
    issuer,
    databaseUrl: env.DATABASE_URL,
    dataDir: path.resolve(env.DATA_DIR),
    redis,
    cookieKeys,
    secretsKeys,
    jwks: env.JWKS_FILE ? { file: path.resolve(env.JWKS_FILE) } : env.JWKS ? { json: env.JWKS } : undefined,
    clientsFile,
    resourceServersFile: env.RESOURCE_SERVERS_FILE ? path.resolve(env.RESOURCE_SERVERS_FILE) : undefined,
    trustProxy,
    allowPrivateNetworkRequests: env.ALLOW_PRIVATE_NETWORK_REQUESTS
      ? isTrue(env.ALLOW_PRIVATE_NETWORK_REQUESTS)
      : env.NODE_ENV !== 'production',
    logLevel: env.LOG_LEVEL,
    metricsPort: env.METRICS_PORT,
    bootstrapAdmin: env.ADMIN_EMAIL && adminPassword ? { email: env.ADMIN_EMAIL, password: adminPassword } : undefined,
    passwordMinLength: env.PASSWORD_MIN_LENGTH,
    smtpUrl: env.SMTP_URL,
    mailFrom: env.MAIL_FROM,
    registration: env.REGISTRATION,
    requireVerifiedEmail: isTrue(env.REQUIRE_VERIFIED_EMAIL),
    mfa: env.MFA,
    reauthMaxAge: env.REAUTH_MAX_AGE,
    brand: { productName: env.PRODUCT_NAME, logoUrl: env.BRAND_LOGO_URL, primaryColor: env.BRAND_PRIMARY_COLOR.toLowerCase() },
    google:
      env.GOOGLE_CLIENT_ID && env.GOOGLE_CLIENT_SECRET
        ? {
            clientId: env.GOOGLE_CLIENT_ID,
            clientSecret: env.GOOGLE_CLIENT_SECRET,
            issuer: env.GOOGLE_ISSUER.replace(/\/$/, ''),
            hostedDomain: env.GOOGLE_HOSTED_DOMAIN?.toLowerCase(),
          }
        : undefined,
    rateLimits: {
      loginMaxFailures: env.LOGIN_MAX_FAILURES,
      loginLockoutSeconds: env.LOGIN_LOCKOUT_SECONDS,
      ipLoginPer15Minutes: env.RATE_LIMIT_IP_LOGIN,
      ipFormsPerHour: env.RATE_LIMIT_IP_FORMS,
      ipTokenPerMinute: env.RATE_LIMIT_IP_TOKEN,
      adminApiPerMinute: Object.fromEntries(
        env.ADMIN_API_RATE_LIMITS.split(',').map((pair) => {
          const [role, limit] = pair.trim().split(':');
          return [role!, Number(limit)];
        }),
      ),
    },
    argon2: {
      memoryCost: env.ARGON2_MEMORY_KIB,
      timeCost: env.ARGON2_ITERATIONS,
      parallelism: env.ARGON2_PARALLELISM,
    },
    argon2Concurrency: env.ARGON2_CONCURRENCY,
  };
}
