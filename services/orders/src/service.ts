import {
  command,
  defineService,
  type HandlerContext,
  HttpError,
  on,
  PoisonMessageError,
  RpcError,
  type Timers,
} from '@simplebank/chassis';
import {
  centsToDecimal,
  ErrorCode,
  Order,
  OrderCanceled,
  OrderCreated,
  OrderExpired,
  OrderFailed,
  OrderIdParams,
  OrderList,
  OrderPlaced,
  type OrderSide,
  OrderStatusChanged,
  OrdersQuery,
  PlaceOrderCommand,
  type PlaceOrderResult,
  RpcErrorCode,
  TradeExecuted,
} from '@simplebank/contracts';
import { type Static, Type } from 'typebox';
import { OrderAdmission } from './admission.ts';
import { decodeCursor, encodeCursor } from './cursor.ts';
import { isCancelable, type OrderStatus, statusOnFailure } from './order-status.ts';
import { type NewOrder, type OrderFacts, type OrderRow, type OrderWithHistory, orders } from './orders.ts';
import { type SagaMetrics, sagaMetrics } from './saga-metrics.ts';

const sameOrder = (row: OrderRow, order: NewOrder): boolean =>
  row.account_id === order.accountId &&
  row.side === order.side &&
  row.symbol === order.symbol &&
  row.quantity === order.quantity &&
  row.limit_price_cents === order.limitPriceCents &&
  row.max_fee_cents === order.maxFeeCents;

/**
 * T1: stores the order `created` and announces it; the same command again changes nothing. With
 * as many orders in flight as admission control allows now, it refuses the order at once
 * (admission.ts).
 */
const placeOrder = (side: OrderSide, timers: Timers, admission: OrderAdmission) =>
  command(
    PlaceOrderCommand,
    (params, { tx, publish, log }): Promise<PlaceOrderResult> =>
      timers.timed('place_order', async () => {
        if (!admission.admit()) {
          throw new RpcError(RpcErrorCode.atCapacity, 'too many orders in flight: try again in a moment');
        }
        const order: NewOrder = { ...params, side };
        const existing = await orders.create(tx, order);
        if (existing && !sameOrder(existing, order)) {
          throw new RpcError(
            'order_id_conflict',
            `order ${order.orderId} already exists with different content`,
          );
        }
        if (!existing) {
          await publish(OrderCreated, order);
          await publish(OrderStatusChanged, {
            orderId: order.orderId,
            accountId: order.accountId,
            status: 'created',
            reason: null,
            at: new Date().toISOString(),
          });
          log.info(
            { order_id: order.orderId, side, symbol: order.symbol, quantity: order.quantity },
            'order created',
          );
        }
        return { orderId: order.orderId, status: 'created' } as const;
      }),
  );

/**
 * The gateway's cancel: `accountId` is the account the gateway checked the customer owns; an order
 * of another account is not found.
 */
export const CancelOrderCommand = Type.Object(
  {
    orderId: Type.String({ format: 'uuid' }),
    accountId: Type.String({ minLength: 1, maxLength: 64 }),
  },
  { additionalProperties: false },
);
export type CancelOrderCommand = Static<typeof CancelOrderCommand>;
/** The order keeps its status until market says how the cancel ended (docs/saga.md, "The customer cancel"). */
export interface CancelOrderResult {
  orderId: string;
  status: 'created' | 'placed';
}

/**
 * A customer cancel (book §5.3.3, interruption): an order `created` or `placed` can be cancelled.
 * The first call records the request and announces OrderCanceled; market ends the order with
 * `canceled_by_customer` (withdrawing it at the exchange first if it may be there), or it executes
 * if the exchange filled it first. A repeated call returns the same and publishes nothing.
 */
const cancelOrder = command(
  CancelOrderCommand,
  async ({ orderId, accountId }, { tx, publish, log }): Promise<CancelOrderResult> => {
    const found = await orders.requestCancel(tx, orderId, accountId);
    if (!found) throw new RpcError(ErrorCode.orderNotFound, `no order ${orderId}`);
    const { order, recorded } = found;
    const { status } = order;
    if (!isCancelable(status)) {
      throw new RpcError('order_not_cancelable', `order ${orderId} is ${status}`);
    }
    if (recorded) {
      await publish(OrderCanceled, { orderId, accountId });
      log.info({ order_id: orderId, status }, 'cancel requested');
    }
    return { orderId, status };
  },
);

/** Applies an event's news to its order, forward only (docs/saga.md, "Events arrive in any order"). */
async function moveOrder(
  saga: SagaMetrics,
  { tx, log, envelope, afterCommit, publish }: HandlerContext,
  orderId: string,
  next: OrderStatus,
  facts?: OrderFacts,
): Promise<void> {
  const moved = await orders.moveTo(tx, orderId, next, envelope.occurredAt, facts);
  // Orders commits an order before its OrderCreated leaves, so market cannot know of one we lack.
  if (!moved) throw new PoisonMessageError(`no order ${orderId}`);
  if (moved.change === 'ignore') log.warn({ status: moved.from, ignored: next }, 'status change ignored');
  // Counted once the move has committed: an event rolled back and redelivered counts once.
  if (moved.change === 'advance') {
    // the news for the customer's screen (through the gateway), in the same transaction
    await publish(OrderStatusChanged, {
      orderId,
      accountId: moved.order.account_id,
      status: next,
      reason: facts?.reason ?? null,
      at: envelope.occurredAt,
    });
    afterCommit(() => saga.moved(moved.order, next, new Date(envelope.occurredAt), facts?.reason));
  }
}

