import { defineService, HttpError, on } from '@simplebank/chassis';
import {
  ErrorCode,
  Order,
  OrderCanceled,
  OrderCreated,
  OrderExpired,
  OrderFailed,
  OrderIdParams,
  OrderList,
  OrderPlaced,
  OrderStatusChanged,
  OrdersQuery,
  PORTS,
  TradeExecuted,
} from '@simplebank/contracts';
import { Type } from 'typebox';
import { OrderAdmission } from './admission.ts';
import { cancelOrder, placeOrder } from './commands.ts';
import { decodeCursor, encodeCursor } from './domain/cursor.ts';
import { statusOnFailure } from './domain/order-status.ts';
import { moveOrder } from './order-moves.ts';
import { orders } from './orders.ts';
import { sagaMetrics } from './saga-metrics.ts';
import { orderView } from './views.ts';

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
  port: PORTS.orders,
  migrations: new URL('../migrations/', import.meta.url),
  publishes: [OrderCreated, OrderCanceled, OrderStatusChanged],

  config: OrdersConfig,

  // saga_* metrics; the in-flight gauges read the pool at each scrape
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
