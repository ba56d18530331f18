import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { Browser } from '../support/browser.ts';
import { runAdmin } from '../support/cli.ts';
import { createPostgresDatabase, webAppClient, webAppAuthorizationUrl } from '../support/idp.ts';
import { freePort } from '../support/ports.ts';
import { startServerProcess, type ServerProcess } from '../support/server-process.ts';
import { signIn } from '../support/rp.ts';
import { startSmtpServer } from '../support/smtp.ts';

const root = path.resolve(import.meta.dirname, '../..');
const postgres = process.env.TEST_DATABASE_URL;
const RP_REDIRECT = 'https://rp.example.test/callback';
if (!postgres) console.warn('TEST_DATABASE_URL is not set: the production-mode start is not tested (it needs PostgreSQL).');

/** The settings the README's production checklist names, in the order it names them. */
function checklistSettings(): string[] {
  const readme = readFileSync(path.join(root, 'README.md'), 'utf8');
  const section = readme.split('## Production checklist')[1]!.split('\n## ')[0]!;
  const items = section.split('\n').filter((line) => /^\d+\. /.test(line) || /^ {3}\S/.test(line));
  return [...new Set(items.join('\n').match(/`[A-Z][A-Z0-9_]+`/g)!.map((name) => name.slice(1, -1)))];
}

