/** How the simulated exchange matches a resting limit order against the current price. Pure. */

export type Side = 'buy' | 'sell';

export interface RestingOrder {
  side: Side;
  limitPriceCents: number;
  /** The earliest moment it may fill (placement + fill delay). */
  fillableAt: number;
  /** When it lapses unfilled (placement + time to live). */
  expiresAt: number;
}

export type MatchDecision = { kind: 'wait' } | { kind: 'fill'; priceCents: number } | { kind: 'expire' };

/** A buy fills at or below its limit, a sell at or above it. */
export const limitAllows = (side: Side, limitPriceCents: number, priceCents: number): boolean =>
  side === 'buy' ? priceCents <= limitPriceCents : priceCents >= limitPriceCents;

/** Whether `order` fills now at `priceCents`, lapses, or keeps waiting. Expiry wins at its deadline. */
export function match(order: RestingOrder, priceCents: number, now: number): MatchDecision {
  if (now >= order.expiresAt) return { kind: 'expire' };
  if (now >= order.fillableAt && limitAllows(order.side, order.limitPriceCents, priceCents)) {
    return { kind: 'fill', priceCents };
  }
  return { kind: 'wait' };
}
