import type { Pool } from '@simplebank/chassis';
import type { ExchangeQuote } from '../exchange/exchange-client.ts';

/** The latest price of every symbol, in memory: what `GET /market/quotes` answers from. */
export class QuoteBoard {
  private readonly latest = new Map<string, ExchangeQuote>();

  all(): ExchangeQuote[] {
    return [...this.latest.values()].sort((a, b) => a.symbol.localeCompare(b.symbol));
  }

  get(symbol: string): ExchangeQuote | undefined {
    return this.latest.get(symbol);
  }

  /** Takes the new quotes and returns those that changed. */
  update(quotes: ExchangeQuote[]): ExchangeQuote[] {
    const changed = quotes.filter((q) => {
      const known = this.latest.get(q.symbol);
      return !known || known.priceCents !== q.priceCents || known.at.getTime() !== q.at.getTime();
    });
    for (const quote of changed) this.latest.set(quote.symbol, quote);
    return changed;
  }
}

/** The quotes table: the board survives a restart. */
export const quoteStore = {
  async load(pool: Pool): Promise<ExchangeQuote[]> {
    const { rows } = await pool.query<{ symbol: string; price_cents: number; quoted_at: Date }>(
      'SELECT * FROM quotes',
    );
    return rows.map((r) => ({ symbol: r.symbol, priceCents: r.price_cents, at: r.quoted_at }));
  },

  async save(pool: Pool, quotes: ExchangeQuote[]): Promise<void> {
    if (quotes.length === 0) return;
    await pool.query(
      `INSERT INTO quotes (symbol, price_cents, quoted_at)
       SELECT * FROM unnest($1::text[], $2::bigint[], $3::timestamptz[])
       ON CONFLICT (symbol) DO UPDATE SET price_cents = EXCLUDED.price_cents, quoted_at = EXCLUDED.quoted_at
       WHERE quotes.quoted_at < EXCLUDED.quoted_at`,
      [quotes.map((q) => q.symbol), quotes.map((q) => q.priceCents), quotes.map((q) => q.at)],
    );
  },
};
