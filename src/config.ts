import { readFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import path from 'node:path';
import proxyaddr from 'proxy-addr';
import { z } from 'zod';

import { parseSecretsKeys, type SecretsKey } from './crypto/index.ts';
import { projectRoot } from './paths.ts';

/**
 * One setting the IdP reads from the environment. `default` is used when the variable is
 * unset or blank and goes through the same parser as a value that is set; a setting with
 * `whenUnset` stays undefined and `loadConfig` decides what that means (the text is the
 * README's Default cell as written). The README's configuration table is generated from
 * `settings` (`npm run docs:config`), and a test fails when the two differ.
 */
export type Setting = { doc: string; parser: z.ZodType } & ({ default: string } | { whenUnset: string });

export const OWASP_ARGON2_MINIMUM = { memoryCost: 19456, timeCost: 2, parallelism: 1 } as const;

const text = z.string().trim();
const integer = (min: number, max: number) => z.coerce.number().int().min(min).max(max);
const flag = z.enum(['true', 'false', '1', '0']);
/** A logo or icon: an https URL, or a file this server serves under /static/ (no other origin over http, no `//host`). */
const brandAsset = text.regex(/^(https:\/\/[^\s"'<>]+|\/static\/[^\s"'<>]+)$/, 'an https URL or a path under /static/');
/** Where a listener binds: an IP address or a host name (`localhost`). */
const bindAddress = text.regex(/^[A-Za-z0-9.:%-]+$/, 'an IP address or a host name');
/** Days rows are kept; 0 or `forever` (undefined after parsing): kept for ever. */
const retentionDays = z.union([
  z.literal('forever').transform(() => undefined),
  integer(0, 36_500).transform((days) => (days === 0 ? undefined : days)),
]);
/** A footer link: http(s) here, https in production (checked in loadConfig). */
const footerLink = z.url({ protocol: /^https?$/ });

/** Every setting, grouped and ordered as the README's table shows them. */
export const settings = {
  // Server
  NODE_ENV: {
    default: 'development',
    parser: z.enum(['development', 'test', 'production']),
    doc: '`production` refuses every development shortcut (embedded database, generated keys, http issuer).',
  },
  PORT: { default: '3000', parser: integer(0, 65535), doc: 'TCP port the HTTP server listens on.' },
  HOST: {
    whenUnset: '(unset: all interfaces)',
    parser: bindAddress,
    doc: 'Address the HTTP server listens on, e.g. `127.0.0.1` when only a proxy on the same machine should reach it.',
  },
  ISSUER: {
    whenUnset: '`http://localhost:$PORT`',
    parser: z.url({ protocol: /^https?$/ }),
    doc: 'Public URL of the IdP, the `iss` of every token. Must be https in production (localhost excepted). Its host is the passkeys RP ID: with an IP address, passkeys are off.',
  },

  // Storage
  DATABASE_URL: {
    whenUnset: '(unset: embedded PGlite)',
    parser: z.url({ protocol: /^postgres(ql)?$/ }),
    doc: 'PostgreSQL connection string. Unset: an embedded PGlite database in `DATA_DIR` (development only).',
  },
  DATA_DIR: {
    default: './data',
    parser: z.string(),
    doc: 'Folder for the embedded database and generated keys. One process at a time holds it.',
  },
  REDIS_URL: {
    whenUnset: '(unset)',
    parser: z.url({ protocol: /^rediss?$/ }),
    doc: 'Redis (7 or later) for sessions, grants and tokens, e.g. `redis://:password@host:6379/0`. Unset: they are kept in the SQL database.',
  },
  REDIS_CLUSTER_NODES: {
    whenUnset: '(unset)',
    parser: text,
    doc: 'Redis Cluster instead: comma-separated `host:port` seed nodes. Credentials come from `REDIS_URL` when both are set.',
  },
  REDIS_SENTINELS: {
    whenUnset: '(unset)',
    parser: text,
    doc: 'Redis Sentinel instead: comma-separated `host:port` sentinels; needs `REDIS_SENTINEL_NAME`.',
  },
  REDIS_SENTINEL_NAME: { whenUnset: '(unset)', parser: text, doc: 'Name of the master the sentinels watch.' },
  REDIS_KEY_PREFIX: {
    default: 'idp:',
    parser: z.string().max(64),
    doc: 'Prefix of every Redis key, so that several deployments can share one Redis.',
  },

  // Keys and secrets
  COOKIE_KEYS: {
    whenUnset: '(generated in `DATA_DIR`)',
    parser: text,
    doc: 'Comma-separated secrets that sign cookies; the first signs, all verify. Required in production.',
  },
  JWKS_FILE: {
    whenUnset: '(generated in `DATA_DIR`)',
    parser: text,
    doc: 'Path of a private JWK Set (JSON) that signs tokens, e.g. from `npm run admin -- generate-jwks`; rotate with `npm run admin -- keys rotate`. This or `JWKS` is required in production.',
  },
  JWKS: {
    whenUnset: '(unset)',
    parser: text,
    doc: 'The same private JWK Set as JSON in the variable itself (for secret stores that inject variables). Set `JWKS_FILE` or `JWKS`, not both.',
  },
  JWKS_MAX_AGE: {
    default: '300',
    parser: integer(0, 86_400),
    doc: 'Seconds relying parties and shared caches may keep `/jwks` (its `Cache-Control: max-age`), and so the shortest `keys rotate --activate-in`: a new key is in every cached set before it signs.',
  },
  SECRETS_KEY: {
    whenUnset: '(generated in `DATA_DIR`)',
    parser: text,
    doc: 'Key that encrypts secrets kept in the database (authenticator app secrets, ids inside stored sessions): comma-separated `kid:key` entries, each key 32 random bytes in base64 (`openssl rand -base64 32`). The first encrypts, all decrypt. Required in production.',
  },

  // Clients, APIs and the network around the IdP
  CLIENTS_FILE: {
    whenUnset: '`config/clients.json`',
    parser: text,
    doc: 'JSON array of client registrations (node-oidc-provider client metadata). When the default file is absent, `config/clients.example.json` is used.',
  },
  RESOURCE_SERVERS_FILE: {
    whenUnset: '(unset: none)',
    parser: text,
    doc: 'JSON array of APIs that accept JWT access tokens: `{ "indicator": "https://api.example.com", "scopes": ["read"], "name"?, "accessTokenTTL"?, "personFacing"?, "introspectionClients"? }`. Clients name the ones they may use in `allowed_resources`; `introspectionClients` lists the confidential clients (the API’s own) that may introspect its tokens.',
  },
  ALLOW_PRIVATE_NETWORK_REQUESTS: {
    whenUnset: '`true, except in production`',
    parser: flag,
    doc: 'Whether client URIs the IdP calls (back-channel logout, JWKS, request and sector identifier URIs, logo) and webhook targets may be on loopback or private addresses, at registration and at fetch time. `false` blocks them against SSRF. Link-local and cloud metadata addresses are refused either way.',
  },
  TRUST_PROXY: {
    default: 'false',
    parser: text.refine(
      (value) => parseTrustProxy(value) !== undefined,
      'a hop count (0-32), true, false, or a list of proxy addresses or CIDRs',
    ),
    doc: 'Which reverse proxies may tell the client address in `X-Forwarded-For`: the number of proxy hops in front of the IdP (`1`; `true` means 1), or a comma-separated list of their addresses and CIDRs (`10.0.0.0/8, ::1`, or `loopback`, `uniquelocal`). The client address is the rightmost entry no trusted proxy added. `false`/`0`: the socket address. Host, `X-Forwarded-Host` and `X-Forwarded-Proto` never change a URL: every URL is made from `ISSUER`.',
  },

  // Mail
  SMTP_URL: {
    whenUnset: '(unset: development outbox)',
    parser: z.url({ protocol: /^smtps?$/ }),
    doc: 'Mail server, e.g. `smtp://user:pass@mail.example.com:587` (`smtps://` for TLS on connect). Unset outside production: mail goes to the development outbox at `/dev/outbox`. Required in production.',
  },
  MAIL_FROM: { default: 'IdP <no-reply@localhost>', parser: z.string().min(3), doc: 'Sender of every message.' },

  // Accounts
  REGISTRATION: {
    default: 'open',
    parser: z.enum(['open', 'closed']),
    doc: '`open`: anyone may create an account from the sign-in page. `closed`: only admins and the CLI create accounts.',
  },
  REQUIRE_VERIFIED_EMAIL: {
    default: 'true',
    parser: flag,
    doc: 'Whether an account must have verified its email before it may finish signing in to an application.',
  },

  // Brand
  PRODUCT_NAME: {
    default: 'IdP',
    parser: text.max(60),
    doc: 'Name of the service, shown at the top of every page and in mail.',
  },
  BRAND_LOGO_URL: {
    whenUnset: '(unset: the name alone)',
    parser: brandAsset,
    doc: 'Logo shown at the top of every page instead of the name (which becomes its text alternative) and in HTML mail: an https URL, or a path under `/static/` on this server such as `/static/logo.svg`.',
  },
  BRAND_LOGO_DARK_URL: {
    whenUnset: '(unset: `BRAND_LOGO_URL`)',
    parser: brandAsset,
    doc: 'Logo for pages seen in dark mode (`prefers-color-scheme: dark`), same rules as `BRAND_LOGO_URL`.',
  },
  BRAND_FAVICON_URL: {
    default: '/static/favicon.svg',
    parser: brandAsset,
    doc: 'Icon of the browser tab, same rules as `BRAND_LOGO_URL`. The default is a small built-in SVG.',
  },
  BRAND_PRIMARY_COLOR: {
    default: '#2457c5',
    parser: text.regex(/^#[0-9a-f]{6}$/i, 'a hex colour like #2457c5'),
    doc: 'Colour of buttons and links, `#rrggbb`. Text on it, and links in light and dark mode, are adjusted to stay readable.',
  },
  BRAND_PRIVACY_URL: {
    whenUnset: '(unset: no link)',
    parser: footerLink,
    doc: 'Privacy policy, linked in the footer of every page and mail. Must be https in production.',
  },
  BRAND_TERMS_URL: {
    whenUnset: '(unset: no link)',
    parser: footerLink,
    doc: 'Terms of use, linked in the footer of every page and mail. Must be https in production.',
  },
  BRAND_HELP_URL: {
    whenUnset: '(unset: no link)',
    parser: footerLink,
    doc: 'Help or support page, linked in the footer of every page and mail. Must be https in production.',
  },

  // Sign-in with other identity providers
  IDENTITY_PROVIDERS_FILE: {
    whenUnset: '(unset: none but Google from `GOOGLE_*`)',
    parser: z.string().min(1),
    doc: 'JSON array of upstream identity providers (`oidc`, `github`, `microsoft`; see "Sign in with other providers"). A bad entry or an unreachable issuer stops the start, naming the entry.',
  },

  // Google sign-in
  GOOGLE_CLIENT_ID: {
    whenUnset: '(unset: no Google sign-in)',
    parser: text,
    doc: 'OAuth client id from the Google Cloud console; with `GOOGLE_CLIENT_SECRET`, shows "Continue with Google".',
  },
  GOOGLE_CLIENT_SECRET: { whenUnset: '(unset)', parser: text, doc: 'The secret of that Google OAuth client.' },
  GOOGLE_ISSUER: {
    default: 'https://accounts.google.com',
    parser: z.url({ protocol: /^https?$/ }),
    doc: 'Google\'s OpenID issuer (changed only for tests).',
  },
  GOOGLE_HOSTED_DOMAIN: {
    whenUnset: '(unset: any)',
    parser: z.string().regex(/^[a-z0-9.-]+\.[a-z]{2,}$/i, 'a domain name'),
    doc: 'Accept only Google Workspace accounts of this domain, e.g. `example.com`.',
  },

  // Sign-in security and rate limits
  MFA: {
    default: 'optional',
    parser: z.enum(['optional', 'required-for-admins', 'required']),
    doc: 'Second factors: `optional` (people choose on their account page), `required-for-admins` (accounts with the admin or super_admin role), or `required` (everyone). Who must but has none sets up an authenticator app while signing in.',
  },
  REAUTH_MAX_AGE: {
    default: '300',
    parser: integer(1, 24 * 60 * 60),
    doc: 'Seconds a sign-in or re-authentication counts for sensitive changes (sign-in methods, email, password, deleting the account) on the account page and `/account/api`; after that the person confirms who they are again.',
  },
  LOGIN_MAX_FAILURES: {
    default: '5',
    parser: integer(1, 1000),
    doc: 'Failed password sign-ins for one email within the lockout window that lock password sign-in.',
  },
  LOGIN_LOCKOUT_SECONDS: {
    default: '900',
    parser: integer(1, 24 * 60 * 60),
    doc: 'The window for counting failures, and how long password sign-in then stays locked (15 minutes).',
  },
  RATE_LIMIT_IP_LOGIN: {
    default: '100',
    parser: integer(1, 1_000_000),
    doc: 'Password sign-in attempts one IP address may make per 15 minutes.',
  },
  RATE_LIMIT_IP_FORMS: {
    default: '20',
    parser: integer(1, 1_000_000),
    doc: 'Registrations, password reset requests and verification resends one IP address may make per hour.',
  },
  RATE_LIMIT_IP_TOKEN: {
    default: '1200',
    parser: integer(1, 10_000_000),
    doc: 'Token endpoint requests one IP address may make per minute.',
  },
  ADMIN_API_RATE_LIMITS: {
    default: 'guest:10,user:100,moderator:200,admin:500,super_admin:1000',
    parser: z.string().regex(/^(\s*[a-z_]+:\d+\s*)(,\s*[a-z_]+:\d+\s*)*$/, 'a list like guest:10,user:100'),
    doc: 'Admin API requests per minute, by the caller\'s highest role.',
  },

  // Webhooks
  WEBHOOK_TIMEOUT_MS: {
    default: '10000',
    parser: integer(100, 60_000),
    doc: 'How long the IdP waits for a webhook receiver to answer before the attempt counts as failed (10 s).',
  },
  WEBHOOK_RETRY_BASE_MS: {
    default: '10000',
    parser: integer(1, 3_600_000),
    doc: 'Delay before the first retry of a failed webhook delivery; each next retry waits twice as long (up to `WEBHOOK_RETRY_MAX_DELAY_MS`), with random jitter.',
  },
  WEBHOOK_RETRY_MAX_DELAY_MS: {
    default: '3600000',
    parser: integer(1, 86_400_000),
    doc: 'Longest wait between two attempts of one webhook delivery (1 hour).',
  },
  WEBHOOK_RETRY_WINDOW_SECONDS: {
    default: '93600',
    parser: integer(1, 30 * 86_400),
    doc: 'How long after its event a webhook delivery is retried before it is marked failed (26 hours). It can be sent again from the console.',
  },
  WEBHOOK_POLL_MS: {
    default: '1000',
    parser: integer(10, 60_000),
    doc: 'How often each node looks for webhook deliveries that are due.',
  },
  WEBHOOK_CONCURRENCY: {
    default: '8',
    parser: integer(1, 256),
    doc: 'Webhook deliveries one node sends at once.',
  },
  WEBHOOK_SECRET_OVERLAP_HOURS: {
    default: '24',
    parser: integer(0, 24 * 30),
    doc: 'After a webhook secret is rotated, deliveries carry a signature with the old secret too for this long, so receivers can switch without losing events.',
  },

  METRICS_PORT: {
    whenUnset: '(unset: /metrics on PORT in development, nowhere in production)',
    parser: integer(0, 65535),
    doc: 'Serve Prometheus metrics at /metrics on this port only. In production /metrics is never served on `PORT`: set this to have metrics (without it, none are recorded).',
  },
  METRICS_HOST: {
    default: '127.0.0.1',
    parser: bindAddress,
    doc: 'Address the metrics listener (`METRICS_PORT`) listens on. Only this machine by default; e.g. `0.0.0.0` for a scraper elsewhere on a private network.',
  },
  SHUTDOWN_GRACE_SECONDS: {
    whenUnset: '(unset: 10 in production, else 0)',
    parser: integer(0, 3600),
    doc: 'On SIGTERM, `/readyz` fails at once and the node still serves every request this long (for the load balancer to stop sending), then finishes what is in flight and exits. A second signal ends the wait.',
  },
  LOGIN_HISTORY_DAYS: {
    default: '180',
    parser: retentionDays,
    doc: 'Days each sign-in attempt is kept in the sign-in history (the account page, the admin console); older ones are removed by the retention job every ten minutes. `0` or `forever`: kept for ever.',
  },
  AUDIT_DAYS: {
    default: '365',
    parser: retentionDays,
    doc: 'Days each audit event is kept; older ones are removed by the retention job every ten minutes. `0` or `forever`: kept for ever.',
  },
  LOG_LEVEL: {
    default: 'info',
    parser: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']),
    doc: 'pino log level: `fatal`, `error`, `warn`, `info`, `debug`, `trace` or `silent`.',
  },
  LOG_FORMAT: {
    default: 'auto',
    parser: z.enum(['auto', 'json']),
    doc: 'Logs are JSON lines. `auto`: when stdout is a terminal, the start-up summary (addresses, first steps) is printed as readable lines instead; `json`: that summary too is a JSON line. With `json`, and always in production, stdout carries nothing but JSON lines: library console output, process warnings and crashes become log lines too.',
  },

  // First super admin
  ADMIN_EMAIL: {
    whenUnset: '(unset)',
    parser: z.email(),
    doc: 'With `ADMIN_PASSWORD` or `ADMIN_PASSWORD_FILE`: creates this super admin at start when no super admin exists.',
  },
  ADMIN_PASSWORD: { whenUnset: '(unset)', parser: z.string(), doc: 'Password of the first super admin (see `ADMIN_EMAIL`).' },
  ADMIN_PASSWORD_FILE: {
    whenUnset: '(unset)',
    parser: text,
    doc: 'File holding the password of the first super admin (for container secrets).',
  },

  // Passwords
  PASSWORD_MIN_LENGTH: { default: '8', parser: integer(8, 256), doc: 'Shortest password accepted (the longest is 256).' },
  ARGON2_MEMORY_KIB: {
    default: '19456',
    parser: integer(OWASP_ARGON2_MINIMUM.memoryCost, 4 * 1024 * 1024),
    doc: 'argon2id memory cost in KiB (OWASP minimum 19456). Raising it rehashes passwords at next sign-in.',
  },
  ARGON2_ITERATIONS: {
    default: '2',
    parser: integer(OWASP_ARGON2_MINIMUM.timeCost, 100),
    doc: 'argon2id time cost (OWASP minimum 2).',
  },
  ARGON2_PARALLELISM: {
    default: '1',
    parser: integer(OWASP_ARGON2_MINIMUM.parallelism, 64),
    doc: 'argon2id parallelism (OWASP minimum 1).',
  },
  ARGON2_CONCURRENCY: {
    whenUnset: '(the number of CPU cores)',
    parser: integer(1, 256),
    doc: 'Password hashes computed at once; more wait their turn. More than the cores would starve the event loop (every other request) during a sign-in storm.',
  },
} satisfies Record<string, Setting>;

type Settings = typeof settings;

/** The environment as read: each setting's parsed value, undefined only for a `whenUnset` setting left unset. */
type SettingValues = {
  [Name in keyof Settings]: Settings[Name] extends { default: string }
    ? z.output<Settings[Name]['parser']>
    : z.output<Settings[Name]['parser']> | undefined;
};

const blankAsUndefined = (value: unknown) => (typeof value === 'string' && value.trim() === '' ? undefined : value);

function schemaOf(setting: Setting): z.ZodType {
  return 'default' in setting
    ? z.preprocess((value) => blankAsUndefined(value) ?? setting.default, setting.parser)
    : z.preprocess(blankAsUndefined, setting.parser.optional());
}

const settingsSchema = z.object(Object.fromEntries(Object.entries(settings).map(([name, setting]) => [name, schemaOf(setting)])));

type Env = Partial<Record<string, string | undefined>>;

export interface Config {
  env: 'development' | 'test' | 'production';
  port: number;
  /** undefined: all interfaces. */
  host: string | undefined;
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
  /** Cache-Control max-age of /jwks, and the shortest lead of a new signing key. */
  jwksMaxAge: number;
  clientsFile: string;
  resourceServersFile: string | undefined;
  /** Which proxies in front tell the client address: a hop count (0: none) or their addresses. */
  trustProxy: TrustProxy;
  allowPrivateNetworkRequests: boolean;
  logLevel: string;
  /** 'auto': the start-up summary is readable text when stdout is a terminal. */
  logFormat: 'auto' | 'json';
  /** undefined: /metrics is served on the main port in development and test, nowhere in production. */
  metricsPort: number | undefined;
  metricsHost: string;
  /** How long a stopping node keeps serving after /readyz starts failing. */
  shutdownGraceSeconds: number;
  /** Days sign-in history and audit events are kept; undefined: for ever. */
  retention: { loginHistoryDays: number | undefined; auditDays: number | undefined };
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
  brand: BrandSettings;
  /** The upstream identity providers' file (IDENTITY_PROVIDERS_FILE); read by src/upstream. */
  identityProvidersFile: string | undefined;
  /** undefined means no Google sign-in. */
  google: { clientId: string; clientSecret: string; issuer: string; hostedDomain: string | undefined } | undefined;
  /** Webhook delivery (targets on private addresses follow allowPrivateNetworkRequests). */
  webhooks: {
    /** How long one attempt may take. */
    timeoutMs: number;
    /** The first retry's delay; each next doubles, up to `maxRetryDelayMs`, with jitter. */
    retryBaseMs: number;
    maxRetryDelayMs: number;
    /** How long after the event retries go on; then the delivery is failed. */
    retryWindowMs: number;
    /** How often the worker looks for due deliveries. */
    pollMs: number;
    /** Deliveries one node sends at once. */
    concurrency: number;
    /** How long a rotated secret still signs beside the new one. */
    secretOverlapMs: number;
  };
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

/** How the pages and mail look for this deployment (the PRODUCT_NAME and BRAND_* settings). */
export interface BrandSettings {
  productName: string;
  /** An https URL or a /static/ path; undefined: the name alone. */
  logoUrl: string | undefined;
  /** For dark mode; the light logo when not set. */
  logoDarkUrl: string | undefined;
  faviconUrl: string;
  /** #rrggbb */
  primaryColor: string;
  links: { privacy: string | undefined; terms: string | undefined; help: string | undefined };
}

export class ConfigError extends Error {
  constructor(readonly problems: string[]) {
    super(`Invalid configuration:\n${problems.map((p) => `  - ${p}`).join('\n')}`);
  }
}

const exampleClientsFile = path.join(projectRoot, 'config', 'clients.example.json');
const defaultClientsFile = path.join(projectRoot, 'config', 'clients.json');

const isTrue = (value: string) => value === 'true' || value === '1';

function isLocalhost(url: URL): boolean {
  return url.hostname === 'localhost' || url.hostname === '127.0.0.1' || url.hostname === '[::1]';
}

function readAdminPassword(env: SettingValues, problems: string[]): string | undefined {
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

/** Whether TRUST_PROXY may name this entry: an IP address, a CIDR, or one of proxy-addr's named ranges. */
function isTrustableAddress(entry: string): boolean {
  try {
    proxyaddr.compile(entry);
    return true;
  } catch {
    return false;
  }
}

/** `false`/`0`: no proxy; `true`: one hop; a number: that many hops; else a list of addresses and CIDRs. */
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

function redisSettings(env: SettingValues, problems: string[]): RedisSettings | undefined {
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

/** Where /metrics is served: on METRICS_PORT when set, else on the main port except in production, where nowhere. */
export function metricsServedOn(config: Pick<Config, 'metricsPort' | 'env'>): 'metrics port' | 'main port' | 'nowhere' {
  if (config.metricsPort !== undefined) return 'metrics port';
  return config.env === 'production' ? 'nowhere' : 'main port';
}

/** Reads and validates the environment; throws ConfigError naming every bad or missing setting. */
export function loadConfig(environment: Env = process.env): Config {
  const parsed = settingsSchema.safeParse(environment);
  if (!parsed.success) {
    throw new ConfigError(parsed.error.issues.map((issue) => `${issue.path.join('.')}: ${issue.message}`));
  }
  // The schema is built with Object.fromEntries, which drops each setting's type: SettingValues restores them.
  const env = parsed.data as SettingValues;
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
    for (const name of ['BRAND_PRIVACY_URL', 'BRAND_TERMS_URL', 'BRAND_HELP_URL'] as const) {
      if (env[name] && !env[name].startsWith('https:')) problems.push(`${name} must be an https URL in production`);
    }
  }
  if (env.METRICS_PORT && env.METRICS_PORT === env.PORT) problems.push('METRICS_PORT must differ from PORT (metrics stay off the public port)');
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
    host: env.HOST,
    issuer,
    databaseUrl: env.DATABASE_URL,
    dataDir: path.resolve(env.DATA_DIR),
    redis,
    cookieKeys,
    secretsKeys,
    jwks: env.JWKS_FILE ? { file: path.resolve(env.JWKS_FILE) } : env.JWKS ? { json: env.JWKS } : undefined,
    jwksMaxAge: env.JWKS_MAX_AGE,
    clientsFile,
    resourceServersFile: env.RESOURCE_SERVERS_FILE ? path.resolve(env.RESOURCE_SERVERS_FILE) : undefined,
    trustProxy,
    allowPrivateNetworkRequests: env.ALLOW_PRIVATE_NETWORK_REQUESTS
      ? isTrue(env.ALLOW_PRIVATE_NETWORK_REQUESTS)
      : env.NODE_ENV !== 'production',
    logLevel: env.LOG_LEVEL,
    logFormat: env.LOG_FORMAT,
    metricsPort: env.METRICS_PORT,
    metricsHost: env.METRICS_HOST,
    shutdownGraceSeconds: env.SHUTDOWN_GRACE_SECONDS ?? (env.NODE_ENV === 'production' ? 10 : 0),
    retention: { loginHistoryDays: env.LOGIN_HISTORY_DAYS, auditDays: env.AUDIT_DAYS },
    bootstrapAdmin: env.ADMIN_EMAIL && adminPassword ? { email: env.ADMIN_EMAIL, password: adminPassword } : undefined,
    passwordMinLength: env.PASSWORD_MIN_LENGTH,
    smtpUrl: env.SMTP_URL,
    mailFrom: env.MAIL_FROM,
    registration: env.REGISTRATION,
    requireVerifiedEmail: isTrue(env.REQUIRE_VERIFIED_EMAIL),
    mfa: env.MFA,
    reauthMaxAge: env.REAUTH_MAX_AGE,
    brand: {
      productName: env.PRODUCT_NAME,
      logoUrl: env.BRAND_LOGO_URL,
      logoDarkUrl: env.BRAND_LOGO_DARK_URL ?? env.BRAND_LOGO_URL,
      faviconUrl: env.BRAND_FAVICON_URL,
      primaryColor: env.BRAND_PRIMARY_COLOR.toLowerCase(),
      links: { privacy: env.BRAND_PRIVACY_URL, terms: env.BRAND_TERMS_URL, help: env.BRAND_HELP_URL },
    },
    identityProvidersFile: env.IDENTITY_PROVIDERS_FILE ? path.resolve(env.IDENTITY_PROVIDERS_FILE) : undefined,
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
    argon2Concurrency: env.ARGON2_CONCURRENCY ?? availableParallelism(),
    webhooks: {
      timeoutMs: env.WEBHOOK_TIMEOUT_MS,
      retryBaseMs: env.WEBHOOK_RETRY_BASE_MS,
      maxRetryDelayMs: env.WEBHOOK_RETRY_MAX_DELAY_MS,
      retryWindowMs: env.WEBHOOK_RETRY_WINDOW_SECONDS * 1000,
      pollMs: env.WEBHOOK_POLL_MS,
      concurrency: env.WEBHOOK_CONCURRENCY,
      secretOverlapMs: env.WEBHOOK_SECRET_OVERLAP_HOURS * 3_600_000,
    },
  };
}
