import { randomUUID } from 'node:crypto';
import { type App, errorBody, HttpError, type Timers } from '@simplebank/chassis';
import {
  CancelAccepted,
  CancelRefused,
  ErrorCode,
  Order,
  OrderAccepted,
  OrderIdParams,
  OrderList,
  type OrderSide,
  OrdersQuery,
  PlaceOrderHeaders,
  PlaceOrderRequest,
} from '@simplebank/contracts';
import type { orderCancel } from '../commands/order-cancel.ts';
import { accepted, isSameOrder, type OrderPlacement } from '../commands/order-placement.ts';
import { requireCustomer, signedIn } from '../edge/auth.ts';
import {
  fingerprintOf,
  type IdempotencyKeys,
  inProgress,
  orderIdFor,
  UNANSWERED_MAX_MS,
} from '../edge/idempotency.ts';
import type { Owners } from '../upstream/owners.ts';
import { segment, type Upstream } from '../upstream/upstream.ts';

interface Replayable {
  status(code: number): Replayable;
  header(name: string, value: string): Replayable;
  send(body: unknown): void;
}

export interface OrderRouteDeps {
  placement: OrderPlacement;
  cancel: ReturnType<typeof orderCancel>;
  orders: Upstream;
  owners: Owners;
  idempotency: IdempotencyKeys;
  /** The book's `sell_shares` timer (and `buy_shares`): the whole request, as answered. */
  timers?: Timers;
  /** onRequest: the customer's order budget (protection.ts), instead of the general limit. */
  orderLimit?: ReturnType<App['rateLimit']>;
}

export function orderRoutes(
  app: App,
  { placement, cancel, orders, owners, idempotency, timers, orderLimit }: OrderRouteDeps,
): void {
  for (const side of ['sell', 'buy'] as const satisfies readonly OrderSide[]) {
    const route = `POST /shares/${side}`;
    app.post(
      `/shares/${side}`,
      {
        ...(orderLimit ? { config: { rateLimit: false as const }, onRequest: orderLimit } : {}),
        preParsing: requireCustomer,
        onResponse: async (_request, reply) => timers?.timing(`${side}_shares`, reply.elapsedTime),
        // a refusal under load (orders in flight at their limit, an upstream away) says when to retry
        onSend: async (_request, reply, payload) => {
          if (reply.statusCode === 503 && !reply.hasHeader('retry-after')) reply.header('retry-after', '1');
          return payload;
        },
        schema: { headers: PlaceOrderHeaders, body: PlaceOrderRequest, response: { 202: OrderAccepted } },
      },
      async (request, reply) => {
        const customer = signedIn(request);
        placement.refuseIfAtCapacity(); // before the key is claimed: a refusal costs nothing
        const { body } = request;
        const key = request.headers['idempotency-key'];
        if (key === undefined) {
          const placed = await placement.place(side, body, {
            customer,
            orderId: randomUUID(),
            keyed: false,
          });
          return reply.status(202).send(placed);
        }

        // docs: README "Idempotency keys"
        const fingerprint = fingerprintOf(route, [body.account_id, body.symbol, body.quantity]);
        const orderId = orderIdFor(customer, key);
        const begun = await idempotency.begin(customer, key, fingerprint);
        let replay = begun.kind === 'replay' ? begun.response : undefined;
        if (begun.kind === 'unanswered') {
          const first = await firstRequest(orderId, begun.ageMs, (order) => isSameOrder(order, side, body));
          if (first === 'running') {
            reply.header('retry-after', '1');
            throw inProgress();
          }
          if (first === 'placed') replay = { statusCode: 202, body: accepted(orderId) };
        }
        if (replay) {
          // the first answer as it was sent (a 202 or a 4xx), so not through the 202 schema's types
          const replayed = reply as unknown as Replayable;
          replayed.status(replay.statusCode).header('idempotent-replayed', 'true').send(replay.body);
          return reply;
        }
        try {
          const placed = await placement.place(side, body, { customer, orderId, keyed: true });
          return reply.status(202).send(placed);
        } catch (error) {
          // a 4xx is the answer to this request and is kept; after a 5xx the key is free again
          if (error instanceof HttpError && error.statusCode < 500) {
            const answer = { statusCode: error.statusCode, body: errorBody(error.code, error.message) };
            await idempotency.complete(customer, key, fingerprint, answer);
          } else {
            await idempotency.release(customer, key);
          }
          throw error;
        }
      },
    );
  }

  /**
   * What became of the request that claimed a key and stored no answer. An accepted order is never
   * stored: the key's order id names it, so if orders has that order, for this request's terms,
   * the request placed it. If not, it is still running, or it died unanswered (a gateway stopped
   * mid-request): past UNANSWERED_MAX_MS this request takes over, and orders creates the order at
   * most once whichever request gets there. (An order of other terms under the id is an earlier
   * use of the key, whose record lapsed: the first request is refusing it, and stores that.)
   */
  async function firstRequest(
    orderId: string,
    ageMs: number,
    isThisRequest: (order: Order) => boolean,
  ): Promise<'placed' | 'running' | 'abandoned'> {
    const notFound = new HttpError(404, ErrorCode.orderNotFound, `no order ${orderId}`);
    const existing = await orders
      .get<Order>(`/orders/${segment(orderId)}`, { notFound })
      .catch((error: unknown) => {
        if (error === notFound) return undefined;
        throw error;
      });
    if (existing && isThisRequest(existing)) return 'placed';
    return ageMs < UNANSWERED_MAX_MS ? 'running' : 'abandoned';
  }

  /** The order, when it is one of `customer`'s; anyone else's is answered as one that does not exist. */
  const ownOrder = async (orderId: string, customer: string): Promise<Order> => {
    const notFound = new HttpError(404, ErrorCode.orderNotFound, `no order ${orderId}`);
    const order = await orders.get<Order>(`/orders/${segment(orderId)}`, { notFound });
    if (!(await owners.owns(customer, order.account_id))) throw notFound;
    return order;
  };

  app.get(
    '/orders/:order_id',
    { preParsing: requireCustomer, schema: { params: OrderIdParams, response: { 200: Order } } },
    async (request) => ownOrder(request.params.order_id, signedIn(request)),
  );

  // An account's orders, newest first; the next page is `cursor` = this page's `next_cursor`,
  // passed on as it came: only orders can read it (a malformed one is its 400 validation_failed).
  app.get(
    '/orders',
    { preParsing: requireCustomer, schema: { querystring: OrdersQuery, response: { 200: OrderList } } },
    async (request) => {
      const { account_id, limit, cursor } = request.query;
      if (!(await owners.owns(signedIn(request), account_id)))
        throw new HttpError(404, ErrorCode.unknownAccount, `no account ${account_id}`);
      return orders.get<OrderList>('/orders', { query: { account_id, limit, cursor } });
    },
  );

  // The customer's cancel (book §5.3.3): 202 when orders accepted it, 409 with the order's status
  // when it is too late.
  app.delete(
    '/orders/:order_id',
    {
      preParsing: requireCustomer,
      schema: { params: OrderIdParams, response: { 202: CancelAccepted, 409: CancelRefused } },
    },
    async (request, reply) => {
      const customer = signedIn(request);
      const order = await ownOrder(request.params.order_id, customer);
      const outcome = await cancel(order, customer);
      return reply.status(outcome.statusCode).send(outcome.body);
    },
  );
}
