/**
 * The baseline: node-oidc-provider alone, served by its own callback with no host around it, configured by
 * our configuration builder (same clients, features, token formats, TTLs, rotation) but with its in-memory
 * adapter (over a store that does not evict), an account lookup that answers one constant account, and interactions that sign that account in
 * and consent at once. What ours costs more than this is storage, middleware and the host.
 */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

import type { Account } from '../../src/accounts/index.ts';
import { loadConfig } from '../../src/config.ts';
import { createViews } from '../../src/views/views.ts';
import { createLogger } from '../../src/logger.ts';
import { adminApiServer, readClientsFile } from '../../src/clients/index.ts';
import { loadSecrets } from '../../src/keys/index.ts';
import { createProvider } from '../../src/oidc/index.ts';
import { viewsDir } from '../../src/paths.ts';
import { serveControl } from './control.ts';
import { unboundedMemoryAdapter } from './unbounded-memory-adapter.ts';

const server = createServer();
await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
const { port } = server.address() as AddressInfo;
const issuer = `http://127.0.0.1:${port}`;
const config = loadConfig({ ...process.env, PORT: String(port), ISSUER: issuer });

const now = new Date();
const account: Account = {
  id: '00000000-0000-4000-8000-000000000001',
  email: process.env.BENCH_EMAIL!,
  email_verified: true,
  password_hash: null,
  name: 'Bench Person',
  given_name: null,
  family_name: null,
  picture: null,
  locale: null,
  zoneinfo: null,
  metadata: {},
  status: 'active',
  created_at: now,
  updated_at: now,
  last_login_at: null,
  deleted_at: null,
  email_admin_asserted: false,
};

const noop = () => {};
const provider = createProvider({
  issuer,
  clientUriRules: { httpsOnly: false, allowPrivateNetwork: true },
  adapter: await unboundedMemoryAdapter(),
  accounts: { findActiveAccount: async () => account, rolesOf: async () => ['user'] },
  resourceServers: [adminApiServer(issuer)],
  secrets: await loadSecrets(config),
  clients: readClientsFile(config.clientsFile),
  views: createViews({ dir: viewsDir, reloadChanged: false }),
  log: createLogger('warn'),
  metrics: { tokenIssued: noop, grantSucceeded: noop, oidcError: noop },
  rateLimits: { userCodes: { lockedFor: async () => 0, recordWrong: async () => {} }, pollTooSoon: async () => false },
  deviceStepUp: { resources: [], hasSecondFactor: async () => false },
});

/** Signs the constant account in, then grants whatever consent is missing. */
async function interaction(req: IncomingMessage, res: ServerResponse) {
  const details = await provider.interactionDetails(req, res);
  if (details.prompt.name === 'login') {
    return provider.interactionFinished(req, res, { login: { accountId: account.id } }, { mergeWithLastSubmission: false });
  }
  const missing = details.prompt.details as { missingOIDCScope?: string[]; missingOIDCClaims?: string[] };
  const grant = details.grantId
    ? (await provider.Grant.find(details.grantId))!
    : new provider.Grant({ accountId: account.id, clientId: String(details.params.client_id) });
  if (missing.missingOIDCScope?.length) grant.addOIDCScope(missing.missingOIDCScope.join(' '));
  if (missing.missingOIDCClaims?.length) grant.addOIDCClaims(missing.missingOIDCClaims);
  const grantId = await grant.save();
  return provider.interactionFinished(req, res, { consent: details.grantId ? {} : { grantId } }, { mergeWithLastSubmission: true });
}

const oidc = provider.callback();
server.on('request', (req, res) => {
  if (!req.url?.startsWith('/interaction/')) return oidc(req, res);
  interaction(req, res).catch((error: Error) => {
    res.statusCode = 500;
    res.end(error.message);
  });
});

serveControl({
  argon2: config.argon2,
  async stop() {
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  },
});
process.send?.({ type: 'ready', port });
