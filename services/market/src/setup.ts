import type { ServiceContext } from '@simplebank/chassis';
import type { MarketConfig } from './config.ts';
import { ExchangeClient } from './exchange/exchange-client.ts';
import { QuoteBoard } from './store/quotes.ts';
import { placementMetrics } from './store/trade-breaks.ts';
import { PlacementWorker } from './workers/placement-worker.ts';

/** What the handlers, routes and workers of one running market share. */
export function setUpMarket(svc: ServiceContext<MarketConfig>) {
  const { config } = svc;
  const exchange = new ExchangeClient(svc, {
    baseUrl: config.EXCHANGE_URL,
    timeoutMs: config.EXCHANGE_TIMEOUT_MS,
    retries: config.EXCHANGE_RETRIES,
    breaker: {
      errorThresholdPercentage: config.EXCHANGE_BREAKER_ERROR_PERCENT,
      volumeThreshold: config.EXCHANGE_BREAKER_VOLUME,
      resetTimeoutMs: config.EXCHANGE_BREAKER_RESET_MS,
    },
  });
  const timing = {
    baseMs: config.PLACEMENT_RETRY_BASE_MS,
    maxMs: config.PLACEMENT_RETRY_MAX_MS,
    deadlineMs: config.PLACEMENT_DEADLINE_MS,
    recheckMs: config.EXCHANGE_ORDER_TTL_MS + config.RECONCILE_MARGIN_MS,
    // every attempt of one call, with the client's back-off between them, and then some
    callLeaseMs:
      config.EXCHANGE_TIMEOUT_MS * (config.EXCHANGE_RETRIES + 1) + config.PLACEMENT_RETRY_MAX_MS + 5_000,
  };
  const options = { pollMs: config.PLACEMENT_POLL_MS, batchSize: config.PLACEMENT_BATCH };
  placementMetrics(svc.metrics.registry, () => svc.pool);
  return {
    exchange,
    board: new QuoteBoard(),
    placement: new PlacementWorker(svc, exchange, timing, options),
  };
}
