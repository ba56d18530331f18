import type { ClientMetadata } from 'oidc-provider';

/** Nothing listens here: the bench reads the code from the redirect's Location and never follows it. */
export const REDIRECT_URI = 'http://127.0.0.1:9/bench/callback';

export const webApp = { id: 'bench-web', secret: 'bench-web-secret-0123456789abcdef' };
export const service = { id: 'bench-service', secret: 'bench-service-secret-0123456789abcdef' };
/** First party: signs in without a consent page, as our own apps do. */
export const firstParty = { id: 'bench-first-party', secret: 'bench-first-party-secret-0123456789abcdef' };

/**
 * The same registrations for the baseline and for our IdP, all with client_secret_basic. The code-flow
 * clients are `native`: the bench's loopback http redirect URI is allowed in production only for those.
 */
export const benchClients: ClientMetadata[] = [
  {
    client_id: webApp.id,
    client_secret: webApp.secret,
    application_type: 'native',
    redirect_uris: [REDIRECT_URI],
    grant_types: ['authorization_code', 'refresh_token'],
    response_types: ['code'],
    token_endpoint_auth_method: 'client_secret_basic',
  },
  {
    client_id: service.id,
    client_secret: service.secret,
    redirect_uris: [],
    grant_types: ['client_credentials'],
    response_types: [],
    token_endpoint_auth_method: 'client_secret_basic',
  },
  {
    client_id: firstParty.id,
    client_secret: firstParty.secret,
    application_type: 'native',
    redirect_uris: [REDIRECT_URI],
    grant_types: ['authorization_code'],
    response_types: ['code'],
    token_endpoint_auth_method: 'client_secret_basic',
    first_party: true,
  },
];

export const basicAuth = (client: { id: string; secret: string }) =>
  `Basic ${Buffer.from(`${encodeURIComponent(client.id)}:${encodeURIComponent(client.secret)}`).toString('base64')}`;
