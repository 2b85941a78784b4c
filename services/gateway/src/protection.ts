import rateLimit from '@fastify/rate-limit';
import underPressure from '@fastify/under-pressure';
import { type App, HttpError } from '@simplebank/chassis';
import { ErrorCode } from '@simplebank/contracts';
import type { FastifyRequest } from 'fastify';
import type { Redis } from 'ioredis';
import { customerOf, identify, type Tokens } from './auth.ts';
import type { GatewayConfig } from './config.ts';

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
 *    every gateway instance shares it (@fastify/rate-limit): `RateLimit-*` headers (the IETF
 *    draft's), 429 rate_limited with Retry-After past it;
 * 4. on the routes that need a customer, `requireCustomer` (a 401 before the body is read).
 */
export async function protect(
  app: App,
  config: GatewayConfig,
  { tokens, redis }: { tokens: Tokens; redis: Redis },
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

  app.addHook('onRequest', identify(tokens));

  await app.register(rateLimit, {
    global: true,
    max: config.RATE_LIMIT_MAX,
    timeWindow: config.RATE_LIMIT_WINDOW_MS,
    redis,
    nameSpace: 'rate-limit:',
    keyGenerator: rateLimitKey,
    enableDraftSpec: true,
    // Redis away: serve rather than refuse everyone (readiness reports Redis down meanwhile)
    skipOnError: true,
    errorResponseBuilder: (_request, context) =>
      new HttpError(
        context.statusCode,
        ErrorCode.rateLimited,
        `too many requests; retry in ${context.after}`,
      ),
  });
}
