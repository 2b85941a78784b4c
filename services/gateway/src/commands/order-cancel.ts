import { type Broker, HttpError, type Logger, RpcError } from '@simplebank/chassis';
import {
  type CancelAccepted,
  type CancelOrderCommand,
  type CancelOrderResult,
  type CancelRefused,
  ErrorCode,
  type Order,
} from '@simplebank/contracts';
import { segment, type Upstream } from '../upstream/upstream.ts';
import { httpErrorOf } from './order-placement.ts';

export type CancelOutcome =
  | { statusCode: 202; body: CancelAccepted }
  | { statusCode: 409; body: CancelRefused };

export interface OrderCancelDeps {
  broker: Broker;
  orders: Upstream;
  rpcTimeoutMs: number;
  log: Logger;
}

/**
 * A customer's cancel (book §5.3.3), for an order the route has checked they own. orders accepts
 * it while the order is `created` or `placed` and publishes OrderCanceled; market stops the order
 * (withdrawing it at the exchange if it may rest there), and the order then ends `canceled` (hold
 * released, fee refunded), or `executed` if the exchange filled it first. An order past that point
 * is refused with its current status.
 */
export function orderCancel(deps: OrderCancelDeps) {
  return async (
    order: { order_id: string; account_id: string },
    customer: string,
  ): Promise<CancelOutcome> => {
    const orderId = order.order_id;
    let result: CancelOrderResult;
    try {
      const command: CancelOrderCommand = { orderId, accountId: order.account_id };
      // a second cancel changes nothing: tried again when orders does not answer in time
      result = await deps.broker.call<CancelOrderResult>('orders', 'cancel', command, deps.rpcTimeoutMs, {
        correlationId: orderId,
        idempotent: true,
      });
    } catch (error) {
      if (!(error instanceof RpcError)) throw error;
      if (error.code === ErrorCode.orderNotFound)
        throw new HttpError(404, ErrorCode.orderNotFound, `no order ${orderId}`);
      if (error.code !== ErrorCode.orderNotCancelable) throw httpErrorOf(error);
      const current = await deps.orders.get<Order>(`/orders/${segment(orderId)}`, {
        notFound: new HttpError(404, ErrorCode.orderNotFound, `no order ${orderId}`),
      });
      return {
        statusCode: 409,
        body: {
          error: { code: ErrorCode.orderNotCancelable, message: error.message },
          status: current.status,
        },
      };
    }
    deps.log.info({ order_id: orderId }, 'cancel requested');
    deps.log.debug({ order_id: orderId, customer }, 'cancel requested by this customer');
    return { statusCode: 202, body: { order_id: orderId, status: result.status, cancel: 'requested' } };
  };
}
