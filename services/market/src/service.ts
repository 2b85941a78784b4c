import { defineService, type HandlerContext, HttpError, on, type ServiceContext } from '@simplebank/chassis';
import {
  ChargeFailed,
  centsToDecimal,
  ErrorCode,
  FeeCharged,
  localUrl,
  OrderCanceled,
  OrderCreated,
  OrderExpired,
  OrderFailed,
  OrderPlaced,
  PORTS,
  PositionReserved,
  Quote,
  Quotes,
  ReservationFailed,
  SymbolParam,
  TradeExecuted,
} from '@simplebank/contracts';
import { type Static, Type } from 'typebox';
import { type Arrival, afterArrival } from './domain/prerequisites.ts';
import { ExchangeClient, type ExchangeQuote } from './exchange-client.ts';
import { executionFeed } from './execution-feed.ts';
import { PlacementWorker } from './placement-worker.ts';
import { placements } from './placements.ts';
import { quotePoller } from './quote-poller.ts';
import { QuoteBoard } from './quotes.ts';
import { placementMetrics, tradeBreaks } from './trade-breaks.ts';

const MarketConfig = Type.Object({
  EXCHANGE_URL: Type.String({ default: localUrl('stock-exchange') }),
  /** Each attempt of a call to the exchange gives up after this long. */
  EXCHANGE_TIMEOUT_MS: Type.Integer({ minimum: 1, default: 2000 }),
  /** Attempts after the first, with back-off (every call to the exchange is idempotent). */
  EXCHANGE_RETRIES: Type.Integer({ minimum: 0, maximum: 10, default: 2 }),
  /** The circuit breaker around the exchange opens when more than this share (%) of calls fail… */
  EXCHANGE_BREAKER_ERROR_PERCENT: Type.Integer({ minimum: 1, maximum: 100, default: 50 }),
  /** …once at least this many calls were made in its 10 s window… */
  EXCHANGE_BREAKER_VOLUME: Type.Integer({ minimum: 1, default: 10 }),
  /** …and lets one trial call through after this long open. */
  EXCHANGE_BREAKER_RESET_MS: Type.Integer({ minimum: 1, default: 5000 }),
  /**
   * How long after an order is ready market keeps trying an exchange that is down; then it
   * withdraws the order (an unanswered attempt may have reached the exchange) and fails it once
   * the exchange has said it holds no such order.
   */
  PLACEMENT_DEADLINE_MS: Type.Integer({ minimum: 0, default: 60_000 }),
  PLACEMENT_RETRY_BASE_MS: Type.Integer({ minimum: 1, default: 250 }),
  PLACEMENT_RETRY_MAX_MS: Type.Integer({ minimum: 1, default: 10_000 }),
  /**
   * Calls to the exchange made at once, so placements per second are at most this many over the
   * exchange's answer time (bench: with 5, orders waited ready by the hundred while every queue
   * was empty).
   */
  PLACEMENT_BATCH: Type.Integer({ minimum: 1, maximum: 50, default: 25 }),
  /** How long the exchange lets an order rest unfilled (the simulator's ORDER_TTL_MS)… */
  EXCHANGE_ORDER_TTL_MS: Type.Integer({ minimum: 1, default: 30_000 }),
  /** …and how long past that market waits for its fill or expiry before asking after it. */
  RECONCILE_MARGIN_MS: Type.Integer({ minimum: 0, default: 30_000 }),
  /** The chassis' pool, with room for a whole placement batch beside the handlers and the feed. */
  DATABASE_POOL_SIZE: Type.Integer({ minimum: 1, maximum: 100, default: 35 }),
  PLACEMENT_POLL_MS: Type.Integer({ minimum: 10, default: 200 }),
  EXECUTION_POLL_MS: Type.Integer({ minimum: 10, default: 100 }),
  QUOTE_POLL_MS: Type.Integer({ minimum: 10, default: 500 }),
});
type MarketConfig = Static<typeof MarketConfig>;