const decimalOrNull = (cents: number | null) => (cents === null ? null : centsToDecimal(cents));

/** The API's view of an order: snake_case, money as decimal strings, history oldest first. */
const orderView = ({ order, history }: OrderWithHistory): Order => ({
  order_id: order.order_id,
  account_id: order.account_id,
  side: order.side,
  symbol: order.symbol,
  quantity: order.quantity,
  status: order.status,
  limit_price: centsToDecimal(order.limit_price_cents),
  fee: decimalOrNull(order.fee_cents),
  fill_price: decimalOrNull(order.fill_price_cents),
  reason: order.reason,
  created_at: order.created_at.toISOString(),
  updated_at: order.updated_at.toISOString(),
  history: history.map(({ status, at, reason }) => ({
    status,
    at: at.toISOString(),
    ...(reason === null ? {} : { reason }),
  })),
});

const OrdersConfig = Type.Object({
  /**
   * Orders created and not yet on the exchange, past which a new order is refused (503): the
   * limit moves between the least and the most to keep the median of them younger than the target
   * age (admission.ts).
   */
  ORDERS_IN_FLIGHT_MIN: Type.Integer({ minimum: 1, default: 50 }),
  ORDERS_IN_FLIGHT_MAX: Type.Integer({ minimum: 1, default: 400 }),
  ORDERS_IN_FLIGHT_TARGET_AGE_MS: Type.Integer({ minimum: 1, default: 400 }),
  /** How often the count of orders in flight is read. */
  ORDERS_IN_FLIGHT_REFRESH_MS: Type.Integer({ minimum: 10, default: 100 }),
});

export default defineService({
  name: 'orders',
  version: '0.1.0',
  port: 8081,
  migrations: new URL('../migrations/', import.meta.url),
  publishes: [OrderCreated, OrderCanceled, OrderStatusChanged],

  config: OrdersConfig,

  // saga_* metrics (issue 4); the in-flight gauges read the pool at each scrape
  setup: (svc) => ({
    saga: sagaMetrics(svc.metrics.registry, () => svc.pool),
    admission: new OrderAdmission(
      () => svc.pool,
      {
        min: Math.min(svc.config.ORDERS_IN_FLIGHT_MIN, svc.config.ORDERS_IN_FLIGHT_MAX),
        max: svc.config.ORDERS_IN_FLIGHT_MAX,
        targetMedianAgeMs: svc.config.ORDERS_IN_FLIGHT_TARGET_AGE_MS,
      },
      svc.config.ORDERS_IN_FLIGHT_REFRESH_MS,
      svc.log,
    ),
  }),

  rpc: ({ statsd }, { admission }) => ({
    sell: placeOrder('sell', statsd, admission),
    buy: placeOrder('buy', statsd, admission),
    cancel: cancelOrder,
  }),

  workers: (_svc, { admission }) => [admission],

  handlers: (_svc, { saga }) => ({
    // T5
    mark_placed: on(OrderPlaced, async ({ orderId, exchangeOrderId }, ctx) =>
      moveOrder(saga, ctx, orderId, 'placed', { exchangeOrderId }),
    ),
    // C1
    mark_failed: on(OrderFailed, async ({ orderId, reason }, ctx) =>
      moveOrder(saga, ctx, orderId, statusOnFailure(reason), { reason }),
    ),
    mark_executed: on(TradeExecuted, async ({ orderId, fillPriceCents, feeCents }, ctx) =>
      moveOrder(saga, ctx, orderId, 'executed', { fillPriceCents, feeCents }),
    ),
    mark_expired: on(OrderExpired, async ({ orderId }, ctx) => moveOrder(saga, ctx, orderId, 'expired')),
  }),

  routes: (app, { pool }) => {
    app.get(
      '/orders/:order_id',
      { schema: { params: OrderIdParams, response: { 200: Order } } },
      async ({ params }) => {
        const found = await orders.get(pool, params.order_id);
        if (!found) throw new HttpError(404, ErrorCode.orderNotFound, `no order ${params.order_id}`);
        return orderView(found);
      },
    );
    app.get(
      '/orders',
      { schema: { querystring: OrdersQuery, response: { 200: OrderList } } },
      async ({ query }): Promise<OrderList> => {
        const after = query.cursor === undefined ? undefined : decodeCursor(query.cursor);
        if (query.cursor !== undefined && !after) {
          throw new HttpError(
            400,
            ErrorCode.validationFailed,
            'querystring/cursor must be the next_cursor of an earlier page',
          );
        }
        const page = await orders.listByAccount(pool, query.account_id, { limit: query.limit, after });
        return { orders: page.orders.map(orderView), next_cursor: page.next && encodeCursor(page.next) };
      },
    );
  },
});
