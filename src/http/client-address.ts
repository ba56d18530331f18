import type { IncomingMessage } from 'node:http';
import { isIP } from 'node:net';
import proxyaddr from 'proxy-addr';

import type { TrustProxy } from '../config.ts';

/**
 * The address of the person on the other end: walking `X-Forwarded-For` from the right, starting
 * at the socket peer, past every proxy we trust; the first address no trusted proxy vouches for is
 * the client's. Entries left of it were written by the client and are never read. An entry that is
 * not an IP address (a proxy passing on junk) is not believed: the last trusted hop stands instead.
 */
export function clientAddressOf(trust: TrustProxy): (req: IncomingMessage) => string {
  // No proxy trusted: the socket peer, without parsing X-Forwarded-For only to ignore it.
  if ('hops' in trust && trust.hops === 0) return (req) => req.socket.remoteAddress ?? '';
  const trusted =
    'addresses' in trust ? proxyaddr.compile(trust.addresses) : (_address: string, hop: number) => hop < trust.hops;
  return (req) => {
    const chain = proxyaddr.all(req, trusted);
    const client = chain.at(-1) ?? '';
    return isIP(client) !== 0 ? client : (chain.at(-2) ?? req.socket.remoteAddress ?? '');
  };
}
