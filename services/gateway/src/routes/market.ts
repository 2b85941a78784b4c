import type { App } from '@simplebank/chassis';
import { Quotes } from '@simplebank/contracts';
import type { QuoteBook } from '../quotes.ts';

export function marketRoutes(app: App, quotes: QuoteBook): void {
  app.get('/market/quotes', { schema: { response: { 200: Quotes } } }, () => quotes.board());
}
