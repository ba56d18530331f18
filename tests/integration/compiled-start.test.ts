import { spawn, type ChildProcess } from 'node:child_process';
import { execFileSync } from 'node:child_process';
import { once } from 'node:events';
import { cpSync, existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { Browser } from '../support/browser.ts';
import { buildStages, readDockerfile, run, stageEnv, withStagePaths } from '../support/dockerfile.ts';
import { createPostgresDatabase, serviceClient, webAppClient, webAppAuthorizationUrl } from '../support/idp.ts';
import { freePort } from '../support/ports.ts';
import { signIn } from '../support/rp.ts';
import { startSmtpServer } from '../support/smtp.ts';

const root = path.resolve(import.meta.dirname, '../..');
const postgres = process.env.TEST_DATABASE_URL;
const RP_REDIRECT = 'https://rp.example.test/callback';
if (!postgres) console.warn('TEST_DATABASE_URL is not set: the compiled start is not tested (it needs PostgreSQL).');

/**
 * The container path without a Docker engine: the Dockerfile's own steps (tests/support/dockerfile.ts),
 * on a clean copy of the tracked files, from `npm ci` to `node dist/src/main.js` in the final stage's
 * directory, which holds only what the image copies into it.
 */
describe.skipIf(!postgres)('the Dockerfile build and start, run here step by step', () => {
  const issuer = 'https://login.example.test';
  const adminEmail = 'ops@example.test';
  const adminPassword = 'operator password 8 words long';
  let dir: string;
  let child: ChildProcess;
  let port: number;
  let output = '';
  let database: Awaited<ReturnType<typeof createPostgresDatabase>>;
  let smtp: Awaited<ReturnType<typeof startSmtpServer>>;
  let runtime: string;
  let healthcheck: string | undefined;
  let env: Record<string, string | undefined>;

  beforeAll(async () => {
    dir = mkdtempSync(path.join(tmpdir(), 'idp-compiled-'));
    const context = path.join(dir, 'context');
    for (const file of execFileSync('git', ['ls-files', '-z'], { cwd: root, encoding: 'utf8' }).split('\0')) {
      if (!file || !existsSync(path.join(root, file))) continue; // deleted but not yet committed
      mkdirSync(path.dirname(path.join(context, file)), { recursive: true });
      cpSync(path.join(root, file), path.join(context, file));
    }
    const stages = readDockerfile(path.join(context, 'Dockerfile'));
    const final = stages.at(-1)!;
    expect(final.command).toEqual(['node', 'dist/src/main.js']);

    const buildEnv = { PATH: process.env.PATH, HOME: process.env.HOME, npm_config_cache: process.env.npm_config_cache };
    // From the local npm cache: the one change to a command, and it only adds a flag.
    const offline = (command: string) => command.replace(/\bnpm ci\b/g, 'npm ci --prefer-offline');
    const directories = await buildStages(stages, { context, root: path.join(dir, 'stages'), env: buildEnv, adjust: offline });
    runtime = directories.get(final.name)!;
    healthcheck = final.healthcheck && withStagePaths(final, runtime, final.healthcheck);

    database = await createPostgresDatabase();
    smtp = await startSmtpServer();
    port = await freePort();
    const secrets = path.join(dir, 'secrets');
    mkdirSync(secrets);
    // The compiled CLI, as a migration job in the image would run it.
    await run(`node dist/src/cli/main.js generate-jwks --out ${secrets}/jwks.json`, { cwd: runtime, env: buildEnv });
    writeFileSync(path.join(secrets, 'clients.json'), JSON.stringify([{ ...webAppClient, redirect_uris: [RP_REDIRECT], post_logout_redirect_uris: [] }, serviceClient]));
    writeFileSync(path.join(secrets, 'admin-password'), `${adminPassword}\n`, { mode: 0o600 });

    env = {
      PATH: process.env.PATH,
      ...stageEnv(final, runtime),
      PORT: String(port),
      DATABASE_URL: database.url,
      JWKS_FILE: path.join(secrets, 'jwks.json'),
      COOKIE_KEYS: 'first-cookie-key-of-at-least-32-characters',
      SECRETS_KEY: `k1:${Buffer.alloc(32, 9).toString('base64')}`,
      ISSUER: issuer,
      TRUST_PROXY: 'true',
      CLIENTS_FILE: path.join(secrets, 'clients.json'),
      SMTP_URL: smtp.url,
      MAIL_FROM: 'Example Login <login@example.test>',
      ADMIN_EMAIL: adminEmail,
      ADMIN_PASSWORD_FILE: path.join(secrets, 'admin-password'),
    };
    expect(env.NODE_ENV).toBe('production');
    // The migration job of deploy/kubernetes: the compiled CLI, with a node's whole configuration.
    await run('node dist/src/cli/main.js migrate', { cwd: runtime, env });
    const [program, ...args] = final.command!;
    child = spawn(program!, args, { cwd: runtime, env, stdio: ['ignore', 'pipe', 'pipe'] });
    child.stdout!.on('data', (chunk) => (output += chunk));
    child.stderr!.on('data', (chunk) => (output += chunk));
    for (let i = 0; i < 150; i += 1) {
      if (child.exitCode !== null) throw new Error(`the compiled IdP refused to start:\n${output}`);
      if (await fetch(`http://127.0.0.1:${port}/readyz`).then((r) => r.ok, () => false)) return;
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
    throw new Error(`the compiled IdP did not become ready:\n${output}`);
  }, 600_000); // npm ci and tsc: about a minute and a half on two idle cores, longer beside other suites

  afterAll(async () => {
    child?.kill('SIGTERM');
    if (child && child.exitCode === null) await once(child, 'exit');
    await smtp?.close();
    await database?.drop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  const proxied = { 'x-forwarded-proto': 'https', 'x-forwarded-host': 'login.example.test', 'x-forwarded-for': '203.0.113.7' };

  it('holds no TypeScript sources or development tools, and passes its HEALTHCHECK', async () => {
    expect(existsSync(path.join(runtime, 'src'))).toBe(false);
    expect(existsSync(path.join(runtime, 'node_modules', 'typescript'))).toBe(false);
    expect(existsSync(path.join(runtime, 'node_modules', 'vitest'))).toBe(false);
    expect(healthcheck).toBeTruthy();
    await run(healthcheck!, { cwd: runtime, env });
  });

  it('publishes discovery and issues a client-credentials token', async () => {
    const discovery = await fetch(`http://127.0.0.1:${port}/.well-known/openid-configuration`, { headers: proxied });
    expect(discovery.status).toBe(200);
    const metadata = (await discovery.json()) as { issuer: string; token_endpoint: string };
    expect(metadata.issuer).toBe(issuer);

    const token = await fetch(`http://127.0.0.1:${port}${new URL(metadata.token_endpoint).pathname}`, {
      method: 'POST',
      headers: {
        ...proxied,
        authorization: `Basic ${Buffer.from(`${serviceClient.client_id}:${serviceClient.client_secret}`).toString('base64')}`,
        'content-type': 'application/x-www-form-urlencoded',
      },
      body: 'grant_type=client_credentials',
    });
    expect(token.status).toBe(200);
    expect(await token.json()).toMatchObject({ token_type: 'Bearer', access_token: expect.any(String) });
  });

  it('signs the first admin in through the sign-in page', async () => {
    const browser = new Browser([RP_REDIRECT], { origin: issuer, upstream: `http://127.0.0.1:${port}`, clientIp: '203.0.113.7' });
    const authorization = webAppAuthorizationUrl(issuer, RP_REDIRECT);
    const callback = await signIn(browser, authorization, { email: adminEmail, password: adminPassword });
    expect(callback.searchParams.get('code')).toBeTruthy();
    expect(callback.searchParams.get('state')).toBe('xyz');
    expect(output).not.toContain(adminPassword);
  });
});
