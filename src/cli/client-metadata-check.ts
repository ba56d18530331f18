import type { Adapter } from 'oidc-provider';

import { generateJwks } from '../keys/index.ts';

/** The CLI stores clients through the client registry; node-oidc-provider here only checks metadata. */
class NoStorage implements Adapter {
  async upsert() {}
  async find() {
    return undefined;
  }
  async findByUserCode() {
    return undefined;
  }
  async findByUid() {
    return undefined;
  }
  async consume() {}
  async destroy() {}
  async revokeByGrantId() {}
}

/**
 * Loads node-oidc-provider without its "Unsupported runtime" notice, which it prints on import
 * under Node.js 20: the server says that when it starts; a command that succeeded says only its result.
 */
async function importQuietly() {
  const warn = console.warn;
  console.warn = (...parts: unknown[]) => {
    if (!String(parts[0]).includes('oidc-provider WARNING: Unsupported runtime')) warn(...parts);
  };
  try {
    return await import('oidc-provider');
  } finally {
    console.warn = warn;
  }
}

/**
 * node-oidc-provider's own check of client metadata, as it will run when the client is used.
 * Its Provider gets storage, keys and no development pages, so it prints none of its
 * quick-start warnings (in-memory adapter, development keys, devInteractions).
 */
export async function clientMetadataCheck(issuer: string): Promise<(metadata: Record<string, unknown>) => Promise<void>> {
  const { default: Provider } = await importQuietly();
  const provider = new Provider(issuer, {
    adapter: NoStorage,
    jwks: await generateJwks(),
    features: { devInteractions: { enabled: false } },
  });
  return (metadata) => provider.Client.validate(metadata as never);
}
