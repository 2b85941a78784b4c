import { ConfigError } from '@simplebank/chassis';
import { type Static, Type } from 'typebox';
import type { ExchangeFaults } from './domain/faults.ts';
import { PriceBoard } from './domain/price-board.ts';
import { DEFAULT_SYMBOLS, parseSymbols } from './domain/prices.ts';

export const ExchangeConfig = Type.Object({
  LATENCY_MS: Type.Integer({ minimum: 0, default: 0 }),
  ERROR_RATE: Type.Number({ minimum: 0, maximum: 1, default: 0 }),
  REJECT_RATE: Type.Number({ minimum: 0, maximum: 1, default: 0 }),
  FILL_DELAY_MS: Type.Integer({ minimum: 0, default: 200 }),
  ORDER_TTL_MS: Type.Integer({ minimum: 1, default: 30_000 }),
  PRICE_STEP_MS: Type.Integer({ minimum: 10, default: 500 }),
  /** `SYMBOL:opening price,...` */
  SYMBOLS: Type.String({ default: DEFAULT_SYMBOLS }),
});
export type ExchangeConfig = Static<typeof ExchangeConfig>;

/** The simulated exchange's prices at their opening, and the faults it starts with. */
export function setUpExchange(config: ExchangeConfig): { prices: PriceBoard; faults: ExchangeFaults } {
  let openings: Map<string, number>;
  try {
    openings = parseSymbols(config.SYMBOLS);
  } catch (error) {
    throw new ConfigError(`Invalid configuration: SYMBOLS ${(error as Error).message}`);
  }
  const faults = {
    latency_ms: config.LATENCY_MS,
    error_rate: config.ERROR_RATE,
    reject_rate: config.REJECT_RATE,
    fill_delay_ms: config.FILL_DELAY_MS,
    order_ttl_ms: config.ORDER_TTL_MS,
  };
  return { prices: new PriceBoard(openings, Date.now()), faults };
}
