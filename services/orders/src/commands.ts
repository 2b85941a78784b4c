import { command, RpcError, type Timers } from '@simplebank/chassis';
import {
  CancelOrderCommand,
  type CancelOrderResult,
  ErrorCode,
  OrderCanceled,
  OrderCreated,
  type OrderSide,
  OrderStatusChanged,
  PlaceOrderCommand,
  type PlaceOrderResult,
  RpcErrorCode,
} from '@simplebank/contracts';
import type { OrderAdmission } from './admission.ts';
import { isCancelable } from './domain/order-status.ts';
import { type NewOrder, type OrderRow, orders } from './orders.ts';

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
export const placeOrder = (side: OrderSide, timers: Timers, admission: OrderAdmission) =>
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
            RpcErrorCode.orderIdConflict,
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
 * A customer cancel (book §5.3.3, interruption): an order `created` or `placed` can be cancelled.
 * The first call records the request and announces OrderCanceled; market ends the order with
 * `canceled_by_customer` (withdrawing it at the exchange first if it may be there), or it executes
 * if the exchange filled it first. A repeated call returns the same and publishes nothing.
 */
export const cancelOrder = command(
  CancelOrderCommand,
  async ({ orderId, accountId }, { tx, publish, log }): Promise<CancelOrderResult> => {
    const found = await orders.requestCancel(tx, orderId, accountId);
    if (!found) throw new RpcError(ErrorCode.orderNotFound, `no order ${orderId}`);
    const { order, recorded } = found;
    const { status } = order;
    if (!isCancelable(status)) {
      throw new RpcError(ErrorCode.orderNotCancelable, `order ${orderId} is ${status}`);
    }
    if (recorded) {
      await publish(OrderCanceled, { orderId, accountId });
      log.info({ order_id: orderId, status }, 'cancel requested');
    }
    return { orderId, status };
  },
);
