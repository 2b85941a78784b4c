import { ConfigError, isProduction, type ServiceContext } from '@simplebank/chassis';
import { localUrl } from '@simplebank/contracts';
import { type Static, Type } from 'typebox';

const BaseUrl = (fallback: string) => Type.String({ pattern: '^https?://', default: fallback });

/** Signs development tokens only: a gateway in production refuses to start with it. */
export const DEVELOPMENT_JWT_SECRET = 'simplebank-development-secret-do-not-use-in-production';

/**
 * Every JWT secret this repository publishes (the default, the compose file's, the local
 * cluster's): anyone can sign tokens with them, so production refuses them. test/auth.test.ts
 * reads the repository for JWT_SECRET values and checks each one is refused.
 */
export const PUBLISHED_JWT_SECRETS: ReadonlySet<string> = new Set([
  DEVELOPMENT_JWT_SECRET,
  'compose-demo-secret-not-for-production-0123456789',
  'local-cluster-secret-not-for-production-0123456789',
]);

/** What a production secret must have: 32 random bytes in base64 (`openssl rand -base64 32`) give ~200 bits. */
export const MIN_SECRET_BITS = 128;
export const MIN_SECRET_DISTINCT_CHARACTERS = 12;

export const GatewayConfig = Type.Object({
  REDIS_URL: Type.String({ pattern: '^rediss?://', default: 'redis://127.0.0.1:6379' }),
  /** Every key the gateway writes starts with this, so instances and test runs can share a Redis. */
  REDIS_PREFIX: Type.String({ default: 'gateway:' }),
  ORDERS_URL: BaseUrl(localUrl('orders')),
  ACCOUNTS_URL: BaseUrl(localUrl('account-transactions')),
  FEES_URL: BaseUrl(localUrl('fees')),
  MARKET_URL: BaseUrl(localUrl('market')),
  UPSTREAM_TIMEOUT_MS: Type.Integer({ minimum: 1, default: 2000 }),
  /** How often the quote board is fetched from market (it polls the exchange every 500 ms). */
  QUOTES_REFRESH_MS: Type.Integer({ minimum: 50, default: 250 }),
  /** How old the board may be and still price an order; older, orders are a 503 until market is back. */
  QUOTES_MAX_AGE_MS: Type.Integer({ minimum: 100, default: 2000 }),
  /** How often fees' schedule is fetched again (fees enforces its own at T3: an old one is safe). */
  FEE_SCHEDULE_REFRESH_MS: Type.Integer({ minimum: 1000, default: 30_000 }),
  /** How far from the quote an order's limit may be (500 = 5 %). */
  PRICE_COLLAR_BASIS_POINTS: Type.Integer({ minimum: 0, maximum: 10_000, default: 500 }),

  /** HMAC key of the customers' tokens (HS256): at least 32 characters. */
  JWT_SECRET: Type.String({ minLength: 32, default: DEVELOPMENT_JWT_SECRET }),
  /** How long a token lasts. */
  JWT_TTL_SECONDS: Type.Integer({ minimum: 1, maximum: 86_400, default: 900 }),
  /**
   * How long a gateway instance trusts the token version it read for a customer (revocation.ts):
   * a sign-out or password change on another instance takes effect here within this.
   */
  TOKEN_VERSION_FRESH_MS: Type.Integer({ minimum: 0, maximum: 60_000, default: 5000 }),
  /** While account-transactions cannot be asked, how long an older reading still serves (then 503). */
  TOKEN_VERSION_STALE_MS: Type.Integer({ minimum: 0, maximum: 600_000, default: 60_000 }),
  /** Requests per customer (or per IP address without a token) in each window. */
  RATE_LIMIT_MAX: Type.Integer({ minimum: 1, default: 10_000 }),
  RATE_LIMIT_WINDOW_MS: Type.Integer({ minimum: 1, default: 60_000 }),
  /** Sign-in attempts per IP address in each RATE_LIMIT_WINDOW_MS. */
  AUTH_RATE_LIMIT_MAX: Type.Integer({ minimum: 1, default: 300 }),
  /** Failed sign-ins per username in each AUTH_USERNAME_WINDOW_MS (addresses it signed in from are exempt). */
  AUTH_USERNAME_FAILURES_MAX: Type.Integer({ minimum: 1, default: 10 }),
  AUTH_USERNAME_WINDOW_MS: Type.Integer({ minimum: 1, default: 900_000 }),
  /**
   * Orders (buy and sell together) per customer in each ORDER_RATE_LIMIT_WINDOW_MS: 10 a second,
   * a tenth to a fifth of what the whole system settles, so no one customer fills the saga.
   */
  ORDER_RATE_LIMIT_MAX: Type.Integer({ minimum: 1, default: 100 }),
  ORDER_RATE_LIMIT_WINDOW_MS: Type.Integer({ minimum: 1, default: 10_000 }),
  /** The place-order screen links each order's trace id to this Jaeger UI. */
  JAEGER_UI_URL: BaseUrl('http://localhost:16686'),
  /** How often an account's live stream sends the quote board. */
  LIVE_QUOTES_INTERVAL_MS: Type.Integer({ minimum: 100, default: 2000 }),
  /** Live streams one customer may hold open on one gateway instance; one more is 429 too_many_streams. */
  LIVE_MAX_STREAMS_PER_CUSTOMER: Type.Integer({ minimum: 1, maximum: 1000, default: 5 }),
  /** How often an idle live stream sends a keep-alive comment (proxies close silent connections). */
  LIVE_HEARTBEAT_MS: Type.Integer({ minimum: 100, default: 15_000 }),
  /** Back-pressure: answer 503 while the event loop lags more than this (0: never). */
  PRESSURE_MAX_EVENT_LOOP_DELAY_MS: Type.Integer({ minimum: 0, default: 1000 }),
  /** … or while the V8 heap holds more than this (0: never). */
  PRESSURE_MAX_HEAP_USED_BYTES: Type.Integer({ minimum: 0, default: 0 }),
  /** … or while the process's resident memory is more than this (0: never). */
  PRESSURE_MAX_RSS_BYTES: Type.Integer({ minimum: 0, default: 0 }),
  /** How often the load is measured (the event-loop delay is sampled every 10 ms in between). */
  PRESSURE_SAMPLE_INTERVAL_MS: Type.Integer({ minimum: 50, default: 1000 }),
  /** The Retry-After of a 503 under pressure, in seconds. */
  PRESSURE_RETRY_AFTER_S: Type.Integer({ minimum: 1, default: 10 }),
});
export type GatewayConfig = Static<typeof GatewayConfig>;

