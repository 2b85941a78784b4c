import { HttpError, type Logger } from '@simplebank/chassis';
import { decimalToCents, ErrorCode, type Quote, type Quotes } from '@simplebank/contracts';
import type { Redis } from 'ioredis';
import { segment, type Upstream } from './upstream.ts';

/** The Redis key (under REDIS_PREFIX) the quote board is cached at, and for how long. */
export const BOARD_KEY = 'quotes';
export const BOARD_TTL_MS = 1000;

/** Prices from market, the system's quote service. */
export interface QuoteBook {
  /** The latest price of `symbol` in cents; an unknown symbol is a 422 unknown_symbol. */
  priceCents(symbol: string): Promise<number>;
  /** Every symbol's latest quote, at most a second old. */
  board(): Promise<Quotes>;
}

export function quoteBook(market: Upstream, redis: Redis, log: Logger): QuoteBook {
  return {
    async priceCents(symbol) {
      // Always fresh: the order's limit and fee allowance are fixed from this price.
      const quote = await market.get<Quote>(`/market/quotes/${segment(symbol)}`, {
        notFound: new HttpError(422, ErrorCode.unknownSymbol, `no quote for symbol ${symbol}`),
      });
      return decimalToCents(quote.price);
    },

    async board() {
      // The cache only saves market some load: when Redis is away, ask market every time.
      const cached = await redis.get(BOARD_KEY).catch((error) => {
        log.warn({ error }, 'quote cache unavailable; asking market');
        return null;
      });
      if (cached) return JSON.parse(cached) as Quotes;
      const quotes = await market.get<Quotes>('/market/quotes');
      await redis.set(BOARD_KEY, JSON.stringify(quotes), 'PX', BOARD_TTL_MS).catch((error) => {
        log.warn({ error }, 'could not cache quotes');
      });
      return quotes;
    },
  };
}
