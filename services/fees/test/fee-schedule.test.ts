import { describe, expect, it } from 'vitest';
import { decideCharge, feeFor } from '../src/fee-schedule.ts';

const schedule = { fixedCents: 100, rateBasisPoints: 25, minimumCents: 250 };

describe('fee schedule', () => {
  it('charges the fixed part plus the percentage of the value', () => {
    // 1,000.00 × 0.25 % = 2.50, plus 1.00 fixed
    expect(feeFor(schedule, 100_000)).toBe(350);
  });

  it('never charges below the minimum', () => {
    expect(feeFor(schedule, 1_000)).toBe(250);
    expect(feeFor(schedule, 0)).toBe(250);
  });

  it('rounds the percentage half up to the cent', () => {
    expect(feeFor({ ...schedule, minimumCents: 0 }, 200)).toBe(101); // 0.5 cent rounds up
    expect(feeFor({ ...schedule, minimumCents: 0 }, 199)).toBe(100); // 0.4975 cent rounds down
  });

  it('stays exact for orders past 2^53 / rate', () => {
    const huge = 9_000_000_000_000_000 / 10_000 - 1; // value × rate would overflow a double's integers
    expect(feeFor({ fixedCents: 0, rateBasisPoints: 10_000, minimumCents: 0 }, huge)).toBe(huge);
  });

  it('refuses values that are not whole cents', () => {
    expect(() => feeFor(schedule, 10.5)).toThrow(RangeError);
    expect(() => feeFor(schedule, -1)).toThrow(RangeError);
  });

  it('declines a charge above the fee the customer was quoted', () => {
    const order = { quantity: 10, limitPriceCents: 10_000, maxFeeCents: 350 };
    expect(decideCharge(schedule, order)).toEqual({ charge: true, feeCents: 350 });
    expect(decideCharge(schedule, { ...order, maxFeeCents: 349 })).toEqual({
      charge: false,
      reason: 'fee_above_quoted_maximum',
    });
  });
});