describe.skipIf(!postgres)('production mode, set up by the README checklist, behind a TLS-terminating proxy', () => {
  const issuer = 'https://login.example.test';
  const adminEmail = 'ops@example.test';
  const adminPassword = 'operator password 8 words long';
  let dir: string;
  let server: ServerProcess;
  let port: number;
  let database: Awaited<ReturnType<typeof createPostgresDatabase>>;
  let smtp: Awaited<ReturnType<typeof startSmtpServer>>;

  beforeAll(async () => {
    dir = mkdtempSync(path.join(tmpdir(), 'idp-production-'));
    database = await createPostgresDatabase();
    smtp = await startSmtpServer();
    port = await freePort();
    writeFileSync(path.join(dir, 'jwks.json'), (await runAdmin(['generate-jwks'], { env: { DATA_DIR: dir } })).stdout);
    // Production takes https redirect URIs only (http on loopback is for native apps).
    const webApp = webAppClient;
    writeFileSync(path.join(dir, 'clients.json'), JSON.stringify([{ ...webApp, redirect_uris: [RP_REDIRECT], post_logout_redirect_uris: [] }]));
    writeFileSync(path.join(dir, 'admin-password'), `${adminPassword}\n`);

    // What an operator sets by following the checklist, and nothing else (PORT only to avoid clashes, no shutdown
    // grace so that stopping it at the end takes no 10 s).
    const settings: Record<string, string> = {
      NODE_ENV: 'production',
      DATABASE_URL: database.url,
      JWKS_FILE: path.join(dir, 'jwks.json'),
      COOKIE_KEYS: 'first-cookie-key-of-at-least-32-characters',
      SECRETS_KEY: `k1:${Buffer.alloc(32, 9).toString('base64')}`,
      ISSUER: issuer,
      TRUST_PROXY: 'true',
      CLIENTS_FILE: path.join(dir, 'clients.json'),
      SMTP_URL: smtp.url,
      MAIL_FROM: 'Example Login <login@example.test>',
      ADMIN_EMAIL: adminEmail,
      ADMIN_PASSWORD_FILE: path.join(dir, 'admin-password'),
    };
    const alternatives = new Set(['JWKS', 'ADMIN_PASSWORD', 'REDIS_URL']);
    expect(Object.keys(settings).filter((name) => name !== 'NODE_ENV' && !checklistSettings().includes(name))).toEqual([]);
    expect(checklistSettings().filter((name) => !(name in settings) && !alternatives.has(name))).toEqual([]);

    server = await startServerProcess({ ...settings, SHUTDOWN_GRACE_SECONDS: '0' }, port, 30_000);
  }, 60_000);

  afterAll(async () => {
    await server?.stop();
    await smtp?.close();
    await database?.drop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('starts without a refusal and publishes https endpoints', async () => {
    const discovery = await fetch(`http://127.0.0.1:${port}/.well-known/openid-configuration`, {
      headers: { 'x-forwarded-proto': 'https', 'x-forwarded-host': 'login.example.test' },
    });
    expect(discovery.status).toBe(200);
    expect(discovery.headers.get('strict-transport-security')).toMatch(/max-age=\d+/);
    const metadata = (await discovery.json()) as Record<string, unknown>;
    expect(metadata.issuer).toBe(issuer);
    for (const endpoint of ['authorization_endpoint', 'token_endpoint', 'jwks_uri', 'userinfo_endpoint']) {
      expect(metadata[endpoint]).toMatch(/^https:\/\/login\.example\.test\//);
    }
  });

  it('signs the first admin in with Secure cookies and records the client address the proxy forwarded', async () => {
    const browser = new Browser([RP_REDIRECT], { origin: issuer, upstream: `http://127.0.0.1:${port}`, clientIp: '203.0.113.7' });
    const authorization = webAppAuthorizationUrl(issuer, RP_REDIRECT);

    const first = await browser.fetch(authorization.href);
    const cookies = first.headers.getSetCookie();
    expect(cookies.length).toBeGreaterThan(0);
    for (const cookie of cookies) expect(cookie).toMatch(/; secure/i);
    for (const cookie of cookies) expect(cookie).toMatch(/; samesite=lax/i);

    const callback = await signIn(browser, authorization, { email: adminEmail, password: adminPassword });
    expect(callback.searchParams.get('code')).toBeTruthy();
    expect(callback.searchParams.get('state')).toBe('xyz');

    const client = new pg.Client({ connectionString: database.url });
    await client.connect();
    try {
      const { rows } = await client.query("select ip, outcome from login_history order by at desc limit 1");
      expect(rows[0]).toMatchObject({ ip: '203.0.113.7', outcome: 'success' });
    } finally {
      await client.end();
    }
    expect(server.output).not.toContain(adminPassword);
  });

  it('writes nothing but JSON lines, all on stdout: node-oidc-provider\'s runtime warning too, and each request line at once', async () => {
    const response = await fetch(`http://127.0.0.1:${port}/jwks`, {
      headers: { 'x-request-id': 'production-log-check', 'x-forwarded-for': '203.0.113.9' },
    });
    expect(response.status).toBe(200);
    // No timing asserted: the line is waited for, and a batching logger would hold it back for good.
    while (!server.stdout.includes('"requestId":"production-log-check"')) await new Promise((resolve) => setTimeout(resolve, 50));

    const lines = server.stdout.split('\n').filter(Boolean);
    const parsed = lines.map((line) => {
      try {
        return JSON.parse(line) as Record<string, unknown>;
      } catch {
        throw new Error(`not a JSON line on stdout: ${line}`);
      }
    });
    expect(parsed.find((line) => line.requestId === 'production-log-check' && line.msg === 'request')).toMatchObject({
      route: '/jwks',
      status: 200,
      ip: '203.0.113.9',
    });
    // node-oidc-provider warns below Node.js 22 LTS ("Jod"), as when it is imported.
    const unsupportedRuntime = (process.release.lts?.charCodeAt(0) ?? 0) < 'J'.charCodeAt(0);
    if (unsupportedRuntime) {
      expect(parsed.some((line) => String(line.msg).includes('Unsupported runtime'))).toBe(true);
    }
    expect(server.stderr).toBe('');
  });

  it('never serves /metrics on the public port', async () => {
    expect((await fetch(`http://127.0.0.1:${port}/metrics`)).status).toBe(404);
    const summary = server.stdout.split('\n').filter(Boolean).map((line) => JSON.parse(line) as Record<string, unknown>).find((line) => String(line.msg).startsWith('identity provider listening'));
    expect(summary!.metrics).toMatch(/^off \(set METRICS_PORT/);
  });
});
