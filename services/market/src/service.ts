import { defineService, on } from '@simplebank/chassis';
import {
  ChargeFailed,
  FeeCharged,
  OrderCanceled,
  OrderCreated,
  OrderExpired,
  OrderFailed,
  OrderPlaced,
  PORTS,
  PositionReserved,
  ReservationFailed,
  TradeExecuted,
} from '@simplebank/contracts';
import { trackArrival } from './arrivals.ts';
import { MarketConfig } from './config.ts';
import { routes } from './routes.ts';
import { setUpMarket } from './setup.ts';
import { executionFeed } from './workers/execution-feed.ts';
import { quotePoller } from './workers/quote-poller.ts';

// market: the exchange's side of the saga (T4). It waits for an order's three prerequisites, places
// it at the exchange, follows its fills, and serves the quote board.

export default defineService({
  name: 'market',
  version: '0.1.0',
  port: PORTS.market,
  config: MarketConfig,
  migrations: new URL('../migrations/', import.meta.url),
  publishes: [OrderPlaced, OrderFailed, TradeExecuted, OrderExpired],

  setup: setUpMarket,

  handlers: (_svc, { placement }) => {
    const track = trackArrival(placement);
    return {
      track_order: on(OrderCreated, (order, ctx) => track(order, { kind: 'order_created', order }, ctx)),
      track_reservation: on(PositionReserved, (reserved, ctx) =>
        track(reserved, { kind: 'position_reserved' }, ctx),
      ),
      track_fee: on(FeeCharged, (fee, ctx) =>
        track(fee, { kind: 'fee_charged', feeCents: fee.feeCents }, ctx),
      ),
      fail_on_reservation_failure: on(ReservationFailed, (failure, ctx) =>
        track(failure, { kind: 'reservation_failed', reason: failure.reason }, ctx),
      ),
      fail_on_charge_failure: on(ChargeFailed, (failure, ctx) =>
        track(failure, { kind: 'charge_failed', reason: failure.reason }, ctx),
      ),
      cancel_order: on(OrderCanceled, (cancel, ctx) => track(cancel, { kind: 'order_canceled' }, ctx)),
    };
  },

  // No prices, no orders: ready once the board holds quotes (from the exchange, or the quotes
  // table a restart reloads), so the gateway never meets an empty board.
  readiness: (_svc, { board }) => ({ quotes: async () => board.all().length > 0 }),

  workers: (svc, { exchange, board, placement }) => {
    const { config, pool, log } = svc;
    return [
      quotePoller({ exchange, board, pool, log }, config.QUOTE_POLL_MS),
      placement,
      executionFeed(svc, exchange, config.EXECUTION_POLL_MS),
    ];
  },

  routes,
});
