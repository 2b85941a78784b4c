import { centsToDecimal, decimalToCents, type Quotes } from '@simplebank/contracts';

/** A position as account-transactions reports it: whole shares, some of them held for orders. */
export interface HeldPosition {
  symbol: string;
  quantity: number;
  reserved: number;
}

/** Latest price per symbol, in cents. */
export const pricesOf = (quotes: Quotes): Map<string, number> =>
  new Map(quotes.quotes.map((q) => [q.symbol, decimalToCents(q.price)]));

/** Each position with what it is worth at the latest quote (null when there is none). */
export function valuePositions(positions: readonly HeldPosition[], prices: ReadonlyMap<string, number>) {
  return positions.map(({ symbol, quantity, reserved }) => {
    const price = prices.get(symbol);
    return {
      symbol,
      quantity,
      reserved,
      current_value: price === undefined ? null : centsToDecimal(quantity * price),
    };
  });
}
