import ipaddr from 'ipaddr.js';

/**
 * What a client's URIs may be. `httpsOnly`: production. `allowPrivateNetwork`:
 * ALLOW_PRIVATE_NETWORK_REQUESTS (development and tests call relying parties on loopback).
 */
export interface ClientUriRules {
  httpsOnly: boolean;
  allowPrivateNetwork: boolean;
  /** The issuer's origin: our own clients (the admin console) return to the IdP's pages, whatever its scheme and host. */
  ownOrigin?: string;
}

/** Where the browser is sent back to. */
const REDIRECT_FIELDS = ['redirect_uris', 'post_logout_redirect_uris'];
/** URIs the IdP fetches itself (or, for logo_uri, puts in its pages): an SSRF target unless checked. */
const SERVER_FETCHED_FIELDS = ['jwks_uri', 'backchannel_logout_uri', 'request_uris', 'logo_uri', 'sector_identifier_uri'];
/** URIs only shown as links. */
const LINK_FIELDS = ['client_uri', 'policy_uri', 'tos_uri', 'initiate_login_uri'];
export const CLIENT_URI_FIELDS = [...REDIRECT_FIELDS, ...SERVER_FETCHED_FIELDS, ...LINK_FIELDS];

/** Ranges a development IdP may call (its relying parties run on the same machine or network). */
const PRIVATE_RANGES = new Set(['loopback', 'private', 'uniqueLocal']);
/** Cloud instance-metadata services: never, whatever the setting (some sit in ranges above, one is public). */
const METADATA_ADDRESSES = new Set(['169.254.169.254', '169.254.170.2', '100.100.100.200', '168.63.129.16', 'fd00:ec2::254']);
const METADATA_HOSTS = new Set(['metadata', 'metadata.google.internal', 'metadata.goog', 'instance-data', 'instance-data.ec2.internal']);

/**
 * Why the IdP may not connect to this IP address, or undefined when it may: any special-use
 * range (loopback, private, link-local, unspecified, multicast, reserved, ...) is refused,
 * except loopback and private ranges when `allowPrivateNetwork`; metadata services always.
 * ipaddr.js classifies (with IPv4-mapped IPv6 unwrapped), so no range list of ours can be wrong.
 */
export function addressRefusal(address: string, allowPrivateNetwork: boolean): string | undefined {
  if (!ipaddr.isValid(address)) return 'not an IP address';
  const ip = ipaddr.process(address);
  if (METADATA_ADDRESSES.has(ip.toString())) return 'a metadata service';
  const range = ip.range();
  if (range === 'unicast') return undefined;
  if (allowPrivateNetwork && PRIVATE_RANGES.has(range)) return undefined;
  return `a ${range} address`;
}

const bare = (hostname: string) => hostname.replace(/^\[|\]$/g, '').toLowerCase();
const isLoopbackName = (host: string) => host === 'localhost' || host.endsWith('.localhost');

/** Why the IdP may not fetch from this host (an IP literal or a name), before any DNS lookup. */
export function hostRefusal(hostname: string, allowPrivateNetwork: boolean): string | undefined {
  const host = bare(hostname).replace(/\.$/, '');
  if (ipaddr.isValid(host)) return addressRefusal(host, allowPrivateNetwork);
  if (METADATA_HOSTS.has(host)) return 'a metadata service';
  if (isLoopbackName(host) && !allowPrivateNetwork) return 'a loopback address';
  return undefined;
}

/** A URI field that breaks these rules; the message starts with the field's name. */
export class ClientUriError extends Error {
  constructor(
    readonly field: string,
    /** What is wrong, without the field's name. */
    readonly detail: string,
  ) {
    super(`${field}: ${detail}`);
  }
}

function parse(field: string, uri: unknown): URL {
  const text = String(uri);
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    throw new ClientUriError(field, `${text} is not a URL`);
  }
  // The URI is not repeated: it carries a password.
  if (url.username || url.password) throw new ClientUriError(field, 'a URI must not carry a user name or password');
  if (text.includes('*')) throw new ClientUriError(field, `${text}: wildcards are not allowed`);
  return url;
}

const isLoopbackIp = (hostname: string) => ipaddr.isValid(bare(hostname)) && ipaddr.process(bare(hostname)).range() === 'loopback';

/**
 * Redirect URIs: https; http only on a loopback IP literal (RFC 8252 section 7.3; `localhost` is
 * not one, section 8.3), and in production only for native apps. No fragments.
 */
function checkRedirect(field: string, url: URL, native: boolean, rules: ClientUriRules) {
  if (url.hash || url.href.endsWith('#')) throw new ClientUriError(field, `${url.href}: fragments are not allowed`);
  if (url.protocol === 'https:' || url.origin === rules.ownOrigin) return;
  if (url.protocol === 'http:' && isLoopbackIp(url.hostname) && (native || !rules.httpsOnly)) return;
  const allowed = rules.httpsOnly ? 'use https (http only on 127.0.0.1 or [::1], for native apps)' : 'use https, or http on 127.0.0.1 or [::1]';
  throw new ClientUriError(field, `${url.href}: ${allowed}`);
}

function checkOther(field: string, url: URL, rules: ClientUriRules) {
  if (url.protocol !== 'https:' && !(url.protocol === 'http:' && !rules.httpsOnly)) {
    throw new ClientUriError(field, `${url.href}: use https`);
  }
  if (!SERVER_FETCHED_FIELDS.includes(field)) return;
  const refusal = hostRefusal(url.hostname, rules.allowPrivateNetwork);
  if (refusal) throw new ClientUriError(field, `${url.href}: ${url.hostname} is ${refusal}, which the IdP does not call`);
}

/** Checks one URI field of client metadata (a string, or for *_uris an array of strings). Throws ClientUriError. */
export function checkClientUriField(field: string, value: unknown, metadata: { application_type?: unknown }, rules: ClientUriRules): void {
  if (value === undefined || value === null) return;
  const many = field.endsWith('_uris');
  if (many && !Array.isArray(value)) throw new ClientUriError(field, 'must be an array of URLs');
  for (const uri of many ? (value as unknown[]) : [value]) {
    const url = parse(field, uri);
    if (REDIRECT_FIELDS.includes(field)) checkRedirect(field, url, metadata.application_type === 'native', rules);
    else checkOther(field, url, rules);
  }
}

/** Every URI field of client metadata (registration through the admin API, console and CLI). */
export function checkClientUris(metadata: Record<string, unknown>, rules: ClientUriRules): void {
  for (const field of CLIENT_URI_FIELDS) checkClientUriField(field, metadata[field], metadata, rules);
}