/** What the handlers, routes and workers of one running market share. */
function openMarket(svc: ServiceContext<MarketConfig>) {
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

const quoteOf = (quote: ExchangeQuote): Quote => ({
  symbol: quote.symbol,
  price: centsToDecimal(quote.priceCents),
  at: quote.at.toISOString(),
});

export default defineService({
  name: 'market',
  version: '0.1.0',
  port: PORTS.market,
  config: MarketConfig,
  migrations: new URL('../migrations/', import.meta.url),
  publishes: [OrderPlaced, OrderFailed, TradeExecuted, OrderExpired],

  setup: openMarket,

  handlers: (_svc, { placement }) => {
    type Ids = { orderId: string; accountId: string };

    // T4, the first half: one row per order, filled in as its events arrive in any order
    const track = async (
      { orderId, accountId }: Ids,
      arrival: Arrival,
      { tx, publish, afterCommit, log }: HandlerContext,
    ) => {
      const current = await placements.open(tx, orderId, accountId);
      const verdict = afterArrival(current, arrival);
      switch (verdict.kind) {
        case 'ignored':
          log.info({ status: current.status }, `${arrival.kind} ignored: ${verdict.why}`);
          return;
        case 'waiting':
          await placements.record(tx, orderId, arrival);
          return;
        case 'ready':
          await placements.record(tx, orderId, arrival);
          await placements.ready(tx, orderId);
          // placed at once rather than at the next poll; only after commit can the worker see it
          afterCommit(() => placement.wake());
          return;
        case 'withdraw':
          log.info({ status: current.status }, 'cancel requested: withdrawing the order at the exchange');
          await placements.requestCancel(tx, orderId);
          afterCommit(() => placement.wake());
          return;
        case 'failed':
        case 'canceled':
          // the first failure ends the order; C1-C3 follow from this one OrderFailed
          log.info({ reason: verdict.reason }, 'order failed before placement');
          await placements.close(tx, orderId, verdict.kind, verdict.reason);
          await publish(OrderFailed, { orderId, accountId, reason: verdict.reason });
      }
    };

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

  routes: (app, svc, { board }) => {
    app.get('/market/quotes', { schema: { response: { 200: Quotes } } }, async () => ({
      quotes: board.all().map(quoteOf),
    }));
    app.get(
      '/market/quotes/:symbol',
      { schema: { params: Type.Object({ symbol: SymbolParam }), response: { 200: Quote } } },
      async ({ params }) => {
        const quote = board.get(params.symbol);
        if (!quote) throw new HttpError(404, ErrorCode.unknownSymbol, `no quote for ${params.symbol}`);
        return quoteOf(quote);
      },
    );
    // Operations (prometheus/RUNBOOK.md, "TradeBreak"): fills for orders our books had ended, and their resolution
    app.get('/market/trade-breaks', async () => ({
      trade_breaks: (await tradeBreaks.list(svc.pool)).map((b) => ({
        order_id: b.orderId,
        account_id: b.accountId,
        placement_status: b.placementStatus,
        exchange_order_id: b.exchangeOrderId,
        side: b.side,
        symbol: b.symbol,
        quantity: b.quantity,
        fill_price: centsToDecimal(b.fillPriceCents),
        detected_at: b.detectedAt.toISOString(),
        resolved_at: b.resolvedAt?.toISOString() ?? null,
        resolution: b.resolution,
      })),
    }));
    app.post(
      '/market/trade-breaks/:order_id/resolve',
      {
        schema: {
          params: Type.Object({ order_id: Type.String({ format: 'uuid' }) }),
          body: Type.Object(
            { resolution: Type.String({ minLength: 1, maxLength: 1000 }) },
            { additionalProperties: false },
          ),
        },
      },
      async ({ params, body }) => {
        if (!(await tradeBreaks.resolve(svc.pool, params.order_id, body.resolution)))
          throw new HttpError(
            404,
            'trade_break_not_found',
            `no open trade break for order ${params.order_id}`,
          );
        return { order_id: params.order_id, resolved: true };
      },
    );
    app.get(
      '/market/placements/:order_id',
      { schema: { params: Type.Object({ order_id: Type.String({ format: 'uuid' }) }) } },
      async ({ params }) => {
        const placement = await placements.find(svc.pool, params.order_id, { lock: false });
        if (!placement)
          throw new HttpError(404, ErrorCode.orderNotFound, `no placement for order ${params.order_id}`);
        return {
          order_id: placement.orderId,
          account_id: placement.accountId,
          status: placement.status,
          reason: placement.reason,
          prerequisites: {
            order_created: placement.orderCreated,
            position_reserved: placement.positionReserved,
            fee_charged: placement.feeCharged,
          },
          ready_at: placement.readyAt?.toISOString() ?? null,
          attempts: placement.attempts,
          in_doubt: placement.inDoubt,
          cancel_requested: placement.cancelRequested,
          exchange_order_id: placement.exchangeOrderId,
          fill_price: placement.fillPriceCents === null ? null : centsToDecimal(placement.fillPriceCents),
        };
      },
    );
  },
});
