import { HttpError, type Logger, markStale } from '@simplebank/chassis';
import { decimalToCents, ErrorCode, type Quote, type Quotes } from '@simplebank/contracts';
import type { Redis } from 'ioredis';
import { isUnavailable, segment, type Upstream } from './upstream.ts';

/** The Redis key (under REDIS_PREFIX) the quote board is cached at, and for how long. */
export const BOARD_KEY = 'quotes';
export const BOARD_TTL_MS = 1000;
/** The last board market gave, kept without expiry: the fallback while market is unavailable. */
export const LAST_BOARD_KEY = 'quotes:last-known';

/** Prices from market, the system's quote service. */
export interface QuoteBook {
  /**
   * The latest price of `symbol` in cents, always asked of market: an order's limit and fee
   * allowance are fixed from it, so never a stale one (market unavailable is a 503). An unknown
   * symbol is a 422 unknown_symbol.
   */
  priceCents(symbol: string): Promise<number>;
  /**
   * Every symbol's latest quote, at most a second old; a 503 while market is unavailable. With
   * `allowStale` (book §6.4, a fallback), the last board market gave instead, each quote marked
   * `stale: true` and the answer marked for the chassis to add `Warning` and `X-Data-Stale`.
   */
  board(options?: { allowStale?: boolean }): Promise<Quotes>;
}

export function quoteBook(market: Upstream, redis: Redis, log: Logger): QuoteBook {
  // logged when the fallback starts and stops being used, not on every request in between
  let servingStale = false;

  const lastKnown = async (): Promise<Quotes | undefined> => {
    const saved = await redis.get(LAST_BOARD_KEY).catch((error) => {
      log.warn({ error }, 'last known quotes unavailable');
      return null;
    });
    return saved ? (JSON.parse(saved) as Quotes) : undefined;
  };

  return {
    async priceCents(symbol) {
      const quote = await market.get<Quote>(`/market/quotes/${segment(symbol)}`, {
        notFound: new HttpError(422, ErrorCode.unknownSymbol, `no quote for symbol ${symbol}`),
      });
      return decimalToCents(quote.price);
    },

    async board({ allowStale = false } = {}) {
      // The cache only saves market some load: when Redis is away, ask market every time.
      const cached = await redis.get(BOARD_KEY).catch((error) => {
        log.warn({ error }, 'quote cache unavailable; asking market');
        return null;
      });
      if (cached) return JSON.parse(cached) as Quotes;
      let quotes: Quotes;
      try {
        quotes = await market.get<Quotes>('/market/quotes');
      } catch (error) {
        if (!allowStale || !isUnavailable(error)) throw error;
        const last = await lastKnown();
        if (!last) throw error;
        if (!servingStale) {
          servingStale = true;
          log.warn(
            { reason: (error as Error).message },
            'market unavailable: answering with the last known quotes',
          );
        }
        return markStale({ quotes: last.quotes.map((quote) => ({ ...quote, stale: true })) });
      }
      if (servingStale) {
        servingStale = false;
        log.info('market available again: answering with its quotes');
      }
      const json = JSON.stringify(quotes);
      await Promise.all([
        redis.set(BOARD_KEY, json, 'PX', BOARD_TTL_MS),
        redis.set(LAST_BOARD_KEY, json),
      ]).catch((error) => {
        log.warn({ error }, 'could not cache quotes');
      });
      return quotes;
    },
  };
}
