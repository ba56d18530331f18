/**
 * Our IdP in a process of its own, as `npm start` runs it but on a port the system picks: the settings come
 * from the environment the bench gives it (Postgres and Redis, or the embedded default). With
 * BENCH_MODEL_STORE=memory, node-oidc-provider's models live in this process as in the baseline (the host alone).
 */
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';

import { loadConfig } from '../../src/config.ts';
import { createIdp } from '../../src/idp.ts';
import { createServerLogger } from '../../src/logger.ts';
import { serveControl } from './control.ts';
import { unboundedMemoryAdapter } from './unbounded-memory-adapter.ts';

const server = createServer();
await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
const { port } = server.address() as AddressInfo;

const config = loadConfig({ ...process.env, PORT: String(port), ISSUER: `http://127.0.0.1:${port}` });
const inProcessModelStore = process.env.BENCH_MODEL_STORE === 'memory' ? await unboundedMemoryAdapter() : undefined;
const idp = await createIdp(config, createServerLogger(config.logLevel), { inProcessModelStore });
server.on('request', idp.app.callback());

const email = process.env.BENCH_EMAIL!;
const password = process.env.BENCH_PASSWORD!;
await idp.accounts.createAccount({ email, password, name: 'Bench Person', emailVerified: true });

serveControl({
  argon2: config.argon2,
  async stop() {
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
    await idp.close();
  },
});
process.send?.({ type: 'ready', port });
