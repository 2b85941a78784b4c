import { ConfigError, type ServiceContext } from '@simplebank/chassis';
import { type Static, Type } from 'typebox';

const BaseUrl = (fallback: string) => Type.String({ pattern: '^https?://', default: fallback });

/** Signs development tokens only: a gateway with NODE_ENV=production refuses to start with it. */
export const DEVELOPMENT_JWT_SECRET = 'simplebank-development-secret-do-not-use-in-production';

export const GatewayConfig = Type.Object({
  /** `production` makes JWT_SECRET mandatory. */
  NODE_ENV: Type.String({ default: 'development' }),
  REDIS_URL: Type.String({ pattern: '^rediss?://', default: 'redis://127.0.0.1:6379' }),
  /** Every key the gateway writes starts with this, so instances and test runs can share a Redis. */
  REDIS_PREFIX: Type.String({ default: 'gateway:' }),
  ORDERS_URL: BaseUrl('http://127.0.0.1:8081'),
  ACCOUNTS_URL: BaseUrl('http://127.0.0.1:8082'),
  FEES_URL: BaseUrl('http://127.0.0.1:8083'),
  MARKET_URL: BaseUrl('http://127.0.0.1:8084'),
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
  /** Requests per customer (or per IP address without a token) in each window. */
  RATE_LIMIT_MAX: Type.Integer({ minimum: 1, default: 10_000 }),
  RATE_LIMIT_WINDOW_MS: Type.Integer({ minimum: 1, default: 60_000 }),
  /** Sign-in attempts per IP address in each RATE_LIMIT_WINDOW_MS. */
  AUTH_RATE_LIMIT_MAX: Type.Integer({ minimum: 1, default: 300 }),
  /** The place-order screen links each order's trace id to this Jaeger UI. */
  JAEGER_UI_URL: BaseUrl('http://localhost:16686'),
  /** How often an account's live stream sends the quote board. */
  LIVE_QUOTES_INTERVAL_MS: Type.Integer({ minimum: 100, default: 2000 }),
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
export type Gateway = ServiceContext<GatewayConfig>;

/**
 * The rules one variable's schema cannot state: in production the token secret must be set, and
 * not to the development default (anyone who reads this repository could sign tokens with it).
 */
export function checkSecrets(config: GatewayConfig): void {
  if (config.NODE_ENV === 'production' && config.JWT_SECRET === DEVELOPMENT_JWT_SECRET) {
    throw new ConfigError(
      'Invalid configuration: JWT_SECRET must be set (at least 32 characters) when NODE_ENV=production',
    );
  }
}
