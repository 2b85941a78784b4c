import { HttpError, type Logger, markStale, type Worker } from '@simplebank/chassis';
import { decimalToCents, ErrorCode, Quotes } from '@simplebank/contracts';
import { Compile } from 'typebox/compile';
import { Refreshed } from './refreshed.ts';
import { fetchCopy, type Upstream, unavailable } from './upstream.ts';

export interface QuoteBookOptions {
  /** How often market is asked for the board. */
  refreshMs: number;
  /** How old the board may be and still price an order; older, market counts as unavailable. */
  maxAgeMs: number;
}

/** The board as market gave it, with each symbol's price in cents (parsed once, not per order). */
interface Board {
  quotes: Quotes;
  cents: ReadonlyMap<string, number>;
}

const isQuotes = Compile(Quotes);

/**
 * Prices from market, the system's quote service, held in memory: the whole board (a few symbols,
 * the same for every customer) is fetched in the background every `refreshMs`, so pricing an
 * order costs no round trip; a cache in Redis would cost one per order, and market a call per
 * instance each time it lapsed. A board older than `maxAgeMs` prices no order (market counts as
 * unavailable: it would be a stale price), but is still shown, marked stale.
 */
export class QuoteBook implements Worker {
  private readonly latest: Refreshed<Board>;

  constructor(
    private readonly market: Upstream,
    private readonly options: QuoteBookOptions,
    log: Logger,
  ) {
    this.latest = new Refreshed('quote board', options.refreshMs, () => this.fetch(), log);
  }

  /**
   * The price of `symbol` in cents from a live board (at most `maxAgeMs` old): an order's limit and
   * fee allowance are fixed from it, so never a stale one (a 503 service_unavailable then, as
   * when no board was ever had). An unknown symbol is a 422 unknown_symbol.
   */
  async priceCents(symbol: string): Promise<number> {
    const board = await this.live();
    const cents = board.cents.get(symbol);
    if (cents === undefined)
      throw new HttpError(422, ErrorCode.unknownSymbol, `no quote for symbol ${symbol}`);
    return cents;
  }

  /**
   * Every symbol's quote from a live board; a 503 while there is none. With `allowStale` (book
   * §6.4, a fallback), the last board market gave when it is older than that, each quote marked
   * `stale: true` and the answer marked for the chassis to add `Warning` and `X-Data-Stale`.
   */
  async board({ allowStale = false } = {}): Promise<Quotes> {
    const { value, ageMs } = await this.latest.get();
    if (ageMs <= this.options.maxAgeMs) return value.quotes;
    if (!allowStale) throw this.stale(ageMs);
    // a new object each time: markStale marks the payload, and the held board is shared
    return markStale({ quotes: value.quotes.quotes.map((quote) => ({ ...quote, stale: true })) });
  }

  start(): void {
    this.latest.start();
  }

  stop(): Promise<void> {
    return this.latest.stop();
  }

  private async live(): Promise<Board> {
    const { value, ageMs } = await this.latest.get();
    if (ageMs > this.options.maxAgeMs) throw this.stale(ageMs);
    return value;
  }

  private stale(ageMs: number): HttpError {
    return unavailable(this.market, `its last quotes are ${Math.round(ageMs)} ms old`);
  }

  private async fetch(): Promise<Board> {
    const quotes = await fetchCopy(this.market, '/market/quotes');
    if (!isQuotes.Check(quotes))
      throw unavailable(this.market, 'it answered something that is not a quote board');
    // market quotes every symbol once it is ready: an empty board would make every symbol unknown
    if (quotes.quotes.length === 0) throw unavailable(this.market, 'it has no quotes yet');
    return { quotes, cents: new Map(quotes.quotes.map((q) => [q.symbol, decimalToCents(q.price)])) };
  }
}
