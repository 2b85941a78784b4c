import { FailureReason } from '@simplebank/contracts';

/** The fee schedule: a fixed part plus a percentage of the order's value, never below a minimum. */
export interface FeeSchedule {
  fixedCents: number;
  /** Percentage of the order's value in basis points (1 bp = 0.01 %). */
  rateBasisPoints: number;
  minimumCents: number;
}

/** The fee for an order worth `valueCents`, rounded half up to the cent. Pure integer arithmetic. */
export function feeFor(schedule: FeeSchedule, valueCents: number): number {
  if (!Number.isSafeInteger(valueCents) || valueCents < 0)
    throw new RangeError(`bad order value: ${valueCents}`);
  // BigInt: value × rate can pass 2^53 for large orders.
  const percentage = (BigInt(valueCents) * BigInt(schedule.rateBasisPoints) + 5_000n) / 10_000n;
  return Math.max(schedule.minimumCents, schedule.fixedCents + Number(percentage));
}

/** The value the fee is charged on: the order's quantity at its limit price. */
export const orderValue = (quantity: number, limitPriceCents: number): number => quantity * limitPriceCents;

export type ChargeDecision =
  | { charge: true; feeCents: number }
  | { charge: false; reason: typeof FailureReason.feeAboveQuotedMaximum };

/** T3: charge the schedule's fee unless it exceeds what the customer was quoted. */
export function decideCharge(
  schedule: FeeSchedule,
  order: { quantity: number; limitPriceCents: number; maxFeeCents: number },
): ChargeDecision {
  const feeCents = feeFor(schedule, orderValue(order.quantity, order.limitPriceCents));
  return feeCents <= order.maxFeeCents
    ? { charge: true, feeCents }
    : { charge: false, reason: FailureReason.feeAboveQuotedMaximum };
}
