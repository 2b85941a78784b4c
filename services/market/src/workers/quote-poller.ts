import { type Logger, Poller, type Pool } from '@simplebank/chassis';
import type { ExchangeClient } from '../exchange/exchange-client.ts';
import { type QuoteBoard, quoteStore } from '../store/quotes.ts';

/** Keeps the quote board current from the exchange's `GET /quotes`, and the quotes table with it. */
export function quotePoller(
  deps: { exchange: ExchangeClient; board: QuoteBoard; pool: Pool; log: Logger },
  intervalMs: number,
): Poller {
  const { exchange, board, pool, log } = deps;
  let loaded = false;
  return Poller.every('polling quotes', intervalMs, log, async () => {
    // first, the prices the last run saw, until the exchange answers
    if (!loaded) {
      board.update(await quoteStore.load(pool));
      loaded = true;
    }
    await quoteStore.save(pool, board.update(await exchange.quotes()));
  });
}
