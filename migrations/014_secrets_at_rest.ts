import { createHash } from 'node:crypto';
import type { Kysely } from 'kysely';

/**
 * Client secrets of clients registered in the database are kept as SHA-256 digests (`sha256:<base64url>`),
 * the form src/oidc/client-secrets.ts compares against. Secrets stored before are hashed here; they keep
 * working with client_secret_basic and client_secret_post (not with client_secret_jwt, which needs the secret).
 * Authenticator (TOTP) secrets are encrypted at start instead, because that needs SECRETS_KEY, which
 * migrations do not have (see resealTotpSecrets).
 */
export async function up(db: Kysely<any>): Promise<void> {
  const rows: { client_id: string; metadata: Record<string, unknown> }[] = await db.selectFrom('clients').select(['client_id', 'metadata']).execute();
  for (const { client_id, metadata } of rows) {
    const secret = metadata.client_secret;
    if (typeof secret !== 'string' || secret.startsWith('sha256:')) continue;
    const hashed = `sha256:${createHash('sha256').update(secret, 'utf8').digest('base64url')}`;
    await db
      .updateTable('clients')
      .set({ metadata: JSON.stringify({ ...metadata, client_secret: hashed }) })
      .where('client_id', '=', client_id)
      .execute();
  }
}
