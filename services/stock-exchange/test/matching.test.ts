import { describe, expect, it } from 'vitest';
import { limitAllows, match } from '../src/matching.ts';

const placedAt = 1_000;
const order = {
  side: 'sell' as const,
  limitPriceCents: 9_500,
  fillableAt: placedAt + 200,
  expiresAt: placedAt + 30_000,
};

describe('matching', () => {
  it('fills a sell at or above its limit, a buy at or below it', () => {
    expect(limitAllows('sell', 9_500, 9_500)).toBe(true);
    expect(limitAllows('sell', 9_500, 9_499)).toBe(false);
    expect(limitAllows('buy', 10_500, 10_500)).toBe(true);
    expect(limitAllows('buy', 10_500, 10_501)).toBe(false);
  });

  it('fills at the current price, not at the limit', () => {
    expect(match(order, 10_012, placedAt + 200)).toEqual({ kind: 'fill', priceCents: 10_012 });
    expect(match({ ...order, side: 'buy', limitPriceCents: 10_500 }, 10_012, placedAt + 200)).toEqual({
      kind: 'fill',
      priceCents: 10_012,
    });
  });

  it('waits for the fill delay even when the price allows', () => {
    expect(match(order, 10_012, placedAt + 199)).toEqual({ kind: 'wait' });
  });

  it('waits while the price is beyond the limit', () => {
    expect(match(order, 9_000, placedAt + 5_000)).toEqual({ kind: 'wait' });
  });

  it('expires an order that could not fill within its lifetime', () => {
    expect(match(order, 9_000, placedAt + 30_000)).toEqual({ kind: 'expire' });
  });

  it('expires at the deadline even if the price has just come good', () => {
    expect(match(order, 10_012, placedAt + 30_000)).toEqual({ kind: 'expire' });
  });

  it('never fills an order whose lifetime is shorter than the fill delay', () => {
    const brief = { ...order, expiresAt: placedAt + 100 };
    expect(match(brief, 10_012, placedAt + 99)).toEqual({ kind: 'wait' });
    expect(match(brief, 10_012, placedAt + 200)).toEqual({ kind: 'expire' });
  });
});
