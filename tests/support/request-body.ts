import { createHash } from 'node:crypto';
import type { IncomingMessage } from 'node:http';

/** A form-encoded request body, for the small fakes of upstream providers. */
export async function formOf(req: IncomingMessage): Promise<URLSearchParams> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  return new URLSearchParams(Buffer.concat(chunks).toString('utf8'));
}

/** The S256 PKCE challenge of a verifier. */
export const s256 = async (verifier: string): Promise<string> => createHash('sha256').update(verifier).digest('base64url');
