import { describe, expect, it } from 'vitest';
import { pricesOf, valuePositions } from '../src/domain/portfolio.ts';

describe('portfolio valuation', () => {
  const prices = pricesOf({
    quotes: [
      { symbol: 'ACME', price: '95.01', at: '2025-01-01T00:00:00.000Z' },
      { symbol: 'INIT', price: '0.07', at: '2025-01-01T00:00:00.000Z' },
    ],
  });

  it('values each position at the latest quote, to the cent', () => {
    expect(
      valuePositions(
        [
          { symbol: 'ACME', quantity: 3, reserved: 1 },
          { symbol: 'INIT', quantity: 1_000_000, reserved: 0 },
        ],
        prices,
      ),
    ).toEqual([
      { symbol: 'ACME', quantity: 3, reserved: 1, current_value: '285.03' },
      { symbol: 'INIT', quantity: 1_000_000, reserved: 0, current_value: '70000.00' },
    ]);
  });

  it('leaves a position without a quote unvalued', () => {
    expect(valuePositions([{ symbol: 'GONE', quantity: 5, reserved: 0 }], prices)).toEqual([
      { symbol: 'GONE', quantity: 5, reserved: 0, current_value: null },
    ]);
  });
});