/** What the gateway's routes and workers get from the chassis. */
export type GatewayContext = ServiceContext<GatewayConfig>;

/**
 * An estimate of a secret's entropy: its length times the Shannon entropy of its characters'
 * frequencies. It overrates a memorable phrase but catches the common mistakes: a short secret, a
 * repeated character or pattern, a word padded to length.
 */
export function secretStrength(secret: string): { bits: number; distinct: number } {
  const counts = new Map<string, number>();
  for (const character of secret) counts.set(character, (counts.get(character) ?? 0) + 1);
  const length = [...secret].length;
  let perCharacter = 0;
  for (const count of counts.values()) perCharacter -= (count / length) * Math.log2(count / length);
  return { bits: Math.floor(perCharacter * length), distinct: counts.size };
}

/**
 * The rules one variable's schema cannot state. In production (NODE_ENV other than development
 * or test) the token secret must not be one this repository publishes, and must look random
 * enough; the error never shows the secret.
 */
export function checkSecrets(config: { NODE_ENV: string; JWT_SECRET: string }): void {
  if (!isProduction(config)) return;
  const refuse = (why: string) =>
    new ConfigError(
      `Invalid configuration: JWT_SECRET ${why} (NODE_ENV=${config.NODE_ENV} is production; use 32 random bytes: openssl rand -base64 32)`,
    );
  if (PUBLISHED_JWT_SECRETS.has(config.JWT_SECRET))
    throw refuse('must be set to a secret of its own: this one is published in the repository');
  const { bits, distinct } = secretStrength(config.JWT_SECRET);
  if (bits < MIN_SECRET_BITS || distinct < MIN_SECRET_DISTINCT_CHARACTERS)
    throw refuse(
      `is too easy to guess (about ${bits} bits, ${distinct} distinct characters; at least ${MIN_SECRET_BITS} bits and ${MIN_SECRET_DISTINCT_CHARACTERS} distinct characters)`,
    );
}
