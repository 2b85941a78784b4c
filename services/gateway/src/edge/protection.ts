import rateLimit from '@fastify/rate-limit';
import underPressure from '@fastify/under-pressure';
import { type App, HttpError, type Logger } from '@simplebank/chassis';
import { ErrorCode } from '@simplebank/contracts';
import type { FastifyRequest } from 'fastify';
import type { Redis } from 'ioredis';
import type { GatewayConfig } from '../config.ts';
import { customerOf, identify, refuseRevoked, type Tokens } from './auth.ts';
import { fallbackStore } from './rate-limit-store.ts';
import type { TokenVersions } from './revocation.ts';

/** The answer under pressure: 503 service_unavailable (with Retry-After, from under-pressure). */
class Overloaded extends HttpError {
  constructor() {
    super(503, ErrorCode.serviceUnavailable, 'the gateway is overloaded; retry later');
  }
}

/** The rate limit's key: the customer when the token is good, else the caller's IP address. */
export const rateLimitKey = (request: FastifyRequest): string => {
  const customer = customerOf(request);
  return customer === undefined ? `ip:${request.ip}` : `customer:${customer}`;
};

/**
 * What every API route registered after this goes through, in order (the chassis's own routes —
 * health, version, metrics — come before it and are left alone):
 * 1. back-pressure: 503 service_unavailable with Retry-After while the event loop lags or memory
 *    is past its limit (@fastify/under-pressure), before any other work;
 * 2. who is calling: the bearer token, if any, is verified (auth.ts `identify`);
 * 3. the rate limit per customer, or per IP address without a valid token, counted in Redis so
 *    every gateway instance shares it, and in this process while Redis is away
 *    (@fastify/rate-limit): `RateLimit-*` headers (the IETF draft's), 429 rate_limited with
 *    Retry-After past it; placing orders and signing in have budgets of their own;
 * 4. on the routes that need a customer, `requireCustomer` (a 401 before the body is read);
 * 5. after validation, `refuseRevoked`: a 401 for a token revoked by a sign-out or a new password.
 */
export async function protect(
  app: App,
  config: GatewayConfig,
  { tokens, versions, redis, log }: { tokens: Tokens; versions: TokenVersions; redis: Redis; log: Logger },
) {
  await app.register(underPressure, {
    maxEventLoopDelay: config.PRESSURE_MAX_EVENT_LOOP_DELAY_MS,
    maxHeapUsedBytes: config.PRESSURE_MAX_HEAP_USED_BYTES,
    maxRssBytes: config.PRESSURE_MAX_RSS_BYTES,
    sampleInterval: config.PRESSURE_SAMPLE_INTERVAL_MS,
    retryAfter: config.PRESSURE_RETRY_AFTER_S,
    // thrown with Retry-After set; the chassis answers it in the one error shape
    customError: Overloaded,
  });

  app.addHook('onRequest', identify(tokens, versions));
  app.addHook('preHandler', refuseRevoked);

  await app.register(rateLimit, {
    global: true,
    max: config.RATE_LIMIT_MAX,
    timeWindow: config.RATE_LIMIT_WINDOW_MS,
    // Redis away: counted in this process meanwhile, never switched off (rate-limit-store.ts)
    store: fallbackStore(redis, log, 'rate-limit:'),
    keyGenerator: rateLimitKey,
    enableDraftSpec: true,
    errorResponseBuilder: (_request, context) =>
      new HttpError(
        context.statusCode,
        ErrorCode.rateLimited,
        `too many requests; retry in ${context.after}`,
      ),
  });

  return {
    /**
     * onRequest of POST /shares/buy and /shares/sell (whose routes set `rateLimit: false` and so
     * skip the general limit): one budget per customer for both, far below the general one.
     */
    orderLimit: app.rateLimit({
      max: config.ORDER_RATE_LIMIT_MAX,
      timeWindow: config.ORDER_RATE_LIMIT_WINDOW_MS,
      keyGenerator: rateLimitKey,
      groupId: 'orders',
    }),
    /** Failed sign-ins per username (sign-in-guard.ts); the body is parsed when it is asked. */
    signInFailures: app.createRateLimit({
      max: config.AUTH_USERNAME_FAILURES_MAX,
      timeWindow: config.AUTH_USERNAME_WINDOW_MS,
      keyGenerator: (request) => `username:${(request.body as { username: string }).username}`,
      // a budget of its own in the store (rate-limit-store.ts); the plugin takes it, its types do not
      ...({ groupId: 'sign-in-failures' } as object),
    }),
  };
}
