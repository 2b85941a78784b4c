import type { ServiceContext } from '@simplebank/chassis';
import { type Static, Type } from 'typebox';

const BaseUrl = (fallback: string) => Type.String({ pattern: '^https?://', default: fallback });

export const GatewayConfig = Type.Object({
  REDIS_URL: Type.String({ pattern: '^rediss?://', default: 'redis://127.0.0.1:6379' }),
  /** Every key the gateway writes starts with this, so instances and test runs can share a Redis. */
  REDIS_PREFIX: Type.String({ default: 'gateway:' }),
  ORDERS_URL: BaseUrl('http://127.0.0.1:8081'),
  ACCOUNTS_URL: BaseUrl('http://127.0.0.1:8082'),
  FEES_URL: BaseUrl('http://127.0.0.1:8083'),
  MARKET_URL: BaseUrl('http://127.0.0.1:8084'),
  UPSTREAM_TIMEOUT_MS: Type.Integer({ minimum: 1, default: 2000 }),
  /** How far from the quote an order's limit may be (500 = 5 %). */
  PRICE_COLLAR_BASIS_POINTS: Type.Integer({ minimum: 0, maximum: 10_000, default: 500 }),
});
export type GatewayConfig = Static<typeof GatewayConfig>;

/** What the gateway's routes and workers get from the chassis. */
export type Gateway = ServiceContext<GatewayConfig>;
