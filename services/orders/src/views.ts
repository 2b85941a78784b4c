import { centsToDecimal, type Order } from '@simplebank/contracts';
import type { OrderWithHistory } from './orders.ts';

const decimalOrNull = (cents: number | null) => (cents === null ? null : centsToDecimal(cents));

/** The API's view of an order: snake_case, money as decimal strings, history oldest first. */
export const orderView = ({ order, history }: OrderWithHistory): Order => ({
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
