import { readFileSync } from 'node:fs';
import { z } from 'zod';

const resourceServerSchema = z.object({
  indicator: z.url({ protocol: /^https?$/, error: 'indicator must be an http(s) URL' }),
  name: z.string().min(1).optional(),
  scopes: z.array(z.string().regex(/^[\x21\x23-\x5b\x5d-\x7e]+$/, 'a scope has no spaces or quotes')).min(1),
  accessTokenTTL: z.number().int().min(60).max(86_400).default(3600),
  /** An API that acts for a person: tokens from client credentials (a machine acting as itself) are refused. */
  personFacing: z.boolean().default(false),
  /** Confidential clients (the API's own) that may introspect access tokens issued for this API. */
  introspectionClients: z.array(z.string().min(1)).optional(),
});

/** An API that accepts our JWT access tokens (RFC 9068), addressed by its resource indicator (RFC 8707). */
export type ResourceServer = z.infer<typeof resourceServerSchema> & {
  /** Ours and powerful (the admin API): never granted without a consent page, never silently. */
  privileged?: boolean;
};

export class ResourceServersFileError extends Error {}

export function readResourceServersFile(file: string | undefined): ResourceServer[] {
  if (!file) return [];
  let parsed: unknown;
  try {
    parsed = JSON.parse(readFileSync(file, 'utf8'));
  } catch (error) {
    throw new ResourceServersFileError(`RESOURCE_SERVERS_FILE ${file} is not a readable JSON file: ${(error as Error).message}`);
  }
  const result = z.array(resourceServerSchema).safeParse(parsed);
  if (!result.success) {
    const issue = result.error.issues[0]!;
    throw new ResourceServersFileError(`RESOURCE_SERVERS_FILE ${file}: ${issue.path.join('.')}: ${issue.message}`);
  }
  return result.data;
}

/** Our own admin API: acts for people, privileged, short-lived tokens. */
export function adminApiServer(issuer: string): ResourceServer {
  return { indicator: `${issuer}/admin/api`, name: 'Admin API', scopes: ['admin'], accessTokenTTL: 600, personFacing: true, privileged: true };
}
