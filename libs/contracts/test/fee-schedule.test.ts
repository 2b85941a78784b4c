import { Compile } from 'typebox/compile';
import { describe, expect, it } from 'vitest';
import { FeeScheduleBody, feeEstimate, feeFor, feeScheduleBody, feeScheduleOf } from '../src/index.ts';

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

  it('quotes an order valued at its price, in exact decimals', () => {
    expect(feeEstimate(schedule, { side: 'buy', symbol: 'ACME', quantity: 10, priceCents: 10_001 })).toEqual({
      side: 'buy',
      symbol: 'ACME',
      quantity: 10,
      price: '100.01',
      value: '1000.10',
      fee: '3.50', // 1.00 + 1,000.10 × 0.25 % = 2.500 25, rounded to 2.50
    });
  });

  it('travels as decimals and comes back as the same cents', () => {
    const body = feeScheduleBody(schedule);
    expect(body).toEqual({ fixed: '1.00', rate_basis_points: 25, minimum: '2.50' });
    expect(Compile(FeeScheduleBody).Check(body)).toBe(true);
    expect(feeScheduleOf(body)).toEqual(schedule);
  });

  it.each([
    ['a fee as a number', { fixed: 1, rate_basis_points: 25, minimum: '2.50' }],
    ['a negative fee', { fixed: '-1.00', rate_basis_points: 25, minimum: '2.50' }],
    ['a fraction of a cent', { fixed: '1.005', rate_basis_points: 25, minimum: '2.50' }],
    ['a rate past 100 %', { fixed: '1.00', rate_basis_points: 10_001, minimum: '2.50' }],
    ['no minimum', { fixed: '1.00', rate_basis_points: 25 }],
  ])('is not a schedule with %s', (_, body) => {
    expect(Compile(FeeScheduleBody).Check(body)).toBe(false);
  });
});
