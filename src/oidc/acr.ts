/**
 * Authentication context classes we assert in `acr`: one factor (a password, or Google), or
 * two (a password or Google, then an authenticator code or a passkey).
 */
export const ACR = {
  singleFactor: 'urn:idp:acr:1fa',
  multiFactor: 'urn:idp:acr:2fa',
} as const;

/** `amr` values (RFC 8176) that are a second factor. */
const SECOND_FACTORS = new Set(['otp', 'hwk']);

export const acrFor = (amr: string[]): string => (amr.some((method) => SECOND_FACTORS.has(method)) ? ACR.multiFactor : ACR.singleFactor);

/** The relying party asked for two factors, and did not also accept one. */
export function requestsMultiFactor(acrValues: unknown): boolean {
  const values = typeof acrValues === 'string' ? acrValues.split(' ') : [];
  return values.includes(ACR.multiFactor) && !values.includes(ACR.singleFactor);
}
