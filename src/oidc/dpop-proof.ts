import { createHash } from 'node:crypto';
import { calculateJwkThumbprint, EmbeddedJWK, jwtVerify } from 'jose';

/** Asymmetric algorithms only: a proof signed with a shared secret proves nothing about the holder. */
export const DPOP_ALGORITHMS = ['ES256', 'ES384', 'ES512', 'EdDSA', 'Ed25519', 'PS256', 'PS384', 'PS512', 'RS256', 'RS384', 'RS512'];

/** How far a proof's iat may be from now, either way: the window node-oidc-provider allows at its own endpoints. */
const IAT_WINDOW_SECONDS = 300;

/** A one-time id seen before (node-oidc-provider's ReplayDetection model: Redis or SQL, shared by every node). */
export interface ReplayStore {
  unique(namespace: string, jti: string, expiresAt: number): Promise<boolean>;
}

/** How a request presented its access token: `Authorization: Bearer <token>` or `Authorization: DPoP <token>`. */
export interface PresentedToken {
  scheme: 'Bearer' | 'DPoP';
  token: string;
}

export function presentedToken(authorization: string): PresentedToken | undefined {
  const match = /^(Bearer|DPoP)\s+([\w.~+/-]+=*)$/i.exec(authorization);
  if (!match) return undefined;
  return { scheme: match[1]!.toLowerCase() === 'dpop' ? 'DPoP' : 'Bearer', token: match[2]! };
}

/** Why a token's sender constraint failed: the OAuth error code and a description for the caller. */
export interface SenderRefusal {
  error: 'invalid_token' | 'invalid_dpop_proof';
  description: string;
}

/**
 * RFC 9449 at a resource server: a DPoP-bound token (its `jkt`) is accepted only with the DPoP scheme
 * and a proof signed by that key, for this request (htm, htu), this token (ath), recent (iat) and
 * never seen before (jti); an unbound token only with the Bearer scheme.
 */
export async function checkSenderConstraint(input: {
  presented: PresentedToken;
  /** The JWK SHA-256 thumbprint the token is bound to (cnf.jkt), if any. */
  jkt: string | undefined;
  proof: string | undefined;
  method: string;
  /** The request's URL as the issuer names it, without query or fragment. */
  url: string;
  /** Keeps this resource server's proof ids apart from others'. */
  namespace: string;
  replay: ReplayStore;
}): Promise<SenderRefusal | undefined> {
  const { presented, jkt } = input;
  if (!jkt) {
    return presented.scheme === 'DPoP' ? { error: 'invalid_token', description: 'the token is not DPoP-bound: use the Bearer scheme' } : undefined;
  }
  if (presented.scheme !== 'DPoP') return { error: 'invalid_token', description: 'the token is DPoP-bound: use the DPoP scheme with a proof' };
  const problem = await proofProblem({ ...input, jkt });
  return problem ? { error: 'invalid_dpop_proof', description: problem } : undefined;
}

async function proofProblem(input: {
  presented: PresentedToken;
  jkt: string;
  proof: string | undefined;
  method: string;
  url: string;
  namespace: string;
  replay: ReplayStore;
}): Promise<string | undefined> {
  if (!input.proof) return 'a DPoP proof is required';
  let verified: Awaited<ReturnType<typeof jwtVerify>>;
  try {
    verified = await jwtVerify(input.proof, EmbeddedJWK, { typ: 'dpop+jwt', algorithms: DPOP_ALGORITHMS });
  } catch {
    return 'the DPoP proof is not a valid signed dpop+jwt';
  }
  const { payload, protectedHeader } = verified;
  if (typeof payload.jti !== 'string' || !payload.jti) return 'the DPoP proof has no jti';
  if (typeof payload.iat !== 'number' || Math.abs(Date.now() / 1000 - payload.iat) > IAT_WINDOW_SECONDS) return 'the DPoP proof is not recent';
  if (payload.htm !== input.method) return 'the DPoP proof is for another method';
  const htu = typeof payload.htu === 'string' ? URL.parse(payload.htu) : null;
  if (htu) {
    htu.search = '';
    htu.hash = '';
  }
  if (htu?.href !== input.url) return 'the DPoP proof is for another URL';
  if (payload.ath !== createHash('sha256').update(input.presented.token).digest('base64url')) return 'the DPoP proof is for another token';
  if ((await calculateJwkThumbprint(protectedHeader.jwk!, 'sha256')) !== input.jkt) return 'the DPoP proof is signed by another key';
  // Remembered as long as a proof with this iat could still be accepted (iat may lie ahead of now).
  const unique = await input.replay.unique(input.namespace, payload.jti, Math.ceil(Date.now() / 1000) + 2 * IAT_WINDOW_SECONDS);
  if (!unique) return 'the DPoP proof was used before';
  return undefined;
}

/** The scheme and parameters of a WWW-Authenticate challenge for the way the token came. */
export function authenticateChallenge(scheme: PresentedToken['scheme'] | undefined, realm: string, params: Record<string, string> = {}): string {
  const all = { realm, ...params, ...(scheme === 'DPoP' ? { algs: DPOP_ALGORITHMS.join(' ') } : {}) };
  return `${scheme ?? 'Bearer'} ${Object.entries(all)
    .map(([key, value]) => `${key}="${value}"`)
    .join(', ')}`;
}
