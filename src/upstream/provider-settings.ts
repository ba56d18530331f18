import { readFileSync } from 'node:fs';
import { z } from 'zod';

import type { Config } from '../config.ts';

const domain = z
  .string()
  .trim()
  .toLowerCase()
  .regex(/^[a-z0-9.-]+\.[a-z]{2,}$/, 'a domain name');
const https = z.url({ protocol: /^https?$/ });
const secret = z.string().min(1, 'must not be empty');

const RESERVED_IDS = new Set(['passkey', 'passkeys', 'reauth', 'sessions', 'apps', 'two-step', 'callback']);

const common = {
  /** In URLs (the redirect URI) and in linked identities: never change it once people have linked. */
  id: z
    .string()
    .regex(/^[a-z0-9][a-z0-9_-]{0,39}$/, 'lower-case letters, digits, - and _, at most 40')
    // Names of account page paths (/account/<id>/link sits beside them).
    .refine((id) => !RESERVED_IDS.has(id), 'a word the account pages use; choose another'),
  name: z.string().trim().min(1).max(60),
  /** An https URL or a path under /static/. */
  icon: z
    .string()
    .regex(/^(https:\/\/[^\s"'<>]+|\/static\/[^\s"'<>]+)$/, 'an https URL or a path under /static/')
    .optional(),
  domains: z.array(domain).default([]),
  enforce: z.boolean().default(false),
  enabled: z.boolean().default(true),
};

const oidcSettings = z
  .object({
    ...common,
    type: z.literal('oidc'),
    issuer: https,
    client_id: z.string().min(1),
    client_secret: secret.optional(),
    /** The private JWK (RS256, ES256, ...) for `private_key_jwt` client authentication instead of a secret. */
    private_key_jwt: z.record(z.string(), z.unknown()).refine((jwk) => typeof jwk.kty === 'string' && 'd' in jwk, 'a private JWK').optional(),
    scopes: z.array(z.string().regex(/^[\x21\x23-\x5b\x5d-\x7e]+$/)).default(['openid', 'email', 'profile']),
    claims: z
      .object({
        email: z.string().default('email'),
        /** `claim`: trust the provider's email_verified; `always`: every address it gives is verified; `never`. */
        email_verified: z.enum(['claim', 'always', 'never']).default('claim'),
        name: z.string().default('name'),
        picture: z.string().default('picture'),
      })
      .prefault({}),
    /** Only people whose email is in one of these domains may sign in with it. */
    allowed_domains: z.array(domain).optional(),
    /** Google only: accept only Workspace accounts of this domain (`hd`). */
    hosted_domain: domain.optional(),
  })
  .refine((entry) => Boolean(entry.client_secret) !== Boolean(entry.private_key_jwt), {
    message: 'set client_secret or private_key_jwt (one of them)',
    path: ['client_secret'],
  });

const githubSettings = z.object({
  ...common,
  type: z.literal('github'),
  client_id: z.string().min(1),
  client_secret: secret,
  /** GitHub Enterprise Server: its web and API addresses. */
  github_url: https.default('https://github.com'),
  api_url: https.default('https://api.github.com'),
});

const microsoftSettings = z.object({
  ...common,
  type: z.literal('microsoft'),
  client_id: z.string().min(1),
  client_secret: secret,
  /** `organizations` (work and school accounts), `common` (also personal accounts), or one tenant id. */
  tenant: z.string().regex(/^[A-Za-z0-9.-]+$/).default('organizations'),
  /** Only these tenant ids (`tid`) may sign in. */
  allowed_tenants: z.array(z.string().trim().toLowerCase()).optional(),
  authority: https.default('https://login.microsoftonline.com'),
});

export const providerSettingsSchema = z.discriminatedUnion('type', [oidcSettings, githubSettings, microsoftSettings], {
  error: 'type must be oidc, github or microsoft',
});

export type ProviderSettings = z.infer<typeof providerSettingsSchema>;
export type OidcSettings = Extract<ProviderSettings, { type: 'oidc' }>;
export type GithubSettings = Extract<ProviderSettings, { type: 'github' }>;
export type MicrosoftSettings = Extract<ProviderSettings, { type: 'microsoft' }>;

/** A bad IDENTITY_PROVIDERS_FILE (or stored entry): what and where, to stop the start. */
export class IdentityProvidersError extends Error {}

/** One entry, checked; the error names the entry and its field. */
export function parseProviderSettings(raw: unknown, where: string, production = false): ProviderSettings {
  const id = typeof raw === 'object' && raw && typeof (raw as { id?: unknown }).id === 'string' ? `"${(raw as { id: string }).id}"` : where;
  const parsed = providerSettingsSchema.safeParse(raw);
  if (!parsed.success) {
    const problems = parsed.error.issues.map((issue) => `${issue.path.join('.') || 'entry'}: ${issue.message}`);
    throw new IdentityProvidersError(`identity provider ${id}: ${problems.join('; ')}`);
  }
  const insecure = production ? plainHttpField(parsed.data) : undefined;
  if (insecure) throw new IdentityProvidersError(`identity provider ${id}: ${insecure}: must be https in production`);
  return parsed.data;
}

/** The first of an entry's provider addresses that is plain http (only a test's fake provider may be). */
export const plainHttpField = (entry: ProviderSettings): string | undefined =>
  Object.entries(entry).find(([key, value]) => ['issuer', 'github_url', 'api_url', 'authority'].includes(key) && !String(value).startsWith('https:'))?.[0];

const shapes = { oidc: oidcSettings.shape, github: githubSettings.shape, microsoft: microsoftSettings.shape };

/** Fields an entry of its type does not have (a typo would otherwise be dropped without a word). */
export function unknownProviderFields(raw: Record<string, unknown>): string[] {
  const shape = shapes[raw.type as keyof typeof shapes];
  return shape ? Object.keys(raw).filter((key) => !Object.hasOwn(shape, key)) : [];
}

/** The fields that hold secrets: never stored in the clear, never shown. */
export const SECRET_FIELDS = ['client_secret', 'private_key_jwt'] as const;

/** Every entry of a list, checked, with ids unique. */
export function parseProviderList(raw: unknown, source: string, production = false): ProviderSettings[] {
  if (!Array.isArray(raw)) throw new IdentityProvidersError(`${source}: a JSON array of identity providers`);
  const entries = raw.map((entry, index) => parseProviderSettings(entry, `#${index + 1}`, production));
  const seen = new Set<string>();
  for (const entry of entries) {
    if (seen.has(entry.id)) throw new IdentityProvidersError(`identity provider "${entry.id}": id: used twice`);
    seen.add(entry.id);
  }
  return entries;
}

/** Google from `GOOGLE_*`: an `oidc` entry whose id stays `google`, so identities linked before keep working. */
export function googleEntry(google: NonNullable<Config['google']>): ProviderSettings {
  return parseProviderSettings(
    {
      id: 'google',
      name: 'Google',
      type: 'oidc',
      issuer: google.issuer,
      client_id: google.clientId,
      client_secret: google.clientSecret,
      ...(google.hostedDomain ? { hosted_domain: google.hostedDomain } : {}),
    },
    'GOOGLE_*',
  );
}

/** The providers the configuration names: IDENTITY_PROVIDERS_FILE, then Google from `GOOGLE_*`. */
export function configuredProviders(config: Pick<Config, 'identityProvidersFile' | 'google' | 'env'>): ProviderSettings[] {
  const production = config.env === 'production';
  let entries: ProviderSettings[] = [];
  if (config.identityProvidersFile) {
    let raw: unknown;
    try {
      raw = JSON.parse(readFileSync(config.identityProvidersFile, 'utf8'));
    } catch (error) {
      throw new IdentityProvidersError(`IDENTITY_PROVIDERS_FILE ${config.identityProvidersFile}: ${(error as Error).message}`);
    }
    entries = parseProviderList(raw, `IDENTITY_PROVIDERS_FILE ${config.identityProvidersFile}`, production);
  }
  if (config.google) {
    if (entries.some((entry) => entry.id === 'google')) throw new IdentityProvidersError('identity provider "google": set by GOOGLE_* and IDENTITY_PROVIDERS_FILE, keep one');
    entries.push(googleEntry(config.google));
  }
  return entries;
}
