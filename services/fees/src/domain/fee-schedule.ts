import { FailureReason, type FeeSchedule, feeFor, orderValue } from '@simplebank/contracts';

// The schedule's arithmetic is the contracts' (libs/contracts/src/fee-schedule.ts), the one the
// gateway quotes fees with: a charge and its quote computed by two copies could disagree.
export { type FeeSchedule, feeFor, orderValue } from '@simplebank/contracts';

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
