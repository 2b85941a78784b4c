import { describe, expect, it } from 'vitest';
import { assessExecution } from '../src/domain/executions.ts';
import {
  type Arrival,
  afterArrival,
  type PlacementStatus,
  type Prerequisites,
} from '../src/domain/prerequisites.ts';

const nothingYet: Prerequisites = {
  status: 'waiting',
  inDoubt: false,
  orderCreated: false,
  positionReserved: false,
  feeCharged: false,
};
const order = { side: 'sell' as const, symbol: 'ACME', quantity: 10, limitPriceCents: 9_500 };
const created: Arrival = { kind: 'order_created', order };
const reserved: Arrival = { kind: 'position_reserved' };
const charged: Arrival = { kind: 'fee_charged', feeCents: 595 };
const held = {
  order_created: 'orderCreated',
  position_reserved: 'positionReserved',
  fee_charged: 'feeCharged',
} as const;

/** Applies arrivals one after the other, as the store would, and returns every verdict. */
function track(arrivals: Arrival[], from = nothingYet) {
  let state = from;
  return arrivals.map((arrival) => {
    const verdict = afterArrival(state, arrival);
    if (verdict.kind === 'waiting' || verdict.kind === 'ready') {
      state = { ...state, status: verdict.kind, [held[arrival.kind as keyof typeof held]]: true };
    }
    return verdict.kind;
  });
}

describe('prerequisites of a placement', () => {
  it('is ready once OrderCreated, PositionReserved and FeeCharged are all in, in any order', () => {
    const orders = [
      [created, reserved, charged],
      [created, charged, reserved],
      [reserved, created, charged],
      [reserved, charged, created],
      [charged, created, reserved],
      [charged, reserved, created],
    ];
    for (const arrivals of orders) expect(track(arrivals)).toEqual(['waiting', 'waiting', 'ready']);
  });

  it('ignores a prerequisite arriving again once ready', () => {
    expect(track([created, reserved, charged, reserved])).toEqual(['waiting', 'waiting', 'ready', 'ignored']);
  });

  it('fails on the first failed prerequisite, with its reason, whatever arrived before', () => {
    expect(afterArrival(nothingYet, { kind: 'reservation_failed', reason: 'insufficient_shares' })).toEqual({
      kind: 'failed',
      reason: 'insufficient_shares',
    });
    const twoIn = { ...nothingYet, orderCreated: true, positionReserved: true };
    expect(afterArrival(twoIn, { kind: 'charge_failed', reason: 'fee_above_quoted_maximum' })).toEqual({
      kind: 'failed',
      reason: 'fee_above_quoted_maximum',
    });
  });

  it('ignores everything after the order failed', () => {
    const failed = { ...nothingYet, status: 'failed' as const };
    for (const arrival of [created, reserved, charged, { kind: 'charge_failed', reason: 'x' } as const]) {
      expect(afterArrival(failed, arrival).kind).toBe('ignored');
    }
  });

  it('is canceled at once while no attempt can have reached the exchange, withdrawn there otherwise', () => {
    const cancel: Arrival = { kind: 'order_canceled' };
    const canceled = { kind: 'canceled', reason: 'canceled_by_customer' };
    expect(afterArrival(nothingYet, cancel)).toEqual(canceled);
    expect(afterArrival({ ...nothingYet, status: 'ready' }, cancel)).toEqual(canceled);
    // an unanswered attempt may have reached the exchange; a placed order rests there
    expect(afterArrival({ ...nothingYet, status: 'ready', inDoubt: true }, cancel)).toEqual({
      kind: 'withdraw',
    });
    expect(afterArrival({ ...nothingYet, status: 'placed' }, cancel)).toEqual({ kind: 'withdraw' });
    for (const status of ['executed', 'expired', 'failed', 'canceled'] as const) {
      expect(afterArrival({ ...nothingYet, status }, cancel).kind).toBe('ignored');
    }
  });

  it('ignores a failure that contradicts a ready order', () => {
    const ready = {
      ...nothingYet,
      status: 'ready' as const,
      orderCreated: true,
      positionReserved: true,
      feeCharged: true,
    };
    expect(afterArrival(ready, { kind: 'reservation_failed', reason: 'insufficient_cash' }).kind).toBe(
      'ignored',
    );
  });
});

describe('executions from the exchange', () => {
  const fill = { kind: 'filled' } as const;
  const lapse = { kind: 'expired' } as const;
  const at = (status: PlacementStatus, execution: { kind: 'filled' | 'expired' } = fill) =>
    assessExecution({ status }, execution);

  it('settles a placed order, and a ready one whose attempt reached the exchange unrecorded', () => {
    expect(at('placed')).toEqual({ kind: 'settle' });
    // a timed-out attempt, or one whose transaction rolled back after the exchange took the order
    expect(at('ready')).toEqual({ kind: 'settle' });
    expect(at('ready', lapse)).toEqual({ kind: 'settle' });
  });

  it('calls a fill for an order our books had ended a trade break, never a skip', () => {
    for (const status of ['expired', 'failed', 'canceled', 'waiting'] as const) {
      expect(at(status)).toEqual({ kind: 'trade_break' });
    }
  });

  it('skips orders that are not ours, a fill it already knows, and expiries of ended orders', () => {
    expect(assessExecution(undefined, fill).kind).toBe('skip');
    expect(at('executed').kind).toBe('skip');
    for (const status of ['expired', 'failed', 'canceled'] as const)
      expect(at(status, lapse).kind).toBe('skip');
  });
});
