/**
 * T4's bookkeeping: market places an order once it holds OrderCreated, PositionReserved and
 * FeeCharged, which arrive in any order; the first failure (or a customer cancel) ends it. Pure.
 */
import { FailureReason, type OrderSide } from '@simplebank/contracts';

export type PlacementStatus = 'waiting' | 'ready' | 'placed' | 'executed' | 'expired' | 'failed' | 'canceled';

export interface Prerequisites {
  status: PlacementStatus;
  /** An attempt may have reached the exchange unanswered: only the exchange can end the order now. */
  inDoubt: boolean;
  orderCreated: boolean;
  positionReserved: boolean;
  feeCharged: boolean;
}

/** What OrderCreated tells market: what to place on the exchange. */
export interface PlacementTerms {
  side: OrderSide;
  symbol: string;
  quantity: number;
  limitPriceCents: number;
}

export type Arrival =
  | { kind: 'order_created'; order: PlacementTerms }
  | { kind: 'position_reserved' }
  | { kind: 'fee_charged'; feeCents: number }
  | { kind: 'reservation_failed'; reason: string }
  | { kind: 'charge_failed'; reason: string }
  | { kind: 'order_canceled' };

export type Verdict =
  | { kind: 'waiting' }
  | { kind: 'ready' }
  | { kind: 'failed'; reason: string }
  | { kind: 'canceled'; reason: typeof FailureReason.canceledByCustomer }
  /** A cancel of an order the exchange may hold: withdraw it there, and end it on the answer. */
  | { kind: 'withdraw' }
  | { kind: 'ignored'; why: string };

/** What `arrival` means for an order in the state `current`. */
export function afterArrival(current: Prerequisites, arrival: Arrival): Verdict {
  if (arrival.kind === 'order_canceled' && (current.status === 'placed' || current.inDoubt)) {
    return { kind: 'withdraw' };
  }
  if (current.status !== 'waiting' && current.status !== 'ready') {
    return { kind: 'ignored', why: `the order is already ${current.status}` };
  }
  switch (arrival.kind) {
    case 'order_canceled':
      // no attempt can have reached the exchange: the order ends here
      return { kind: 'canceled', reason: FailureReason.canceledByCustomer };
    case 'reservation_failed':
    case 'charge_failed':
      // a ready order holds the matching success already: the two cannot both be true
      return current.status === 'waiting'
        ? { kind: 'failed', reason: arrival.reason }
        : { kind: 'ignored', why: `${arrival.kind} contradicts a prerequisite already met` };
    default: {
      if (current.status === 'ready') return { kind: 'ignored', why: 'every prerequisite is in already' };
      const held = { ...current, [prerequisiteOf[arrival.kind]]: true };
      return held.orderCreated && held.positionReserved && held.feeCharged
        ? { kind: 'ready' }
        : { kind: 'waiting' };
    }
  }
}

const prerequisiteOf = {
  order_created: 'orderCreated',
  position_reserved: 'positionReserved',
  fee_charged: 'feeCharged',
} as const;
