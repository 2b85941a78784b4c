import { localUrl } from '@simplebank/contracts';
import { type Static, Type } from 'typebox';

export const MarketConfig = Type.Object({
  EXCHANGE_URL: Type.String({ default: localUrl('stock-exchange') }),
  /** Each attempt of a call to the exchange gives up after this long. */
  EXCHANGE_TIMEOUT_MS: Type.Integer({ minimum: 1, default: 2000 }),
  /** Attempts after the first, with back-off (every call to the exchange is idempotent). */
  EXCHANGE_RETRIES: Type.Integer({ minimum: 0, maximum: 10, default: 2 }),
  /** The circuit breaker around the exchange opens when more than this share (%) of calls fail… */
  EXCHANGE_BREAKER_ERROR_PERCENT: Type.Integer({ minimum: 1, maximum: 100, default: 50 }),
  /** …once at least this many calls were made in its 10 s window… */
  EXCHANGE_BREAKER_VOLUME: Type.Integer({ minimum: 1, default: 10 }),
  /** …and lets one trial call through after this long open. */
  EXCHANGE_BREAKER_RESET_MS: Type.Integer({ minimum: 1, default: 5000 }),
  /**
   * How long after an order is ready market keeps trying an exchange that is down; then it
   * withdraws the order (an unanswered attempt may have reached the exchange) and fails it once
   * the exchange has said it holds no such order.
   */
  PLACEMENT_DEADLINE_MS: Type.Integer({ minimum: 0, default: 60_000 }),
  PLACEMENT_RETRY_BASE_MS: Type.Integer({ minimum: 1, default: 250 }),
  PLACEMENT_RETRY_MAX_MS: Type.Integer({ minimum: 1, default: 10_000 }),
  /**
   * Calls to the exchange made at once, so placements per second are at most this many over the
   * exchange's answer time (bench: with 5, orders waited ready by the hundred while every queue
   * was empty).
   */
  PLACEMENT_BATCH: Type.Integer({ minimum: 1, maximum: 50, default: 25 }),
  /** How long the exchange lets an order rest unfilled (the simulator's ORDER_TTL_MS)… */
  EXCHANGE_ORDER_TTL_MS: Type.Integer({ minimum: 1, default: 30_000 }),
  /** …and how long past that market waits for its fill or expiry before asking after it. */
  RECONCILE_MARGIN_MS: Type.Integer({ minimum: 0, default: 30_000 }),
  /** The chassis' pool, with room for a whole placement batch beside the handlers and the feed. */
  DATABASE_POOL_SIZE: Type.Integer({ minimum: 1, maximum: 100, default: 35 }),
  PLACEMENT_POLL_MS: Type.Integer({ minimum: 10, default: 200 }),
  EXECUTION_POLL_MS: Type.Integer({ minimum: 10, default: 100 }),
  QUOTE_POLL_MS: Type.Integer({ minimum: 10, default: 500 }),
});
export type MarketConfig = Static<typeof MarketConfig>;
