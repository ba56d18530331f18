import { createHash } from 'node:crypto';
import type { Context, Middleware, Next } from 'koa';
import { RateLimiterMemory, RateLimiterPostgres, RateLimiterRedis, RateLimiterRes, type RateLimiterAbstract } from 'rate-limiter-flexible';

import type { LoginThrottle } from '../accounts/index.ts';
import type { Config } from '../config.ts';
import { guardStore, isPostgresUnavailable } from '../db/index.ts';
import { isRedisUnavailable } from '../redis/index.ts';
import { PageError } from './errors.ts';
import type { LimiterStore } from './limiter-store.ts';

export class TooManyRequestsError extends PageError {
  constructor(readonly retryAfterSeconds: number, page = 'tooManyAttempts') {
    super(429, page);
  }
}

interface LimiterOptions {
  name: string;
  points: number;
  durationSeconds: number;
}

function createLimiter(store: LimiterStore, { name, points, durationSeconds }: LimiterOptions): RateLimiterAbstract {
  const options = { keyPrefix: name, points, duration: durationSeconds };
  switch (store.kind) {
    case 'redis':
      return new RateLimiterRedis({ ...options, keyPrefix: `${store.keyPrefix}rate:${name}`, storeClient: store.client });
    case 'postgres':
      return new RateLimiterPostgres({ ...options, storeClient: store.pool, tableName: 'rate_limits', tableCreated: true });
    case 'memory':
      return new RateLimiterMemory(options);
  }
}

const seconds = (ms: number) => Math.max(1, Math.ceil(ms / 1000));
/** Emails are counted by hash: no address sits in the limiter store, and keys have one length. */
const emailKey = (email: string) => createHash('sha256').update(email.trim().toLowerCase()).digest('hex');

export interface RateLimits {
  loginThrottle: LoginThrottle;
  /** Wrong TOTP or recovery codes, counted per account like wrong passwords per email. */
  secondFactorThrottle: LoginThrottle;
  /** Throws TooManyRequestsError when this IP has used up its allowance. */
  limitIp(kind: 'login' | 'forms', ip: string): Promise<void>;
  /** Throws TooManyRequestsError when one address was sent too many verification links. */
  limitVerificationMail(email: string): Promise<void>;
  /** Throws TooManyRequestsError when this account used up its admin API allowance for its role. */
  limitAdminApi(accountId: string, role: string): Promise<void>;
  /** Per node, in memory: a shared store would cost a round trip on the hottest endpoint. */
  tokenEndpoint: Middleware;
  /** Wrong device-flow user codes (RFC 8628, section 5.1), counted per IP and per browser session. */
  userCodes: {
    /** Seconds until this IP or session may try a code again; 0 when it may now. */
    lockedFor(ip: string, session: string | undefined): Promise<number>;
    recordWrong(ip: string, session: string | undefined): Promise<void>;
  };
  /** Whether a device code is polled again sooner than the interval the device was given (RFC 8628 `slow_down`). */
  pollTooSoon(deviceCode: string): Promise<boolean>;
}

/** Wrong user codes: a session may get 5 wrong in 15 minutes, an address 20 in an hour, then wait as long. */
const USER_CODE_LIMITS = { session: { max: 5, seconds: 15 * 60 }, ip: { max: 20, seconds: 60 * 60 } };
/** The polling interval of the device flow: RFC 8628's default, which node-oidc-provider's answer implies. */
export const DEVICE_POLL_INTERVAL_SECONDS = 5;

