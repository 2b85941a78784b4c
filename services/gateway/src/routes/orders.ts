import { type App, HttpError } from '@simplebank/chassis';
import {
  ErrorCode,
  Order,
  OrderAccepted,
  OrderIdParams,
  OrderList,
  type OrderSide,
  OrdersQuery,
  PlaceOrderRequest,
} from '@simplebank/contracts';
import type { OrderPlacement } from '../order-placement.ts';
import { segment, type Upstream } from '../upstream.ts';

export function orderRoutes(app: App, placement: OrderPlacement, orders: Upstream): void {
  for (const side of ['sell', 'buy'] as const satisfies readonly OrderSide[]) {
    app.post(
      `/shares/${side}`,
      { schema: { body: PlaceOrderRequest, response: { 202: OrderAccepted } } },
      async (request, reply) => reply.status(202).send(await placement.place(side, request.body)),
    );
  }

  app.get(
    '/orders/:order_id',
    { schema: { params: OrderIdParams, response: { 200: Order } } },
    async ({ params }) =>
      orders.get<Order>(`/orders/${segment(params.order_id)}`, {
        notFound: new HttpError(404, ErrorCode.orderNotFound, `no order ${params.order_id}`),
      }),
  );

  // An account's orders, newest first; the next page is `cursor` = this page's `next_cursor`,
  // passed on as it came: only orders can read it (a malformed one is its 400 validation_failed).
  app.get(
    '/orders',
    { schema: { querystring: OrdersQuery, response: { 200: OrderList } } },
    async ({ query: { account_id, limit, cursor } }) =>
      orders.get<OrderList>('/orders', { query: { account_id, limit, cursor } }),
  );
}
