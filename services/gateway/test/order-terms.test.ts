import { describe, expect, it } from 'vitest';
import { limitPriceCents, placeOrderCommand } from '../src/domain/order-terms.ts';

describe('limit price', () => {
  it('lets a buy fill up to the quote plus the collar, rounded up to the cent', () => {
    expect(limitPriceCents('buy', 9500, 500)).toBe(9975); // 95.00 + 5 % = 99.75 exactly
    expect(limitPriceCents('buy', 9501, 500)).toBe(9977); // 99.7605 → 99.77
    expect(limitPriceCents('buy', 1, 500)).toBe(2); // 0.0105 → 0.02: never below the quote's worst fill
  });

  it('lets a sell fill down to the quote minus the collar, rounded down to the cent', () => {
    expect(limitPriceCents('sell', 9500, 500)).toBe(9025); // 95.00 − 5 % = 90.25 exactly
    expect(limitPriceCents('sell', 9501, 500)).toBe(9025); // 90.2595 → 90.25
    expect(limitPriceCents('sell', 1, 500)).toBe(0);
  });

  it('is the quote itself without a collar', () => {
    expect(limitPriceCents('buy', 12_345, 0)).toBe(12_345);
    expect(limitPriceCents('sell', 12_345, 0)).toBe(12_345);
  });

  it('rounds exact multiples of a cent as they are, where doubles would not', () => {
    // 100.00 × 1.0011 is 100.11000000000001 in doubles, whose ceiling is a cent too high
    expect(limitPriceCents('buy', 10_000, 11)).toBe(10_011);
    // 21.50 × 0.94 is 20.209999999999998 in doubles, whose floor is a cent too low
    expect(limitPriceCents('sell', 2150, 600)).toBe(2021);
  });

  it('stays exact where quote × basis points passes 2^53', () => {
    const quote = 900_719_925_474_099;
    expect(limitPriceCents('buy', quote, 500)).toBe(945_755_921_747_804); // …803.95 rounded up
    expect(limitPriceCents('sell', quote, 500)).toBe(855_683_929_200_394); // …394.05 rounded down
  });

  it('refuses quotes that are not whole cents and collars outside 0..100 %', () => {
    expect(() => limitPriceCents('buy', 10.5, 500)).toThrow(RangeError);
    expect(() => limitPriceCents('buy', -1, 500)).toThrow(RangeError);
    expect(() => limitPriceCents('buy', 100, -1)).toThrow(RangeError);
    expect(() => limitPriceCents('sell', 100, 10_001)).toThrow(RangeError);
    expect(() => limitPriceCents('buy', Number.MAX_SAFE_INTEGER, 500)).toThrow(RangeError);
  });
});

describe('place-order command', () => {
  it('carries the request and the terms fixed at the quote', () => {
    const orderId = '7d0f3f4e-4d6a-4a57-9a55-0c1f3a8f6e21';
    expect(
      placeOrderCommand(
        orderId,
        { account_id: 'acc-1', symbol: 'ACME', quantity: 10 },
        { limitPriceCents: 9025, maxFeeCents: 338 },
      ),
    ).toEqual({
      orderId,
      accountId: 'acc-1',
      symbol: 'ACME',
      quantity: 10,
      limitPriceCents: 9025,
      maxFeeCents: 338,
    });
  });
});
