import { defineService, Poller } from '@simplebank/chassis';
import { PORTS } from '@simplebank/contracts';
import { book } from './book.ts';
import { ExchangeConfig, setUpExchange } from './config.ts';
import { routes } from './routes.ts';

/** How often resting orders are matched against the current prices. */
const MATCH_EVERY_MS = 20;

/**
 * The external stock exchange, simulated: its book and execution feed in its own database (they
 * survive its restarts, as a real exchange's do), its prices and injected faults in memory.
 */
export default defineService({
  name: 'stock-exchange',
  version: '0.1.0',
  port: PORTS['stock-exchange'],
  config: ExchangeConfig,
  broker: false,
  migrations: new URL('../migrations/', import.meta.url),
  // its own /admin/faults injects the exchange's faults; the chassis' handler switch has nothing to act on
  adminFaults: false,

  // one exchange per running instance, shared by the routes and the clock that moves it
  setup: (svc) => setUpExchange(svc.config),

  workers: ({ config, log, pool }, { prices }) => [
    Poller.every('stepping prices', config.PRICE_STEP_MS, log, () => prices.step(Date.now(), Math.random)),
    Poller.every('matching open orders', MATCH_EVERY_MS, log, () =>
      book.match(pool, prices.cents(), new Date()),
    ),
  ],

  routes,
});
