import { readFileSync } from 'node:fs';
import type { ClientMetadata } from 'oidc-provider';

export class ClientsFileError extends Error {}

/** Client registrations: a JSON array of node-oidc-provider client metadata. */
export function readClientsFile(file: string): ClientMetadata[] {
  let parsed: unknown;
  try {
    parsed = JSON.parse(readFileSync(file, 'utf8'));
  } catch (error) {
    throw new ClientsFileError(`CLIENTS_FILE ${file} is not a readable JSON file: ${(error as Error).message}`);
  }
  if (!Array.isArray(parsed)) throw new ClientsFileError(`CLIENTS_FILE ${file} must hold a JSON array of clients`);
  parsed.forEach((client, index) => {
    if (typeof client !== 'object' || client === null || typeof client.client_id !== 'string') {
      throw new ClientsFileError(`CLIENTS_FILE ${file}: entry ${index} has no "client_id"`);
    }
  });
  return parsed as ClientMetadata[];
}

/**
 * A client of the file may not take the id of a built-in client (node-oidc-provider would keep one
 * of the two without a word, and the built-in one signs people in to the account pages and the
 * admin console) nor the id of another client of the file.
 */
export function checkClientIds(file: string, clients: ClientMetadata[], builtInIds: string[]): void {
  const seen = new Set<string>();
  for (const { client_id: id } of clients) {
    if (builtInIds.includes(id)) throw new ClientsFileError(`CLIENTS_FILE ${file}: client ${id}: this id is the IdP's own built-in client; choose another`);
    if (seen.has(id)) throw new ClientsFileError(`CLIENTS_FILE ${file}: client ${id} is listed twice`);
    seen.add(id);
  }
}

/**
 * node-oidc-provider checks clients of the file only when one is first used; we check them all at
 * start (its rules and ours, src/oidc/client-uris.ts), so a bad registration stops the IdP with its reason.
 */
export async function checkClients(file: string, clients: ClientMetadata[], validate: (metadata: ClientMetadata) => Promise<void>): Promise<void> {
  for (const client of clients) {
    try {
      await validate(client);
    } catch (error) {
      const description = (error as { error_description?: string }).error_description ?? (error as Error).message;
      throw new ClientsFileError(`CLIENTS_FILE ${file}: client ${client.client_id}: ${description}`);
    }
  }
}
