import { Agent, request } from 'node:http';
import { CookieJar } from 'tough-cookie';

export interface HttpResponse {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: string;
}

/** Keep-alive connections to one server, shared by every simulated browser of a scenario. */
export function createAgent(maxSockets: number): Agent {
  return new Agent({ keepAlive: true, maxSockets });
}

export function send(
  agent: Agent,
  url: URL,
  options: { method?: string; headers?: Record<string, string>; body?: string } = {},
): Promise<HttpResponse> {
  return new Promise((resolve, reject) => {
    const req = request(url, { agent, method: options.method ?? 'GET', headers: options.headers }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (chunk: Buffer) => chunks.push(chunk));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks).toString() }));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end(options.body);
  });
}

/** A browser: keeps cookies (paths, expiry, deletion) across requests, as a real one does. */
export class Browser {
  readonly jar = new CookieJar();
  constructor(private readonly agent: Agent) {}

  async fetch(url: URL, options: { method?: string; form?: Record<string, string> } = {}): Promise<HttpResponse> {
    const headers: Record<string, string> = { accept: 'text/html' };
    const cookie = this.jar.getCookieStringSync(url.href);
    if (cookie) headers.cookie = cookie;
    const body = options.form ? new URLSearchParams(options.form).toString() : undefined;
    if (body !== undefined) headers['content-type'] = 'application/x-www-form-urlencoded';
    const response = await send(this.agent, url, { method: options.method ?? (body ? 'POST' : 'GET'), headers, body });
    const setCookies = response.headers['set-cookie'] ?? [];
    for (const header of Array.isArray(setCookies) ? setCookies : [setCookies]) this.jar.setCookieSync(header, url.href);
    return response;
  }
}
