import { type Static, Type } from 'typebox';
import type { FeeEstimate, OrderSide } from './api.ts';
import { centsToDecimal, decimalToCents } from './money.ts';

// The fee arithmetic, one copy for the service that charges (fees, T3) and the one that quotes
// (the gateway, from fees' `GET /fees/schedule`): two copies could disagree by a cent, and the
// saga fails an order charged more than it was quoted (`fee_above_quoted_maximum`).

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

/** What an order would be quoted (`GET /fees/estimate`), valued at `priceCents` (its limit). */
export function feeEstimate(
  schedule: FeeSchedule,
  order: { side: OrderSide; symbol: string; quantity: number; priceCents: number },
): FeeEstimate {
  const value = orderValue(order.quantity, order.priceCents);
  return {
    side: order.side,
    symbol: order.symbol,
    quantity: order.quantity,
    price: centsToDecimal(order.priceCents),
    value: centsToDecimal(value),
    fee: centsToDecimal(feeFor(schedule, value)),
  };
}

const Amount = Type.String({ pattern: '^\\d{1,13}\\.\\d{2}$', examples: ['2.50'] });

/** fees' `GET /fees/schedule`: the schedule as it travels, money as exact decimals. */
export const FeeScheduleBody = Type.Object({
  fixed: Amount,
  rate_basis_points: Type.Integer({ minimum: 0, maximum: 10_000 }),
  minimum: Amount,
});
export type FeeScheduleBody = Static<typeof FeeScheduleBody>;

export const feeScheduleBody = (schedule: FeeSchedule): FeeScheduleBody => ({
  fixed: centsToDecimal(schedule.fixedCents),
  rate_basis_points: schedule.rateBasisPoints,
  minimum: centsToDecimal(schedule.minimumCents),
});

export const feeScheduleOf = (body: FeeScheduleBody): FeeSchedule => ({
  fixedCents: decimalToCents(body.fixed),
  rateBasisPoints: body.rate_basis_points,
  minimumCents: decimalToCents(body.minimum),
});
