import { nextPrice } from './prices.ts';

interface Price {
  openingCents: number;
  cents: number;
  at: number;
  pinned: boolean;
}

/**
 * The exchange's prices, in memory: a restart opens at the opening prices again (a price is news,
 * not a record). Time and randomness come from the caller, so it runs the same way in tests.
 */
export class PriceBoard {
  private readonly prices = new Map<string, Price>();

  constructor(openings: Map<string, number>, now: number) {
    for (const [symbol, cents] of openings)
      this.prices.set(symbol, { openingCents: cents, cents, at: now, pinned: false });
  }

  quotes() {
    return [...this.prices].map(([symbol, price]) => quoteOf(symbol, price));
  }

  quote(symbol: string) {
    const price = this.prices.get(symbol);
    return price && quoteOf(symbol, price);
  }

  has(symbol: string): boolean {
    return this.prices.has(symbol);
  }

  /** Each symbol's price in cents, for matching. */
  cents(): Map<string, number> {
    return new Map([...this.prices].map(([symbol, price]) => [symbol, price.cents]));
  }

  /** Holds a symbol at a price (random walk paused) until `unpin`. */
  pin(symbol: string, cents: number, now: number) {
    const price = this.prices.get(symbol);
    if (!price) return undefined;
    Object.assign(price, { cents, at: now, pinned: true });
    return quoteOf(symbol, price);
  }

  unpin(symbol: string) {
    const price = this.prices.get(symbol);
    if (!price) return undefined;
    price.pinned = false;
    return quoteOf(symbol, price);
  }

  /** One step of every unpinned symbol's random walk. */
  step(now: number, random: () => number): void {
    for (const price of this.prices.values()) {
      if (price.pinned) continue;
      const cents = nextPrice(price.cents, price.openingCents, random);
      if (cents !== price.cents) Object.assign(price, { cents, at: now });
    }
  }
}

const quoteOf = (symbol: string, price: Price) => ({
  symbol,
  price_cents: price.cents,
  at: new Date(price.at).toISOString(),
  pinned: price.pinned,
});
