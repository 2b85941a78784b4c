import { describe, expect, it } from 'vitest';
import { decideCharge } from '../src/domain/fee-schedule.ts';

const schedule = { fixedCents: 100, rateBasisPoints: 25, minimumCents: 250 };

// the schedule's arithmetic (feeFor) is the contracts' and is tested there (fee-schedule.test.ts)
describe('fee schedule', () => {
  it('declines a charge above the fee the customer was quoted', () => {
    const order = { quantity: 10, limitPriceCents: 10_000, maxFeeCents: 350 };
    expect(decideCharge(schedule, order)).toEqual({ charge: true, feeCents: 350 });
    expect(decideCharge(schedule, { ...order, maxFeeCents: 349 })).toEqual({
      charge: false,
      reason: 'fee_above_quoted_maximum',
    });
  });
});
