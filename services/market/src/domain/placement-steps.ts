/**
 * What the placement worker does next with an open placement, and what each answer of the exchange
 * means for it. The rule that keeps our books equal to the exchange's: an order an attempt may have
 * reached (in doubt) is never failed, canceled or compensated until the exchange has said what
 * became of it; ending such an order goes through a withdrawal, whose answer is final. Pure.
 */
import { FailureReason } from '@simplebank/contracts';
import type { PlacementStatus } from './prerequisites.ts';
import { nextAttempt, type RetryPolicy } from './retry-schedule.ts';

export interface OpenPlacement {
  status: PlacementStatus;
  inDoubt: boolean;
  cancelRequested: boolean;
  attempts: number;
  /** When it became ready (ms, the database's clock): the placement deadline runs from here. */
  readyAt: number;
}

/** Why market withdraws an order at the exchange, and how the order ends if it was withdrawn. */
export type WithdrawReason = 'customer_cancel' | 'deadline' | 'lost';

export type Step =
  /** Send the order (again: the exchange takes one order per client_order_id). */
  | { kind: 'place' }
  /** Cancel it at the exchange and end it on the answer. */
  | { kind: 'withdraw'; why: WithdrawReason }
  /** Ask the exchange after a placed order that should have ended by now. */
  | { kind: 'check' }
  /** No attempt can have reached the exchange: end it here. */
  | { kind: 'end'; status: 'failed' | 'canceled'; reason: string };

/** A step that calls the exchange. */
export type Call = Exclude<Step, { kind: 'end' }>;

export function nextStep(placement: OpenPlacement, now: number, policy: RetryPolicy): Step {
  if (placement.status === 'placed') {
    return placement.cancelRequested ? { kind: 'withdraw', why: 'customer_cancel' } : { kind: 'check' };
  }
  const why: WithdrawReason | undefined = placement.cancelRequested
    ? 'customer_cancel'
    : now >= placement.readyAt + policy.deadlineMs
      ? 'deadline'
      : undefined;
  if (why === undefined) return { kind: 'place' };
  if (placement.inDoubt) return { kind: 'withdraw', why };
  return why === 'customer_cancel'
    ? { kind: 'end', status: 'canceled', reason: FailureReason.canceledByCustomer }
    : { kind: 'end', status: 'failed', reason: FailureReason.exchangeUnavailable };
}

/** The exchange's account of an order (GET or DELETE /orders/{client_order_id}). */
export type ExchangeOrderState =
  | { status: 'open'; exchangeOrderId: string }
  | { status: 'filled'; exchangeOrderId: string; fillPriceCents: number }
  | { status: 'expired'; exchangeOrderId: string }
  /** exchangeOrderId null: withdrawn before it ever arrived. */
  | { status: 'withdrawn'; exchangeOrderId: string | null };

export type Answer =
  | { kind: 'accepted'; exchangeOrderId: string }
  | { kind: 'rejected'; detail: string }
  | { kind: 'known'; order: ExchangeOrderState }
  /** The exchange has no such order (GET only: a withdrawal always knows). */
  | { kind: 'unknown' }
  /** No usable answer: it may have been heard, so the placement is (or stays) in doubt. */
  | { kind: 'unavailable'; detail: string };

export type Outcome =
  | { kind: 'placed'; exchangeOrderId: string }
  | { kind: 'executed'; exchangeOrderId: string; fillPriceCents: number }
  | { kind: 'expired'; exchangeOrderId: string | null }
  | { kind: 'ended'; status: 'failed' | 'canceled'; reason: string }
  /** Try the same step again at `at`, the placement in doubt unless the answer settled it. */
  | { kind: 'retry'; at: number; inDoubt: boolean; detail: string }
  /** A placed order still resting: ask again at `at`. */
  | { kind: 'check_later'; at: number }
  /** The exchange does not know a placed order: withdraw it, so it can never fill, then end it. */
  | { kind: 'withdraw_now' };

export interface Timing extends RetryPolicy {
  /** How long after a check of a resting order to ask again. */
  recheckMs: number;
}

/** What `answer` to `step` means for `placement`, at `now`. `random` is uniform in [0, 1). */
export function afterAnswer(
  placement: OpenPlacement,
  step: Call,
  answer: Answer,
  now: number,
  timing: Timing,
  random: () => number,
): Outcome {
  switch (answer.kind) {
    case 'accepted':
      return { kind: 'placed', exchangeOrderId: answer.exchangeOrderId };
    case 'rejected':
      // a refusal is an answer: the exchange holds no order under this id (it never refuses a retry
      // of one it took), so nothing was traded
      return {
        kind: 'ended',
        status: placement.cancelRequested ? 'canceled' : 'failed',
        reason: placement.cancelRequested ? FailureReason.canceledByCustomer : FailureReason.exchangeRejected,
      };
    case 'unknown':
      return { kind: 'withdraw_now' };
    case 'unavailable': {
      // a placement keeps its deadline; a withdrawal or a question goes on until the exchange answers
      const attempts = placement.attempts + 1;
      const next =
        step.kind === 'place'
          ? nextAttempt(timing, { attempts, readyAt: placement.readyAt }, now, random)
          : nextAttempt(
              { ...timing, deadlineMs: Number.POSITIVE_INFINITY },
              { attempts, readyAt: now },
              now,
              random,
            );
      // past the deadline, the next pass withdraws instead of placing
      const at = next.kind === 'retry' ? next.at : now;
      return { kind: 'retry', at, inDoubt: true, detail: answer.detail };
    }
    case 'known':
      return afterState(placement, step, answer.order, now, timing);
  }
}

function afterState(
  placement: OpenPlacement,
  step: Call,
  order: ExchangeOrderState,
  now: number,
  timing: Timing,
): Outcome {
  switch (order.status) {
    case 'filled':
      return {
        kind: 'executed',
        exchangeOrderId: order.exchangeOrderId,
        fillPriceCents: order.fillPriceCents,
      };
    case 'expired':
      return { kind: 'expired', exchangeOrderId: order.exchangeOrderId };
    case 'open':
      return placement.status === 'placed'
        ? { kind: 'check_later', at: now + timing.recheckMs }
        : { kind: 'placed', exchangeOrderId: order.exchangeOrderId };
    case 'withdrawn': {
      const why = step.kind === 'withdraw' ? step.why : 'lost';
      if (why === 'customer_cancel')
        return { kind: 'ended', status: 'canceled', reason: FailureReason.canceledByCustomer };
      if (why === 'deadline')
        return { kind: 'ended', status: 'failed', reason: FailureReason.exchangeUnavailable };
      // placed, then lost by the exchange: it lapsed, as far as the customer is concerned
      return { kind: 'expired', exchangeOrderId: order.exchangeOrderId };
    }
  }
}
