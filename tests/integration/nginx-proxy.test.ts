import { execFileSync, spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Redis } from 'ioredis';
import pg from 'pg';
import { Agent, getGlobalDispatcher, setGlobalDispatcher, type Dispatcher } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { Browser } from '../support/browser.ts';
import { runAdmin } from '../support/cli.ts';
import { createPostgresDatabase, serviceClient, webAppClient, webAppAuthorizationUrl } from '../support/idp.ts';
import { freePort } from '../support/ports.ts';
import { startServerProcess, type ServerProcess } from '../support/server-process.ts';
import { signIn } from '../support/rp.ts';
import { startSmtpServer } from '../support/smtp.ts';

const root = path.resolve(import.meta.dirname, '../..');
const postgres = process.env.TEST_DATABASE_URL;
const redis = process.env.TEST_REDIS_URL;
const nginx = spawnSync('nginx', ['-v']).error ? undefined : 'nginx';
const RP_REDIRECT = 'https://rp.example.test/callback';

const missing = [!postgres && 'TEST_DATABASE_URL', !redis && 'TEST_REDIS_URL', !nginx && 'nginx (Debian package nginx)'].filter(Boolean);
if (missing.length > 0 && process.env.CI === 'true') {
  throw new Error(`the nginx test needs ${missing.join(', ')}; .ci/run installs nginx`);
}
if (missing.length > 0) console.warn(`deploy/nginx.conf is not tested: ${missing.join(', ')} missing.`);

/**
 * deploy/nginx.conf as shipped, with only its ports and paths replaced: each replaced text must be
 * there exactly once, so the test fails rather than quietly testing another configuration.
 */
function shippedConfig(replacements: [string, string][]): string {
  let conf = readFileSync(path.join(root, 'deploy/nginx.conf'), 'utf8');
  for (const [from, to] of replacements) {
    expect(conf.split(from).length - 1, `deploy/nginx.conf contains "${from}" once`).toBe(1);
    conf = conf.replace(from, to);
  }
  return conf;
}

