import { describe, expect, it } from 'vitest';
import { afterAnswer, nextStep, type OpenPlacement, type Step } from '../src/domain/placement-steps.ts';

const timing = { baseMs: 100, maxMs: 1_000, deadlineMs: 60_000, recheckMs: 60_000 };
const readyAt = 1_000_000;
const fresh: OpenPlacement = {
  status: 'ready',
  inDoubt: false,
  cancelRequested: false,
  attempts: 0,
  readyAt,
};
const pastDeadline = readyAt + 60_000;
const half = () => 0.5;
const place: Step = { kind: 'place' };

describe('the next step of an open placement', () => {
  it('places a ready order until its deadline', () => {
    expect(nextStep(fresh, readyAt, timing)).toEqual(place);
    expect(nextStep({ ...fresh, inDoubt: true, attempts: 3 }, pastDeadline - 1, timing)).toEqual(place);
  });

  it('ends an order no attempt can have reached: canceled, or failed at the deadline', () => {
    expect(nextStep({ ...fresh, cancelRequested: true }, readyAt, timing)).toEqual({
      kind: 'end',
      status: 'canceled',
      reason: 'canceled_by_customer',
    });
    expect(nextStep({ ...fresh, attempts: 4 }, pastDeadline, timing)).toEqual({
      kind: 'end',
      status: 'failed',
      reason: 'exchange_unavailable',
    });
  });

  it('withdraws an order in doubt before ending it, for a cancel or at the deadline', () => {
    const inDoubt = { ...fresh, inDoubt: true, attempts: 1 };
    expect(nextStep({ ...inDoubt, cancelRequested: true }, readyAt, timing)).toEqual({
      kind: 'withdraw',
      why: 'customer_cancel',
    });
    expect(nextStep(inDoubt, pastDeadline, timing)).toEqual({ kind: 'withdraw', why: 'deadline' });
  });

  it('withdraws a placed order the customer cancels, and asks after one that should have ended', () => {
    const placed = { ...fresh, status: 'placed' as const, attempts: 1 };
    expect(nextStep({ ...placed, cancelRequested: true }, readyAt, timing)).toEqual({
      kind: 'withdraw',
      why: 'customer_cancel',
    });
    expect(nextStep(placed, pastDeadline * 2, timing)).toEqual({ kind: 'check' });
  });
});

describe('what an answer of the exchange means', () => {
  const inDoubt = { ...fresh, inDoubt: true, attempts: 1 };
  const withdraw = (why: 'customer_cancel' | 'deadline' | 'lost') => ({ kind: 'withdraw', why }) as const;
  const known = (order: object) => ({ kind: 'known', order }) as never;

  it('keeps an unanswered placement in doubt and retries it, past the deadline only to withdraw it', () => {
    const unanswered = { kind: 'unavailable', detail: 'timeout' } as const;
    expect(afterAnswer(fresh, place, unanswered, readyAt + 10, timing, half)).toEqual({
      kind: 'retry',
      at: readyAt + 10 + 75,
      inDoubt: true,
      detail: 'timeout',
    });
    expect(afterAnswer(inDoubt, place, unanswered, pastDeadline, timing, half)).toMatchObject({
      kind: 'retry',
      at: pastDeadline,
    });
    // a withdrawal has no deadline: it goes on until the exchange answers
    const later = pastDeadline * 10;
    expect(afterAnswer(inDoubt, withdraw('deadline'), unanswered, later, timing, half)).toMatchObject({
      kind: 'retry',
      inDoubt: true,
    });
  });

  it('ends a withdrawn order as the reason for withdrawing it says', () => {
    const withdrawn = known({ status: 'withdrawn', exchangeOrderId: null });
    expect(afterAnswer(inDoubt, withdraw('customer_cancel'), withdrawn, 0, timing, half)).toEqual({
      kind: 'ended',
      status: 'canceled',
      reason: 'canceled_by_customer',
    });
    expect(afterAnswer(inDoubt, withdraw('deadline'), withdrawn, 0, timing, half)).toEqual({
      kind: 'ended',
      status: 'failed',
      reason: 'exchange_unavailable',
    });
    const placed = { ...inDoubt, status: 'placed' as const };
    expect(afterAnswer(placed, withdraw('lost'), withdrawn, 0, timing, half)).toEqual({
      kind: 'expired',
      exchangeOrderId: null,
    });
  });

  it('executes an order that filled before the withdrawal arrived: the customer traded', () => {
    const filled = known({ status: 'filled', exchangeOrderId: 'X-1', fillPriceCents: 10_012 });
    expect(afterAnswer(inDoubt, withdraw('customer_cancel'), filled, 0, timing, half)).toEqual({
      kind: 'executed',
      exchangeOrderId: 'X-1',
      fillPriceCents: 10_012,
    });
  });

  it('places an order the exchange holds, and asks after a resting placed order later', () => {
    const open = known({ status: 'open', exchangeOrderId: 'X-2' });
    expect(
      afterAnswer(inDoubt, place, { kind: 'accepted', exchangeOrderId: 'X-2' }, 0, timing, half),
    ).toEqual({
      kind: 'placed',
      exchangeOrderId: 'X-2',
    });
    const placed = { ...inDoubt, status: 'placed' as const };
    expect(afterAnswer(placed, { kind: 'check' }, open, 5, timing, half)).toEqual({
      kind: 'check_later',
      at: 5 + timing.recheckMs,
    });
  });

  it('withdraws a placed order the exchange says it never had, before ending it', () => {
    const placed = { ...inDoubt, status: 'placed' as const };
    expect(afterAnswer(placed, { kind: 'check' }, { kind: 'unknown' }, 0, timing, half)).toEqual({
      kind: 'withdraw_now',
    });
  });

  it('fails a refused order (nothing traded), canceled if the customer had asked', () => {
    const refused = { kind: 'rejected', detail: '422' } as const;
    expect(afterAnswer(fresh, place, refused, 0, timing, half)).toMatchObject({
      status: 'failed',
      reason: 'exchange_rejected',
    });
    expect(afterAnswer({ ...fresh, cancelRequested: true }, place, refused, 0, timing, half)).toMatchObject({
      status: 'canceled',
    });
  });
});
