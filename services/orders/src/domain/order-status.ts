import { FailureReason, type OrderStatus } from '@simplebank/contracts';

export type { OrderStatus };

/**
 * The statuses an order may move to from each status. Besides the saga's path
 * (created → placed → executed | expired | canceled; created → failed | canceled), created may jump straight
 * to executed or expired: each handler has its own queue, so a fill can arrive before OrderPlaced.
 */
const forward: Record<OrderStatus, readonly OrderStatus[]> = {
  created: ['placed', 'executed', 'expired', 'failed', 'canceled'],
  // canceled: the customer's cancel withdrew it from the exchange before it filled
  placed: ['executed', 'expired', 'canceled'],
  executed: [],
  expired: [],
  failed: [],
  canceled: [],
};

/** Statuses only reached through placement on the exchange. */
const afterPlacement: readonly OrderStatus[] = ['executed', 'expired'];

export const isTerminal = (status: OrderStatus): boolean => forward[status].length === 0;

/** Whether a customer cancel can still stop the order: before placement, or while it rests on the exchange. */
export const isCancelable = (status: OrderStatus): status is 'created' | 'placed' =>
  status === 'created' || status === 'placed';

/**
 * What news of `next` does to an order now `current`:
 * - `advance`: the order moves to `next` (and the history records it);
 * - `record`: history only — a late `placed` for an order already executed or expired did happen;
 * - `ignore`: backwards, out of a terminal state, or a contradiction (placed after failed).
 */
export type StatusChange = 'advance' | 'record' | 'ignore';

export function statusChange(current: OrderStatus, next: OrderStatus): StatusChange {
  if (forward[current].includes(next)) return 'advance';
  if (next === 'placed' && afterPlacement.includes(current)) return 'record';
  return 'ignore';
}

/** C1: an OrderFailed ends the order failed, or canceled when the customer asked for it. */
export const statusOnFailure = (reason: string): OrderStatus =>
  reason === FailureReason.canceledByCustomer ? 'canceled' : 'failed';
