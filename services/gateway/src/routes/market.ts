import type { App } from '@simplebank/chassis';
import { Quotes } from '@simplebank/contracts';
import type { QuoteBook } from '../upstream/quotes.ts';

export function marketRoutes(app: App, quotes: QuoteBook): void {
  app.get('/market/quotes', { schema: { response: { 200: Quotes } } }, () =>
    // the last known board, marked stale, when market is down (book §6.4, fallbacks)
    quotes.board({ allowStale: true }),
  );
}
