import { isNetworkFailure, UpstreamSignInError, UpstreamUnavailableError } from './upstream-provider.ts';

/**
 * One request to a provider's endpoint, its JSON answer: a provider that does not answer (or answers 5xx)
 * is unavailable, one that answers something else than JSON, or a 4xx, gives an answer we cannot use.
 */
export async function upstreamJson(providerName: string, what: string, url: string, init: RequestInit = {}): Promise<Record<string, unknown> | unknown[]> {
  let response: Response;
  try {
    response = await fetch(url, { ...init, redirect: 'error', signal: AbortSignal.timeout(5000) });
  } catch (error) {
    if (isNetworkFailure(error)) throw new UpstreamUnavailableError(providerName, `${providerName} ${what} failed: ${(error as Error).message}`);
    throw error;
  }
  if (response.status >= 500) throw new UpstreamUnavailableError(providerName, `${providerName} ${what} answered HTTP ${response.status}`);
  let body: unknown;
  try {
    body = await response.json();
  } catch {
    throw new UpstreamSignInError(providerName, 'invalid', `${providerName} ${what} answered HTTP ${response.status} without JSON`);
  }
  if (!response.ok || typeof body !== 'object' || body === null) {
    const error = typeof body === 'object' && body && 'error' in body ? ` (${String((body as { error: unknown }).error)})` : '';
    throw new UpstreamSignInError(providerName, 'invalid', `${providerName} ${what} answered HTTP ${response.status}${error}`);
  }
  return body as Record<string, unknown> | unknown[];
}

/** The error of an authorization response (`?error=`), as a refusal; nothing when there is none. */
/**
 * The code of a provider's answer to our authorization request, once it is no error and carries the state this
 * browser was given; else the refusal to show.
 */
export function authorizationCode(providerName: string, search: string, expectedState: string): string {
  const params = new URLSearchParams(search);
  const error = params.get('error');
  if (error) throw new UpstreamSignInError(providerName, error === 'access_denied' ? 'cancelled' : 'refused', `${providerName} answered ${error.slice(0, 100)}`);
  if (params.get('state') !== expectedState) throw new UpstreamSignInError(providerName, 'invalid', `${providerName} answered with another "state"`);
  const code = params.get('code');
  if (!code) throw new UpstreamSignInError(providerName, 'invalid', `${providerName} answered without a code`);
  return code;
}