export function createRateLimits(store: LimiterStore, limits: Config['rateLimits']): RateLimits {
  const lockSeconds = limits.loginLockoutSeconds;
  const failures = createLimiter(store, { name: 'login-failures', points: limits.loginMaxFailures, durationSeconds: lockSeconds });
  const secondFactorFailures = createLimiter(store, { name: 'second-factor-failures', points: limits.loginMaxFailures, durationSeconds: lockSeconds });
  const ipLimiters = {
    login: createLimiter(store, { name: 'ip-login', points: limits.ipLoginPer15Minutes, durationSeconds: 15 * 60 }),
    forms: createLimiter(store, { name: 'ip-forms', points: limits.ipFormsPerHour, durationSeconds: 60 * 60 }),
  };
  const verificationMail = createLimiter(store, { name: 'verification-mail', points: 3, durationSeconds: 60 * 60 });
  const adminApi = new Map(
    Object.entries(limits.adminApiPerMinute).map(([role, points]) => [
      role,
      createLimiter(store, { name: `admin-api-${role}`, points, durationSeconds: 60 }),
    ]),
  );
  const userCodeLimiters = {
    session: createLimiter(store, { name: 'user-code-session', points: USER_CODE_LIMITS.session.max, durationSeconds: USER_CODE_LIMITS.session.seconds }),
    ip: createLimiter(store, { name: 'user-code-ip', points: USER_CODE_LIMITS.ip.max, durationSeconds: USER_CODE_LIMITS.ip.seconds }),
  };
  const devicePolls = createLimiter(store, { name: 'device-poll', points: 1, durationSeconds: DEVICE_POLL_INTERVAL_SECONDS });
  const tokenLimiter = new RateLimiterMemory({ keyPrefix: 'ip-token', points: limits.ipTokenPerMinute, duration: 60 });

  const storeName = store.kind === 'redis' ? 'Redis' : 'PostgreSQL';
  const unavailable = store.kind === 'redis' ? isRedisUnavailable : isPostgresUnavailable;
  /** A limit reached resolves to its RateLimiterRes; a store failure becomes StoreUnavailableError. */
  const consume = (limiter: RateLimiterAbstract, key: string) =>
    guardStore(storeName, (e) => !(e instanceof RateLimiterRes) && unavailable(e), () =>
      limiter.consume(key).catch((rejection: unknown) => {
        if (rejection instanceof RateLimiterRes) return rejection;
        throw rejection;
      }),
    );
  const guard = <T>(operation: () => Promise<T>) => guardStore(storeName, unavailable, operation);

  /** Counts failures per key; at `max` within the window, locks the key for `lockSeconds` from that failure. */
  function failureThrottle(limiter: RateLimiterAbstract, max: number, lockFor: number, keyOf: (subject: string) => string): LoginThrottle {
    return {
      async lockedFor(subject) {
        const res = await guard(() => limiter.get(keyOf(subject)));
        return res && res.consumedPoints >= max ? seconds(res.msBeforeNext) : 0;
      },
      async recordFailure(subject) {
        const key = keyOf(subject);
        const res = await consume(limiter, key);
        if (res.consumedPoints < max) return 0;
        // Lock for the full period from this failure, not until the counting window ends.
        await guard(() => limiter.block(key, lockFor));
        return lockFor;
      },
      async clear(subject) {
        await guard(() => limiter.delete(keyOf(subject)));
      },
    };
  }

  async function limit(limiter: RateLimiterAbstract, key: string, page?: string) {
    const res = await consume(limiter, key);
    if (res.consumedPoints > limiter.points) throw new TooManyRequestsError(seconds(res.msBeforeNext), page);
  }

  const hashed = (value: string) => createHash('sha256').update(value).digest('hex');
  const userCodeThrottles = {
    session: failureThrottle(userCodeLimiters.session, USER_CODE_LIMITS.session.max, USER_CODE_LIMITS.session.seconds, hashed),
    ip: failureThrottle(userCodeLimiters.ip, USER_CODE_LIMITS.ip.max, USER_CODE_LIMITS.ip.seconds, (ip) => ip),
  };

  return {
    userCodes: {
      async lockedFor(ip, session) {
        const [byIp, bySession] = await Promise.all([userCodeThrottles.ip.lockedFor(ip), session ? userCodeThrottles.session.lockedFor(session) : 0]);
        return Math.max(byIp, bySession);
      },
      async recordWrong(ip, session) {
        await Promise.all([userCodeThrottles.ip.recordFailure(ip), session ? userCodeThrottles.session.recordFailure(session) : undefined]);
      },
    },
    async pollTooSoon(deviceCode) {
      // Device codes are bearer secrets: only their hash is a key in the store.
      const res = await consume(devicePolls, hashed(deviceCode));
      return res.consumedPoints > 1;
    },
    loginThrottle: failureThrottle(failures, limits.loginMaxFailures, lockSeconds, emailKey),
    secondFactorThrottle: failureThrottle(secondFactorFailures, limits.loginMaxFailures, lockSeconds, (accountId) => accountId),
    limitIp: (kind, ip) => limit(ipLimiters[kind], ip),
    async limitAdminApi(accountId, role) {
      const limiter = adminApi.get(role) ?? adminApi.get('guest');
      if (limiter) await limit(limiter, accountId, 'tooManyAdminRequests');
    },
    limitVerificationMail: (email) =>
      limit(verificationMail, emailKey(email), 'tooManyMails'),
    tokenEndpoint: (ctx, next) => (ctx.method === 'POST' && ctx.path === '/token' ? limitTokenRequest(ctx, next) : next()),
  };

  async function limitTokenRequest(ctx: Context, next: Next) {
    const res = await tokenLimiter.consume(ctx.ip).catch((rejection: RateLimiterRes) => rejection);
    if (res.consumedPoints <= limits.ipTokenPerMinute) return next();
    ctx.status = 429;
    ctx.set('Retry-After', String(seconds(res.msBeforeNext)));
    ctx.body = { error: 'too_many_requests', error_description: 'Too many token requests from this address; retry later.' };
  }
}
