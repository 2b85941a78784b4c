import { type Logger, Poller, type Pool, type Worker } from '@simplebank/chassis';
import type { ExchangeClient } from './exchange-client.ts';
import { type QuoteBoard, quoteStore } from './quotes.ts';

/** Keeps the quote board current from the exchange's `GET /quotes`, and the quotes table with it. */
export function quotePoller(
  deps: { exchange: ExchangeClient; board: QuoteBoard; pool: Pool; log: Logger },
  intervalMs: number,
): Worker {
  const { exchange, board, pool, log } = deps;
  const poller = new Poller(
    'polling quotes',
    intervalMs,
    async () => {
      const changed = board.update(await exchange.quotes());
      await quoteStore.save(pool, changed);
      return false;
    },
    log,
  );
  return {
    async start() {
      // the prices the last run saw, until the exchange answers
      board.update(await quoteStore.load(pool));
      poller.start();
    },
    stop: () => poller.stop(),
  };
}