async function until(ready: () => Promise<boolean>, what: string, timeoutMs = 60_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await ready())) {
    if (Date.now() > deadline) throw new Error(`${what}: not within ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

describe.skipIf(missing.length > 0)('deploy/nginx.conf: Debian nginx terminating TLS in front of two production nodes', () => {
  const adminEmail = 'ops@example.test';
  const adminPassword = 'operator password 8 words long';
  let dir: string;
  let issuer: string;
  let plainHttp: string;
  let database: Awaited<ReturnType<typeof createPostgresDatabase>>;
  let smtp: Awaited<ReturnType<typeof startSmtpServer>>;
  let proxy: ChildProcess | undefined;
  let previousDispatcher: Dispatcher;
  const nodes: { port: number; server?: ServerProcess }[] = [];

  let settings: Record<string, string>;

  beforeAll(async () => {
    dir = mkdtempSync(path.join(tmpdir(), 'idp-nginx-'));
    chmodSync(dir, 0o755); // nginx's workers (nobody, when started as root) write temporary files here
    const [httpsPort, httpPort, portA, portB] = [await freePort(), await freePort(), await freePort(), await freePort()];
    issuer = `https://localhost:${httpsPort}`;
    plainHttp = `http://127.0.0.1:${httpPort}`;
    nodes.push({ port: portA }, { port: portB });

    // A self-signed certificate for localhost, trusted by this test's fetch alone.
    execFileSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-days', '1',
      '-subj', '/CN=localhost', '-addext', 'subjectAltName=DNS:localhost', '-keyout', path.join(dir, 'key.pem'), '-out', path.join(dir, 'cert.pem')], { stdio: 'ignore' });
    previousDispatcher = getGlobalDispatcher();
    setGlobalDispatcher(new Agent({ connect: { ca: readFileSync(path.join(dir, 'cert.pem'), 'utf8') } }));

    const temp = ['client_body', 'proxy', 'fastcgi', 'uwsgi', 'scgi'].map((kind) => `${kind}_temp_path ${dir}/${kind};`).join(' ');
    writeFileSync(path.join(dir, 'nginx.conf'), shippedConfig([
      ['error_log /var/log/nginx/error.log', `error_log ${dir}/error.log`],
      ['access_log /var/log/nginx/access.log', `access_log ${dir}/access.log`],
      ['http {', `http {\n  ${temp}`],
      ['server 10.0.0.11:3000', `server 127.0.0.1:${portA}`],
      ['server 10.0.0.12:3000', `server 127.0.0.1:${portB}`],
      ['listen 80;', `listen 127.0.0.1:${httpPort};`],
      ['listen 443 ssl;', `listen 127.0.0.1:${httpsPort} ssl;`],
      ['/etc/ssl/login.example.com/fullchain.pem', path.join(dir, 'cert.pem')],
      ['/etc/ssl/login.example.com/privkey.pem', path.join(dir, 'key.pem')],
    ]));

    database = await createPostgresDatabase();
    smtp = await startSmtpServer();
    writeFileSync(path.join(dir, 'jwks.json'), (await runAdmin(['generate-jwks'], { env: { DATA_DIR: dir } })).stdout);
    writeFileSync(path.join(dir, 'clients.json'), JSON.stringify([{ ...webAppClient, redirect_uris: [RP_REDIRECT], post_logout_redirect_uris: [] }, serviceClient]));
    writeFileSync(path.join(dir, 'admin-password'), `${adminPassword}\n`);
    settings = {
      NODE_ENV: 'production',
      LOG_LEVEL: 'warn',
      DATABASE_URL: database.url,
      REDIS_URL: redis!,
      REDIS_KEY_PREFIX: `nginx-test-${path.basename(dir)}:`,
      JWKS_FILE: path.join(dir, 'jwks.json'),
      COOKIE_KEYS: 'first-cookie-key-of-at-least-32-characters',
      SECRETS_KEY: `k1:${Buffer.alloc(32, 9).toString('base64')}`,
      ISSUER: issuer,
      // nginx runs on this machine: its address is loopback. With this trust a client-appended
      // X-Forwarded-For would be believed; nginx.conf overwrites it, so it never is.
      TRUST_PROXY: 'loopback',
      CLIENTS_FILE: path.join(dir, 'clients.json'),
      SMTP_URL: smtp.url,
      MAIL_FROM: 'Example Login <login@example.test>',
      ADMIN_EMAIL: adminEmail,
      ADMIN_PASSWORD_FILE: path.join(dir, 'admin-password'),
    };
    // One after the other: the first creates the schema and the first admin.
    for (const node of nodes) node.server = await startServerProcess(settings, node.port);

    proxy = spawn('nginx', ['-p', dir, '-c', path.join(dir, 'nginx.conf'), '-g', `daemon off; pid ${dir}/nginx.pid;`], { stdio: ['ignore', 'ignore', 'pipe'] });
    let proxyErrors = '';
    proxy.stderr!.on('data', (chunk) => (proxyErrors += chunk));
    await until(async () => {
      if (proxy!.exitCode !== null) throw new Error(`nginx refused the configuration:\n${proxyErrors}`);
      return fetch(`${issuer}/readyz`).then((r) => r.ok, () => false);
    }, 'nginx answering', 20_000);
  }, 120_000);

  afterAll(async () => {
    if (proxy && proxy.exitCode === null) {
      const exited = once(proxy, 'exit');
      proxy.kill('SIGQUIT');
      await exited;
    }
    for (const node of nodes) await node.server?.stop();
    if (previousDispatcher) setGlobalDispatcher(previousDispatcher);
    await smtp?.close();
    await database?.drop();
    if (settings) {
      const client = new Redis(redis!);
      const keys = await client.keys(`${settings.REDIS_KEY_PREFIX}*`);
      if (keys.length > 0) await client.del(...keys);
      client.disconnect();
    }
    rmSync(dir, { recursive: true, force: true });
  }, 60_000);


  /** The three kinds of request a relying party's users and servers make, each to its final answer. */
  const requests: Record<string, () => Promise<number>> = {
    discovery: async () => (await fetch(`${issuer}/.well-known/openid-configuration`)).status,
    token: async () => {
      const response = await fetch(`${issuer}/token`, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams({ grant_type: 'client_credentials', client_id: serviceClient.client_id, client_secret: serviceClient.client_secret }),
      });
      if (response.status === 200) expect(await response.json()).toHaveProperty('access_token');
      return response.status;
    },
    'sign-in page': async () => {
      const start = await fetch(webAppAuthorizationUrl(issuer, RP_REDIRECT), { redirect: 'manual' });
      if (start.status >= 500) return start.status;
      expect(start.status).toBe(303);
      const cookie = start.headers.getSetCookie().map((line) => line.split(';')[0]).join('; ');
      const page = await fetch(new URL(start.headers.get('location')!, issuer), { headers: { cookie, accept: 'text/html' } });
      if (page.status === 200) expect(await page.text()).toContain('action="');
      return page.status;
    },
  };

  it('rolls both nodes (SIGTERM, start, ready, then the other) under discovery, token and sign-in page requests with no 5xx', async () => {
    const answers: string[] = [];
    let rolling = true;
    const kinds = Object.keys(requests);
    const worker = async (offset: number) => {
      for (let i = offset; rolling && answers.length < 3000; i += 1) {
        const kind = kinds[i % kinds.length]!;
        const status = await requests[kind]!().catch((error: Error) => `${error.message}`);
        answers.push(`${kind} ${status}`);
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
    };
    const load = [0, 1, 2].map(worker);
    try {
      for (const node of nodes) {
        await node.server!.stop();
        node.server = await startServerProcess(settings, node.port);
      }
    } finally {
      rolling = false;
      await Promise.all(load);
    }
    for (const kind of kinds) expect(answers.filter((answer) => answer.startsWith(`${kind} `)).length).toBeGreaterThan(3);
    expect(answers.filter((answer) => !/ (200|303)$/.test(answer))).toEqual([]);
    // The stream did meet a stopped node: nginx was refused and sent those requests to the other one.
    expect(readFileSync(path.join(dir, 'error.log'), 'utf8')).toContain('Connection refused) while connecting to upstream');
  }, 120_000);

  it('records the address nginx saw, not the X-Forwarded-For the client sent; cookies are Secure, HSTS is sent, http redirects to https', async () => {
    // The client forges X-Forwarded-For (and -Host, -Proto) on every request of a sign-in.
    const browser = new Browser([RP_REDIRECT], { origin: issuer, upstream: issuer, clientIp: '203.0.113.9' });
    const first = await browser.fetch(webAppAuthorizationUrl(issuer, RP_REDIRECT).href);
    expect(first.headers.get('strict-transport-security')).toMatch(/max-age=\d+/);
    const cookies = first.headers.getSetCookie();
    expect(cookies.length).toBeGreaterThan(0);
    for (const cookie of cookies) expect(cookie).toMatch(/; secure/i);

    const redirect = await fetch(`${plainHttp}/.well-known/openid-configuration`, { redirect: 'manual' });
    expect(redirect.status).toBe(301);
    expect(redirect.headers.get('location')).toMatch(/^https:\/\/[^/]+\/\.well-known\/openid-configuration$/);

    const callback = await signIn(browser, webAppAuthorizationUrl(issuer, RP_REDIRECT), { email: adminEmail, password: adminPassword });
    expect(callback.searchParams.get('code')).toBeTruthy();

    const client = new pg.Client({ connectionString: database.url });
    await client.connect();
    try {
      const { rows } = await client.query('select ip, outcome from login_history order by at desc limit 1');
      expect(rows[0]).toMatchObject({ ip: '127.0.0.1', outcome: 'success' });
    } finally {
      await client.end();
    }
  }, 60_000);
});
